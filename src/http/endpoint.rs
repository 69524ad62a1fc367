//! An endpoint URL, parsed once with a WHATWG URL parser (the `url` crate) and checked
//! against what the HTTP client (ureq, which reads URLs as the `http` crate's `Uri`) will
//! actually connect to. The rule, for every endpoint a credential goes to:
//!
//! - `https`, or plain `http` only when the host itself is this machine (127.0.0.0/8, `::1`,
//!   `localhost`), judged on the host the client connects to;
//! - no user name or password before the host (`user:pass@`): it hides the real host
//!   (`http://127.0.0.1:80@10.255.255.1/` goes to 10.255.255.1);
//! - a host, and no fragment;
//! - both parsers read the same scheme, host and port, or the URL is refused: a URL they
//!   read differently is one whose checked host may not be the connected one.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ureq::http::Uri;
use url::{Host, Position, Url};

/// An endpoint URL that passed the rule above. Paths are added to it only through
/// [`Endpoint::join`], which checks that the result still goes to the same host.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The variable (or setting) it came from, for messages.
    name: String,
    url: Url,
    /// `url` as sent: the parser's normal form, without a trailing `/` for a base.
    text: String,
}

/// Why an endpoint URL is refused; its message names the variable, what is wrong and the
/// rule. The URL is shown without any user name or password it carries.
#[derive(Debug, thiserror::Error)]
#[error("`{name}` ({shown}) {problem}")]
pub struct EndpointError {
    pub name: String,
    pub shown: String,
    pub problem: Problem,
}

/// What is wrong with an endpoint URL.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("is not a URL: {0}; give https://host[:port]/path")]
    NotAUrl(String),
    #[error(
        "has a user name or password before its host (`user:pass@`); pimplan refuses userinfo in an endpoint URL, since it hides the host requests go to: give scheme://host[:port]/path only"
    )]
    Userinfo,
    #[error("is {0}, not https; only https is allowed (plain http only to this machine)")]
    Scheme(String),
    #[error("has no host; give https://host[:port]/path")]
    NoHost,
    #[error(
        "is plain http to {0}, which is not this machine; only https is allowed, except to a loopback host (127.0.0.0/8, ::1 or localhost)"
    )]
    PlainHttp(String),
    #[error("has a {0}, which an endpoint cannot carry; give scheme://host[:port]/path only")]
    Part(&'static str),
    #[error(
        "is read differently by URL parsers ({0}), so the host it is checked for may not be the host it reaches; write it plainly: scheme://host[:port]/path, the host as a name, a dotted IPv4 address or a bracketed IPv6 address"
    )]
    Ambiguous(String),
    #[error(
        "does not lead to {0} under this endpoint; requests (and the credential they carry) go only to the endpoint's own origin and path"
    )]
    Elsewhere(String),
}

