//! A fault proxy between a Blob client and Azurite, for the remote-state tests (design
//! remote-state.md B.8): it listens on 127.0.0.1 only, forwards every request byte for byte
//! (request line, headers in their order and case, `Host` included, body), records each
//! request, and injects faults the test sets while it runs:
//!
//! - [`Fault::DropResponseAfterCommit`]: the request reaches Azurite, Azurite answers (the
//!   write is done), and the client's connection is closed without that answer;
//! - [`Fault::CutRequestBody`]: only the first part of the body reaches Azurite, then the
//!   upstream connection is closed (and the client's, without an answer);
//! - [`Fault::Delay`]: the request is held before it is forwarded (a late lease renewal);
//! - [`Fault::DelayResponse`]: Azurite's answer is held before it goes back (a renewal
//!   granted at once but learned late);
//! - [`Fault::FailWith`]: a synthetic error answer shaped like Azure's (status,
//!   `x-ms-error-code`, the XML `<Error>` body, `Retry-After` when asked); nothing is
//!   forwarded.
//!
//! A [`Rule`] pairs a [`Match`] (method, the `comp=` parameter, headers present or equal)
//! with a fault, for the next request that matches, the next `n`, or every one. The first
//! rule with uses left that matches a request applies; a request no rule matches passes.
//!
//! Nothing is changed on the way: Shared Key signs the method, the standard headers, the
//! `x-ms-*` headers and `/account/path?query` but not the host, so a signed request stays
//! valid through the proxy, and Azurite takes the account from the path (`Host` is an IP
//! address either way). Each request gets a fresh upstream connection; the client's
//! connection is kept alive as HTTP/1.1 allows (`Content-Length` and chunked bodies, `HEAD`,
//! 1xx/204/304 answers, `Expect: 100-continue`).
//!
//! ```text
//! let p = blob_proxy::proxied("b13")?;   // a container, a proxy, a client through it
//! p.proxy.fault(Rule::once(Match::put_blob(), Fault::DropResponseAfterCommit));
//! // … pimplan with `endpoint: <p.proxy.endpoint_url()>` …
//! let puts: Vec<_> = p.proxy.log().into_iter().filter(|e| e.method == "PUT").collect();
//! ```

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a request is told apart: every field given must hold.
#[derive(Clone, Debug, Default)]
pub struct Match {
    /// `PUT`, `GET`, … (any when `None`).
    pub method: Option<String>,
    /// The `comp=` query parameter: `None` any, `Some(None)` absent, `Some(Some(v))` equal.
    pub comp: Option<Option<String>>,
    /// Headers (name in any case) that must be present, with this value when given.
    pub headers: Vec<(String, Option<String>)>,
}

impl Match {
    /// Every request.
    pub fn any() -> Match {
        Match::default()
    }

    pub fn method(mut self, method: &str) -> Match {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    pub fn comp(mut self, comp: &str) -> Match {
        self.comp = Some(Some(comp.to_owned()));
        self
    }

    pub fn no_comp(mut self) -> Match {
        self.comp = Some(None);
        self
    }

    /// The header `name` is present.
    pub fn header(mut self, name: &str) -> Match {
        self.headers.push((name.to_ascii_lowercase(), None));
        self
    }

    /// The header `name` is `value`.
    pub fn header_is(mut self, name: &str, value: &str) -> Match {
        self.headers
            .push((name.to_ascii_lowercase(), Some(value.to_owned())));
        self
    }

    /// Put Blob: `PUT` with `x-ms-blob-type` and no `comp=`.
    pub fn put_blob() -> Match {
        Match::any()
            .method("PUT")
            .no_comp()
            .header("x-ms-blob-type")
    }

    /// Get Blob: `GET` without `comp=` (not a listing).
    pub fn get_blob() -> Match {
        Match::any().method("GET").no_comp()
    }

    /// Lease Blob with `x-ms-lease-action: action` (`acquire`, `renew`, `release`, `break`).
    pub fn lease(action: &str) -> Match {
        Match::any()
            .method("PUT")
            .comp("lease")
            .header_is("x-ms-lease-action", action)
    }

    fn matches(&self, request: &Head) -> bool {
        self.method.as_ref().is_none_or(|m| *m == request.method)
            && self
                .comp
                .as_ref()
                .is_none_or(|c| c.as_deref() == request.query_param("comp").as_deref())
            && self
                .headers
                .iter()
                .all(|(name, value)| match (request.header(name), value) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(have), Some(want)) => have == want,
                })
    }
}

