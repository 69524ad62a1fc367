//! PIM106 missing-object-id.
use std::collections::{HashMap, HashSet};

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{Role, Target};
use crate::finding::{Finding, Severity};
use crate::source::Span;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM106",
        name: "missing-object-id",
        severity: Severity::Error,
        message: "an object an apply to Microsoft Graph needs has no object id",
        help: "add `id:` with the object's id in Entra",
        docs: Docs {
            what: "A group, or a principal that is assigned or approves activations, has no `id:`. \
Every declared group needs one (its policies are managed), as does every principal of an \
assignment and every approver of a policy that requires approval. An error when the root \
file sets `target: graph`; information otherwise, once the workspace gives any object id (a \
state-only workspace works without ids, but cannot be applied to Microsoft Graph; one that \
gives none is not told of every object). Reported at the definition, where the `id:` goes, \
with the first place that uses it.",
            why: "Microsoft Graph addresses groups and principals only by object id \
(`groupId`, `principalId`, approvers' `userId`/`groupId`): an apply to Graph without them \
sends nothing and fails. Found in the pull request, it is fixed before the merge instead of \
failing the apply job after it.",
            example: "target: graph\nprincipals:\n  - { name: alice, type: user, licenses: [entra_id_p2] }   # no id\ngroups:\n  - { name: ops, id: 0b5c1f5e-3c1a-4a70-9d8e-6f1e2a3b4c5d }\nassignments:\n  - { group: ops, principal: alice, role: member, type: eligible, duration: P30D, justification: rota }\n",
            fix: "Add `id:` with the object id from Entra (the portal's Overview page, or \
`az ad user show --id <upn> --query id`, `az ad group show --group <name> --query id`).",
            source: "Microsoft Graph, privilegedaccessgroup-post-eligibilityschedulerequests and \
-assignmentschedulerequests (`groupId`, `principalId` are object ids); \
unifiedrolemanagementpolicyrule-update (approvers are `singleUser`/`groupMembers` by id).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let ws = cx.workspace;
    let graph = ws.settings.target() == Target::Graph;
    let severity = if graph {
        Severity::Error
    } else {
        Severity::Info
    };
    // A workspace that gives no object id at all is kept as a state file only: telling it
    // of every object would bury its other findings. Once some ids are written, the ones
    // left out are worth a word.
    let any_id =
        ws.groups.iter().any(|g| g.id.is_some()) || ws.principals.iter().any(|p| p.id.is_some());
    if !graph && !any_id {
        return;
    }
    let target_span = ws
        .settings
        .target
        .as_ref()
        .map(|t| t.span)
        .filter(|_| graph);
    // The first place each principal is used, in file order: assignments, then approvers.
    let mut used: HashMap<&str, (Span, &'static str)> = HashMap::new();
    for a in &ws.assignments {
        if cx.group(&a.group.value).is_some() {
            used.entry(a.principal.value.as_str())
                .or_insert((a.principal.span, "assigned here"));
        }
    }
    for g in &ws.groups {
        for role in [Role::Member, Role::Owner] {
            let activation = &g.policy.role(role).activation;
            if !activation.approval_required.value {
                continue;
            }
            for approver in &activation.approvers.value {
                used.entry(approver.value.as_str())
                    .or_insert((approver.span, "approves activations here"));
            }
        }
    }
    let finding = |span: Span, what: String, kind: &str| {
        Finding::new(
            &RULE,
            span,
            format!("{what} has no object id, which an apply to Microsoft Graph needs"),
        )
        .with_severity(severity)
        .label("no `id:`")
        .with_secondary_opt(target_span, "the target is Microsoft Graph")
        .with_help(format!("add `id:` with the {kind}'s object id in Entra"))
    };
    // Groups: every one (the first definition; PIM102 reports the others) has policies.
    let mut seen: HashSet<&str> = HashSet::new();
    for g in &ws.groups {
        if g.id.is_some() || !seen.insert(g.name.value.as_str()) {
            continue;
        }
        out.push(finding(
            g.name.span,
            format!("group `{}`", g.name.value),
            "group",
        ));
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for p in &ws.principals {
        if p.id.is_some() || !seen.insert(p.name.value.as_str()) {
            continue;
        }
        let Some((at, how)) = used.get(p.name.value.as_str()) else {
            continue;
        };
        out.push(
            finding(
                p.name.span,
                format!("principal `{}`", p.name.value),
                "principal",
            )
            .with_secondary(*at, *how),
        );
    }
}
