//! PIM302 approver-missing-license.
use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::PrincipalType;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM302",
        name: "approver-missing-license",
        severity: Severity::Error,
        message: "an approver has no PIM license",
        help: "record the approver's license (`entra_id_p2`, `entra_id_governance`, or a product that includes one, such as `Microsoft 365 E5`), or choose a licensed approver",
        docs: Docs {
            what: "A user listed in an activation policy's `approval.approvers`, where approval is \
required, has no license in `licenses` that covers PIM: `entra_id_p2`, `entra_id_governance`, \
or a product that includes Microsoft Entra ID P2 or ID Governance, by its Microsoft name or SKU \
part number (as for PIM301). (Approver groups are not checked: their members are not \
declared.)",
            why: "Microsoft requires a P2 or Governance license for users who can approve or reject \
activation requests. An approval flow that depends on unlicensed approvers is out of \
compliance and may stop working when licenses are enforced.",
            example: "principals:\n  - { name: dave, type: user }            # no licenses\ngroups:\n  - name: prod-db-admins\n    policy:\n      member:\n        activation: { approval: { required: true, approvers: [dave, erin] } }\n",
            fix: "Record the approver's license, or pick approvers who hold one.",
            source: "Microsoft Learn, licensing-fundamentals (licensing-pim include): users who \
can approve or reject activation requests need P2 or Governance; the worked example counts \
approvers (14 eligible + 3 approvers = 17 licenses). Microsoft Learn, \"Product names and \
service plan identifiers for licensing\" \
(https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference): the \
products that include AAD_PREMIUM_P2 or Entra_Identity_Governance.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        for role in [&group.policy.member, &group.policy.owner] {
            // Approvers listed while approval is off approve nothing.
            if !role.activation.approval_required.value {
                continue;
            }
            for approver in &role.activation.approvers.value {
                let Some(p) = cx.principal(&approver.value) else {
                    continue;
                };
                if p.is(PrincipalType::User) && !p.has_pim_license() {
                    out.push(
                        Finding::new(
                            &RULE,
                            approver.span,
                            format!(
                                "approver `{}` has no P2 or Governance license",
                                p.name.value
                            ),
                        )
                        .label("approves activations")
                        .with_secondary(
                            p.name.span,
                            "no license here includes Entra ID P2 or ID Governance",
                        ),
                    );
                }
            }
        }
    }
}
