//! PIM610 role-group-activation-without-mfa.
use std::collections::HashMap;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{Requirement, Role, requires};
use crate::finding::{Finding, Severity};
use crate::source::Span;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM610",
        name: "role-group-activation-without-mfa",
        severity: Severity::Warning,
        message: "a role-assignable group's activation requires neither MFA nor an authentication context",
        help: "add `mfa` to `activation.require`, or set an `authentication_context`",
        docs: Docs {
            what: "The activation policy of a role-assignable group, for members or for owners, \
requires neither `mfa` nor an `authentication_context`. The policy checked is the one pimplan \
applies: Microsoft's defaults (justification only), overlaid by the group's template, overlaid \
by the group's own keys. It is reported whether or not anyone is eligible for the role yet: a \
group's policy is always applied, and the first eligible assignment added later would activate \
without MFA (unlike PIM601, which asks for eligible members). The finding points \
at the `activation.require` value when one is written (once at a template, naming the first \
group that uses it), else at the group's name.",
            why: "Activating membership of a role-assignable group grants Entra roles. Without MFA \
at activation, a stolen password is enough to elevate.",
            example: "groups:\n  - name: prod-db-admins\n    role_assignable: true\n    policy:\n      member:\n        activation: { require: [justification] }   # reported here\n      # owner activation keeps Microsoft's default: reported at the group's name\n",
            fix: "Require `mfa` for member and owner activation (a template is the easy way), or \
better an authentication context whose Conditional Access policy demands a \
phishing-resistant authentication strength.",
            source: "Microsoft Learn, groups-role-settings (On activation, require Azure MFA or a \
Conditional Access authentication context) and pim-deployment-plan (recommended settings: \
MFA on activation).",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    // Where each finding points, with the groups it stands for: a `require` written in a
    // template is one place however many groups use it, and is reported once.
    let mut places: Vec<((Role, Span), Vec<&str>)> = Vec::new();
    let mut seen: HashMap<(Role, Span), usize> = HashMap::new();
    for group in cx
        .workspace
        .groups
        .iter()
        .filter(|g| g.is_role_assignable())
    {
        for role in [Role::Member, Role::Owner] {
            let a = &group.policy.role(role).activation;
            if requires(&a.require.value, Requirement::Mfa)
                || a.authentication_context.value.is_some()
            {
                continue;
            }
            let key = (role, a.require.span.unwrap_or(group.name.span));
            match seen.get(&key) {
                Some(&i) => places[i].1.push(&group.name.value),
                None => {
                    seen.insert(key, places.len());
                    places.push((key, vec![&group.name.value]));
                }
            }
        }
    }
    for ((role, span), groups) in places {
        let more = match groups.len() {
            1 => String::new(),
            2 => " and 1 other group".to_owned(),
            n => format!(" and {} other groups", n - 1),
        };
        out.push(
            Finding::new(
                &RULE,
                span,
                format!(
                    "{role} activation of role-assignable `{}`{more} needs no MFA",
                    groups[0]
                ),
            )
            .label("no MFA or authentication context"),
        );
    }
}
