//! PIM104 duplicate-object-id.
use std::collections::HashMap;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::PrincipalType;
use crate::finding::{Finding, Severity};
use crate::source::yaml::Spanned;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM104",
        name: "duplicate-object-id",
        severity: Severity::Error,
        message: "two entries share an object id or UPN",
        help: "each object id and UPN belongs to one entry; remove the copy or correct the id",
        docs: Docs {
            what: "Two principals, or two groups, share an object id; or two users share a UPN \
(compared without case, as Entra does).",
            why: "Two names for one object split its assignments across two entries: a reviewer \
sees half of what someone holds, and removing one name leaves the access in place through \
the other. A copied id with a wrong name grants access to the wrong person.",
            example: "principals:\n  - { name: alice, type: user, upn: alice@contoso.com }\n  - { name: alice-admin, type: user, upn: Alice@contoso.com }\n",
            fix: "Keep one entry per object and refer to it by one name.",
            source: "Microsoft Entra object model: object ids and userPrincipalName are unique in a \
tenant (Graph `user` and `group` resources).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn unique<'a>(
    what: &str,
    key_of: impl Fn(&str) -> String,
    values: impl Iterator<Item = &'a Spanned<String>>,
    out: &mut Vec<Finding>,
) {
    let mut first: HashMap<String, &Spanned<String>> = HashMap::new();
    for v in values {
        let key = key_of(&v.value);
        match first.get(&key) {
            Some(earlier) => out.push(
                Finding::new(&RULE, v.span, format!("{what} `{}` is used twice", v.value))
                    .label("used again here")
                    .with_secondary(earlier.span, "first used here"),
            ),
            None => {
                first.insert(key, v);
            }
        }
    }
}

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let ws = cx.workspace;
    let id = |s: &str| s.trim().to_ascii_lowercase();
    unique(
        "principal object id",
        id,
        ws.principals.iter().filter_map(|p| p.id.as_ref()),
        out,
    );
    unique(
        "group object id",
        id,
        ws.groups.iter().filter_map(|g| g.id.as_ref()),
        out,
    );
    unique(
        "UPN",
        |s: &str| s.trim().to_lowercase(),
        ws.principals
            .iter()
            .filter(|p| p.kind() == Some(PrincipalType::User))
            .filter_map(|p| p.upn.as_ref()),
        out,
    );
}
