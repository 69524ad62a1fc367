//! PIM302 approver-missing-license.
use super::{Check, Context, Docs, Rule};
use crate::config::model::PrincipalType;
use crate::finding::{Finding, Severity};

pub static RULE: Rule = Rule {
    code: "PIM302",
    name: "approver-missing-license",
    severity: Severity::Error,
    message: "an approver has no PIM licence",
    help: "give the approver `licenses: [entra_id_p2]` or `[entra_id_governance]`, or choose a licensed approver",
    docs: Docs {
        what: "A user listed in an activation policy's `approval.approvers`, where approval is \
required, has neither `entra_id_p2` nor `entra_id_governance` in `licenses`. (Approver groups are not checked: their \
members are not declared.)",
        why: "Microsoft requires a P2 or Governance licence for users who can approve or reject \
activation requests. An approval flow that depends on unlicensed approvers is out of \
compliance and may stop working when licences are enforced.",
        example: "principals:\n  - { name: dave, type: user }            # no licenses\ngroups:\n  - name: prod-db-admins\n    policy:\n      member:\n        activation: { approval: { required: true, approvers: [dave, erin] } }\n",
        fix: "Record the approver's licence, or pick approvers who hold one.",
        source: "Microsoft Learn, licensing-fundamentals (licensing-pim include): users who \
can approve or reject activation requests need P2 or Governance; the worked example counts \
approvers (14 eligible + 3 approvers = 17 licences).",
    },
    locked: None,
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
                                "approver `{}` has no P2 or Governance licence",
                                p.name.value
                            ),
                        )
                        .label("approves activations")
                        .with_secondary(
                            p.name.span,
                            "no `entra_id_p2` or `entra_id_governance` here",
                        ),
                    );
                }
            }
        }
    }
}
