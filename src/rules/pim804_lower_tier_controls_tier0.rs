//! PIM804 lower-tier-controls-tier0.
use super::reach::{Toward, describe, is_emergency};
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::paths::{EdgeKind, NodeKind, PathClass};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM804",
        name: "lower-tier-controls-tier0",
        severity: Severity::Warning,
        message: "a lower-tier directory role can take over a tier-0 role",
        help: "take the tier-0 path away from the role (make the groups or users it controls role-assignable or protected), or treat the role's holders as tier 0",
        docs: Docs {
            what: "A principal (or a group) whose own directory roles are all below tier 0 holds \
one that reaches a tier-0 role through what directory roles can do: add members to groups, \
grant roles, reset passwords, add secrets or owners to service principals (privilege-paths \
E11–E19). For example a Groups Administrator who can add herself to a non-role-assignable \
group that is eligible for a tier-0 role, or a Helpdesk Administrator who can reset the \
password of a user who activates one. The finding points at the role assignment (the \
`admins:` entry or the group's `entra_roles`). Under the default \
`paths.eligible_reset_protection: unprotected`, the reset of an eligible member of a \
role-assignable group counts, as Microsoft's published note says; such a finding says so in \
its message and help.",
            why: "A tier breach: the tier-0 role is only as safe as the weakest role that \
controls it. EntraOps reports it as a tier breach, and BloodHound's attack paths are mostly \
such chains.",
            example: "groups:\n  - name: break-fix\n    type: security          # not role-assignable\n    owners: [ops-lead]\nprincipals:\n  - { name: ops-lead, type: user }\n  - { name: gina, type: user }\nadmins:\n  - { principal: ops-lead, role: Global Administrator }\n  - { principal: gina, role: Groups Administrator }\n# gina can add herself to break-fix, or reset ... (see `pimplan paths gina`)\n",
            fix: "Remove the step the lower-tier role can take: make the groups on the path \
role-assignable (only Privileged Role Administrators manage those), keep tier-0 users out of \
reach of the reset roles, or scope the role to an administrative unit without them. Or treat \
the role as tier 0 (add it to `paths.tier0`) and protect its holders as such. When the path \
is the reset of an eligible member of a role-assignable group, test the reset in your tenant \
(a 2026 test, cisagov/ScubaGear#2072, was refused): if it is refused, set \
`paths.eligible_reset_protection: protected` in the root file.",
            source: "EntraOps tier breach classification; BloodHound `post.go` (AddMember, \
ResetPassword, AddSecret, AddOwner edges); Microsoft Learn privileged-roles-permissions; \
privilege-paths design §A.3, §A.11.",
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
    let toward = Toward::new(graph, &targets, PathClass::Approval);
    for edge in graph.edges() {
        if !matches!(edge.kind, EdgeKind::HoldsRole | EdgeKind::EligibleForRole) {
            continue;
        }
        let role = graph.node(edge.head);
        if role.kind != NodeKind::EntraRole
            || targets.contains(&edge.head)
            || !toward.reaches(edge.head)
            || holds.reaches(edge.tail)
            || is_emergency(cx, graph, edge.tail)
        {
            continue;
        }
        let Some(span) = edge.source else { continue };
        let path = toward.path(graph, edge.head);
        let (Some(first), Some(last)) = (path.first(), path.last()) else {
            continue;
        };
        let tier = cx.workspace.settings.paths.tier(&role.name);
        // Under the default `eligible_reset_protection: unprotected`, a path may rest on the
        // contested reset of an eligible member of a role-assignable group (privilege-paths
        // §A.4): a true finding by Microsoft's published table, which a 2026 tenant test
        // contradicts. Say so, and what settles it.
        let contested = path.iter().any(|e| graph.edge(*e).flags.documented_risk);
        let finding = Finding::new(
            &RULE,
            span,
            format!(
                "{} hold{} {} (tier {tier}), which reaches {} (first step: {}){}",
                describe(graph, edge.tail),
                if graph.node(edge.tail).kind == NodeKind::Principal {
                    "s"
                } else {
                    ""
                },
                describe(graph, edge.head),
                describe(graph, graph.edge(*last).head),
                graph.edge(*first).kind,
                if contested {
                    " by resetting the password of an eligible member of a role-assignable group"
                } else {
                    ""
                },
            ),
        )
        .label("a lower-tier role with a path to tier 0");
        out.push(if contested {
            finding.with_help(
                "Microsoft documents that this role can reset eligible members of role-assignable groups; a 2026 tenant test (cisagov/ScubaGear#2072) was refused. Check your tenant: if the reset is refused, set `paths.eligible_reset_protection: protected`; if not, make the member's assignment active-only or keep the role away from them",
            )
        } else {
            finding
        });
    }
}