/// What the proxy does to a matching request.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Forward it, read Azurite's whole answer, then close the client's connection without
    /// sending it.
    DropResponseAfterCommit,
    /// Forward the head and `at_fraction` (0.0–1.0) of the body's bytes, close the upstream
    /// connection, then close the client's without an answer. At 1.0 the whole body is
    /// sent and Azurite commits it before it sees the close (a lost answer, not a cut).
    CutRequestBody { at_fraction: f64 },
    /// Hold the request this long, then forward it.
    Delay(Duration),
    /// Forward it at once, then hold Azurite's answer this long before sending it on.
    DelayResponse(Duration),
    /// Forward it, then send Azurite's answer on with the header `name` (lower case) set to
    /// `value`: a service that names another lease than the one asked about.
    ReplaceAnswerHeader { name: String, value: String },
    /// Answer `status` with `x-ms-error-code: code` and Azure's XML error body, without
    /// forwarding; `Retry-After: s` when `retry_after` is `Some(s)`.
    FailWith {
        status: u16,
        code: String,
        retry_after: Option<u64>,
    },
}

impl Fault {
    pub fn cut_request_body(at_fraction: f64) -> Fault {
        Fault::CutRequestBody { at_fraction }
    }

    pub fn delay(duration: Duration) -> Fault {
        Fault::Delay(duration)
    }

    pub fn delay_response(duration: Duration) -> Fault {
        Fault::DelayResponse(duration)
    }

    pub fn fail_with(status: u16, code: &str, retry_after: Option<u64>) -> Fault {
        Fault::FailWith {
            status,
            code: code.to_owned(),
            retry_after,
        }
    }

    /// 503 `ServerBusy` with `Retry-After`, as Azure throttles.
    pub fn server_busy(retry_after: u64) -> Fault {
        Fault::fail_with(503, "ServerBusy", Some(retry_after))
    }

    /// 500 `OperationTimedOut`: the service gave up; whether a write happened is not known.
    pub fn operation_timed_out() -> Fault {
        Fault::fail_with(500, "OperationTimedOut", None)
    }

    pub fn replace_answer_header(name: &str, value: &str) -> Fault {
        Fault::ReplaceAnswerHeader {
            name: name.to_ascii_lowercase(),
            value: value.to_owned(),
        }
    }

    fn name(&self) -> String {
        match self {
            Fault::ReplaceAnswerHeader { name, value } => {
                format!("replace_answer_header({name}: {value})")
            }
            Fault::DropResponseAfterCommit => "drop_response_after_commit".to_owned(),
            Fault::CutRequestBody { at_fraction } => format!("cut_request_body({at_fraction})"),
            Fault::Delay(d) => format!("delay({} ms)", d.as_millis()),
            Fault::DelayResponse(d) => format!("delay_response({} ms)", d.as_millis()),
            Fault::FailWith { status, code, .. } => format!("fail_with({status} {code})"),
        }
    }
}

/// A fault for the requests that match, a number of times or always.
#[derive(Clone, Debug)]
pub struct Rule {
    pub matching: Match,
    pub fault: Fault,
    /// Uses left; `None`: every matching request.
    pub times: Option<usize>,
}

impl Rule {
    /// The next matching request only.
    pub fn once(matching: Match, fault: Fault) -> Rule {
        Rule::times(1, matching, fault)
    }

    pub fn times(n: usize, matching: Match, fault: Fault) -> Rule {
        Rule {
            matching,
            fault,
            times: Some(n),
        }
    }

    pub fn always(matching: Match, fault: Fault) -> Rule {
        Rule {
            matching,
            fault,
            times: None,
        }
    }
}

