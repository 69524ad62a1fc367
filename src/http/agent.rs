//! The HTTP agent every pimplan request goes through (the Graph, its sign-in, the Blob
//! service of a remote state) and how long a service asks to be left alone (`Retry-After`).

use std::time::Duration;

/// An agent whose every request, whole (connecting, sending and reading the answer to its
/// last byte), takes at most `timeout`; connecting at most 15 s of it. Error statuses are
/// answers, not errors: the caller reads their codes.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(15))))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// How long `Retry-After` asks to wait: delta-seconds, or an HTTP-date, counted from the
/// response's `Date` (the service's clock, not this machine's).
pub fn retry_after_seconds(value: &str, date: Option<&str>) -> Option<u64> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let now = chrono::DateTime::parse_from_rfc2822(date?).ok()?;
    Some(u64::try_from((at - now).num_seconds()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after_seconds("7", None), Some(7));
        assert_eq!(
            retry_after_seconds(
                "Wed, 21 Oct 2026 07:28:30 GMT",
                Some("Wed, 21 Oct 2026 07:28:00 GMT")
            ),
            Some(30)
        );
        // A date already past: retry now; no `Date` to count from: the backoff decides.
        assert_eq!(
            retry_after_seconds(
                "Wed, 21 Oct 2026 07:27:00 GMT",
                Some("Wed, 21 Oct 2026 07:28:00 GMT")
            ),
            Some(0)
        );
        assert_eq!(
            retry_after_seconds("Wed, 21 Oct 2026 07:28:30 GMT", None),
            None
        );
        assert_eq!(retry_after_seconds("soon", None), None);
    }
}