/// `raw` with anything before its last `@` replaced, so a password in a refused URL is not
/// printed: not only up to the first `/`, `?` or `#`, since a password written with one of
/// those unencoded (`me:hun#ter2@host`) ends the authority there for a parser, not for the
/// eye (a path with an `@` loses more than it needs to, in a message only).
fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_owned();
    };
    match rest.rfind('@') {
        Some(at) => format!("{scheme}://[userinfo removed]{}", &rest[at..]),
        None => raw.to_owned(),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Check that the HTTP client reads `text` as going to `url`'s scheme, host and port.
fn agrees(text: &str, url: &Url) -> Result<(), Problem> {
    let uri: Uri = text
        .parse()
        .map_err(|e| Problem::Ambiguous(format!("the HTTP client cannot read it: {e}")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| Problem::Ambiguous("the HTTP client finds no host".to_owned()))?;
    if authority.as_str().contains('@') {
        return Err(Problem::Userinfo);
    }
    let scheme = uri.scheme_str().unwrap_or("");
    let port = authority.port_u16().or(match scheme {
        s if s.eq_ignore_ascii_case("https") => Some(443),
        s if s.eq_ignore_ascii_case("http") => Some(80),
        _ => None,
    });
    let host = authority.host();
    // Addresses compare as addresses (`[::ffff:127.0.0.1]` is `[::ffff:7f00:1]`), names as
    // names: a name the URL standard reads as an address (`127.1`, `0x7f.0.0.1`) differs.
    let same_host = match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case(host),
        Some(Host::Ipv4(ip)) => host.parse::<Ipv4Addr>().is_ok_and(|h| h == ip),
        Some(Host::Ipv6(ip)) => host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .and_then(|h| h.parse::<Ipv6Addr>().ok())
            .is_some_and(|h| h == ip),
        None => false,
    };
    if !scheme.eq_ignore_ascii_case(url.scheme())
        || !same_host
        || port != url.port_or_known_default()
    {
        return Err(Problem::Ambiguous(format!(
            "the HTTP client would connect to {scheme}://{host}{}, the URL standard reads {}",
            port.map(|p| format!(":{p}")).unwrap_or_default(),
            url.origin().ascii_serialization()
        )));
    }
    Ok(())
}

impl Endpoint {
    /// An endpoint URL under the rule of this module (a query is allowed: GitHub's OIDC
    /// request URL carries one).
    pub fn parse(name: &str, raw: &str) -> Result<Endpoint, EndpointError> {
        let raw = raw.trim();
        let refuse = |problem| EndpointError {
            name: name.to_owned(),
            shown: redact(raw),
            problem,
        };
        let url = Url::parse(raw).map_err(|e| refuse(Problem::NotAUrl(e.to_string())))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse(Problem::Userinfo));
        }
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(refuse(Problem::Scheme(other.to_owned()))),
        };
        let host = match url.host() {
            Some(Host::Domain("")) | None => return Err(refuse(Problem::NoHost)),
            Some(host) => host,
        };
        if url.fragment().is_some() {
            return Err(refuse(Problem::Part("fragment (`#…`)")));
        }
        // What the user wrote and what will be sent must both reach the host checked here.
        agrees(raw, &url).map_err(refuse)?;
        agrees(url.as_str(), &url).map_err(refuse)?;
        if !https && !is_loopback(&host) {
            return Err(refuse(Problem::PlainHttp(host.to_string())));
        }
        Ok(Endpoint {
            name: name.to_owned(),
            text: url.as_str().to_owned(),
            url,
        })
    }

    /// An endpoint that paths are added to (the Graph's `https://graph.microsoft.com/v1.0`,
    /// an authority): [`Endpoint::parse`], without a query, and kept without a trailing `/`.
    pub fn base(name: &str, raw: &str) -> Result<Endpoint, EndpointError> {
        let mut endpoint = Endpoint::parse(name, raw)?;
        if endpoint.url.query().is_some() {
            return Err(endpoint.refuse(&endpoint.text, Problem::Part("query (`?…`)")));
        }
        endpoint.text = endpoint.text.trim_end_matches('/').to_owned();
        Ok(endpoint)
    }

    fn refuse(&self, shown: &str, problem: Problem) -> EndpointError {
        EndpointError {
            name: self.name.clone(),
            shown: redact(shown),
            problem,
        }
    }

    /// The URL as it is sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `host[:port]` (the port only when not the scheme's own), to name in messages.
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// `scheme://host[:port]` (the port only when not the scheme's own).
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// This endpoint with `path` (which starts with `/`) added, checked to reach the same
    /// scheme, host and port.
    pub fn join(&self, path: &str) -> Result<String, EndpointError> {
        let full = format!("{}{path}", self.text);
        let same = path.starts_with('/')
            && Url::parse(&full)
                .is_ok_and(|u| u.origin() == self.url.origin() && agrees(&full, &u).is_ok());
        if same {
            Ok(full)
        } else {
            Err(self.refuse(&full, Problem::Elsewhere(self.origin())))
        }
    }

    /// The part of the absolute `link` (a paging link a response gives) after this base
    /// endpoint, for [`Endpoint::join`]; an error when `link` leads anywhere else (another
    /// origin, or outside the endpoint's path), so the credential is never sent there.
    pub fn relative(&self, link: &str) -> Result<String, EndpointError> {
        let elsewhere = || self.refuse(link, Problem::Elsewhere(self.text.clone()));
        let url = Url::parse(link.trim()).map_err(|_| elsewhere())?;
        if url.origin() != self.url.origin()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(elsewhere());
        }
        let base_path = self.url.path().trim_end_matches('/');
        let rest = url[Position::BeforePath..Position::AfterQuery]
            .strip_prefix(base_path)
            .filter(|r| r.starts_with('/') || r.starts_with('?'))
            .ok_or_else(elsewhere)?;
        let rest = if rest.starts_with('?') {
            format!("/{rest}")
        } else {
            rest.to_owned()
        };
        self.join(&rest).map(|_| rest)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(raw: &str) -> Option<Problem> {
        Endpoint::base("X", raw).err().map(|e| e.problem)
    }

    #[test]
    fn https_anywhere_http_only_to_this_machine() {
        for ok in [
            "https://graph.microsoft.com/v1.0",
            "https://graph.microsoft.com:8443/v1.0/",
            "http://127.0.0.1:8080/v1.0",
            "http://127.5.6.7/",
            "http://localhost:1/",
            "http://[::1]:9/",
            "HTTP://LOCALHOST:1/",
        ] {
            assert!(problem(ok).is_none(), "{ok}: {:?}", problem(ok));
        }
        for (bad, want) in [
            ("http://graph.example.com/", "PlainHttp"),
            ("http://127.0.0.1.example.com/", "PlainHttp"),
            ("http://[::ffff:127.0.0.1]/", "PlainHttp"),
            ("http://10.0.0.1/", "PlainHttp"),
            ("ftp://x/", "Scheme"),
            ("file:///etc/passwd", "Scheme"),
            ("graph.microsoft.com/v1.0", "NotAUrl"),
            ("http://127.0.0.1:80@10.255.255.1/", "Userinfo"),
            ("https://user:pass@graph.microsoft.com/", "Userinfo"),
            ("http://user@127.0.0.1/", "Userinfo"),
            ("http://@127.0.0.1/", "Userinfo"),
            ("https:///v1.0", "NotAUrl"),
            ("https:///graph.example/v1.0", "Ambiguous"),
            ("http://", "NotAUrl"),
            ("https://graph.microsoft.com/v1.0#x", "Part"),
            ("https://graph.microsoft.com/v1.0?x=1", "Part"),
            // Parsers that disagree on the host: refused, whichever is right.
            ("http://127.0.0.1\\@10.255.255.1/", "Ambiguous"),
            ("http://127.1/", "Ambiguous"),
            ("http://0x7f.0.0.1/", "Ambiguous"),
            ("http://2130706433/", "Ambiguous"),
            ("http://%31%32%37.0.0.1/", "Ambiguous"),
            ("http://127.0.0.1\t.evil.example/", "Ambiguous"),
        ] {
            let got = problem(bad);
            assert!(
                got.as_ref()
                    .is_some_and(|p| format!("{p:?}").starts_with(want)),
                "{bad}: {got:?}, wanted {want}"
            );
        }
    }

    #[test]
    fn a_refused_url_does_not_print_its_password() {
        let e = Endpoint::base("AZURE_AUTHORITY_HOST", "https://me:hunter2@login.example/")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("userinfo") && !e.contains("hunter2"), "{e}");
        for raw in [
            "https://me:hun#ter2@login.example/",
            "https://me:hun/ter2@x/",
        ] {
            let e = Endpoint::base("X", raw)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(!e.is_empty() && !e.contains("ter2"), "{e}");
        }
    }

    #[test]
    fn paths_join_to_the_same_host_only() -> Result<(), EndpointError> {
        let graph = Endpoint::base("G", "http://127.0.0.1:8080/v1.0/")?;
        assert_eq!(graph.as_str(), "http://127.0.0.1:8080/v1.0");
        assert_eq!(graph.join("/groups")?, "http://127.0.0.1:8080/v1.0/groups");
        let bare = Endpoint::base("G", "https://graph.example")?;
        assert!(bare.join("@evil.example/x").is_err());
        assert!(bare.join("/x").is_ok());
        Ok(())
    }

    #[test]
    fn paging_links_stay_on_the_endpoint() -> Result<(), EndpointError> {
        let graph = Endpoint::base("G", "https://graph.microsoft.com/v1.0")?;
        assert_eq!(
            graph.relative("https://graph.microsoft.com/v1.0/groups?$skiptoken=a")?,
            "/groups?$skiptoken=a"
        );
        assert_eq!(
            graph.relative("https://GRAPH.microsoft.com:443/v1.0/groups")?,
            "/groups"
        );
        for other in [
            "https://evil.example/v1.0/groups",
            "http://graph.microsoft.com/v1.0/groups",
            "https://graph.microsoft.com:8443/v1.0/groups",
            "https://x@graph.microsoft.com/v1.0/groups",
            "https://graph.microsoft.com/beta/groups",
            "https://graph.microsoft.com/v1.0x/groups",
            "/v1.0/groups",
        ] {
            assert!(graph.relative(other).is_err(), "{other}");
        }
        Ok(())
    }

    #[test]
    fn the_origin_drops_the_default_port() -> Result<(), EndpointError> {
        let g = Endpoint::base("G", "HTTPS://Graph.Microsoft.US:443/v1.0")?;
        assert_eq!(g.origin(), "https://graph.microsoft.us");
        Ok(())
    }
}
