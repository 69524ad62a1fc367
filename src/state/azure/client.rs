//! The Blob service calls the remote state needs, on one container, each a blocking
//! request through [`crate::http::agent`]:
//!
//! | call | method | answer |
//! | --- | --- | --- |
//! | [`BlobClient::get_blob`] | `GET` | bytes, ETag, metadata, lease |
//! | [`BlobClient::get_properties`] | `HEAD` | ETag, lease state and status, metadata |
//! | [`BlobClient::put_blob`] | `PUT` (BlockBlob, `Content-MD5`) | new ETag |
//! | [`BlobClient::set_metadata`] | `PUT ?comp=metadata` | new ETag |
//! | [`BlobClient::acquire_lease`], `renew_lease`, `release_lease`, `break_lease` | `PUT ?comp=lease` | lease id, ETag / time left |
//! | [`BlobClient::snapshot`] | `PUT ?comp=snapshot` | the snapshot's time stamp |
//! | [`BlobClient::list_blobs`] | `GET ?restype=container&comp=list&include=metadata,snapshots` | blobs and snapshots |
//!
//! Every write takes [`Conditions`] (`x-ms-lease-id`, `If-Match`, `If-None-Match`). An error
//! answer becomes a [`BlobError`] with the service's `x-ms-error-code` as an [`ErrorCode`];
//! 429 and 503 are tried again after `Retry-After`; nothing else is retried here (whether a
//! write that got no answer happened is for the caller to find out, design B.5).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use ureq::http::HeaderMap;

use super::Credential;
use super::shared_key::Signable;
use crate::http::{Endpoint, retry_after_seconds};

/// The Blob service version asked for (the one design B.2 measured against Azurite 3.37.0).
pub const API_VERSION: &str = "2025-11-05";

/// Blob metadata: names in lower case (the service keeps them case-insensitively).
pub type Metadata = BTreeMap<String, String>;

/// Where log lines go (`-v`); every line is already free of secrets.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// The error codes (`x-ms-error-code`) the remote state acts on (design B.2 and B.5);
/// any other is kept as [`ErrorCode::Other`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    BlobNotFound,
    ContainerNotFound,
    BlobAlreadyExists,
    ContainerAlreadyExists,
    ConditionNotMet,
    InvalidHeaderValue,
    LeaseAlreadyPresent,
    LeaseIdMissing,
    LeaseIdMismatchWithBlobOperation,
    LeaseIdMismatchWithLeaseOperation,
    LeaseNotPresentWithBlobOperation,
    LeaseNotPresentWithLeaseOperation,
    LeaseIsBrokenAndCannotBeRenewed,
    LeaseIsBreakingAndCannotBeAcquired,
    LeaseLost,
    Md5Mismatch,
    ServerBusy,
    AuthenticationFailed,
    AuthorizationPermissionMismatch,
    AuthorizationFailure,
    /// Another code, or `""` when the answer carried none.
    Other(String),
}

impl ErrorCode {
    const KNOWN: [ErrorCode; 20] = [
        ErrorCode::BlobNotFound,
        ErrorCode::ContainerNotFound,
        ErrorCode::BlobAlreadyExists,
        ErrorCode::ContainerAlreadyExists,
        ErrorCode::ConditionNotMet,
        ErrorCode::InvalidHeaderValue,
        ErrorCode::LeaseAlreadyPresent,
        ErrorCode::LeaseIdMissing,
        ErrorCode::LeaseIdMismatchWithBlobOperation,
        ErrorCode::LeaseIdMismatchWithLeaseOperation,
        ErrorCode::LeaseNotPresentWithBlobOperation,
        ErrorCode::LeaseNotPresentWithLeaseOperation,
        ErrorCode::LeaseIsBrokenAndCannotBeRenewed,
        ErrorCode::LeaseIsBreakingAndCannotBeAcquired,
        ErrorCode::LeaseLost,
        ErrorCode::Md5Mismatch,
        ErrorCode::ServerBusy,
        ErrorCode::AuthenticationFailed,
        ErrorCode::AuthorizationPermissionMismatch,
        ErrorCode::AuthorizationFailure,
    ];

    pub fn parse(code: &str) -> ErrorCode {
        let code = code.trim();
        Self::KNOWN
            .iter()
            .find(|known| known.as_str() == code)
            .cloned()
            .unwrap_or_else(|| ErrorCode::Other(code.to_owned()))
    }

