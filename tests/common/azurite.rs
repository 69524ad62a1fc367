//! Azurite, Microsoft's Azure Storage emulator, for the remote-state tests: one Blob
//! service per test binary, in memory, on a free loopback port, telemetry off, and a
//! container of its own for every test.
//!
//! - Installed from `tests/azurite/package-lock.json` (azurite 3.37.0) by
//!   `npm ci --prefix tests/azurite --no-audit --no-fund`. When it is not installed, a test
//!   that needs it **fails** with that command: it never skips.
//! - Started once, by the first test that asks ([`container`]), through a small `sh`
//!   wrapper that reads its stdin until the end: the test binary holds the other end, so
//!   when the binary ends in any way (all tests done, a panic, a kill), the wrapper kills
//!   Azurite by its pid. Rust runs no destructor of a static at exit, so this is the guard
//!   that always runs; a [`TestContainer`] deletes its container when dropped.
//! - The flags come from [`ARGS`]; before the first request the harness reads the running
//!   process's command line (`/proc/PID/cmdline`) and refuses an Azurite without
//!   `--disableTelemetry` (it sends usage data by default; the tests must stay on loopback).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use pimplan::http::Endpoint;
use pimplan::state::azure::{BlobClient, Credential, SasToken, SharedKey};

/// The command that installs the pinned Azurite.
pub const INSTALL: &str = "npm ci --prefix tests/azurite --no-audit --no-fund";

/// Azurite's flags: in memory, loopback, a free port, any API version, no access log and
/// **no telemetry**.
pub const ARGS: &[&str] = &[
    "--silent",
    "--disableTelemetry",
    "--inMemoryPersistence",
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    "0",
    "--skipApiVersionCheck",
];

/// The emulator's well-known account and key (published in Azurite's README; not a secret).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The slowest start-up waited for (about 6 s on an idle 2-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The running emulator.
pub struct Azurite {
    pub port: u16,
    /// `http`, or `https` for the instance with `--oauth basic` ([`https_server`]).
    pub scheme: &'static str,
    /// Azurite's own pid (not the wrapper's).
    pub pid: u32,
    /// Its command line as the system shows it.
    pub cmdline: Vec<String>,
    /// The wrapper; kept so that its stdin stays open while the binary runs.
    _wrapper: Mutex<(Child, ChildStdin)>,
}

