//! PIM807 approver-not-independent.
use std::collections::{HashMap, HashSet};

use super::reach::{Toward, describe, is_emergency};
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::Role;
use crate::finding::{Finding, Severity};
use crate::paths::{NodeId, NodeKind, PathClass};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM807",
        name: "approver-not-independent",
        severity: Severity::Warning,
        message: "an approver of a tier-0 path can reach the same role without approval, or is controlled by the requester",
        help: "choose approvers who cannot reach the role themselves without approval and whom the requester cannot take over or join, or close that path",
        docs: Docs {
            what: "An approval gate stands on a path to a tier-0 role (`paths.tier0`), and one of \
its approvers, who holds no tier-0 role, can reach the same role by a path that needs no \
approval at all; or the principal asking for the activation can, without approval, take the \
approver over (reset their password, own them) or join them (own the group that is the \
approver, and add themselves). The finding points at that approver in the policy's \
`approvers:` list.",
            why: "An approval is an independent check only if the approver cannot get there \
without one. An approver with their own unapproved path to the role is a second account that \
gives the same access: taking it over (or the approver's collusion) makes the approval \
meaningless. So is an approver the requester controls: the requester approves their own \
request. BloodHound models approvers for this reason.",
            example: "groups:\n  - name: identity-admins\n    role_assignable: true\n    entra_roles: [Privileged Role Administrator]\n    policy:\n      member:\n        activation: { require: [mfa], approval: { required: true, approvers: [dave] } }\n  - name: pra-backdoor\n    role_assignable: true\n    entra_roles: [Privileged Role Administrator]\nassignments:\n  # dave activates pra-backdoor without approval\n  - { group: pra-backdoor, principal: dave, role: member, type: eligible, duration: P30D, justification: x }\n",
            fix: "Pick approvers without their own path to the role, or close the approver's \
path (require approval there too). Pick approvers the requester cannot reach: not a group \
the requester owns, not users the requester's admin role can reset. `pimplan paths NAME` \
shows what an approver, or a requester, reaches.",
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
    // Per approver: who can take them over (reset their password, own them) or make
    // themselves one (join an approver group), without anyone's approval.
    let mut controls: HashMap<NodeId, Toward> = HashMap::new();
    let mut seen: HashSet<(String, Role, String)> = HashSet::new();
    let mut seen_requester: HashSet<(String, Role, String)> = HashSet::new();
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
            let Some(a) = graph.principal(approver) else {
                continue;
            };
            if is_emergency(cx, graph, a) {
                continue;
            }
            let span = group
                .policy
                .role(role)
                .activation
                .approvers
                .value
                .iter()
                .find(|s| s.value == *approver)
                .map_or(group.name.span, |s| s.span);
            let key = (head.name.clone(), role, approver.clone());
            // The requester's half: the one asking (the edge's tail) controls the approver.
            let requester = edge.tail;
            if requester != a
                && !seen_requester.contains(&key)
                && let Some((target, _, _)) =
                    per_target.iter().find(|(_, any, _)| any.reaches(edge.head))
                && controls
                    .entry(a)
                    .or_insert_with(|| Toward::new(graph, &[a], PathClass::NoApproval))
                    .reaches(requester)
            {
                seen_requester.insert(key.clone());
                out.push(
                    Finding::new(
                        &RULE,
                        span,
                        format!(
                            "`{approver}` approves {} activation of `{}` on a path to {}, and {} who asks for it can take over or join `{approver}` without approval",
                            role_word(role),
                            head.name,
                            describe(graph, *target),
                            describe(graph, requester),
                        ),
                    )
                    .label("an approver the requester controls"),
                );
            }
            if holds.reaches(a) || !seen.insert(key) {
                continue;
            }
            let Some((target, _, _)) = per_target
                .iter()
                .find(|(_, any, free)| any.reaches(edge.head) && free.reaches(a))
            else {
                continue;
            };
            out.push(
                Finding::new(
                    &RULE,
                    span,
                    format!(
                        "`{approver}` approves {} activation of `{}` on a path to {}, and can reach {} without approval",
                        role_word(role),
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

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Member => "member",
        Role::Owner => "owner",
    }
}