    /// The service refused the key, SAS or token itself (never worth retrying): Azure's
    /// `AuthenticationFailed` (a bad signature or token, or a clock more than 15 minutes
    /// off), or `AuthorizationFailure`, which Azurite answers to a bad signature and Azure
    /// to a SAS without the permission or a request its network rules refuse. Not
    /// `AuthorizationPermissionMismatch`: the identity is known but lacks the data role.
    pub fn credentials_refused(&self) -> bool {
        matches!(
            self,
            ErrorCode::AuthenticationFailed | ErrorCode::AuthorizationFailure
        )
    }

    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::BlobNotFound => "BlobNotFound",
            ErrorCode::ContainerNotFound => "ContainerNotFound",
            ErrorCode::BlobAlreadyExists => "BlobAlreadyExists",
            ErrorCode::ContainerAlreadyExists => "ContainerAlreadyExists",
            ErrorCode::ConditionNotMet => "ConditionNotMet",
            ErrorCode::InvalidHeaderValue => "InvalidHeaderValue",
            ErrorCode::LeaseAlreadyPresent => "LeaseAlreadyPresent",
            ErrorCode::LeaseIdMissing => "LeaseIdMissing",
            ErrorCode::LeaseIdMismatchWithBlobOperation => "LeaseIdMismatchWithBlobOperation",
            ErrorCode::LeaseIdMismatchWithLeaseOperation => "LeaseIdMismatchWithLeaseOperation",
            ErrorCode::LeaseNotPresentWithBlobOperation => "LeaseNotPresentWithBlobOperation",
            ErrorCode::LeaseNotPresentWithLeaseOperation => "LeaseNotPresentWithLeaseOperation",
            ErrorCode::LeaseIsBrokenAndCannotBeRenewed => "LeaseIsBrokenAndCannotBeRenewed",
            ErrorCode::LeaseIsBreakingAndCannotBeAcquired => "LeaseIsBreakingAndCannotBeAcquired",
            ErrorCode::LeaseLost => "LeaseLost",
            ErrorCode::Md5Mismatch => "Md5Mismatch",
            ErrorCode::ServerBusy => "ServerBusy",
            ErrorCode::AuthenticationFailed => "AuthenticationFailed",
            ErrorCode::AuthorizationPermissionMismatch => "AuthorizationPermissionMismatch",
            ErrorCode::AuthorizationFailure => "AuthorizationFailure",
            ErrorCode::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Other(code) if code.is_empty() => f.write_str("(no error code)"),
            code => f.write_str(code.as_str()),
        }
    }
}

/// An error answer of the Blob service.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {resource}: the storage service answered {status} {code}{}", message_text(.message))]
pub struct BlobError {
    pub status: u16,
    pub code: ErrorCode,
    /// The first line of the answer's `<Message>` (without the request id and time).
    pub message: String,
    /// `Put Blob`, `Lease Blob (acquire)`, …
    pub operation: &'static str,
    /// `container/blob`.
    pub resource: String,
}

fn message_text(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Why a call has no answer pimplan can use.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// No answer (refused, cut, timed out): whether a write happened is not known.
    #[error("{operation} {resource} on {host}: {detail}")]
    Transport {
        operation: &'static str,
        resource: String,
        host: String,
        detail: String,
    },
    /// An answer without what it must carry (no ETag), or not readable whole.
    #[error("{operation} {resource}: the answer cannot be used: {detail}")]
    Unreadable {
        operation: &'static str,
        resource: String,
        detail: String,
    },
    #[error("{0}")]
    Config(String),
}

impl StorageError {
    /// The service's answer, when there was one.
    pub fn blob(&self) -> Option<&BlobError> {
        match self {
            StorageError::Blob(e) => Some(e),
            _ => None,
        }
    }

    /// The service's error code, when it answered with one.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.blob().map(|e| &e.code)
    }
}

/// The conditions of a call: the lease it is made under and the ETag it expects.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conditions<'a> {
    /// `x-ms-lease-id`: required on a leased blob, refused on one not leased by it.
    pub lease_id: Option<&'a str>,
    /// `If-Match`: the blob is as last seen.
    pub if_match: Option<&'a str>,
    /// `If-None-Match`: `*` creates only.
    pub if_none_match: Option<&'a str>,
}

impl<'a> Conditions<'a> {
    /// `If-None-Match: *`: only when there is no blob.
    pub fn create_only() -> Conditions<'static> {
        Conditions {
            if_none_match: Some("*"),
            ..Conditions::default()
        }
    }

    /// Under the lease `lease_id`, on the version `etag`: every remote state write.
    pub fn fenced(lease_id: &'a str, etag: &'a str) -> Conditions<'a> {
        Conditions {
            lease_id: Some(lease_id),
            if_match: Some(etag),
            if_none_match: None,
        }
    }

    pub fn lease(lease_id: &'a str) -> Conditions<'a> {
        Conditions {
            lease_id: Some(lease_id),
            ..Conditions::default()
        }
    }

    fn headers(&self, out: &mut Vec<(String, String)>) {
        if let Some(id) = self.lease_id {
            out.push(("x-ms-lease-id".to_owned(), id.to_owned()));
        }
        if let Some(etag) = self.if_match {
            out.push(("if-match".to_owned(), etag.to_owned()));
        }
        if let Some(etag) = self.if_none_match {
            out.push(("if-none-match".to_owned(), etag.to_owned()));
        }
    }
}

