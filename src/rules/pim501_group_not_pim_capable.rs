//! PIM501 group-not-pim-capable.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{GroupSource, Membership};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM501",
        name: "group-not-pim-capable",
        severity: Severity::Error,
        message: "the group cannot be managed by PIM for Groups",
        help: "use a cloud group with assigned membership",
        docs: Docs {
            what: "A group has dynamic membership (`membership: dynamic`) or is synced from \
on-premises (`source: on_premises`).",
            why: "PIM for Groups cannot onboard dynamic-membership groups or groups synced from \
on-premises Active Directory: every assignment to such a group would fail, and membership of \
a synced group is mastered on-premises anyway.",
            example: "groups:\n  - name: all-engineers\n    membership: dynamic\n",
            fix: "Create a cloud-only group with assigned membership for PIM, and nest or assign \
into it as needed.",
            source: "Microsoft Learn, concept-pim-for-groups and groups-discover-groups: any \
security or Microsoft 365 group can be enabled for PIM except dynamic-membership groups and \
groups synchronized from on-premises.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        if let Some(m) = group
            .membership
            .as_ref()
            .filter(|m| m.value == Membership::Dynamic)
        {
            out.push(
                Finding::new(
                    &RULE,
                    m.span,
                    format!(
                        "`{}` has dynamic membership, which PIM cannot manage",
                        group.name.value
                    ),
                )
                .label("dynamic membership")
                .with_help(
                    "PIM needs `membership: assigned`; use a separate assigned group for PIM",
                ),
            );
        }
        if let Some(s) = group
            .source
            .as_ref()
            .filter(|s| s.value == GroupSource::OnPremises)
        {
            out.push(
                Finding::new(
                    &RULE,
                    s.span,
                    format!(
                        "`{}` is synced from on-premises, which PIM cannot manage",
                        group.name.value
                    ),
                )
                .label("synced group")
                .with_help("PIM needs a cloud-only group; create one and manage it here"),
            );
        }
    }
}