/// One request as the proxy saw it, and what became of it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The order of arrival, from 0.
    pub seq: u64,
    pub method: String,
    /// The path as sent (percent-encoded), e.g. `/devstoreaccount1/ctr/prod/s.json`.
    pub path: String,
    /// The raw query string (without `?`; empty when none), a SAS's `sig=` value shown as
    /// `[redacted]` (it is forwarded as sent).
    pub query: String,
    /// Every request header (name in lower case) in order; `Authorization` shows only its
    /// scheme (`SharedKey`, `Bearer`), never the signature or token.
    pub headers: Vec<(String, String)>,
    pub lease_id: Option<String>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub lease_action: Option<String>,
    pub body_len: usize,
    /// When its head had arrived.
    pub received: Instant,
    /// When it was sent on to Azurite (after a [`Fault::Delay`]); `None` when it was not.
    pub forwarded: Option<Instant>,
    /// When the answer went to the client (logged just before it is sent, so a client that
    /// has its answer finds it logged), or its connection was closed instead.
    pub answered: Option<Instant>,
    /// The status the client got; `None` when it got none (dropped, cut, upstream failed).
    pub status: Option<u16>,
    /// Azurite's answer: status and headers (name in lower case); `None` when it did not
    /// answer (never asked, cut, or not reachable).
    pub upstream_status: Option<u16>,
    pub upstream_headers: Vec<(String, String)>,
    /// The fault applied ([`Fault`]'s name), if any.
    pub fault: Option<String>,
    /// What went wrong on the way, if anything (upstream unreachable, client gone).
    pub error: Option<String>,
}

impl Entry {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn upstream_header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.upstream_headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }

    /// `comp=` of the query.
    pub fn comp(&self) -> Option<String> {
        self.query_param("comp")
    }

    /// `PUT comp=lease renew` / `PUT /…/blob`: for messages.
    pub fn summary(&self) -> String {
        format!(
            "#{} {} {}{}{} -> {}{}",
            self.seq,
            self.method,
            self.path,
            if self.query.is_empty() { "" } else { "?" },
            self.query,
            self.status
                .map_or_else(|| "(no answer)".to_owned(), |s| s.to_string()),
            self.fault
                .as_ref()
                .map_or_else(String::new, |f| format!(" [{f}]"))
        )
    }
}

