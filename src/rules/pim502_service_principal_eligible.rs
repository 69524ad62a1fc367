//! PIM502 service-principal-eligible.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, PrincipalType};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM502",
        name: "service-principal-eligible",
        severity: Severity::Error,
        message: "a service principal has an eligible assignment",
        help: "give the service principal a time-bound active assignment instead",
        docs: Docs {
            what: "A service principal is given an eligible assignment.",
            why: "Service principals cannot be made eligible for PIM for Groups (an application \
cannot activate); the request fails. Only time-bound active assignments are possible.",
            example: "principals:\n  - { name: svc-deploy, type: service_principal }\nassignments:\n  - { group: ops, principal: svc-deploy, role: member, type: eligible, duration: P30D, justification: releases }\n",
            fix: "Use `type: active` with an `end` or `duration`.",
            source: "Microsoft Learn, pim-deployment-plan: service principals can't be made \
eligible for PIM for Groups; they can only get a time-limited active assignment.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        if a.kind.value != AssignmentType::Eligible {
            continue;
        }
        let Some(p) = cx.principal(&a.principal.value) else {
            continue;
        };
        if !p.is(PrincipalType::ServicePrincipal) {
            continue;
        }
        let mut f = Finding::new(
            &RULE,
            a.kind.span,
            format!("service principal `{}` cannot be eligible", p.name.value),
        )
        .label("eligible");
        if let Some(k) = &p.kind {
            f = f.with_secondary(k.span, "a service principal");
        }
        out.push(f);
    }
}
