//! PIM803 standing-tier0-path.
use super::reach::{describe, is_emergency};
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::paths::PathClass;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM803",
        name: "standing-tier0-path",
        severity: Severity::Warning,
        message: "a principal holds a tier-0 role standing, through groups",
        help: "make the first step eligible (with approval), or mark a break-glass account `emergency_access: true`",
        docs: Docs {
            what: "A principal that is not marked `emergency_access` holds a tier-0 role \
(`paths.tier0`) right now, without activating anything, through two or more steps: an active \
or standing membership of a group that holds the role, or of a group nested in one. The \
finding points at the first step (the membership that opens the path). A single direct step \
(an active assignment or an `admins:` entry) is PIM510's.",
            why: "Standing tier-0 access is what PIM exists to remove: CISA MS.AAD.7.4 asks for \
no permanent active assignment of highly privileged roles. Through nested or role-holding \
groups it is easy to miss, since no assignment names the role.",
            example: "groups:\n  - name: identity-admins\n    role_assignable: true\n    entra_roles: [Global Administrator]\nassignments:\n  - { group: identity-admins, principal: alice, role: member, type: active, duration: P30D, justification: x }\n",
            fix: "Make the membership eligible under a member policy that needs approval, or, for \
a break-glass account, mark the principal `emergency_access: true`.",
            source: "CISA SCuBA MS.AAD.7.4 (no permanent active assignment of privileged roles); \
Microsoft Learn, PIM for Groups (concept-pim-for-groups); privilege-paths design §A.7, §A.11.",
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
    for r in graph.reach_any(&targets, PathClass::Standing) {
        if r.path.len() < 2 || is_emergency(cx, graph, r.node) {
            continue;
        }
        let Some(span) = r.path.first().and_then(|e| graph.edge(*e).source) else {
            continue;
        };
        let steps: Vec<String> = r
            .path
            .iter()
            .map(|e| describe(graph, graph.edge(*e).head))
            .collect();
        let role = steps.last().cloned().unwrap_or_default();
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "{} holds {role} standing, through {} steps ({} → {})",
                    describe(graph, r.node),
                    r.path.len(),
                    describe(graph, r.node),
                    steps.join(" → ")
                ),
            )
            .label("a standing step towards a tier-0 role"),
        );
    }
}