/// How long a lease lasts: 15 to 60 seconds, or until released (the service refuses other
/// durations with 400 `InvalidHeaderValue`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseDuration {
    Seconds(u32),
    Infinite,
}

/// `x-ms-lease-state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseState {
    Available,
    Leased,
    Expired,
    Breaking,
    Broken,
    Other(String),
}

/// `x-ms-lease-status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseStatus {
    Locked,
    Unlocked,
    Other(String),
}

/// The lease of a blob, as its properties show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub state: LeaseState,
    pub status: LeaseStatus,
    /// `x-ms-lease-duration` (`infinite` or `fixed`), only while leased.
    pub duration: Option<String>,
}

/// A blob read whole.
#[derive(Clone, Debug)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub etag: String,
    pub metadata: Metadata,
    pub lease: LeaseInfo,
}

/// A blob's properties (`HEAD`).
#[derive(Clone, Debug)]
pub struct BlobProperties {
    pub etag: String,
    pub content_length: u64,
    pub lease: LeaseInfo,
    pub metadata: Metadata,
    pub last_modified: Option<String>,
}

/// A lease held: its id and the blob's ETag when it was granted.
#[derive(Clone, Debug)]
pub struct Lease {
    pub id: String,
    pub etag: Option<String>,
}

/// A blob or snapshot of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobItem {
    pub name: String,
    /// The snapshot's time stamp; `None` for the blob itself.
    pub snapshot: Option<String>,
    pub etag: Option<String>,
    pub content_length: Option<u64>,
    pub last_modified: Option<String>,
    pub metadata: Metadata,
}

/// One request to make.
struct Call<'a> {
    operation: &'static str,
    method: &'static str,
    /// `None`: the container itself.
    blob: Option<&'a str>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

/// A successful answer.
struct Answer {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    }

    fn metadata(&self) -> Metadata {
        self.headers
            .iter()
            .filter_map(|(name, value)| {
                let key = name.as_str().strip_prefix("x-ms-meta-")?;
                Some((key.to_ascii_lowercase(), value.to_str().ok()?.to_owned()))
            })
            .collect()
    }

    fn lease(&self) -> LeaseInfo {
        let state = match self.header("x-ms-lease-state").as_deref() {
            Some("available") | None => LeaseState::Available,
            Some("leased") => LeaseState::Leased,
            Some("expired") => LeaseState::Expired,
            Some("breaking") => LeaseState::Breaking,
            Some("broken") => LeaseState::Broken,
            Some(other) => LeaseState::Other(other.to_owned()),
        };
        let status = match self.header("x-ms-lease-status").as_deref() {
            Some("unlocked") | None => LeaseStatus::Unlocked,
            Some("locked") => LeaseStatus::Locked,
            Some(other) => LeaseStatus::Other(other.to_owned()),
        };
        LeaseInfo {
            state,
            status,
            duration: self.header("x-ms-lease-duration"),
        }
    }
}

/// Requests to one container of a storage account.
pub struct BlobClient {
    agent: ureq::Agent,
    /// The account's endpoint (`https://ACCOUNT.blob.core.windows.net`, or Azurite's
    /// `http://127.0.0.1:PORT/devstoreaccount1`).
    endpoint: Endpoint,
    account: String,
    container: String,
    credential: Credential,
    log: Option<Log>,
    /// Retries of a throttled (429) or busy (503) answer.
    pub max_retries: u32,
    /// The longest `Retry-After` waited for; a longer one fails the call with the answer.
    pub max_wait: Duration,
}

impl fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("account", &self.account)
            .field("container", &self.container)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// Percent-encoding of a path (`/` kept) or a query value (`keep_slash` false).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `Tue, 01 Dec 2026 10:00:00 GMT`: the system clock, not `--now`. The service checks the
/// signature's time against its own clock (within 15 minutes).
fn request_date() -> String {
    crate::clock::Clock::system()
        .now()
        .to_utc()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// The text of the first `tag` element of an XML document.
fn xml_text(body: &[u8], tag: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}')).ok()?;
    doc.descendants()
        .find(|n| n.has_tag_name(tag))
        .and_then(|n| n.text())
        .map(str::to_owned)
}

