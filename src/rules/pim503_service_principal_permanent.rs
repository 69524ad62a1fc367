//! PIM503 service-principal-permanent.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, Expiry, PrincipalType};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM503",
        name: "service-principal-permanent",
        severity: Severity::Error,
        message: "a service principal has a permanent active assignment",
        help: "give the service principal an `end` or `duration`",
        docs: Docs {
            what: "A service principal has an active assignment with `permanent: true`.",
            why: "PIM for Groups gives service principals only time-limited active assignments. A \
workload credential with standing group membership is the access an attacker wants most.",
            example: "assignments:\n  - { group: ops, principal: svc-deploy, role: member, type: active, permanent: true, justification: releases }\n",
            fix: "Replace `permanent: true` with an `end` or a `duration`, and renew it on a \
schedule.",
            source: "Microsoft Learn, pim-deployment-plan: service principals can only get a \
time-limited active assignment in PIM for Groups.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let (AssignmentType::Active, Expiry::Permanent(span)) = (a.kind.value, &a.expiry) else {
            continue;
        };
        let Some(p) = cx.principal(&a.principal.value) else {
            continue;
        };
        if !p.is(PrincipalType::ServicePrincipal) {
            continue;
        }
        let mut f = Finding::new(
            &RULE,
            *span,
            format!(
                "service principal `{}` cannot have a permanent assignment",
                p.name.value
            ),
        )
        .label("permanent");
        if let Some(k) = &p.kind {
            f = f.with_secondary(k.span, "a service principal");
        }
        out.push(f);
    }
}
