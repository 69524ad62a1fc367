//! PIM802 owner-path-weaker-than-member.
use super::reach::{Toward, describe};
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::paths::{EdgeKind, NodeKind, PathClass};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM802",
        name: "owner-path-weaker-than-member",
        severity: Severity::Warning,
        message: "owners can add members past a member policy stronger than their own",
        help: "require approval for owner activation too (`owner: { activation: { approval: { required: true, approvers: [...] } } }`)",
        docs: Docs {
            what: "A group whose membership reaches a privileged directory role (tier 0 or \
Microsoft's PRIVILEGED label) has an owner activation policy with fewer gates than its member \
activation policy: member activation needs approval and owner activation does not, and the \
group has an owner (a standing `owners:` entry or an owner assignment in effect). The \
finding points at the owner policy's `approval` setting, or at the group's name when the owner \
policy keeps Microsoft's default (no approval). A missing MFA requirement is PIM610's.",
            why: "An owner of a group can add members, herself included, outside the member \
policy. An eligible owner who activates without approval and then adds herself as a member \
walks past the member approval: the weaker owner policy is the group's real gate. Microsoft's \
PIM deployment plan recommends approval for owner activation of such groups.",
            example: "groups:\n  - name: identity-admins\n    role_assignable: true\n    entra_roles: [User Administrator]\n    policy:\n      member:\n        activation: { require: [mfa], approval: { required: true, approvers: [dave, erin] } }\n      # owner: Microsoft's default, no approval\n",
            fix: "Set the owner activation policy to the member policy's gates or stronger, for \
example `owner: { activation: { require: [mfa], approval: { required: true, approvers: [...] } } }`, \
or use a template that sets both.",
            source: "Microsoft Learn, plan a PIM deployment (pim-deployment-plan): require approval \
for owner activation; PIM for Groups (concept-pim-for-groups): owners manage membership; \
EntraOps ownership rule; privilege-paths design §A.3 E5, §A.11.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    if !cx.roles_declared() {
        return;
    }
    let graph = cx.privilege_graph();
    let settings = &cx.workspace.settings.paths;
    let privileged: Vec<_> = graph
        .nodes()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == NodeKind::EntraRole && settings.tier(&n.name) <= 1)
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    let reaches = Toward::new(graph, &privileged, PathClass::Approval);
    let mut seen = std::collections::HashSet::new();
    for group in &cx.workspace.groups {
        if !seen.insert(group.name.value.as_str()) {
            continue;
        }
        let Some(member) = graph.group_member(&group.name.value) else {
            continue;
        };
        if !reaches.reaches(member) {
            continue;
        }
        let (m, o) = (
            &group.policy.member.activation,
            &group.policy.owner.activation,
        );
        if !m.approval_required.value || o.approval_required.value {
            continue;
        }
        // Only a group with an owner path: someone is an owner, standing or eligible, at the
        // run's time (a group without owners has no owner activation to be weaker).
        let has_owner = graph.group_owner(&group.name.value).is_some_and(|owner| {
            graph.in_edges(owner).iter().any(|e| {
                matches!(
                    graph.edge(*e).kind,
                    EdgeKind::Owner | EdgeKind::EligibleOwner
                )
            })
        });
        if !has_owner {
            continue;
        }
        let reached = reaches
            .path(graph, member)
            .last()
            .map_or_else(String::new, |e| describe(graph, graph.edge(*e).head));
        let span = o.approval_required.span.unwrap_or(group.name.span);
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "owners of `{}` activate without the approval its members need, and can add themselves as members (the group reaches {reached})",
                    group.name.value
                ),
            )
            .label("owner activation without approval"),
        );
    }
}
