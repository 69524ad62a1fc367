//! PIM807 approver-not-independent.
use std::collections::HashSet;

use super::reach::{Toward, describe, is_emergency};
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::Role;
use crate::finding::{Finding, Severity};
use crate::paths::{NodeKind, PathClass};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM807",
        name: "approver-not-independent",
        severity: Severity::Warning,
        message: "an approver of a tier-0 path can reach the same role without approval",
        help: "choose approvers who cannot reach the role themselves without approval, or close their path",
        docs: Docs {
            what: "An approval gate stands on a path to a tier-0 role (`paths.tier0`), and one of \
its approvers, who holds no tier-0 role, can reach the same role by a path that needs no \
approval at all. The finding points at that approver in the policy's `approvers:` list.",
            why: "An approval is an independent check only if the approver cannot get there \
without one. An approver with their own unapproved path to the role is a second account that \
gives the same access: taking it over (or the approver's collusion) makes the approval \
meaningless. BloodHound models approvers for this reason.",
            example: "groups:\n  - name: identity-admins\n    role_assignable: true\n    entra_roles: [Privileged Role Administrator]\n    policy:\n      member:\n        activation: { require: [mfa], approval: { required: true, approvers: [dave] } }\n  - name: pra-backdoor\n    role_assignable: true\n    entra_roles: [Privileged Role Administrator]\nassignments:\n  # dave activates pra-backdoor without approval\n  - { group: pra-backdoor, principal: dave, role: member, type: eligible, duration: P30D, justification: x }\n",
            fix: "Pick approvers without their own path to the role, or close the approver's \
path (require approval there too). `pimplan paths NAME` shows what an approver reaches.",
            source: "BloodHound `az-role-approver.mdx` (approvers as part of the attack surface); \
pimplan PIM604; privilege-paths design §A.3 (approvers), §A.11.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    if !cx.roles_declared() {
        return;
    }
    let targets = cx.tier0_targets();
    let graph = cx.privilege_graph();
    let holds = Toward::new(graph, &targets, PathClass::Standing);
    let per_target: Vec<_> = targets
        .iter()
        .map(|t| {
            (
                *t,
                Toward::new(graph, &[*t], PathClass::Approval),
                Toward::new(graph, &[*t], PathClass::NoApproval),
            )
        })
        .collect();
    let mut seen: HashSet<(String, Role, String)> = HashSet::new();
    for edge in graph.edges() {
        let Some(approval) = &edge.gates.approval else {
            continue;
        };
        let head = graph.node(edge.head);
        let role = match head.kind {
            NodeKind::GroupMember => Role::Member,
            NodeKind::GroupOwner => Role::Owner,
            _ => continue,
        };
        let Some(group) = cx.group(&head.name) else {
            continue;
        };
        for approver in &approval.approvers {
            if !seen.insert((head.name.clone(), role, approver.clone())) {
                continue;
            }
            let Some(a) = graph.principal(approver) else {
                continue;
            };
            if holds.reaches(a) || is_emergency(cx, graph, a) {
                continue;
            }
            let Some((target, _, _)) = per_target
                .iter()
                .find(|(_, any, free)| any.reaches(edge.head) && free.reaches(a))
            else {
                continue;
            };
            let span = group
                .policy
                .role(role)
                .activation
                .approvers
                .value
                .iter()
                .find(|s| s.value == *approver)
                .map_or(group.name.span, |s| s.span);
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!(
                        "`{approver}` approves {} activation of `{}` on a path to {}, and can reach {} without approval",
                        match role {
                            Role::Member => "member",
                            Role::Owner => "owner",
                        },
                        head.name,
                        describe(graph, *target),
                        describe(graph, *target),
                    ),
                )
                .label("an approver with their own path to the role"),
            );
        }
    }
}