/// The answer's head `raw` with the header `name` (lower case) set to `value`, in place or
/// added before the blank line that ends the head.
fn replace_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut lines: Vec<String> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .filter(|l| {
            !l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .map(str::to_owned)
        .collect();
    lines.push(format!("{name}: {value}"));
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

/// `query` with the value of `sig=` (a SAS signature) replaced by `[redacted]`.
fn without_signature(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("sig", _)) => "sig=[redacted]".to_owned(),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Shared {
    upstream: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    log: Mutex<Vec<Entry>>,
    next: AtomicU64,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The proxy; it stops accepting when dropped (connections already open end with their
/// client).
pub struct BlobProxy {
    addr: SocketAddr,
    /// The path of the upstream endpoint (`/devstoreaccount1`), kept in [`Self::endpoint_url`].
    base_path: String,
    shared: Arc<Shared>,
}

impl BlobProxy {
    /// A proxy on a free port of 127.0.0.1 in front of `upstream`, an `http://` endpoint
    /// on this machine (Azurite's `http://127.0.0.1:PORT/devstoreaccount1`).
    pub fn start(upstream: &str) -> Result<BlobProxy, String> {
        let url = url::Url::parse(upstream).map_err(|e| format!("{upstream}: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!("{upstream}: the proxy forwards plain http only"));
        }
        let host = url.host_str().ok_or(format!("{upstream}: no host"))?;
        let port = url
            .port_or_known_default()
            .ok_or(format!("{upstream}: no port"))?;
        let upstream_addr: SocketAddr = format!("{host}:{port}")
            .parse()
            .map_err(|e| format!("{upstream}: the host must be an IP address: {e}"))?;
        if !upstream_addr.ip().is_loopback() {
            return Err(format!("{upstream}: the tests talk to loopback only"));
        }
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            upstream: upstream_addr,
            rules: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            next: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let accept = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let conn = Arc::clone(&accept);
                std::thread::spawn(move || serve(stream, &conn));
            }
        });
        Ok(BlobProxy {
            addr,
            base_path: url.path().trim_end_matches('/').to_owned(),
            shared,
        })
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1`: the upstream endpoint with the proxy's port.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}{}", self.addr, self.base_path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Add a rule (after those already set).
    pub fn fault(&self, rule: Rule) {
        lock(&self.shared.rules).push(rule);
    }

    /// The requests so far, in order of arrival (one still in flight shows no answer yet).
    pub fn log(&self) -> Vec<Entry> {
        lock(&self.shared.log).clone()
    }

    /// Forget the rules and the log.
    pub fn clear(&self) {
        lock(&self.shared.rules).clear();
        lock(&self.shared.log).clear();
    }

    /// Forget the rules only.
    pub fn clear_faults(&self) {
        lock(&self.shared.rules).clear();
    }
}

impl Drop for BlobProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// A request head as received: the raw bytes and what was read from them.
struct Head {
    raw: Vec<u8>,
    method: String,
    target: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    fn query_param(&self, name: &str) -> Option<String> {
        query_param(self.query(), name)
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.parse().ok())
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A head as raw bytes and as lines (without their line ends).
type RawHead = (Vec<u8>, Vec<String>);

/// The head of a request or answer: lines up to the empty one. `None` at a clean end of
/// the stream before any byte.
fn read_head(reader: &mut impl BufRead) -> Result<Option<RawHead>, String> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return if raw.is_empty() {
                Ok(None)
            } else {
                Err("the stream ended inside a head".to_owned())
            };
        }
        raw.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        if text.is_empty() {
            if lines.is_empty() {
                // A stray empty line before a request (RFC 9112 §2.2 allows skipping it).
                raw.clear();
                continue;
            }
            return Ok(Some((raw, lines)));
        }
        lines.push(text);
    }
}

fn header_pairs(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .skip(1)
        .filter_map(|l| {
            let (name, value) = l.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect()
}

/// A body as raw bytes: `length` bytes, or chunked (the chunk framing and trailers kept),
/// or everything up to the end of the stream when `to_end`.
fn read_body(
    reader: &mut impl BufRead,
    chunked: bool,
    length: Option<usize>,
    to_end: bool,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size_line = Vec::new();
            reader
                .read_until(b'\n', &mut size_line)
                .map_err(|e| e.to_string())?;
            if size_line.is_empty() {
                return Err("the stream ended inside a chunked body".to_owned());
            }
            body.extend_from_slice(&size_line);
            let text = String::from_utf8_lossy(&size_line);
            let size_text = text.trim().split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|e| format!("a chunk size `{size_text}`: {e}"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut line = Vec::new();
                    reader
                        .read_until(b'\n', &mut line)
                        .map_err(|e| e.to_string())?;
                    body.extend_from_slice(&line);
                    if line.is_empty() || line == b"\r\n" || line == b"\n" {
                        return Ok(body);
                    }
                }
            }
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            body.extend_from_slice(&chunk);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        Ok(body)
    } else if to_end {
        reader.read_to_end(&mut body).map_err(|e| e.to_string())?;
        Ok(body)
    } else {
        Ok(body)
    }
}

/// Azure's error answer: `x-ms-error-code`, `x-ms-request-id`, `x-ms-version`, `Date`, and
/// the XML `<Error><Code/><Message/></Error>` body whose message ends with the request id
/// and time.
fn synthetic(status: u16, code: &str, retry_after: Option<u64>, version: Option<&str>) -> Vec<u8> {
    // Azure's status line carries the error's message as its reason phrase.
    let message = match code {
        "ServerBusy" => "The server is busy.",
        "OperationTimedOut" => "Operation could not be completed within the specified time.",
        "InternalError" => "The server encountered an internal error. Please retry the request.",
        _ => "The proxy of the tests answered this error.",
    };
    let request_id = format!("{:08x}-0000-4000-8000-000000000000", std::process::id());
    let now = chrono::Utc::now();
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:{request_id}\nTime:{}</Message></Error>",
        now.format("%Y-%m-%dT%H:%M:%S%.6f0Z")
    );
    let mut head = format!(
        "HTTP/1.1 {status} {message}\r\nContent-Length: {}\r\nContent-Type: application/xml\r\nServer: Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0\r\nx-ms-request-id: {request_id}\r\nx-ms-version: {}\r\nx-ms-error-code: {code}\r\nDate: {}\r\n",
        body.len(),
        version.unwrap_or("2025-11-05"),
        now.format("%a, %d %b %Y %H:%M:%S GMT")
    );
    if let Some(s) = retry_after {
        head.push_str(&format!("Retry-After: {s}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// The fault of the first rule with uses left that matches, using one of them.
fn take_fault(shared: &Shared, head: &Head) -> Option<Fault> {
    let mut rules = lock(&shared.rules);
    let rule = rules
        .iter_mut()
        .find(|r| r.times != Some(0) && r.matching.matches(head))?;
    if let Some(n) = rule.times.as_mut() {
        *n -= 1;
    }
    Some(rule.fault.clone())
}

fn update(shared: &Shared, seq: u64, change: impl FnOnce(&mut Entry)) {
    if let Some(entry) = lock(&shared.log).iter_mut().find(|e| e.seq == seq) {
        change(entry);
    }
}

/// Serve one client connection: request after request until it closes (or a fault closes it).
fn serve(client: TcpStream, shared: &Shared) {
    let Ok(write_half) = client.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(client);
    loop {
        let (raw, lines) = match read_head(&mut reader) {
            Ok(Some(head)) => head,
            Ok(None) | Err(_) => return,
        };
        let received = Instant::now();
        let mut parts = lines.first().map(String::as_str).unwrap_or("").split(' ');
        let head = Head {
            raw,
            method: parts.next().unwrap_or("").to_owned(),
            target: parts.next().unwrap_or("").to_owned(),
            headers: header_pairs(&lines),
        };
        let seq = shared.next.fetch_add(1, Ordering::SeqCst);
        let shown_headers = head
            .headers
            .iter()
            .map(|(n, v)| {
                if n == "authorization" {
                    let scheme = v.split(' ').next().unwrap_or("").to_owned();
                    (n.clone(), scheme)
                } else {
                    (n.clone(), v.clone())
                }
            })
            .collect();
        let get = |name: &str| head.header(name).map(str::to_owned);
        lock(&shared.log).push(Entry {
            seq,
            method: head.method.clone(),
            path: head.path().to_owned(),
            query: without_signature(head.query()),
            headers: shown_headers,
            lease_id: get("x-ms-lease-id"),
            if_match: get("if-match"),
            if_none_match: get("if-none-match"),
            lease_action: get("x-ms-lease-action"),
            body_len: 0,
            received,
            forwarded: None,
            answered: None,
            status: None,
            upstream_status: None,
            upstream_headers: Vec::new(),
            fault: None,
            error: None,
        });
        // A client that waits for 100 Continue gets it here: the proxy reads the whole body
        // before it forwards anything.
        if head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
            && writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return;
        }
        let body = match read_body(&mut reader, head.chunked(), head.content_length(), false) {
            Ok(body) => body,
            Err(e) => {
                update(shared, seq, |en| {
                    en.error = Some(format!("the request body: {e}"));
                    en.answered = Some(Instant::now());
                });
                return;
            }
        };
        update(shared, seq, |en| en.body_len = body.len());
        let fault = take_fault(shared, &head);
        if let Some(f) = &fault {
            update(shared, seq, |en| en.fault = Some(f.name()));
        }
        match fault {
            Some(Fault::FailWith {
                status,
                code,
                retry_after,
            }) => {
                let answer = synthetic(status, &code, retry_after, head.header("x-ms-version"));
                // Logged before it is sent: a client that has its answer finds it logged.
                update(shared, seq, |en| {
                    en.answered = Some(Instant::now());
                    en.status = Some(status);
                });
                let sent = writer.write_all(&answer).and_then(|()| writer.flush());
                if sent.is_err() {
                    update(shared, seq, |en| {
                        en.status = None;
                        en.error = Some("the client went away before the answer".to_owned());
                    });
                }
                if sent.is_err() || head.closes() {
                    return;
                }
                continue;
            }
            Some(Fault::Delay(d)) => std::thread::sleep(d),
            _ => {}
        }
        let cut = match &fault {
            Some(Fault::CutRequestBody { at_fraction }) => {
                let keep = (body.len() as f64 * at_fraction.clamp(0.0, 1.0)).floor() as usize;
                Some(keep.min(body.len()))
            }
            _ => None,
        };
        let mut upstream =
            match TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(10)) {
                Ok(s) => s,
                Err(e) => {
                    update(shared, seq, |en| {
                        en.error = Some(format!("upstream {}: {e}", shared.upstream));
                        en.answered = Some(Instant::now());
                    });
                    return;
                }
            };
        let sent_body = &body[..cut.unwrap_or(body.len())];
        let forwarded = upstream
            .write_all(&head.raw)
            .and_then(|()| upstream.write_all(sent_body))
            .and_then(|()| upstream.flush());
        if forwarded.is_ok() {
            update(shared, seq, |en| en.forwarded = Some(Instant::now()));
        }
        if let Some(keep) = cut {
            // Azurite gets a head that announces the whole body, part of it, then the end of
            // the connection; the client gets no answer.
            let _ = upstream.shutdown(Shutdown::Both);
            drop(upstream);
            update(shared, seq, |en| {
                en.answered = Some(Instant::now());
                en.error = Some(format!("cut after {keep} of {} body bytes", body.len()));
            });
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        if let Err(e) = forwarded {
            update(shared, seq, |en| {
                en.error = Some(format!("forwarding: {e}"));
                en.answered = Some(Instant::now());
            });
            return;
        }
        // Azurite's answer: interim 1xx heads skipped, then the final head and its body.
        let mut up_reader = BufReader::new(upstream);
        let answer = loop {
            match read_head(&mut up_reader) {
                Ok(Some((raw, lines))) => {
                    let status: u16 = lines
                        .first()
                        .and_then(|l| l.split(' ').nth(1))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if (100..200).contains(&status) {
                        continue;
                    }
                    break Ok((raw, status, header_pairs(&lines)));
                }
                Ok(None) => break Err("upstream closed without an answer".to_owned()),
                Err(e) => break Err(format!("upstream answer: {e}")),
            }
        };
        let (raw_answer, status, answer_headers) = match answer {
            Ok(a) => a,
            Err(e) => {
                update(shared, seq, |en| {
                    en.error = Some(e);
                    en.answered = Some(Instant::now());
                });
                return;
            }
        };
        let find = |name: &str| {
            answer_headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let no_body = head.method == "HEAD" || status == 204 || status == 304;
        let chunked = !no_body
            && find("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length = if no_body {
            Some(0)
        } else {
            find("content-length").and_then(|v| v.parse().ok())
        };
        let to_end = !chunked && length.is_none();
        let answer_body = read_body(&mut up_reader, chunked, length, to_end);
        update(shared, seq, |en| {
            en.upstream_status = Some(status);
            en.upstream_headers = answer_headers.clone();
        });
        let answer_body = match answer_body {
            Ok(b) => b,
            Err(e) => {
                update(shared, seq, |en| {
                    en.error = Some(format!("upstream body: {e}"));
                    en.answered = Some(Instant::now());
                });
                return;
            }
        };
        if let Some(Fault::DelayResponse(d)) = fault {
            std::thread::sleep(d);
        }
        let raw_answer = match &fault {
            Some(Fault::ReplaceAnswerHeader { name, value }) => {
                replace_header(&raw_answer, name, value)
            }
            _ => raw_answer,
        };
        if fault == Some(Fault::DropResponseAfterCommit) {
            update(shared, seq, |en| en.answered = Some(Instant::now()));
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        update(shared, seq, |en| {
            en.answered = Some(Instant::now());
            en.status = Some(status);
        });
        let sent = writer
            .write_all(&raw_answer)
            .and_then(|()| writer.write_all(&answer_body))
            .and_then(|()| writer.flush());
        if sent.is_err() {
            update(shared, seq, |en| {
                en.status = None;
                en.error = Some("the client went away before the answer".to_owned());
            });
        }
        let answer_closes = find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if sent.is_err() || head.closes() || answer_closes || to_end {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Time between two instants in ms, for messages.
pub fn ms(from: Instant, to: Instant) -> u128 {
    to.saturating_duration_since(from).as_millis()
}

/// A client of `container` through `proxy` (Shared Key, Azurite's account).
pub fn client(
    proxy: &BlobProxy,
    container: &str,
    credential: pimplan::state::azure::Credential,
) -> Result<pimplan::state::azure::BlobClient, String> {
    let endpoint = pimplan::http::Endpoint::base("endpoint", &proxy.endpoint_url())
        .map_err(|e| e.to_string())?;
    Ok(pimplan::state::azure::BlobClient::new(
        endpoint,
        super::azurite::ACCOUNT,
        container,
        credential,
        Duration::from_secs(30),
    ))
}

/// A test's container on this binary's Azurite, a proxy in front of Azurite, and a Shared
/// Key client of the container through the proxy (the container's own client goes to
/// Azurite directly: the test's side door).
pub struct Proxied {
    pub container: super::azurite::TestContainer,
    pub proxy: BlobProxy,
    pub client: pimplan::state::azure::BlobClient,
}

pub fn proxied(name: &str) -> Result<Proxied, String> {
    let container = super::azurite::container(name)?;
    let proxy = BlobProxy::start(&container.server.endpoint_url())?;
    let client = client(&proxy, &container.name, super::azurite::shared_key()?)?;
    Ok(Proxied {
        container,
        proxy,
        client,
    })
}
