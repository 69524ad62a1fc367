//! PIM601 role-group-without-approval.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, Role};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM601",
        name: "role-group-without-approval",
        severity: Severity::Warning,
        message: "a role-assignable group's eligible members can activate without approval",
        help: "set `activation.approval: { required: true, approvers: [...] }` on the member policy",
        docs: Docs {
            what: "A role-assignable group has eligible member assignments, and its member \
activation does not require approval. It looks at the group alone, whatever roles it holds; \
the transitive case (a path to a tier-0 role through nested groups, owners adding members or \
directory roles, none of it approved) is PIM801's, which reads the privilege graph and points \
at the assignment that opens the path, so an eligible member of a tier-0 group without \
approval is reported by both.",
            why: "Whoever can take over an eligible member's account can activate the group's \
Entra roles on their own. Microsoft's example: a Helpdesk Administrator who may reset an \
eligible user's password could elevate themselves to a privileged role. Requiring approval \
closes that path.",
            example: "groups:\n  - name: prod-db-admins\n    role_assignable: true\n    entra_roles: [Exchange Administrator]\n    # member activation keeps the default: no approval\nassignments:\n  - { group: prod-db-admins, principal: alice, role: member, type: eligible, duration: P90D, justification: x }\n",
            fix: "Require approval for member activation, with two or more approvers who are not \
themselves eligible.",
            source: "Microsoft Learn, PIM for Groups include (pim-for-groups-include): for groups \
used to elevate into Entra roles, require approval for eligible member activation.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in cx
        .workspace
        .groups
        .iter()
        .filter(|g| g.is_role_assignable())
    {
        let activation = &group.policy.member.activation;
        if activation.approval_required.value {
            continue;
        }
        let Some(eligible) = cx
            .assignments_of(&group.name.value)
            .iter()
            .find(|a| a.role.value == Role::Member && a.kind.value == AssignmentType::Eligible)
        else {
            continue;
        };
        let span = activation.approval_required.span.unwrap_or(group.name.span);
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "eligible members of role-assignable `{}` activate without approval",
                    group.name.value
                ),
            )
            .label("no approval for member activation")
            .with_secondary(eligible.kind.span, "an eligible member"),
        );
    }
}
