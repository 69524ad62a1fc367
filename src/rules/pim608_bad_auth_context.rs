//! PIM608 bad-auth-context.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM608",
        name: "bad-auth-context",
        severity: Severity::Error,
        message: "`authentication_context` is not of the form `c1` … `c99`",
        help: "write the context's id, `c1` to `c99`, as Conditional Access shows it",
        docs: Docs {
            what: "An activation `authentication_context` is not one of `c1` … `c99`.",
            why: "Conditional Access authentication contexts are identified by `c1` to `c99`; any \
other claim value matches no context, so the setting is refused or never triggers.",
            example: "activation: { authentication_context: high-assurance }\n",
            fix: "Use the id of the authentication context (Entra admin center > Conditional \
Access > Authentication contexts), and create and enable its Conditional Access policy first.",
            source: "Microsoft Graph, authContext resource type: `authenticationContextValue` \
\"Supported values are c1 through c99\" \
(https://learn.microsoft.com/graph/api/resources/authcontext); Microsoft Learn, Developer \
guide to Conditional Access authentication context \
(https://learn.microsoft.com/entra/identity-platform/developer-guide-conditional-access-authentication-context); \
Microsoft Learn, groups-role-settings.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

/// Whether `text` is `c1` … `c99`.
pub fn is_valid(text: &str) -> bool {
    text.strip_prefix('c')
        // Digits only: `parse` would take `+5`.
        .filter(|n| !n.starts_with('0') && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=99).contains(&n))
}

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            let c = &role.activation.authentication_context;
            let (Some(value), Some(span)) = (&c.value, c.span) else {
                continue;
            };
            if !is_valid(value) {
                out.push(
                    Finding::new(
                        &RULE,
                        span,
                        format!("`{value}` is not an authentication context id"),
                    )
                    .label("expected `c1` … `c99`"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids() {
        for ok in ["c1", "c9", "c25", "c26", "c99"] {
            assert!(super::is_valid(ok), "{ok}");
        }
        for bad in [
            "c0", "c100", "c256", "C1", "c01", "1", "c", "c1x", "c+5", "c 5", "c-1",
        ] {
            assert!(!super::is_valid(bad), "{bad}");
        }
    }
}
