//! PIM511 group-in-restricted-au.
use std::collections::HashSet;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM511",
        name: "group-in-restricted-au",
        severity: Severity::Error,
        message: "a PIM-managed group is a member of a restricted management administrative unit",
        help: "take the group out of the restricted management administrative unit, or stop managing it with PIM",
        docs: Docs {
            what: "A group that the files manage with PIM (one with assignments, or with a \
`policy:` block) is listed in the `members` of an administrative unit with \
`restricted_management: true`.",
            why: "Groups in a restricted management administrative unit cannot be managed with \
Privileged Identity Management: every assignment and policy change pimplan would apply to the \
group fails, and the access the files describe never exists.",
            example: "administrative_units:\n  - name: exec-rmau\n    restricted_management: true\n    members: [prod-db-admins]     # PIM-managed below\ngroups:\n  - name: prod-db-admins\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, duration: P90D, justification: x }\n",
            fix: "Remove the group from the unit's `members` (and from the unit in the tenant), \
or manage the group outside PIM and remove its assignments and policy from the files.",
            source: "Microsoft Learn, \"Restricted management administrative units in Microsoft \
Entra ID\" (MicrosoftDocs/entra-docs \
docs/identity/role-based-access-control/admin-units-restricted-management.md, ms.date \
2024-06-13, \"Limitations\"): \"Groups in a restricted management administrative unit can't \
be managed with Microsoft Entra ID Governance features such as Microsoft Entra Privileged \
Identity Management (PIM)\".",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let ws = cx.workspace;
    let assigned: HashSet<&str> = ws
        .assignments
        .iter()
        .map(|a| a.group.value.as_str())
        .collect();
    for au in ws
        .administrative_units
        .iter()
        .filter(|a| a.is_restricted_management())
    {
        for member in &au.members {
            let Some(group) = cx.group(&member.value) else {
                continue;
            };
            let managed = assigned.contains(group.name.value.as_str()) || group.has_policy;
            if !managed {
                continue;
            }
            let why = if assigned.contains(group.name.value.as_str()) {
                "has PIM assignments in the files"
            } else {
                "has a PIM policy in the files"
            };
            out.push(
                Finding::new(
                    &RULE,
                    member.span,
                    format!(
                        "`{}` is managed with PIM but is in the restricted management administrative unit `{}`",
                        member.value, au.name.value
                    ),
                )
                .label("groups here cannot be managed with PIM")
                .with_secondary(group.name.span, format!("`{}` {why}", group.name.value))
                .with_secondary_opt(
                    au.restricted_management.as_ref().map(|r| r.span),
                    "restricted management",
                ),
            );
        }
    }
}
