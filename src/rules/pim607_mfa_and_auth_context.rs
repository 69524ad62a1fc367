//! PIM607 mfa-and-auth-context.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::Requirement;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM607",
        name: "mfa-and-auth-context",
        severity: Severity::Error,
        message: "activation requires both `mfa` and an authentication context",
        help: "keep one: the authentication context (stronger, can force a fresh sign-in) or `mfa`",
        docs: Docs {
            what: "An activation policy lists `mfa` in `require` and sets an \
`authentication_context`.",
            why: "The portal offers them as alternatives and the service treats them as mutually \
exclusive; the policy update is refused or one setting silently wins.",
            example: "activation: { require: [mfa, justification], authentication_context: c1 }\n",
            fix: "Drop `mfa` and keep the authentication context (its Conditional Access policy can \
require MFA or a stronger authentication strength), or drop the context.",
            source: "Microsoft Learn, groups-role-settings (On activation, require: None / Azure \
MFA / Conditional Access authentication context); terraform-provider-azuread marks them as \
conflicting; EasyPIM: mutually exclusive.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            let a = &role.activation;
            let (Some(_), Some(span)) = (
                &a.authentication_context.value,
                a.authentication_context.span,
            ) else {
                continue;
            };
            if let Some(mfa) = a.require.value.iter().find(|r| r.value == Requirement::Mfa) {
                out.push(
                    Finding::new(
                        &RULE,
                        span,
                        "activation requires both an authentication context and `mfa`",
                    )
                    .label("authentication context")
                    .with_secondary(mfa.span, "and MFA"),
                );
            }
        }
    }
}
