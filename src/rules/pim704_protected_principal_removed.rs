//! PIM704 protected-principal-removed.
use super::{Check, Docs, PlanContext, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::plan::{Action, Reason};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM704",
        name: "protected-principal-removed",
        severity: Severity::Error,
        message: "the plan removes an assignment of an emergency-access principal",
        help: "keep the emergency-access assignment; remove it by hand, deliberately, if it must go",
        docs: Docs {
            what: "The plan removes or replaces an assignment of a principal that was marked \
`emergency_access: true` when the assignment was applied (the mark is kept in the state, so \
it protects even after the principal is gone from the files). `--allow-mass-removal` does not \
override it.",
            why: "Break-glass accounts are how a tenant recovers when everything else fails. Losing \
one to a refactoring of YAML files is discovered at the worst moment.",
            example: "principals:\n  - { name: breakglass-01, type: user, emergency_access: true }\n# its assignment was deleted from the files\n",
            fix: "Restore the assignment in the files. If it really must go, unmark \
`emergency_access`, apply that, and remove it in a separate, reviewed change.",
            source: "Microsoft Learn, pim-deployment-plan (keep emergency-access accounts outside \
of PIM's time limits); pimplan safety guard.",
        },
        locked: Some(
            "a break-glass account loses its access only deliberately: unmark `emergency_access` \
and apply that first, then remove the assignment in a change of its own",
        ),
    },
    check: Check::Plan(check),
};

fn check(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    for change in cx.changes {
        if !matches!(change.action, Action::Remove | Action::Replace)
            || matches!(change.reason, Some(Reason::Expired { .. }))
        {
            continue;
        }
        let Some(before) = change.assignment_before() else {
            continue;
        };
        if !before.spec.emergency_access {
            continue;
        }
        out.push(
            Finding::new(
                &RULE,
                cx.span_of(change),
                format!(
                    "{} belongs to emergency-access principal `{}`",
                    change.address, before.spec.principal
                ),
            )
            .label("protected from removal"),
        );
    }
}