impl BlobClient {
    /// A client for `container` of `account` at `endpoint`, each request taking at most
    /// `timeout` whole.
    pub fn new(
        endpoint: Endpoint,
        account: &str,
        container: &str,
        credential: Credential,
        timeout: Duration,
    ) -> BlobClient {
        BlobClient {
            agent: crate::http::agent(timeout),
            endpoint,
            account: account.to_owned(),
            container: container.to_owned(),
            credential,
            log: None,
            max_retries: 4,
            max_wait: Duration::from_secs(60),
        }
    }

    /// Log each request (method, path, status, the kind of authorization) to `log`.
    pub fn with_log(mut self, log: Log) -> BlobClient {
        self.log = Some(log);
        self
    }

    pub fn container(&self) -> &str {
        &self.container
    }

    fn log(&self, line: &str) {
        if let Some(log) = &self.log {
            log(line);
        }
    }

    fn resource(&self, blob: Option<&str>) -> String {
        match blob {
            Some(blob) => format!("{}/{blob}", self.container),
            None => self.container.clone(),
        }
    }

    /// `text` without any secret of the credential (or `extra`, the token or signature of
    /// the request).
    fn redact(&self, text: &str, extra: &[&str]) -> String {
        let mut out = text.to_owned();
        let mut secrets: Vec<String> = extra
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned())
            .collect();
        if let Credential::Sas(sas) = &self.credential {
            secrets.push(sas.as_query().to_owned());
            secrets.extend(sas.as_query().split('&').filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                (name == "sig" && !value.is_empty()).then(|| value.to_owned())
            }));
        }
        for secret in secrets {
            out = out.replace(&secret, "[redacted]");
        }
        out
    }

    /// Send `call`, trying a 429 or 503 answer again as the service asks; an answer of 300
    /// or more becomes a [`BlobError`].
    fn send(&self, call: &Call<'_>) -> Result<Answer, StorageError> {
        let resource = self.resource(call.blob);
        let mut path = format!("/{}", encode(&self.container, false));
        if let Some(blob) = call.blob {
            path.push('/');
            path.push_str(&encode(blob, true));
        }
        let mut query: Vec<String> = call
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k, false), encode(v, false)))
            .collect();
        if let Credential::Sas(sas) = &self.credential {
            query.push(sas.as_query().to_owned());
        }
        let mut target = path.clone();
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        let url = self
            .endpoint
            .join(&target)
            .map_err(|e| StorageError::Config(self.redact(&e.to_string(), &[])))?;
        // What the log and errors show: the path and pimplan's own parameters, never a SAS.
        let shown = {
            let own: Vec<String> = call.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if own.is_empty() {
                resource.clone()
            } else {
                format!("{resource}?{}", own.join("&"))
            }
        };
        // The signed path is the URL's whole path (the emulator's starts with the account).
        let url_path = url::Url::parse(&url)
            .map(|u| u.path().to_owned())
            .map_err(|e| StorageError::Config(format!("the storage URL for {shown}: {e}")))?;
        let host = self.endpoint.host();
        let mut attempt = 0u32;
        loop {
            let mut headers = call.headers.clone();
            headers.push(("x-ms-date".to_owned(), request_date()));
            headers.push(("x-ms-version".to_owned(), API_VERSION.to_owned()));
            let mut secret = String::new();
            match &self.credential {
                Credential::SharedKey(key) => {
                    let auth = key.authorization(&Signable {
                        method: call.method,
                        headers: &headers,
                        content_length: call.body.len(),
                        path: &url_path,
                        query: &call.query,
                    });
                    secret = auth.clone();
                    headers.push(("authorization".to_owned(), auth));
                }
                Credential::Sas(_) => {}
                Credential::Bearer(source) => {
                    let token = source.token().map_err(|e| {
                        StorageError::Config(format!(
                            "no token for the storage account {}: {e}",
                            self.account
                        ))
                    })?;
                    headers.push(("authorization".to_owned(), format!("Bearer {token}")));
                    secret = token;
                }
            }
            let result = self.run(call.method, &url, &headers, call.body);
            let mut resp = result.map_err(|e| StorageError::Transport {
                operation: call.operation,
                resource: resource.clone(),
                host: host.clone(),
                detail: self.redact(&crate::http::transport_detail(&e), &[&secret]),
            })?;
            let status = resp.status().as_u16();
            let answer_headers = resp.headers().clone();
            let body = if call.method == "HEAD" {
                Ok(Vec::new())
            } else {
                resp.body_mut()
                    .with_config()
                    .limit(crate::state::MAX_STATE_BYTES)
                    .read_to_vec()
            };
            self.log(&format!(
                "{} {shown} -> {status} ({})",
                call.method,
                self.credential.shown()
            ));
            let answer = Answer {
                headers: answer_headers,
                body: match body {
                    Ok(body) => body,
                    Err(_) if status >= 300 => Vec::new(),
                    Err(e) => {
                        return Err(StorageError::Transport {
                            operation: call.operation,
                            resource,
                            host,
                            detail: format!(
                                "the answer ({status}) could not be read whole: {}; whether it was done is not known",
                                self.redact(&e.to_string(), &[&secret])
                            ),
                        });
                    }
                },
            };
            if status < 300 {
                return Ok(answer);
            }
            let retry_after = answer
                .header("retry-after")
                .and_then(|v| retry_after_seconds(&v, answer.header("date").as_deref()));
            let too_long = retry_after.is_some_and(|w| Duration::from_secs(w) > self.max_wait);
            if (status == 429 || status == 503) && attempt < self.max_retries && !too_long {
                let wait = retry_after
                    .map(Duration::from_secs)
                    .unwrap_or_else(|| Duration::from_millis(500 << attempt.min(6)));
                self.log(&format!(
                    "busy ({status}); trying again in {} ms",
                    wait.as_millis()
                ));
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            let code = answer
                .header("x-ms-error-code")
                .or_else(|| xml_text(&answer.body, "Code"))
                .unwrap_or_default();
            let message = xml_text(&answer.body, "Message")
                .and_then(|m| m.lines().next().map(|l| l.trim().to_owned()))
                .unwrap_or_default();
            return Err(StorageError::Blob(BlobError {
                status,
                code: ErrorCode::parse(&code),
                message: self.redact(&message, &[&secret]),
                operation: call.operation,
                resource,
            }));
        }
    }

    fn run(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        fn with<B>(
            mut builder: ureq::RequestBuilder<B>,
            headers: &[(String, String)],
        ) -> ureq::RequestBuilder<B> {
            for (name, value) in headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder
        }
        match method {
            "GET" => with(self.agent.get(url), headers).call(),
            "HEAD" => with(self.agent.head(url), headers).call(),
            "DELETE" => with(self.agent.delete(url), headers).call(),
            _ => with(self.agent.put(url), headers).send(body),
        }
    }

    fn etag(
        answer: &Answer,
        operation: &'static str,
        resource: String,
    ) -> Result<String, StorageError> {
        answer.header("etag").ok_or(StorageError::Unreadable {
            operation,
            resource,
            detail: "it has no ETag".to_owned(),
        })
    }

    /// Create Container (`PUT ?restype=container`): for tests and set-up; 409
    /// `ContainerAlreadyExists` when it is there.
    pub fn create_container(&self) -> Result<(), StorageError> {
        self.send(&Call {
            operation: "Create Container",
            method: "PUT",
            blob: None,
            query: vec![("restype".to_owned(), "container".to_owned())],
            headers: Vec::new(),
            body: &[],
        })
        .map(|_| ())
    }

    /// Delete Container: for tests (a container per test, deleted after it).
    pub fn delete_container(&self) -> Result<(), StorageError> {
        self.send(&Call {
            operation: "Delete Container",
            method: "DELETE",
            blob: None,
            query: vec![("restype".to_owned(), "container".to_owned())],
            headers: Vec::new(),
            body: &[],
        })
        .map(|_| ())
    }

    /// Get Blob: the bytes and ETag of `blob` (the base blob, or the snapshot `snapshot`).
    /// No lease is needed to read; with `lease_id` the read is refused unless that lease is
    /// held. 404 `BlobNotFound` (no blob) differs from 404 `ContainerNotFound`.
    pub fn get_blob(
        &self,
        blob: &str,
        snapshot: Option<&str>,
        lease_id: Option<&str>,
    ) -> Result<Blob, StorageError> {
        self.get(blob, snapshot, lease_id, None)
    }

    /// Get Blob of the first `len` bytes only (`x-ms-range`; `len` at least 1): the head of
    /// `blob` (or of its snapshot `snapshot`), the whole of a shorter one.
    pub fn get_blob_start(
        &self,
        blob: &str,
        snapshot: Option<&str>,
        len: u64,
    ) -> Result<Blob, StorageError> {
        self.get(blob, snapshot, None, Some(len.max(1)))
    }

    fn get(
        &self,
        blob: &str,
        snapshot: Option<&str>,
        lease_id: Option<&str>,
        len: Option<u64>,
    ) -> Result<Blob, StorageError> {
        let operation = "Get Blob";
        let mut headers = Vec::new();
        Conditions {
            lease_id,
            ..Conditions::default()
        }
        .headers(&mut headers);
        if let Some(len) = len {
            headers.push(("x-ms-range".to_owned(), format!("bytes=0-{}", len - 1)));
        }
        let answer = self.send(&Call {
            operation,
            method: "GET",
            blob: Some(blob),
            query: snapshot
                .map(|s| vec![("snapshot".to_owned(), s.to_owned())])
                .unwrap_or_default(),
            headers,
            body: &[],
        })?;
        let resource = self.resource(Some(blob));
        // A blob written by pimplan carries its MD5; bytes that do not match it are not the blob.
        if let Some(md5) = answer.header("content-md5")
            && answer.header("content-range").is_none()
            && STANDARD.encode(Md5::digest(&answer.body)) != md5
        {
            return Err(StorageError::Unreadable {
                operation,
                resource,
                detail: format!(
                    "its {} bytes do not match their Content-MD5 {md5}",
                    answer.body.len()
                ),
            });
        }
        Ok(Blob {
            etag: Self::etag(&answer, operation, resource)?,
            metadata: answer.metadata(),
            lease: answer.lease(),
            bytes: answer.body,
        })
    }

    /// Get Blob Properties (`HEAD`): ETag, size, lease and metadata.
    pub fn get_properties(
        &self,
        blob: &str,
        lease_id: Option<&str>,
    ) -> Result<BlobProperties, StorageError> {
        let operation = "Get Blob Properties";
        let mut headers = Vec::new();
        Conditions::lease_opt(lease_id).headers(&mut headers);
        let answer = self.send(&Call {
            operation,
            method: "HEAD",
            blob: Some(blob),
            query: Vec::new(),
            headers,
            body: &[],
        })?;
        Ok(BlobProperties {
            etag: Self::etag(&answer, operation, self.resource(Some(blob)))?,
            content_length: answer
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            lease: answer.lease(),
            metadata: answer.metadata(),
            last_modified: answer.header("last-modified"),
        })
    }

    /// Put Blob: `bytes` as the whole block blob, with `metadata` (Put Blob replaces the
    /// metadata: what is not sent is dropped), `Content-MD5` (the service refuses bytes
    /// that do not match it) and `conditions`. Returns the new ETag.
    pub fn put_blob(
        &self,
        blob: &str,
        bytes: &[u8],
        content_type: &str,
        metadata: &Metadata,
        conditions: Conditions<'_>,
    ) -> Result<String, StorageError> {
        let operation = "Put Blob";
        let mut headers = vec![
            ("x-ms-blob-type".to_owned(), "BlockBlob".to_owned()),
            ("content-type".to_owned(), content_type.to_owned()),
            (
                "content-md5".to_owned(),
                STANDARD.encode(Md5::digest(bytes)),
            ),
        ];
        metadata_headers(metadata, &mut headers);
        conditions.headers(&mut headers);
        let answer = self.send(&Call {
            operation,
            method: "PUT",
            blob: Some(blob),
            query: Vec::new(),
            headers,
            body: bytes,
        })?;
        Self::etag(&answer, operation, self.resource(Some(blob)))
    }

    /// Set Blob Metadata: replaces the metadata (on a leased blob, only with its lease).
    /// Returns the new ETag.
    pub fn set_metadata(
        &self,
        blob: &str,
        metadata: &Metadata,
        conditions: Conditions<'_>,
    ) -> Result<String, StorageError> {
        let operation = "Set Blob Metadata";
        let mut headers = Vec::new();
        metadata_headers(metadata, &mut headers);
        conditions.headers(&mut headers);
        let answer = self.send(&Call {
            operation,
            method: "PUT",
            blob: Some(blob),
            query: vec![("comp".to_owned(), "metadata".to_owned())],
            headers,
            body: &[],
        })?;
        Self::etag(&answer, operation, self.resource(Some(blob)))
    }

    fn lease_call(
        &self,
        blob: &str,
        operation: &'static str,
        mut headers: Vec<(String, String)>,
        conditions: Conditions<'_>,
    ) -> Result<Answer, StorageError> {
        conditions.headers(&mut headers);
        self.send(&Call {
            operation,
            method: "PUT",
            blob: Some(blob),
            query: vec![("comp".to_owned(), "lease".to_owned())],
            headers,
            body: &[],
        })
    }

    /// Lease Blob, acquire: a lease of `duration` with the id `proposed_id` (a GUID; the
    /// service makes one up when `None`). Acquiring again with the id held renews it;
    /// another id gets 409 `LeaseAlreadyPresent`. `conditions` may carry `If-Match`.
    pub fn acquire_lease(
        &self,
        blob: &str,
        duration: LeaseDuration,
        proposed_id: Option<&str>,
        conditions: Conditions<'_>,
    ) -> Result<Lease, StorageError> {
        let operation = "Lease Blob (acquire)";
        let seconds = match duration {
            LeaseDuration::Seconds(s) => s.to_string(),
            LeaseDuration::Infinite => "-1".to_owned(),
        };
        let mut headers = vec![
            ("x-ms-lease-action".to_owned(), "acquire".to_owned()),
            ("x-ms-lease-duration".to_owned(), seconds),
        ];
        if let Some(id) = proposed_id {
            headers.push(("x-ms-proposed-lease-id".to_owned(), id.to_owned()));
        }
        let answer = self.lease_call(blob, operation, headers, conditions)?;
        let id = answer
            .header("x-ms-lease-id")
            .ok_or(StorageError::Unreadable {
                operation,
                resource: self.resource(Some(blob)),
                detail: "it has no x-ms-lease-id".to_owned(),
            })?;
        Ok(Lease {
            id,
            etag: answer.header("etag"),
        })
    }

    /// Lease Blob, renew: the lease `lease_id` starts its duration again.
    pub fn renew_lease(&self, blob: &str, lease_id: &str) -> Result<Lease, StorageError> {
        let headers = vec![("x-ms-lease-action".to_owned(), "renew".to_owned())];
        let answer = self.lease_call(
            blob,
            "Lease Blob (renew)",
            headers,
            Conditions::lease(lease_id),
        )?;
        Ok(Lease {
            id: answer
                .header("x-ms-lease-id")
                .unwrap_or_else(|| lease_id.to_owned()),
            etag: answer.header("etag"),
        })
    }

    /// Lease Blob, release: the blob is free at once.
    pub fn release_lease(&self, blob: &str, lease_id: &str) -> Result<(), StorageError> {
        let headers = vec![("x-ms-lease-action".to_owned(), "release".to_owned())];
        self.lease_call(
            blob,
            "Lease Blob (release)",
            headers,
            Conditions::lease(lease_id),
        )
        .map(|_| ())
    }

    /// Lease Blob, break: ends whoever's lease without its id, after `period` seconds
    /// (`None`: the rest of a fixed lease; 0: now). Returns the seconds until it is broken.
    pub fn break_lease(&self, blob: &str, period: Option<u32>) -> Result<u64, StorageError> {
        let mut headers = vec![("x-ms-lease-action".to_owned(), "break".to_owned())];
        if let Some(period) = period {
            headers.push(("x-ms-lease-break-period".to_owned(), period.to_string()));
        }
        let answer = self.lease_call(blob, "Lease Blob (break)", headers, Conditions::default())?;
        Ok(answer
            .header("x-ms-lease-time")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Snapshot Blob: a read-only copy of the blob as it is now (with its metadata).
    /// Returns the snapshot's time stamp (`x-ms-snapshot`), which names it.
    pub fn snapshot(&self, blob: &str, conditions: Conditions<'_>) -> Result<String, StorageError> {
        let operation = "Snapshot Blob";
        let mut headers = Vec::new();
        conditions.headers(&mut headers);
        let answer = self.send(&Call {
            operation,
            method: "PUT",
            blob: Some(blob),
            query: vec![("comp".to_owned(), "snapshot".to_owned())],
            headers,
            body: &[],
        })?;
        answer
            .header("x-ms-snapshot")
            .ok_or(StorageError::Unreadable {
                operation,
                resource: self.resource(Some(blob)),
                detail: "it has no x-ms-snapshot".to_owned(),
            })
    }

    /// List Blobs with snapshots and metadata, of the names starting with `prefix`, all
    /// pages (the service's order: by name, a blob's snapshots oldest first, then the blob).
    pub fn list_blobs(&self, prefix: Option<&str>) -> Result<Vec<BlobItem>, StorageError> {
        let operation = "List Blobs";
        let mut items = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut query = vec![
                ("restype".to_owned(), "container".to_owned()),
                ("comp".to_owned(), "list".to_owned()),
                ("include".to_owned(), "metadata,snapshots".to_owned()),
            ];
            if let Some(prefix) = prefix {
                query.push(("prefix".to_owned(), prefix.to_owned()));
            }
            if let Some(marker) = &marker {
                query.push(("marker".to_owned(), marker.clone()));
            }
            let answer = self.send(&Call {
                operation,
                method: "GET",
                blob: None,
                query,
                headers: Vec::new(),
                body: &[],
            })?;
            let (page, next) =
                parse_list(&answer.body).map_err(|detail| StorageError::Unreadable {
                    operation,
                    resource: self.resource(None),
                    detail,
                })?;
            items.extend(page);
            match next {
                Some(next) if marker.as_ref() != Some(&next) => marker = Some(next),
                _ => return Ok(items),
            }
        }
    }
}

