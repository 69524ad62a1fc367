//! Drift in words: the drift section of a plan or of `pimplan drift`, what `apply` says it
//! found of the changes an interrupted apply left pending, and a plan's note on them.

use chrono::{DateTime, FixedOffset};

use crate::drift::{AssignmentRef, DriftItem, RequestOutcome};
use crate::graph::bodies::utc;
use crate::state::State;

fn assignment(a: &AssignmentRef) -> String {
    format!(
        "assignment {}/{} ({}, {})",
        a.group, a.principal, a.role, a.kind
    )
}

/// One finding of a refresh, as one indented line.
pub fn line(item: &DriftItem) -> String {
    let show = |t: &Option<DateTime<FixedOffset>>| t.map_or_else(|| "never".to_owned(), utc);
    match item {
        DriftItem::Pending { address, outcome } => {
            format!("  ? {address}: {outcome}")
        }
        DriftItem::Request {
            address,
            request_id: id,
            outcome,
        } => match outcome {
            RequestOutcome::Provisioned => {
                format!("  * {address}: request {id} is provisioned now; recorded as done")
            }
            RequestOutcome::Waiting(status) => format!(
                "  * {address}: request {id} is still {status} in the service; not granted yet"
            ),
            RequestOutcome::Ended(status) => format!(
                "  - {address}: request {id} ended {status} in the service without granting it; dropped from the state, so the plan proposes it again"
            ),
        },
        DriftItem::RemovedInService { assignment: a } => {
            format!("  - {}: removed in the service", assignment(a))
        }
        DriftItem::EndDiffers {
            assignment: a,
            service,
            recorded,
        } => format!(
            "  ~ {}: ends {} in the service, {} recorded",
            assignment(a),
            show(service),
            show(recorded)
        ),
        DriftItem::MadeOutside { assignment: a } => format!(
            "  + {}: in the service, not in the state (made outside pimplan)",
            assignment(a)
        ),
        DriftItem::PolicyDiffers {
            group,
            role,
            setting,
            service,
            recorded,
        } => format!(
            "  ~ policy {group} ({role}): {setting} is {service} in the service, {} recorded",
            recorded.as_deref().unwrap_or("nothing")
        ),
        DriftItem::FactDiffers {
            subject,
            fact,
            service,
            files,
        } => {
            let verb = if fact.ends_with('s') { "are" } else { "is" };
            format!("  ~ {subject}: {fact} {verb} {service} in the service, {files} in the files")
        }
        DriftItem::GroupGone { group } => {
            format!("  - group {group}: not in the directory (deleted, or a wrong id)")
        }
        DriftItem::FactUnchecked { facts, permission } => {
            format!("  ? {facts}: not checked (the app may not read them; they need {permission})")
        }
        DriftItem::FactNotShown { facts, why } => format!("  ? {facts}: not checked ({why})"),
    }
}

fn lines<'a>(items: impl IntoIterator<Item = &'a DriftItem>) -> String {
    items.into_iter().map(line).collect::<Vec<_>>().join("\n")
}

/// The drift section of a plan or of `pimplan drift`.
pub fn drift_text(items: &[DriftItem]) -> String {
    let (drift, checked): (Vec<&DriftItem>, Vec<&DriftItem>) =
        items.iter().partition(|i| i.is_drift());
    let (unchecked, checked): (Vec<&DriftItem>, Vec<&DriftItem>) =
        checked.into_iter().partition(|i| {
            matches!(
                i,
                DriftItem::FactUnchecked { .. } | DriftItem::FactNotShown { .. }
            )
        });
    let (pending, requests): (Vec<&DriftItem>, Vec<&DriftItem>) = checked
        .into_iter()
        .partition(|i| matches!(i, DriftItem::Pending { .. }));
    let mut text = String::new();
    if !requests.is_empty() {
        text.push_str(&format!(
            "Requests the service had not carried out when they were applied, read again:\n\n{}\n\n",
            lines(requests)
        ));
    }
    if !pending.is_empty() {
        text.push_str(&format!(
            "Interrupted apply: {} change(s) it left pending, checked against the service (the next `pimplan apply --target graph` records this in the state):\n\n{}\n\n",
            pending.len(),
            lines(pending)
        ));
    }
    if drift.is_empty() {
        text.push_str("No drift: the service matches the state.\n");
    } else {
        text.push_str(&format!(
            "Drift: changes made outside pimplan since the last apply:\n\n{}\n\nDrift: {} difference(s).\n",
            lines(drift.iter().copied()),
            drift.len()
        ));
    }
    if !unchecked.is_empty() {
        text.push_str(&format!(
            "\nFacts not compared with the directory:\n{}\n",
            lines(unchecked)
        ));
    }
    text
}

/// What `apply` found, before it plans, of the changes an interrupted apply left pending and
/// of the requests the service had not carried out (it recorded what the service holds).
pub fn settled_text(items: &[DriftItem]) -> String {
    let (interrupted, requests): (Vec<&DriftItem>, Vec<&DriftItem>) = items
        .iter()
        .partition(|i| matches!(i, DriftItem::Pending { .. }));
    let mut text = String::new();
    if !interrupted.is_empty() {
        text.push_str(&format!(
            "Checked {} change(s) left pending by an interrupted apply against the service, and recorded what it holds:\n{}\n\n",
            interrupted.len(),
            lines(interrupted.iter().copied())
        ));
    }
    if !requests.is_empty() {
        text.push_str(&format!(
            "Read again {} request(s) the service had not carried out, and recorded what it holds:\n{}\n\n",
            requests.len(),
            lines(requests.iter().copied())
        ));
    }
    text
}

