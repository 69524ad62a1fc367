//! The HTTP side of the Graph executor: endpoints and credentials from the Azure
//! environment variables, a bearer token, requests with timeouts, and retries that honour
//! `Retry-After` on 429 and 503. The token never appears in any output.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{Endpoint, EndpointError, retry_after_seconds};

/// Where requests go. Overridable only through `AZURE_AUTHORITY_HOST` and `PIMPLAN_GRAPH_URL`,
/// each checked by [`Endpoint::base`].
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// e.g. `https://graph.microsoft.com/v1.0`
    pub graph: Endpoint,
    /// e.g. `https://login.microsoftonline.com`
    pub authority: Endpoint,
}

pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com/v1.0";
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The audience Microsoft Entra expects in a federated assertion (GitHub's OIDC tokens for
/// Entra are asked for with it).
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The scope of a client-credentials token for the Graph at `graph`: its origin and
/// `/.default` (`https://graph.microsoft.us/.default` for US Gov L4,
/// `https://microsoftgraph.chinacloudapi.cn/.default` for China). A token of one cloud's
/// Graph is refused by another's.
pub fn graph_scope(graph: &Endpoint) -> String {
    format!("{}/.default", graph.origin())
}

/// Where a federated credential's assertion comes from.
#[derive(Clone)]
pub enum Assertion {
    /// `AZURE_FEDERATED_TOKEN_FILE`, read again at every sign-in.
    File(String),
    /// GitHub Actions' OIDC provider (`ACTIONS_ID_TOKEN_REQUEST_URL` and
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`): a fresh assertion for every sign-in, since one
    /// lasts only minutes.
    Actions {
        url: Endpoint,
        request_token: String,
    },
}

/// How pimplan signs in, from the variables the Azure tools use.
#[derive(Clone)]
pub enum Credential {
    /// `PIMPLAN_GRAPH_TOKEN`: a ready bearer token.
    Token(String),
    /// `AZURE_CLIENT_SECRET`.
    Secret {
        tenant: String,
        client_id: String,
        secret: String,
    },
    /// Workload identity federation: an assertion from GitHub Actions' OIDC provider or
    /// from `AZURE_FEDERATED_TOKEN_FILE`.
    Federated {
        tenant: String,
        client_id: String,
        assertion: Assertion,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Token(_) => "Token([redacted])",
            Credential::Secret { .. } => "Secret([redacted])",
            Credential::Federated { .. } => "Federated",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{0}")]
    Config(String),
    #[error("signing in failed: {0}")]
    Auth(String),
    /// A request without a usable answer: `host` is where it went (empty when not known),
    /// `doing` what pimplan was doing (`creating assignment ops/alice (member, eligible)`).
    #[error("{method} {path}{}: {detail}", context(.host, .doing))]
    Transport {
        method: String,
        path: String,
        host: String,
        doing: String,
        detail: String,
    },
    #[error("Microsoft Graph answered {status} {code}: {message}")]
    Service {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer pimplan cannot read safely (an enum value it does not know): nothing is
    /// guessed from it.
    #[error("Microsoft Graph answered something pimplan cannot read: {0}")]
    Unreadable(String),
    /// The request was not sent: the state's lock is not known to outlive it (the lease
    /// of a remote state, lost or about to lapse).
    #[error("{0}")]
    Gate(String),
}

/// ` to HOST while DOING`, either part left out when not known.
fn context(host: &str, doing: &str) -> String {
    let mut text = String::new();
    if !host.is_empty() {
        text.push_str(" to ");
        text.push_str(host);
    }
    if !doing.is_empty() {
        text.push_str(" while ");
        text.push_str(doing);
    }
    text
}

/// How long a request may take before pimplan says it is still waiting, and again after
/// each such stretch: 10 s (`PIMPLAN_TEST_WAIT_NOTICE_MS` in the tests).
fn notice_after() -> Duration {
    std::env::var("PIMPLAN_TEST_WAIT_NOTICE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// Run `request`; while it takes longer than `after`, say so on stderr every `after`:
/// `still waiting for graph.microsoft.com (creating assignment …), 10 s so far`.
fn waiting<T>(after: Duration, host: &str, doing: &str, request: impl FnOnce() -> T) -> T {
    std::thread::scope(|scope| {
        let (done, wait) = std::sync::mpsc::channel::<()>();
        scope.spawn(move || {
            let started = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(after) {
                let what = if doing.is_empty() {
                    String::new()
                } else {
                    format!(" ({doing})")
                };
                crate::progress::say(&format!(
                    "pimplan: still waiting for {host}{what}, {} s so far",
                    started.elapsed().as_secs()
                ));
            }
        });
        let answer = request();
        drop(done);
        answer
    })
}

impl GraphError {
    pub fn code(&self) -> Option<&str> {
        match self {
            GraphError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Service { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<EndpointError> for GraphError {
    fn from(e: EndpointError) -> Self {
        GraphError::Config(e.to_string())
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// How long one request to Graph or the sign-in endpoint may take, whole: connecting, sending
/// and reading the answer to its last byte. An answer that trickles past it is no answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The request timeout: `PIMPLAN_GRAPH_TIMEOUT` (whole seconds, 1 to 3600) or
/// [`DEFAULT_TIMEOUT`].
pub fn timeout_from_env() -> Result<Duration, GraphError> {
    let Some(text) = env("PIMPLAN_GRAPH_TIMEOUT") else {
        return Ok(DEFAULT_TIMEOUT);
    };
    match text.trim().parse::<u64>() {
        Ok(secs) if (1..=3600).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(GraphError::Config(format!(
            "PIMPLAN_GRAPH_TIMEOUT is `{text}`; write whole seconds from 1 to 3600 (the default is {})",
            DEFAULT_TIMEOUT.as_secs()
        ))),
    }
}

/// Endpoints and credential from the environment; `tenant` comes from `AZURE_TENANT_ID`
/// or, failing that, the workspace's `tenant.id`.
pub fn from_env(tenant: Option<&str>) -> Result<(Endpoints, Credential), GraphError> {
    let graph = env("PIMPLAN_GRAPH_URL").unwrap_or_else(|| DEFAULT_GRAPH.to_owned());
    let authority = env("AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY.to_owned());
    let endpoints = Endpoints {
        graph: Endpoint::base("PIMPLAN_GRAPH_URL", &graph)?,
        authority: Endpoint::base("AZURE_AUTHORITY_HOST", &authority)?,
    };
    if let Some(token) = env("PIMPLAN_GRAPH_TOKEN") {
        return Ok((endpoints, Credential::Token(token)));
    }
    Ok((endpoints, sign_in_credential(tenant)?))
}

/// The endpoints of a sign-in for another resource than Graph (the remote state's storage):
/// the authority from `AZURE_AUTHORITY_HOST`; the Graph endpoint is the default one, unused.
pub fn sign_in_endpoints() -> Result<Endpoints, GraphError> {
    let authority = env("AZURE_AUTHORITY_HOST").unwrap_or_else(|| DEFAULT_AUTHORITY.to_owned());
    Ok(Endpoints {
        graph: Endpoint::base("PIMPLAN_GRAPH_URL", DEFAULT_GRAPH)?,
        authority: Endpoint::base("AZURE_AUTHORITY_HOST", &authority)?,
    })
}

/// The sign-in credential of the environment (a client secret or a federated token of
/// `AZURE_CLIENT_ID` in `AZURE_TENANT_ID`, or `tenant`), not a ready token.
pub fn sign_in_credential(tenant: Option<&str>) -> Result<Credential, GraphError> {
    let tenant = env("AZURE_TENANT_ID")
        .or_else(|| tenant.map(str::to_owned))
        .ok_or_else(|| {
            GraphError::Config(
                "no tenant: set `tenant.id` in pimplan.yaml or AZURE_TENANT_ID".to_owned(),
            )
        })?;
    let client_id = env("AZURE_CLIENT_ID").ok_or_else(|| {
        GraphError::Config(
            "no credentials: set PIMPLAN_GRAPH_TOKEN, or AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, GitHub Actions' OIDC (`permissions: id-token: write`) or AZURE_FEDERATED_TOKEN_FILE".to_owned(),
        )
    })?;
    if let Some(secret) = env("AZURE_CLIENT_SECRET") {
        return Ok(Credential::Secret {
            tenant,
            client_id,
            secret,
        });
    }
    // In GitHub Actions (a job with `id-token: write`) a fresh assertion for every sign-in,
    // rather than a file written once whose assertion expires minutes later.
    if let (Some(url), Some(request_token)) = (
        env("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        let url = Endpoint::parse("ACTIONS_ID_TOKEN_REQUEST_URL", &url)?;
        return Ok(Credential::Federated {
            tenant,
            client_id,
            assertion: Assertion::Actions { url, request_token },
        });
    }
    if let Some(token_file) = env("AZURE_FEDERATED_TOKEN_FILE") {
        return Ok(Credential::Federated {
            tenant,
            client_id,
            assertion: Assertion::File(token_file),
        });
    }
    Err(GraphError::Config(
        "AZURE_CLIENT_ID is set but none of AZURE_CLIENT_SECRET, GitHub Actions' OIDC (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN, given to a job with `permissions: id-token: write`) or AZURE_FEDERATED_TOKEN_FILE"
            .to_owned(),
    ))
}

/// Percent-encoding of a query or form value (unreserved characters kept, space as `+`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    let enc = encode;
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// GitHub's OIDC token request: the request URL (which already carries a query string in
/// GitHub; either way works) with the audience appended.
fn oidc_request_url(url: &Endpoint) -> String {
    let url = url.as_str();
    let sep = if url.ends_with('?') || url.ends_with('&') {
        ""
    } else if url.contains('?') {
        "&"
    } else {
        "?"
    };
    format!("{url}{sep}audience={}", encode(FEDERATED_AUDIENCE))
}

/// The `exp` of a JWT (its payload's, base64url JSON; the signature is not checked: the
/// token endpoint does that), as Unix seconds.
fn jwt_expiry(jwt: &str) -> Option<i64> {
    let payload = jwt.split('.').nth(1)?;
    let mut bits = 0u32;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in payload.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push(u8::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["exp"]
        .as_i64()
        .or_else(|| claims["exp"].as_f64().map(|f| f as i64))
}

/// The most `AZURE_FEDERATED_TOKEN_FILE` may hold: an assertion is a JWT of a few KB.
const TOKEN_FILE_CAP: u64 = 64 << 10;

/// The assertion in `AZURE_FEDERATED_TOKEN_FILE`, read again at every sign-in; one that has
/// expired fails here, before it is sent (Microsoft Entra would refuse it with AADSTS700024).
fn file_assertion(token_file: &str) -> Result<String, GraphError> {
    let text = crate::fs::read_bounded_text(std::path::Path::new(token_file), TOKEN_FILE_CAP)
        .map_err(|e| {
            GraphError::Auth(format!(
                "cannot read AZURE_FEDERATED_TOKEN_FILE `{token_file}`: {e}; it must name a regular file holding the assertion (a JWT of a few KB, at most {})",
                crate::fs::size_text(TOKEN_FILE_CAP)
            ))
        })?;
    let assertion = text.trim().to_owned();
    // The system clock, not the plan's `--now`: this is about the assertion's real validity,
    // which Microsoft Entra judges by its own clock. (An assertion whose `exp` cannot be read
    // is sent as it is, for the token endpoint to judge.)
    let now = crate::clock::Clock::system().now().timestamp();
    if let Some(exp) = jwt_expiry(&assertion)
        && exp <= now
    {
        let at = chrono::DateTime::from_timestamp(exp, 0)
            .map_or_else(|| exp.to_string(), |t| t.to_rfc3339());
        return Err(GraphError::Auth(format!(
            "the assertion in AZURE_FEDERATED_TOKEN_FILE `{token_file}` expired at {at}, so it was not sent (Microsoft Entra would refuse it: AADSTS700024). GitHub's OIDC tokens last minutes: in GitHub Actions, do not write the token to a file; give the job `permissions: id-token: write` and leave ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN to pimplan, which asks for a fresh assertion at every sign-in. Elsewhere, refresh the file before its assertion expires."
        )));
    }
    Ok(assertion)
}

/// The `value` array of a collection answer; an answer without one is no answer (never an
/// empty list: a read-back that lost its list must not read as "nothing there").
pub fn values<'a>(page: &'a Value, path: &str) -> Result<&'a [Value], GraphError> {
    page["value"]
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| GraphError::Transport {
            method: "GET".to_owned(),
            path: path.to_owned(),
            host: String::new(),
            doing: String::new(),
            detail: "the answer has no `value` list; what the service holds is not known"
                .to_owned(),
        })
}

/// Requests to Microsoft Graph.
pub struct Client {
    agent: ureq::Agent,
    endpoints: Endpoints,
    credential: Credential,
    /// The access token, and when to sign in again (`None`: never, a token given ready).
    token: Option<(String, Option<Instant>)>,
    /// Print each request (method, path, status) to stderr, with the token redacted.
    pub verbose: bool,
    /// What the requests are for, named in errors and in the notice of a slow answer
    /// (`creating assignment ops/alice (member, eligible)`); set by the caller.
    pub doing: String,
    /// When to say that a request is still waiting for its answer.
    pub notice_after: Duration,
    /// Retries of a throttled (429) or unavailable (503) request.
    pub max_retries: u32,
    /// The longest `Retry-After` waited for; a longer one fails the request with the
    /// service's answer rather than calling it back early.
    pub max_wait: Duration,
    /// The longest one request takes, whole (`PIMPLAN_GRAPH_TIMEOUT`).
    pub timeout: Duration,
    /// The scope tokens are asked for; `None`: Graph's ([`graph_scope`]).
    scope: Option<String>,
    /// Checked before every request to Graph (a remote state's lease: see
    /// `StateLock::send_gate`); a refusal is [`GraphError::Gate`] and nothing is sent.
    gate: Option<crate::state::backend::SendGate>,
}

impl Client {
    /// A client whose every request, whole, takes at most `timeout`.
    pub fn new(endpoints: Endpoints, credential: Credential, timeout: Duration) -> Self {
        Client {
            agent: crate::http::agent(timeout),
            endpoints,
            credential,
            token: None,
            verbose: false,
            doing: String::new(),
            notice_after: notice_after(),
            max_retries: 8,
            max_wait: Duration::from_secs(600),
            timeout,
            scope: None,
            gate: None,
        }
    }

    /// Check `gate` before every request to Graph from now on (`None`: no more).
    pub fn set_gate(&mut self, gate: Option<crate::state::backend::SendGate>) {
        self.gate = gate;
    }

    /// Tokens for `scope` rather than Graph's (`https://storage.azure.com/.default` for the
    /// remote state): the same sign-in, another resource.
    pub fn with_scope(mut self, scope: &str) -> Self {
        self.scope = Some(scope.to_owned());
        self.token = None;
        self
    }

    /// A valid access token for the client's scope (signing in when the one held is about
    /// to expire).
    pub fn access_token(&mut self) -> Result<String, GraphError> {
        self.token()
    }

    /// Every request from now on takes at most `timeout`, whole (a remote state's lease
    /// caps it: see `StateLock::max_request_timeout`).
    pub fn set_timeout(&mut self, timeout: Duration) {
        if timeout != self.timeout {
            self.agent = crate::http::agent(timeout);
            self.timeout = timeout;
        }
    }

    fn log(&self, line: &str) {
        if self.verbose {
            eprintln!("graph: {line}");
        }
    }

    /// A valid access token: the one held, or a new one when it is about to expire (an
    /// apply of thousands of changes outlasts a token's hour).
    fn token(&mut self) -> Result<String, GraphError> {
        if let Some((t, renew)) = &self.token
            && renew.is_none_or(|r| Instant::now() < r)
        {
            return Ok(t.clone());
        }
        let scope = self
            .scope
            .clone()
            .unwrap_or_else(|| graph_scope(&self.endpoints.graph));
        let (token, lifetime) = match &self.credential {
            Credential::Token(t) => (t.clone(), None),
            Credential::Secret {
                tenant,
                client_id,
                secret,
            } => {
                let form = form_encode(&[
                    ("client_id", client_id),
                    ("scope", &scope),
                    ("grant_type", "client_credentials"),
                    ("client_secret", secret),
                ]);
                self.request_token(tenant.clone(), form)?
            }
            Credential::Federated {
                tenant,
                client_id,
                assertion,
            } => {
                let assertion = match assertion {
                    Assertion::Actions { url, request_token } => {
                        self.actions_assertion(url, request_token)?
                    }
                    Assertion::File(token_file) => file_assertion(token_file)?,
                };
                let form = form_encode(&[
                    ("client_id", client_id),
                    ("scope", &scope),
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.trim()),
                ]);
                self.request_token(tenant.clone(), form)?
            }
        };
        // Sign in again well before the end: at half the lifetime, or five minutes before.
        let renew = lifetime
            .map(|l| Instant::now() + l.saturating_sub((l / 2).min(Duration::from_secs(300))));
        self.token = Some((token.clone(), renew));
        Ok(token)
    }

    /// A fresh assertion from GitHub Actions' OIDC provider (as `@actions/core`'s
    /// `getIDToken` asks for one: GET with the audience, the request token as bearer, the
    /// JWT in `value`). A transient failure is tried again twice.
    fn actions_assertion(&self, url: &Endpoint, request_token: &str) -> Result<String, GraphError> {
        let full = oidc_request_url(url);
        let shown = full.split('?').next().unwrap_or("");
        let redact = |text: String| text.replace(request_token, "[redacted]");
        let mut attempt = 0u32;
        loop {
            self.log(&format!(
                "GET {shown}?… (GitHub Actions OIDC token request, Authorization: Bearer [redacted])"
            ));
            let host = url.host();
            let doing = "asking for a sign-in assertion";
            let result = waiting(self.notice_after, &host, doing, || {
                self.agent
                    .get(&full)
                    .header("Authorization", &format!("Bearer {request_token}"))
                    .call()
                    .map(|mut resp| {
                        let status = resp.status().as_u16();
                        (status, resp.body_mut().read_to_string().unwrap_or_default())
                    })
            });
            let (status, text) = match result {
                Ok(answer) => answer,
                Err(e) if attempt < 2 => {
                    self.log(&redact(format!("the OIDC provider did not answer: {e}")));
                    attempt += 1;
                    std::thread::sleep(Duration::from_secs(1 << attempt));
                    continue;
                }
                Err(e) => {
                    return Err(GraphError::Auth(redact(format!(
                        "GitHub Actions' OIDC provider {host} (ACTIONS_ID_TOKEN_REQUEST_URL) did not answer while {doing}: {e}"
                    ))));
                }
            };
            if (status == 429 || status >= 500) && attempt < 2 {
                self.log(&format!(
                    "the OIDC provider answered {status}; trying again"
                ));
                attempt += 1;
                std::thread::sleep(Duration::from_secs(1 << attempt));
                continue;
            }
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status != 200 {
                let message = value["message"].as_str().unwrap_or("").to_owned();
                return Err(GraphError::Auth(redact(format!(
                    "GitHub Actions' OIDC provider answered {status} {message} (does the job have `permissions: id-token: write`?)"
                ))));
            }
            return value["value"]
                .as_str()
                .filter(|v| !v.trim().is_empty())
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| {
                    GraphError::Auth(
                        "GitHub Actions' OIDC provider returned no token (`value`)".to_owned(),
                    )
                });
        }
    }

    /// A token from the token endpoint, and how long it lasts.
    fn request_token(
        &self,
        tenant: String,
        form: String,
    ) -> Result<(String, Option<Duration>), GraphError> {
        let url = self
            .endpoints
            .authority
            .join(&format!("/{tenant}/oauth2/v2.0/token"))?;
        self.log(&format!("POST {url} (client credentials, [redacted])"));
        let host = self.endpoints.authority.host();
        let doing = format!("signing in to tenant {tenant}");
        let mut resp = waiting(self.notice_after, &host, &doing, || {
            self.agent
                .post(&url)
                .content_type("application/x-www-form-urlencoded")
                .send(form)
        })
        .map_err(|e| {
            GraphError::Auth(format!(
                "the token endpoint {host} did not answer while {doing}: {e}"
            ))
        })?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status != 200 {
            let code = value["error"].as_str().unwrap_or("unknown_error");
            let description = value["error_description"].as_str().unwrap_or("");
            return Err(GraphError::Auth(format!("{status} {code}: {description}")));
        }
        let token = value["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                GraphError::Auth("the token endpoint returned no access_token".to_owned())
            })?;
        // Microsoft's endpoints send a number; some proxies send a string.
        let lifetime = value["expires_in"]
            .as_u64()
            .or_else(|| value["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(3600);
        Ok((token, Some(Duration::from_secs(lifetime))))
    }

    /// The path (for [`Client::send`]) of a paging link (`@odata.nextLink`) a Graph answer
    /// gives; an error when the link leads off the Graph endpoint (another host, scheme, port
    /// or API version), since following it would send the bearer token there.
    pub fn next_path(&self, link: &str) -> Result<String, GraphError> {
        self.endpoints.graph.relative(link).map_err(|e| {
            GraphError::Unreadable(format!(
                "a paging link (`@odata.nextLink`) was not followed: {e}"
            ))
        })
    }

    /// Send one request, retrying 429 and 503 as the service asks. Returns status and body.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), GraphError> {
        let url = self.endpoints.graph.join(path)?;
        let host = self.endpoints.graph.host();
        let doing = self.doing.clone();
        let mut token = self.token()?;
        let mut attempt = 0;
        let mut signed_in_again = false;
        let transport = |detail: String| GraphError::Transport {
            method: method.to_owned(),
            path: path.to_owned(),
            host: host.clone(),
            doing: doing.clone(),
            detail,
        };
        loop {
            if let Some(gate) = &self.gate {
                gate().map_err(|e| {
                    GraphError::Gate(match e {
                        // Said of this request: what the apply writes after it is its own.
                        crate::state::StateError::LeaseLost { state, detail } => format!(
                            "lost the state lease of `{state}`: {detail}; this request to Microsoft Graph was not sent, and none after it will be."
                        ),
                        other => other.to_string(),
                    })
                })?;
            }
            let auth = format!("Bearer {token}");
            let builder = waiting(self.notice_after, &host, &self.doing, || match method {
                "GET" => self.agent.get(&url).header("Authorization", &auth).call(),
                "POST" | "PATCH" => {
                    let text = body.map(Value::to_string).unwrap_or_default();
                    let req = if method == "POST" {
                        self.agent.post(&url)
                    } else {
                        self.agent.patch(&url)
                    };
                    req.header("Authorization", &auth)
                        .content_type("application/json")
                        .send(text)
                }
                _ => self
                    .agent
                    .delete(&url)
                    .header("Authorization", &auth)
                    .call(),
            });
            let mut resp = builder.map_err(|e| {
                transport(crate::http::transport_detail(&e).replace(&token, "[redacted]"))
            })?;
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_owned())
            };
            let retry_after = header("retry-after")
                .and_then(|v| retry_after_seconds(&v, header("date").as_deref()));
            // Why Graph throttled, for the log (the headers Microsoft says to log).
            let throttle: Vec<String> = [
                "x-ms-throttle-scope",
                "x-ms-throttle-information",
                "x-ms-throttle-limit-percentage",
            ]
            .iter()
            .filter_map(|h| {
                let v = resp.headers().get(*h)?.to_str().ok()?;
                Some(format!("{h}: {v}"))
            })
            .collect();
            // An answer cut off, or trickling past the timeout, is no answer: what the
            // service did is not known (an error answer keeps its status).
            let read = waiting(self.notice_after, &host, &self.doing, || {
                resp.body_mut().read_to_string()
            });
            let text = match read {
                Ok(text) => text,
                Err(_) if status >= 400 => String::new(),
                Err(e) => {
                    return Err(transport(format!(
                        "the answer ({status}) could not be read whole ({}); what the service did is not known",
                        e.to_string().replace(&token, "[redacted]")
                    )));
                }
            };
            self.log(&format!(
                "{method} {path} -> {status} (Authorization: Bearer [redacted])"
            ));
            // A token refused before its time (revoked, or clocks apart): sign in again, once.
            if status == 401 && !signed_in_again && !matches!(self.credential, Credential::Token(_))
            {
                self.log("token refused (401); signing in again");
                self.token = None;
                token = self.token()?;
                signed_in_again = true;
                continue;
            }
            // A wait longer than pimplan is willing to wait is not cut short (the service asked
            // not to be called before): the request fails with the service's answer.
            let too_long = retry_after.is_some_and(|w| Duration::from_secs(w) > self.max_wait);
            if (status == 429 || status == 503) && attempt < self.max_retries && !too_long {
                let wait = retry_after
                    .map(Duration::from_secs)
                    .unwrap_or_else(|| Duration::from_millis(500 << attempt.min(6)));
                let why = if throttle.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", throttle.join(", "))
                };
                self.log(&format!(
                    "throttled ({status}){why}; retrying in {} ms",
                    wait.as_millis()
                ));
                std::thread::sleep(wait);
                attempt += 1;
                continue;
            }
            let value: Value = match serde_json::from_str(&text) {
                Ok(value) => value,
                // Only "No Content" and error answers may come without a JSON body.
                Err(_) if status == 204 || status >= 400 => Value::Null,
                Err(e) => {
                    return Err(transport(if text.trim().is_empty() {
                        format!(
                            "the answer ({status}) has an empty body; what the service did is not known"
                        )
                    } else {
                        format!(
                            "the answer ({status}) is not JSON ({e}); what the service did is not known"
                        )
                    }));
                }
            };
            if status >= 400 {
                let code = value["error"]["code"]
                    .as_str()
                    .unwrap_or("UnknownError")
                    .to_owned();
                let mut message = value["error"]["message"]
                    .as_str()
                    .unwrap_or(text.trim())
                    .to_owned();
                // Given up on a throttled or unavailable request: say after how much.
                if status == 429 || status == 503 {
                    message.push_str(&match retry_after {
                        Some(w) if too_long => format!(
                            " (Retry-After asks for {w} s, longer than pimplan waits, {} s)",
                            self.max_wait.as_secs()
                        ),
                        _ => format!(" (still {status} after {attempt} retries)"),
                    });
                }
                return Err(GraphError::Service {
                    status,
                    code,
                    message,
                });
            }
            return Ok((status, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_follows_the_graph_endpoint() {
        for (graph, scope) in [
            (DEFAULT_GRAPH, "https://graph.microsoft.com/.default"),
            (
                "https://graph.microsoft.us/v1.0",
                "https://graph.microsoft.us/.default",
            ),
            (
                "https://dod-graph.microsoft.us/v1.0/",
                "https://dod-graph.microsoft.us/.default",
            ),
            (
                "https://microsoftgraph.chinacloudapi.cn/v1.0",
                "https://microsoftgraph.chinacloudapi.cn/.default",
            ),
            (
                "HTTPS://Graph.Microsoft.US:443/v1.0",
                "https://graph.microsoft.us/.default",
            ),
            (
                "http://127.0.0.1:8080/v1.0",
                "http://127.0.0.1:8080/.default",
            ),
        ] {
            let graph = Endpoint::base("PIMPLAN_GRAPH_URL", graph);
            assert_eq!(graph.map(|g| graph_scope(&g)).ok(), Some(scope.to_owned()));
        }
    }

    #[test]
    fn the_oidc_request_url_with_or_without_a_query() -> Result<(), EndpointError> {
        let url = |u| Endpoint::parse("ACTIONS_ID_TOKEN_REQUEST_URL", u);
        assert_eq!(
            oidc_request_url(&url("https://x.example/idtoken?api-version=2.0")?),
            "https://x.example/idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange"
        );
        assert_eq!(
            oidc_request_url(&url("https://x.example/idtoken")?),
            "https://x.example/idtoken?audience=api%3A%2F%2FAzureADTokenExchange"
        );
        Ok(())
    }

    #[test]
    fn the_expiry_of_a_jwt() {
        // {"alg":"none"} . {"iat":1700000000,"exp":1700000300} . (no signature)
        let jwt = "eyJhbGciOiJub25lIn0.eyJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDMwMH0.";
        assert_eq!(jwt_expiry(jwt), Some(1_700_000_300));
        assert_eq!(jwt_expiry("eyJ-federated-assertion"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode(&[("a b", "c&d=é")]), "a+b=c%26d%3D%C3%A9");
    }
}