impl<'a> Conditions<'a> {
    fn lease_opt(lease_id: Option<&'a str>) -> Conditions<'a> {
        Conditions {
            lease_id,
            ..Conditions::default()
        }
    }
}

fn metadata_headers(metadata: &Metadata, out: &mut Vec<(String, String)>) {
    for (name, value) in metadata {
        out.push((
            format!("x-ms-meta-{}", name.to_ascii_lowercase()),
            value.clone(),
        ));
    }
}

/// The blobs of one List Blobs page and its `NextMarker` (none when it is the last).
fn parse_list(body: &[u8]) -> Result<(Vec<BlobItem>, Option<String>), String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("it is not UTF-8: {e}"))?;
    let doc = roxmltree::Document::parse(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("it is not XML: {e}"))?;
    let root = doc.root_element();
    if !root.has_tag_name("EnumerationResults") {
        return Err(format!(
            "it is <{}>, not <EnumerationResults>",
            root.tag_name().name()
        ));
    }
    let child = |node: roxmltree::Node<'_, '_>, tag: &str| {
        node.children()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    let mut items = Vec::new();
    for blob in root
        .children()
        .filter(|n| n.has_tag_name("Blobs"))
        .flat_map(|b| b.children().filter(|n| n.has_tag_name("Blob")))
    {
        let name = child(blob, "Name").ok_or("a <Blob> has no <Name>")?;
        let properties = blob.children().find(|n| n.has_tag_name("Properties"));
        let property = |tag: &str| properties.and_then(|p| child(p, tag));
        let metadata = blob
            .children()
            .find(|n| n.has_tag_name("Metadata"))
            .map(|m| {
                m.children()
                    .filter(roxmltree::Node::is_element)
                    .map(|e| {
                        (
                            e.tag_name().name().to_ascii_lowercase(),
                            e.text().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        items.push(BlobItem {
            name,
            snapshot: child(blob, "Snapshot").filter(|s| !s.is_empty()),
            etag: property("Etag"),
            content_length: property("Content-Length").and_then(|v| v.parse().ok()),
            last_modified: property("Last-Modified"),
            metadata,
        });
    }
    let next = child(root, "NextMarker").filter(|m| !m.is_empty());
    Ok((items, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_round_trip_and_keep_the_unknown() {
        for code in ErrorCode::KNOWN {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
        }
        assert_eq!(
            ErrorCode::parse("SomethingNew"),
            ErrorCode::Other("SomethingNew".to_owned())
        );
        assert_eq!(ErrorCode::parse("").to_string(), "(no error code)");
        assert!(ErrorCode::AuthenticationFailed.credentials_refused());
        assert!(ErrorCode::AuthorizationFailure.credentials_refused());
        assert!(!ErrorCode::AuthorizationPermissionMismatch.credentials_refused());
    }

    #[test]
    fn a_listing_with_snapshots_metadata_and_a_next_page() {
        let xml = br#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://127.0.0.1:1/devstoreaccount1" ContainerName="c">
  <Prefix>prod/</Prefix>
  <Blobs>
    <Blob><Name>prod/s.json</Name><Snapshot>2026-12-01T10:00:00.1234567Z</Snapshot>
      <Properties><Last-Modified>Tue, 01 Dec 2026 10:00:00 GMT</Last-Modified><Etag>0x1</Etag><Content-Length>5</Content-Length></Properties>
      <Metadata><PimplanLineage>abc</PimplanLineage></Metadata></Blob>
    <Blob><Name>prod/s.json</Name>
      <Properties><Etag>0x2</Etag><Content-Length>7</Content-Length></Properties></Blob>
  </Blobs>
  <NextMarker>m2</NextMarker>
</EnumerationResults>"#;
        let (items, next) = parse_list(xml).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(next.as_deref(), Some("m2"));
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].snapshot.as_deref(),
            Some("2026-12-01T10:00:00.1234567Z")
        );
        assert_eq!(
            items[0].metadata.get("pimplanlineage").map(String::as_str),
            Some("abc")
        );
        assert_eq!(items[1].snapshot, None);
        assert_eq!(items[1].content_length, Some(7));
        assert!(parse_list(b"<Error/>").is_err());
        assert!(parse_list(b"not xml").is_err());
    }

    #[test]
    fn paths_keep_slashes_and_queries_do_not() {
        assert_eq!(encode("prod/a b+c.json", true), "prod/a%20b%2Bc.json");
        assert_eq!(
            encode("2026-12-01T10:00:00Z", false),
            "2026-12-01T10%3A00%3A00Z"
        );
    }
}
