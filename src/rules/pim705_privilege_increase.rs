//! PIM705 privilege-increase.
use super::{Check, Docs, PlanContext, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::paths::delta::change_key;
use crate::plan::{Change, Subject};
use crate::source::Span;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM705",
        name: "privilege-increase",
        severity: Severity::Warning,
        message: "the plan lets more principals reach a tier-0 role without approval",
        help: "require approval on the activation that opens the path (`policy.member` or `policy.owner` of the group), or make sure the new path is intended",
        docs: Docs {
            what: "The plan increases the number of principals that reach a tier-0 Entra role \
(`paths.tier0`, with Microsoft's most privileged roles always in it) in class `no-approval` or \
better: a path on which no step needs approval. The reach before the plan is computed from the \
state's assignments and policies, after it from the files', with the facts (admins, owners, \
members, a group's roles) from the files on both sides, so the count is what this apply \
changes. The finding names the numbers and the changes whose revert undoes the increase, and \
points at the first of them.",
            why: "A review of a YAML diff shows which lines moved, not who can become Global \
Administrator afterwards. An eligible owner on a group that holds Global Administrator can add \
herself as a member outside the member policy; a policy that drops approval opens every \
eligible assignment of the group at once. Such a change deserves a second look before it is \
applied.",
            example: "# tenant-admins holds Global Administrator; its owner activation needs no approval\n\
groups:\n  - name: tenant-admins\n    role_assignable: true\n    entra_roles: [Global Administrator]\n    \
assignments:\n      - principal: judy        # added by this change\n        role: owner\n        \
type: eligible\n        duration: P30D\n",
            fix: "Require approval on the owner (or member) activation of the group, remove the \
assignment, or, if the new path is intended, keep the warning for the review (or silence it \
with `# pimplan:ignore PIM705` on the assignment).",
            source: "privilege-paths design §A.10–A.11; Microsoft Learn, PIM for Groups: group \
owners can manage membership; CISA SCuBA MS.AAD.7.6 (activation of Global Administrator \
requires approval).",
        },
        locked: None,
    },
    check: Check::Plan(check),
};

/// Where a finding about `change` points: the assignment in the files (or its state entry),
/// or the group's activation approval of a policy change (else the group's name).
fn span_of_change(cx: &PlanContext<'_>, change: &Change) -> Span {
    if let Subject::Policy { before, after } = &change.subject {
        let spec = after.as_ref().or_else(|| before.as_ref().map(|b| &b.spec));
        if let Some(spec) = spec {
            let group = cx
                .desired
                .policies
                .iter()
                .find(|(p, _)| p.group == spec.group)
                .map(|(_, g)| *g);
            if let Some(g) = group {
                return g
                    .policy
                    .role(spec.role)
                    .activation
                    .approval_required
                    .span
                    .unwrap_or(g.name.span);
            }
        }
    }
    cx.span_of(change)
}

fn check(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    let Some(delta) = cx.privilege_delta else {
        return;
    };
    for target in delta.targets.iter().filter(|t| t.target.tier == 0) {
        let (before, after) = target.without_approval_increase();
        if after <= before {
            continue;
        }
        let mut keys: Vec<&str> = target
            .gained
            .iter()
            .flat_map(|e| &e.caused_by)
            .chain(target.class_changed.iter().flat_map(|e| &e.caused_by))
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let causes: Vec<&Change> = keys
            .iter()
            .filter_map(|k| cx.changes.iter().find(|c| change_key(c) == *k))
            .collect();
        let span = causes
            .first()
            .map_or(cx.plan_span, |c| span_of_change(cx, c));
        let named = if causes.is_empty() {
            "no single change alone (several together)".to_owned()
        } else {
            causes
                .iter()
                .map(|c| format!("`{}`", c.address))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let more = after - before;
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "the plan lets {more} more {} reach `{}` without approval ({before} → {after} in class no-approval or better), caused by {named}",
                    if more == 1 { "principal" } else { "principals" },
                    target.target.name,
                ),
            )
            .label("opens a tier-0 path without approval"),
        );
    }
}
