//! PIM508 too-many-role-assignable-groups.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::finding::{Finding, Severity};

/// Role-assignable groups a tenant may have.
pub const LIMIT: usize = 500;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM508",
        name: "too-many-role-assignable-groups",
        severity: Severity::Error,
        message: "more than 500 role-assignable groups are declared",
        help: "make groups that hold no Entra role non-role-assignable",
        docs: Docs {
            what: "The workspace declares more than 500 groups with `role_assignable: true`. The \
finding points at the 501st.",
            why: "A tenant can have at most 500 role-assignable groups; creating more fails. (The \
number of PIM-enabled groups is not limited this way.)",
            example: "groups:\n  - { name: g1, role_assignable: true }\n  # … 500 more role-assignable groups\n",
            fix: "Only groups that hold Entra roles (`entra_roles:`) need to be role-assignable.",
            source: "Microsoft Learn, concept-pim-for-groups and the Entra service limits include: \
at most 500 role-assignable groups per tenant.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let role_assignable: Vec<_> = cx
        .workspace
        .groups
        .iter()
        .filter_map(|g| {
            g.role_assignable
                .as_ref()
                .filter(|r| r.value)
                .map(|r| (g, r))
        })
        .collect();
    if let Some((group, flag)) = role_assignable.get(LIMIT) {
        out.push(
            Finding::new(
                &RULE,
                flag.span,
                format!(
                    "`{}` is role-assignable group number {}, over the tenant limit of {LIMIT}",
                    group.name.value,
                    LIMIT + 1
                ),
            )
            .label("one too many")
            .with_help(format!(
                "the workspace declares {} role-assignable groups; make groups that hold no Entra role non-role-assignable",
                role_assignable.len()
            )),
        );
    }
}
