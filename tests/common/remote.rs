//! Running the binary on a remote state on Azurite: the emulator's key in
//! `AZURE_STORAGE_KEY`, every other credential and the host's pimplan variables removed, and
//! every output checked for the key (B19). Shared by the end-to-end tests of the remote state.

use std::error::Error;
use std::path::Path;
use std::process::{Command, Stdio};

use super::azurite::KEY;
use super::{HOST_ENV, Run};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// The `--now` of every run.
pub const NOW: &str = "2026-12-01T00:00:00Z";

/// pimplan in `dir` with `key` as `AZURE_STORAGE_KEY` and `args`, at [`NOW`], no colour, no
/// stdin.
pub fn command(dir: &Path, key: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimplan"));
    for k in HOST_ENV {
        cmd.env_remove(k);
    }
    cmd.env_remove("AZURE_STORAGE_SAS_TOKEN")
        .env_remove("AZURE_STORAGE_CONNECTION_STRING")
        .current_dir(dir)
        .env("AZURE_STORAGE_KEY", key)
        .args(args)
        .args(["--now", NOW, "--color", "never"])
        .stdin(Stdio::null());
    cmd
}

/// B19: no output may hold the key (or its URL-encoded form).
pub fn no_secret(what: &str, text: &str) -> Result {
    let encoded = KEY
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    for secret in [KEY, &KEY[..20], &encoded] {
        if text.contains(secret) {
            return Err(format!("{what} shows the account key: {text}").into());
        }
    }
    Ok(())
}

/// Run pimplan in `dir` with the emulator's key; the output is checked for the key.
pub fn run(dir: &Path, args: &[&str]) -> Result<Run> {
    run_with(dir, KEY, args)
}

/// [`run`] with `key` as `AZURE_STORAGE_KEY`.
pub fn run_with(dir: &Path, key: &str, args: &[&str]) -> Result<Run> {
    let out = Run::of(&command(dir, key, args).output()?);
    no_secret(&format!("{args:?}"), &out.stdout)?;
    no_secret(&format!("{args:?}"), &out.stderr)?;
    Ok(out)
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}
