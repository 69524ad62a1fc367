//! PIM801 tier0-path-without-approval.
use super::reach::{Toward, capped, describe, is_emergency, standing_holders};
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::paths::{EdgeKind, PathClass};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM801",
        name: "tier0-path-without-approval",
        severity: Severity::Error,
        message: "an eligibility or ownership opens a path to a tier-0 role that needs no approval",
        help: "require approval on the policy this eligibility or ownership activates (and on every \
later step), or remove the assignment",
        docs: Docs {
            what: "A principal that holds no tier-0 role itself (and is not marked \
`emergency_access`) can reach a tier-0 role (`paths.tier0`, Microsoft's most privileged roles \
always in it) by a path that needs no approval at any step, and the path starts with a PIM for \
Groups eligibility (eligible member or owner, a nested eligible group), a group ownership, or \
the ownership of a service principal (`principals[].owners`: an owner can add a secret and \
sign in as it). The finding points at the assignment (or `owners:` entry) that opens the path, and names who \
walks it and which roles it reaches. It reads the privilege graph (`pimplan paths`): nested \
groups, owners adding themselves as members, and directory roles that add members, grant \
roles or reset passwords all count, so it also finds the transitive case PIM601 cannot see.",
            why: "Eligibility is the safe form of a privileged assignment only when activating \
it is reviewed. Without approval at every step, whoever takes over the account (one stolen \
password, or two with MFA) becomes a tier-0 administrator on their own: Microsoft's PIM for \
Groups guidance asks for approval on groups used to elevate into Entra roles, and CISA \
MS.AAD.7.6 requires approval for Global Administrator activation.",
            example: "groups:\n  - name: identity-admins\n    role_assignable: true\n    entra_roles: [Privileged Role Administrator]\n    # member activation: Microsoft's default, no approval\nassignments:\n  - { group: identity-admins, principal: alice, role: member, type: eligible, duration: P30D, justification: x }\n",
            fix: "Require approval (`activation.approval: { required: true, approvers: [...] }`) \
on the member policy of the group the eligibility activates, and on the owner policy for an \
eligible owner; replace a standing owner of such a group with an eligible one under an \
approved owner policy. `pimplan paths --tier0` shows the whole path and each step's gates.",
            source: "Microsoft Learn, PIM for Groups include (pim-for-groups-include): require \
approval for groups used to elevate into Entra roles; CISA SCuBA MS.AAD.7.6; \
privilege-paths design §A.11 (BloodHound's Tier Zero, EntraOps).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

/// Principals and roles named in a message at most.
const CAP: usize = 3;

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    if !cx.roles_declared() {
        return;
    }
    let targets = cx.tier0_targets();
    let graph = cx.privilege_graph();
    let holds = Toward::new(graph, &targets, PathClass::Standing);
    let per_target: Vec<_> = targets
        .iter()
        .map(|t| (*t, Toward::new(graph, &[*t], PathClass::NoApproval)))
        .collect();
    for (i, edge) in graph.edges().iter().enumerate() {
        let what = match edge.kind {
            EdgeKind::EligibleMember | EdgeKind::NestedEligible => "eligible membership",
            EdgeKind::EligibleOwner => "eligible ownership",
            EdgeKind::Owner => "ownership",
            EdgeKind::OwnsServicePrincipal => "ownership of a service principal",
            _ => continue,
        };
        let Ok(id) = u32::try_from(i) else { break };
        let Some(span) = edge.source else { continue };
        if graph.edge_class(id) > PathClass::NoApproval {
            continue;
        }
        let roles: Vec<String> = per_target
            .iter()
            .filter(|(_, t)| t.reaches(edge.head))
            .map(|(r, _)| describe(graph, *r))
            .collect();
        if roles.is_empty() {
            continue;
        }
        let who: Vec<String> = standing_holders(graph, edge.tail)
            .into_iter()
            .filter(|p| !holds.reaches(*p) && !is_emergency(cx, graph, *p))
            .map(|p| describe(graph, p))
            .collect();
        if who.is_empty() {
            continue;
        }
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "{} can reach {} without approval through this {what} ({})",
                    capped(&who, CAP),
                    capped(&roles, CAP),
                    describe(graph, edge.head),
                ),
            )
            .label("opens a tier-0 path without approval"),
        );
    }
}
