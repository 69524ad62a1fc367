//! The drift section of a plan or of `pimplan drift`: the lines of a refresh, grouped.

use crate::apply::REQUEST;

/// Whether a refresh line is a difference (not a pending change checked, nor a request
/// still waiting).
pub fn is_drift(line: &str) -> bool {
    !line.starts_with(PENDING) && !line.starts_with(REQUEST)
}

const PENDING: &str = "  ?";

/// The drift section of a plan or of `pimplan drift`.
pub fn drift_text(lines: &[String]) -> String {
    let (drift, checked): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| is_drift(l));
    let (requests, pending): (Vec<&String>, Vec<&String>) =
        checked.into_iter().partition(|l| l.starts_with(REQUEST));
    let mut text = String::new();
    if !requests.is_empty() {
        text.push_str(&format!(
            "Requests the service had not carried out when they were applied, read again:\n\n{}\n\n",
            requests.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
        ));
    }
    if !pending.is_empty() {
        text.push_str(&format!(
            "Interrupted apply: {} change(s) it left pending, checked against the service (the next `pimplan apply --target graph` records this in the state):\n\n{}\n\n",
            pending.len(),
            pending.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
        ));
    }
    if drift.is_empty() {
        text.push_str("No drift: the service matches the state.\n");
    } else {
        text.push_str(&format!(
            "Drift: changes made outside pimplan since the last apply:\n\n{}\n\nDrift: {} difference(s).\n",
            drift.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n"),
            drift.len()
        ));
    }
    text
}