/// What a plan says of changes an interrupted apply left pending, and of requests the
/// service had not carried out when they were applied.
pub fn pending_note(st: &State) -> Option<String> {
    let waiting: Vec<String> = st
        .assignments
        .iter()
        .filter_map(|a| {
            Some(format!(
                "{} ({})",
                crate::plan::assignment_address(&a.spec),
                a.request_status.as_deref()?
            ))
        })
        .collect();
    let waiting_note = (!waiting.is_empty()).then(|| format!(
        "Note: {} request(s) were taken by the service but not carried out yet when applied ({}): this plan counts them as made. `pimplan apply --target graph`, `plan --refresh` and `drift` read them again.\n\n",
        waiting.len(),
        waiting.join(", ")
    ));
    if st.pending.is_empty() {
        return waiting_note;
    }
    let addresses: Vec<&str> = st
        .pending
        .iter()
        .map(|p| p.change.address.as_str())
        .collect();
    Some(format!(
        "Note: an interrupted apply left {} change(s) pending ({}): whether the service holds them is not known yet, so this plan counts them as not made. `pimplan apply --target graph` checks them against the service before it applies anything; `pimplan plan --refresh` shows what it finds.\n\n{}",
        addresses.len(),
        addresses.join(", "),
        waiting_note.unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{AssignmentType, Role};
    use crate::drift::PendingOutcome;

    fn mei() -> AssignmentRef {
        AssignmentRef {
            group: "sre-prod".into(),
            principal: "mei".into(),
            role: Role::Member,
            kind: AssignmentType::Eligible,
        }
    }

    fn at(text: &str) -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(text).ok()
    }

    /// The lines read as they did when the refresh wrote them as text.
    #[test]
    fn each_item_reads_as_its_line() {
        let request = |outcome| DriftItem::Request {
            address: "assignment sre-prod/mei (member, eligible)".into(),
            request_id: "r1".into(),
            outcome,
        };
        let cases = [
            (
                DriftItem::Pending {
                    address: "assignment sre-prod/mei (member, eligible)".into(),
                    outcome: PendingOutcome::OnlyRemoved,
                },
                "  ? assignment sre-prod/mei (member, eligible): half done (the old assignment is removed in the service, the new one is not made)",
            ),
            (
                request(RequestOutcome::Provisioned),
                "  * assignment sre-prod/mei (member, eligible): request r1 is provisioned now; recorded as done",
            ),
            (
                request(RequestOutcome::Waiting("PendingApproval".into())),
                "  * assignment sre-prod/mei (member, eligible): request r1 is still PendingApproval in the service; not granted yet",
            ),
            (
                request(RequestOutcome::Ended("Denied".into())),
                "  - assignment sre-prod/mei (member, eligible): request r1 ended Denied in the service without granting it; dropped from the state, so the plan proposes it again",
            ),
            (
                DriftItem::RemovedInService { assignment: mei() },
                "  - assignment sre-prod/mei (member, eligible): removed in the service",
            ),
            (
                DriftItem::EndDiffers {
                    assignment: mei(),
                    service: at("2026-12-01T10:00:00+02:00"),
                    recorded: None,
                },
                "  ~ assignment sre-prod/mei (member, eligible): ends 2026-12-01T08:00:00Z in the service, never recorded",
            ),
            (
                DriftItem::MadeOutside { assignment: mei() },
                "  + assignment sre-prod/mei (member, eligible): in the service, not in the state (made outside pimplan)",
            ),
            (
                DriftItem::PolicyDiffers {
                    group: "sre-prod".into(),
                    role: Role::Owner,
                    setting: "activation.max_duration".into(),
                    service: "PT12H".into(),
                    recorded: None,
                },
                "  ~ policy sre-prod (owner): activation.max_duration is PT12H in the service, nothing recorded",
            ),
        ];
        for (item, text) in cases {
            assert_eq!(line(&item), text);
        }
    }

    #[test]
    fn the_drift_section_groups_requests_pending_and_drift() {
        let items = [
            DriftItem::RemovedInService { assignment: mei() },
            DriftItem::Pending {
                address: "a".into(),
                outcome: PendingOutcome::Done,
            },
            DriftItem::Request {
                address: "b".into(),
                request_id: "r".into(),
                outcome: RequestOutcome::Provisioned,
            },
        ];
        assert_eq!(
            drift_text(&items),
            "Requests the service had not carried out when they were applied, read again:\n\n  * b: request r is provisioned now; recorded as done\n\n\
             Interrupted apply: 1 change(s) it left pending, checked against the service (the next `pimplan apply --target graph` records this in the state):\n\n  ? a: done (the service holds it)\n\n\
             Drift: changes made outside pimplan since the last apply:\n\n  - assignment sre-prod/mei (member, eligible): removed in the service\n\nDrift: 1 difference(s).\n"
        );
        assert_eq!(
            drift_text(&items[1..]).lines().last(),
            Some("No drift: the service matches the state.")
        );
        assert_eq!(
            settled_text(&items[1..]),
            "Checked 1 change(s) left pending by an interrupted apply against the service, and recorded what it holds:\n  ? a: done (the service holds it)\n\n\
             Read again 1 request(s) the service had not carried out, and recorded what it holds:\n  * b: request r is provisioned now; recorded as done\n\n"
        );
    }
}
