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
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
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
    let mut seen = Vec::new();
    let mut pid = None;
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    let port = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(p) = line.strip_prefix("azurite-pid ") {
                    pid = p.trim().parse::<u32>().ok();
                } else if let Some(at) = line.find("successfully listens on http://127.0.0.1:") {
                    let rest = &line[at + "successfully listens on http://127.0.0.1:".len()..];
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