impl Azurite {
    /// `http://127.0.0.1:PORT/devstoreaccount1`, the account's endpoint.
    pub fn endpoint_url(&self) -> String {
        format!("{}://127.0.0.1:{}/{ACCOUNT}", self.scheme, self.port)
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/azurite/node_modules/.bin/azurite-blob")
}

static SERVER: OnceLock<Result<Azurite, String>> = OnceLock::new();

/// The emulator of this test binary, started on first use; an error (not installed, did
/// not start) names what to do.
pub fn server() -> Result<&'static Azurite, String> {
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn start() -> Result<Azurite, String> {
    start_with(&[], "http")
}

/// Azurite with [`ARGS`] and `extra`, answering on `scheme`.
fn start_with(extra: &[String], scheme: &'static str) -> Result<Azurite, String> {
    let bin = binary();
    if !bin.exists() {
        return Err(format!(
            "Azurite is not installed ({} is missing); the remote-state tests need it: run `{INSTALL}` in the repository (Node.js ≥ 20 and npm; tests/azurite pins azurite 3.37.0)",
            bin.display()
        ));
    }
    if !ARGS.contains(&"--disableTelemetry") {
        return Err("the harness must start Azurite with --disableTelemetry".to_owned());
    }
    // `$0 "$@" &` is Azurite; `cat` waits for the end of stdin, which comes when this test
    // binary ends, however it ends; then Azurite is killed by its pid.
    let script = r#""$0" "$@" & pid=$!; echo "azurite-pid $pid"; cat >/dev/null; kill "$pid" 2>/dev/null; wait "$pid""#;
    let dir = std::env::temp_dir();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(&bin)
        .args(ARGS)
        .args(extra)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}; run `{INSTALL}`", bin.display()))?;
    let stdin = child
        .stdin
        .take()
        .ok_or("no stdin for the Azurite wrapper")?;
    let stdout = child.stdout.take().ok_or("no stdout from Azurite")?;
    let mut stderr = child.stderr.take().ok_or("no stderr from Azurite")?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    // Read every line (and keep reading, so Azurite never blocks on a full pipe).
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                // Nobody listens any more: drain quietly.
            }
        }
    });
    let listens = format!("successfully listens on {scheme}://127.0.0.1:");
    let mut seen = Vec::new();
    let mut pid = None;
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    let port = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(p) = line.strip_prefix("azurite-pid ") {
                    pid = p.trim().parse::<u32>().ok();
                } else if let Some(at) = line.find(&listens) {
                    let rest = &line[at + listens.len()..];
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    break digits
                        .parse::<u16>()
                        .map_err(|e| format!("Azurite's port in `{line}`: {e}"))?;
                }
                seen.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                let _ = stderr.read_to_string(&mut err);
                return Err(format!(
                    "Azurite did not say it listens within {} s (is `{INSTALL}` done, and Node.js ≥ 20?); it printed: {} {err}",
                    START_TIMEOUT.as_secs(),
                    seen.join(" | ")
                ));
            }
        }
    };
    let pid = pid.ok_or("the wrapper did not print Azurite's pid")?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
        })
        // Without /proc (not Linux), the arguments given are what runs.
        .unwrap_or_else(|_| ARGS.iter().map(|a| (*a).to_owned()).collect());
    if !cmdline.iter().any(|a| a == "--disableTelemetry") {
        let _ = child.kill();
        return Err(format!(
            "Azurite runs without --disableTelemetry: {cmdline:?}"
        ));
    }
    Ok(Azurite {
        port,
        scheme,
        pid,
        cmdline,
        _wrapper: Mutex::new((child, stdin)),
    })
}

/// A container of its own for one test, deleted when the test ends (passed or not).
pub struct TestContainer {
    pub name: String,
    pub client: BlobClient,
    pub server: &'static Azurite,
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ = self.client.delete_container();
    }
}

impl TestContainer {
    /// Another client of the same container with `credential`.
    pub fn client_with(&self, credential: Credential) -> Result<BlobClient, String> {
        client(self.server, &self.name, credential)
    }
}

/// The emulator's account key.
pub fn shared_key() -> Result<Credential, String> {
    SharedKey::new(ACCOUNT, KEY)
        .map(Credential::SharedKey)
        .map_err(|e| e.to_string())
}

pub fn client(
    server: &Azurite,
    container: &str,
    credential: Credential,
) -> Result<BlobClient, String> {
    let endpoint = Endpoint::base("endpoint", &server.endpoint_url()).map_err(|e| e.to_string())?;
    Ok(BlobClient::new(
        endpoint,
        ACCOUNT,
        container,
        credential,
        Duration::from_secs(30),
    ))
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh container (`NAME-N`, `name` lower case) on this binary's Azurite, with a Shared
/// Key client; fails with the install command when Azurite is missing.
pub fn container(name: &str) -> Result<TestContainer, String> {
    let server = server()?;
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let name = format!("{name}-{n}");
    let client = client(server, &name, shared_key()?)?;
    client.create_container().map_err(|e| e.to_string())?;
    Ok(TestContainer {
        name,
        client,
        server,
    })
}

/// An account SAS for the emulator's Blob service (version 2019-12-12's StringToSign:
/// account, permissions, services, resource types, start, expiry, IP, protocols, version).
pub fn account_sas(permissions: &str) -> Result<SasToken, String> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, KeyInit, Mac};
    let (version, services, types, expiry, protocols) = (
        "2019-12-12",
        "b",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
    );
    let text = format!(
        "{ACCOUNT}\n{permissions}\n{services}\n{types}\n\n{expiry}\n\n{protocols}\n{version}\n"
    );
    let key = STANDARD.decode(KEY).map_err(|e| e.to_string())?;
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(text.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    let sig: String = sig
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    Ok(SasToken::new(&format!(
        "sv={version}&ss={services}&srt={types}&sp={permissions}&se={}&spr={}&sig={sig}",
        expiry.replace(':', "%3A"),
        protocols.replace(',', "%2C")
    )))
}

