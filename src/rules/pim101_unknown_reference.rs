//! PIM101 unknown-reference.
use std::collections::HashSet;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::Workspace;
use crate::finding::{Finding, Severity, did_you_mean};
use crate::source::yaml::Spanned;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM101",
        name: "unknown-reference",
        severity: Severity::Error,
        message: "a name refers to nothing defined in the workspace",
        help: "define the name, or use one that is defined",
        docs: Docs {
            what: "A group, principal, approver, owner, standing member, actor, administrative unit or policy \
template name is not defined anywhere in the workspace (a service principal's `owners` and an \
administrative unit's `members` included). The help names the closest defined \
name. A name that an entry which could not be read defines (PIM002, PIM003), or that a file \
with a syntax error may define, is not reported: that finding says what to fix.",
            why: "A reference to nothing cannot be applied, and a typo in an approver list leaves \
approval to fewer people than the reviewer believes.",
            example: "principals:\n  - name: alice\n    type: user\nassignments:\n  - group: prod-db-admins\n    principal: alcie          # did you mean `alice`?\n    role: member\n    type: eligible\n    duration: P30D\n",
            fix: "Correct the spelling, or add the missing entry to `principals`, `groups`, \
`administrative_units` or `policy_templates`.",
            source: "pimplan's configuration format (README, Configuration): names are local handles defined once.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let ws: &Workspace = cx.workspace;
    let principals: Vec<&str> = cx.index.principals.keys().copied().collect();
    let groups: Vec<&str> = cx.index.groups.keys().copied().collect();
    let aus: HashSet<&str> = ws
        .administrative_units
        .iter()
        .map(|a| a.name.value.as_str())
        .collect();
    let templates: HashSet<&str> = ws.templates.iter().map(|t| t.name.value.as_str()).collect();

    let mut report = |name: &Spanned<String>,
                      what: &str,
                      known: &dyn Fn(&str) -> bool,
                      candidates: &mut dyn Iterator<Item = &str>| {
        if known(&name.value) {
            return;
        }
        let help = match did_you_mean(&name.value, candidates) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("define a {what} named `{}`", name.value),
        };
        out.push(
            Finding::new(&RULE, name.span, format!("unknown {what} `{}`", name.value))
                .label(format!("no {what} has this name"))
                .with_help(help),
        );
    };
    // A name that what could not be read may define is not reported: that entry's own
    // finding says what to fix.
    let left_out = &ws.left_out;
    let is_principal =
        |n: &str| cx.index.principals.contains_key(n) || left_out.may_define_principal(n);
    let is_group = |n: &str| cx.index.groups.contains_key(n) || left_out.may_define_group(n);
    let is_au = |n: &str| aus.contains(n) || left_out.may_define_administrative_unit(n);
    let is_template = |n: &str| templates.contains(n) || left_out.may_define_template(n);

    if let Some(actor) = &ws.settings.actor {
        report(
            actor,
            "principal",
            &is_principal,
            &mut principals.iter().copied(),
        );
    }
    for admin in &ws.admins {
        report(
            &admin.principal,
            "principal",
            &is_principal,
            &mut principals.iter().copied(),
        );
        if let Some(au) = &admin.administrative_unit {
            report(au, "administrative unit", &is_au, &mut aus.iter().copied());
        }
    }
    for p in &ws.principals {
        for owner in &p.owners {
            report(
                owner,
                "principal",
                &is_principal,
                &mut principals.iter().copied(),
            );
        }
    }
    // An administrative unit holds principals and groups.
    let is_member = |n: &str| is_principal(n) || is_group(n);
    for au in &ws.administrative_units {
        for member in &au.members {
            report(
                member,
                "principal or group",
                &is_member,
                &mut principals.iter().chain(groups.iter()).copied(),
            );
        }
    }
    for group in &ws.groups {
        for owner in group.owners.iter().chain(&group.members) {
            report(
                owner,
                "principal",
                &is_principal,
                &mut principals.iter().copied(),
            );
        }
        if let Some(t) = &group.policy.template {
            report(
                t,
                "policy template",
                &is_template,
                &mut templates.iter().copied(),
            );
        }
        // Approvers may come from a template: report each written place once.
        for role in [&group.policy.member, &group.policy.owner] {
            for approver in &role.activation.approvers.value {
                report(
                    approver,
                    "principal",
                    &is_principal,
                    &mut principals.iter().copied(),
                );
            }
        }
    }
    // A template's approvers are checked where they are written, whether or not a group uses them.
    for template in &ws.templates {
        for approver in &template.approvers {
            report(
                approver,
                "principal",
                &is_principal,
                &mut principals.iter().copied(),
            );
        }
    }
    for a in &ws.assignments {
        report(&a.group, "group", &is_group, &mut groups.iter().copied());
        report(
            &a.principal,
            "principal",
            &is_principal,
            &mut principals.iter().copied(),
        );
    }
}
