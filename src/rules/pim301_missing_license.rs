//! PIM301 missing-license.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, PrincipalType};
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM301",
        name: "missing-license",
        severity: Severity::Error,
        message: "a user with eligible or time-bound access has no PIM license",
        help: "record the user's license: `entra_id_p2`, `entra_id_governance`, or a product that includes one, such as `Microsoft 365 E5` or `SPE_E5`",
        docs: Docs {
            what: "A user has an eligible assignment, or a time-bound active one, and no license in \
`licenses` that covers PIM: `entra_id_p2`, `entra_id_governance`, or a product that includes \
Microsoft Entra ID P2 or ID Governance, by its Microsoft name or SKU part number \
(`Microsoft 365 E5`, `SPE_E5`, `Enterprise Mobility + Security E5`, `EMSPREMIUM`, \
`Microsoft Entra ID Governance`, `Microsoft Entra Suite`, ...; case and extra spaces do not \
matter). Other strings, such as `Microsoft 365 E3` (P1 only), are kept and ignored. Permanent \
active assignments need no PIM license.",
            why: "Microsoft requires a Microsoft Entra ID P2 or Microsoft Entra ID Governance license \
for every user with eligible or time-bound membership or ownership in PIM for Groups. When the \
license is missing or lapses, eligible assignments are removed and time-bound active ones \
become permanent: the opposite of what PIM is for.",
            example: "principals:\n  - { name: alice, type: user }          # no licenses\nassignments:\n  - { group: ops, principal: alice, role: member, type: eligible, duration: P90D, justification: on-call }\n",
            fix: "Record the license the user holds (`licenses: [entra_id_p2]`, or \
`licenses: [Microsoft 365 E5]`), after making sure the tenant has enough P2 or Governance \
seats.",
            source: "Microsoft Learn, licensing-fundamentals (licensing-pim include): licenses are \
needed for users with eligible and/or time-bound membership or ownership in PIM for Groups; \
when the license expires, eligible assignments are removed and time-bound active ones become \
permanent. Microsoft Learn, \"Product names and service plan identifiers for licensing\" \
(https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference): the \
products whose service plans include AAD_PREMIUM_P2 or Entra_Identity_Governance, by product \
name and SKU part number.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for a in &cx.workspace.assignments {
        let needs = a.kind.value == AssignmentType::Eligible || !a.is_permanent();
        if !needs {
            continue;
        }
        let Some(p) = cx.principal(&a.principal.value) else {
            continue;
        };
        if !p.is(PrincipalType::User) || p.has_pim_license() {
            continue;
        }
        let what = if a.kind.value == AssignmentType::Eligible {
            "an eligible"
        } else {
            "a time-bound active"
        };
        out.push(
            Finding::new(
                &RULE,
                a.principal.span,
                format!(
                    "`{}` has {what} assignment but no P2 or Governance license",
                    p.name.value
                ),
            )
            .label("needs a PIM license")
            .with_secondary(
                p.name.span,
                "no license here includes Entra ID P2 or ID Governance",
            ),
        );
    }
}