/// The second emulator of a test binary (B18): `--oauth basic` over https with a test
/// certificate made at start (a CA of its own and a leaf for 127.0.0.1 signed by it), so
/// that bearer tokens are accepted; and the PEM files a test points `PIMPLAN_CA_FILE` at.
pub struct Secure {
    pub server: Azurite,
    /// The CA that signed Azurite's certificate (PEM).
    pub ca: PathBuf,
    /// Another CA, which signed nothing Azurite shows (PEM).
    pub other_ca: PathBuf,
    ca_pem: String,
}

static SECURE: OnceLock<Result<Secure, String>> = OnceLock::new();

/// The https emulator of this test binary, started on first use.
pub fn https_server() -> Result<&'static Secure, String> {
    SECURE
        .get_or_init(start_secure)
        .as_ref()
        .map_err(Clone::clone)
}

/// A CA: its certificate and its issuer (to sign a leaf with).
fn test_ca(
    name: &str,
) -> Result<(rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>), String> {
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("pimplan test CA {name}"));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((cert, rcgen::Issuer::new(params, key)))
}

fn start_secure() -> Result<Secure, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("azurite-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (ca, issuer) = test_ca("azurite")?;
    let (other, _) = test_ca("other")?;
    let mut leaf =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| e.to_string())?;
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    };
    let cert = write("azurite-cert.pem", &leaf_cert.pem())?;
    let key = write("azurite-key.pem", &leaf_key.serialize_pem())?;
    let ca_path = write("ca.pem", &ca.pem())?;
    let other_ca = write("other-ca.pem", &other.pem())?;
    let extra = [
        "--oauth".to_owned(),
        "basic".to_owned(),
        "--cert".to_owned(),
        cert.to_string_lossy().into_owned(),
        "--key".to_owned(),
        key.to_string_lossy().into_owned(),
    ];
    let server = start_with(&extra, "https")?;
    Ok(Secure {
        server,
        ca: ca_path,
        other_ca,
        ca_pem: ca.pem(),
    })
}

/// A test access token as Azurite's `--oauth basic` accepts one: a JWT whose issuer starts
/// with `https://sts.windows.net/`, with `iat`/`nbf` a minute ago and `exp` in an hour, for
/// `audience` (storage's is `https://storage.azure.com`). Azurite does not check the
/// signature, so it is a placeholder.
pub fn test_jwt(audience: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = chrono::Utc::now().timestamp();
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
    let claims = serde_json::json!({
        "aud": audience,
        "iss": "https://sts.windows.net/5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 3600,
        "oid": "11059fcc-5514-4800-b5f8-49808b9cfab6",
        "tid": "5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11",
    });
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode("not-checked-by-azurite")
    )
}

/// A fresh container `NAME-N` on the https emulator, created with a test token over TLS
/// that trusts only the test CA (the harness's own request, not pimplan's).
pub fn https_container(name: &str) -> Result<String, String> {
    let secure = https_server()?;
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let name = format!("{name}-{n}");
    let ca = ureq::tls::Certificate::from_pem(secure.ca_pem.as_bytes())
        .map_err(|e| e.to_string())?
        .to_owned();
    let agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[ca]))
                .build(),
        )
        .http_status_as_error(false)
        .build()
        .new_agent();
    let url = format!("{}/{name}?restype=container", secure.server.endpoint_url());
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let answer = agent
        .put(&url)
        .header(
            "Authorization",
            &format!("Bearer {}", test_jwt("https://storage.azure.com")),
        )
        .header("x-ms-version", "2025-01-05")
        .header("x-ms-date", &date)
        .send_empty()
        .map_err(|e| format!("Create Container {url}: {e}"))?;
    match answer.status().as_u16() {
        201 => Ok(name),
        other => Err(format!("Create Container {url}: {other}")),
    }
}
