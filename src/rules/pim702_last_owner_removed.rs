//! PIM702 last-owner-removed.
use std::collections::HashSet;

use super::{Check, Docs, PlanContext, Rule, RuleMeta};
use crate::config::model::{AssignmentType, Role};
use crate::finding::{Finding, Severity};
use crate::plan::{Action, Reason};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM702",
        name: "last-owner-removed",
        severity: Severity::Warning,
        message: "the plan removes the last owner of a group",
        help: "keep a standing owner (`owners:`) or another active owner assignment",
        docs: Docs {
            what: "The plan removes an active owner assignment, and afterwards the group has no \
standing owner (`owners:`) and no other active owner assignment.",
            why: "Microsoft Entra ID will not remove a group's last active owner: the removal fails, \
or PIM retries it for 30 days and the user stays an owner. A group without owners also has \
nobody to receive PIM's notifications.",
            example: "# the only owner of ops is alice's active owner assignment; the plan removes it\n",
            fix: "Add a standing owner to the group, or keep an active owner assignment.",
            source: "Microsoft Learn, groups deactivation include: Entra ID won't remove the last \
active owner of a group; PIM retries for 30 days.",
        },
        locked: None,
    },
    check: Check::Plan(check),
};

fn check(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    // Active owners after the plan, per group name: declared ones (the plan makes the state
    // match the workspace) plus standing owners.
    let mut owned: HashSet<&str> = HashSet::new();
    for (spec, _) in &cx.desired.assignments {
        if spec.role == Role::Owner && spec.kind == AssignmentType::Active {
            owned.insert(spec.group.as_str());
        }
    }
    for group in &cx.workspace.groups {
        if !group.owners.is_empty() {
            owned.insert(group.name.value.as_str());
        }
    }
    for change in cx.changes {
        if !matches!(change.action, Action::Remove | Action::Replace)
            || matches!(change.reason, Some(Reason::Expired { .. }))
        {
            continue;
        }
        let Some(before) = change.assignment_before() else {
            continue;
        };
        if before.spec.role != Role::Owner || before.spec.kind != AssignmentType::Active {
            continue;
        }
        if owned.contains(before.spec.group.as_str()) {
            continue;
        }
        out.push(
            Finding::new(
                &RULE,
                cx.span_of(change),
                // The grant that goes, not the one a replace makes.
                format!(
                    "{} is the last owner of `{}`",
                    crate::plan::assignment_address(&before.spec),
                    before.spec.group
                ),
            )
            .label("last active owner removed"),
        );
    }
}
