//! The HTTP agent every pimplan request goes through (the Graph, its sign-in, the Blob
//! service of a remote state) and how long a service asks to be left alone (`Retry-After`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// The variable that names a PEM bundle of roots trusted beside the built-in ones.
pub const CA_FILE_VAR: &str = "PIMPLAN_CA_FILE";

/// An agent whose every request, whole (connecting, sending and reading the answer to its
/// last byte), takes at most `timeout`; connecting at most 15 s of it. Error statuses are
/// answers, not errors: the caller reads their codes. HTTPS trusts the built-in (Mozilla)
/// roots plus those of `PIMPLAN_CA_FILE` ([`ca_roots`]); when that file is missing or bad
/// it trusts nothing at all, never silently the built-in roots only (the command line
/// refuses to start first, see [`check_ca_file`]).
pub fn agent(timeout: Duration) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(15))))
        .http_status_as_error(false);
    match ca_roots() {
        Ok(None) => {}
        Ok(Some(roots)) => {
            config = config.tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::Specific(roots.clone()))
                    .build(),
            );
        }
        Err(_) => {
            config = config.tls_config(
                TlsConfig::builder()
                    .root_certs(RootCerts::Specific(Arc::new(Vec::new())))
                    .build(),
            );
        }
    }
    config.build().new_agent()
}

type Roots = Option<Arc<Vec<Certificate<'static>>>>;

static CA_ROOTS: OnceLock<Result<Roots, String>> = OnceLock::new();

/// The roots HTTPS trusts: `None` when `PIMPLAN_CA_FILE` is not set (the built-in ones);
/// otherwise the built-in ones and every certificate of that file, read once. A file that
/// cannot be read, or holds no certificate or a bad one, is an error naming the variable
/// and the path.
fn ca_roots() -> &'static Result<Roots, String> {
    CA_ROOTS.get_or_init(|| {
        let Some(path) = std::env::var_os(CA_FILE_VAR).filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let shown = std::path::Path::new(&path).display().to_string();
        let bad = |why: String| format!("{CA_FILE_VAR} `{shown}` {why}");
        let pem = std::fs::read(&path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        let mut extra = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(cert)) => extra.push(cert),
                Ok(_) => {}
                Err(e) => return Err(bad(format!("is not a valid PEM bundle: {e}"))),
            }
        }
        if extra.is_empty() {
            return Err(bad(
                "holds no certificate (a PEM bundle of `-----BEGIN CERTIFICATE-----` blocks is expected)"
                    .to_owned(),
            ));
        }
        let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        roots.extend(extra);
        Ok(Some(Arc::new(roots)))
    })
}

/// Whether `PIMPLAN_CA_FILE`, when set, is a readable PEM bundle of certificates: the
/// command line checks it before any request, so a bad one stops the command (exit 1)
/// rather than being ignored.
pub fn check_ca_file() -> Result<(), String> {
    ca_roots().as_ref().map(|_| ()).map_err(Clone::clone)
}

/// A failed request told for a person: the error, and when it is the server's certificate
/// (or the TLS handshake) that failed, which roots were trusted and how to add one.
pub fn transport_detail(error: &ureq::Error) -> String {
    let text = error.to_string();
    let tls = matches!(
        error,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_)
    ) || ["certificate", "UnknownIssuer", "tls", "TLS"]
        .iter()
        .any(|w| text.contains(w));
    if !tls {
        return text;
    }
    let trusted = match std::env::var_os(CA_FILE_VAR).filter(|p| !p.is_empty()) {
        Some(path) => format!(
            "the roots trusted are the built-in ones plus those of {CA_FILE_VAR} `{}`: does that file hold the root that signed the server's certificate?",
            std::path::Path::new(&path).display()
        ),
        None => format!(
            "only the built-in roots are trusted: for a private endpoint or proxy, set {CA_FILE_VAR} to a PEM bundle that holds its root"
        ),
    };
    format!("TLS failed: {text} ({trusted})")
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
