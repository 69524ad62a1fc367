//! PIM507 nested-group.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, GroupType, PrincipalType, Role};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM507",
        name: "nested-group",
        severity: Severity::Info,
        message: "a group is an eligible member of a group",
        help: "allowed, but consider assigning the people directly",
        docs: Docs {
            what: "A principal of `type: group` is an eligible member of a group (allowed; \
Microsoft advises against nesting). Not reported where PIM506 already refuses it (Microsoft \
365 groups).",
            why: "Everyone in the nested group can activate membership, and who that is changes \
outside the files: reviewers of this workspace cannot see who holds the access.",
            example: "assignments:\n  - { group: prod-k8s-operators, principal: oncall-sre, role: member, type: eligible, duration: P90D, justification: on-call }\n",
            fix: "Assign the people directly; or keep the nesting deliberately and switch the rule \
off for the workspace (`rules: { PIM507: off }`).",
            source: "Microsoft Learn, pim-deployment-plan: Microsoft recommends against assigning \
or nesting a group into a PIM for Groups group; concept-pim-for-groups: a group can be an \
eligible member.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        if a.kind.value != AssignmentType::Eligible || a.role.value != Role::Member {
            continue;
        }
        if !cx
            .principal(&a.principal.value)
            .is_some_and(|p| p.is(PrincipalType::Group))
        {
            continue;
        }
        if cx
            .group(&a.group.value)
            .is_some_and(|g| g.kind() == GroupType::Microsoft365)
        {
            continue;
        }
        out.push(
            Finding::new(
                &RULE,
                a.principal.span,
                format!(
                    "group `{}` is nested into `{}`",
                    a.principal.value, a.group.value
                ),
            )
            .label("a group as eligible member"),
        );
    }
}
