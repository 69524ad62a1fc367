//! The parse-only floor for `bench/run.sh`: read a workspace's root file, expand its
//! include globs the way the loader does, read every file and deserialise it with the same
//! YAML crate into the same raw structs (`pimplan::config::raw::RawFile`). Nothing else: no
//! lowering, no rules, no state. Every parsed file is kept until the end, as the loader
//! keeps them until lowering, so that peak memory is comparable too.
//!
//! The included files are read and parsed on as many threads as the loader uses (all cores,
//! at most 8, in contiguous chunks of the sorted file list), so that the floor is the same
//! work done the same way; `--threads 1` gives the single-threaded floor.
//!
//! ```text
//! cargo run --release --example parse_only -- [--threads N] path/to/pimplan.yaml
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pimplan::config::raw::RawFile;
use pimplan::source::yaml;
use pimplan::source::{FileId, SourceFile};

fn read(path: &Path) -> Result<SourceFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(SourceFile::new(path.to_path_buf(), text))
}

/// Read and parse one included file.
fn parse_file(id: u32, path: &Path) -> Result<(SourceFile, RawFile), String> {
    let file = read(path)?;
    let raw = yaml::parse::<RawFile>(FileId(id), &file)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .unwrap_or_default();
    Ok((file, raw))
}

fn run(root: &Path, threads: usize) -> Result<(usize, usize), String> {
    let root_dir = root.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut files = vec![read(root)?];
    let mut parsed: Vec<RawFile> = Vec::new();
    let root_raw = yaml::parse::<RawFile>(FileId(0), &files[0])
        .map_err(|e| format!("{}: {e}", root.display()))?
        .unwrap_or_default();
    let includes: Vec<String> = root_raw
        .include
        .as_ref()
        .map(|i| i.value.iter().map(|p| p.value.clone()).collect())
        .unwrap_or_default();
    parsed.push(root_raw);

    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut seen = std::collections::HashSet::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for pattern in includes {
        let full = root_dir.join(&pattern);
        let mut matched: Vec<PathBuf> = glob::glob_with(&full.to_string_lossy(), options)
            .map_err(|e| format!("include `{pattern}`: {e}"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        matched.sort();
        for path in matched {
            if path != root && seen.insert(path.clone()) {
                paths.push(path);
            }
        }
    }
    let indexed: Vec<(u32, PathBuf)> = paths
        .into_iter()
        .enumerate()
        .map(|(i, p)| (u32::try_from(i + 1).unwrap_or(u32::MAX), p))
        .collect();
    let chunk = indexed.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<Result<Vec<(SourceFile, RawFile)>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = indexed
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(id, p)| parse_file(*id, p))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a parser thread failed".to_owned()))
            })
            .collect()
    });
    let mut assignments = 0;
    for part in results {
        for (file, raw) in part? {
            assignments += raw.assignments.as_ref().map_or(0, Vec::len);
            files.push(file);
            parsed.push(raw);
        }
    }
    Ok((parsed.len(), assignments))
}

fn main() -> ExitCode {
    let usage = "usage: parse_only [--threads N] path/to/pimplan.yaml";
    let mut threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut root = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--threads" {
            match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n >= 1 => threads = n,
                _ => {
                    eprintln!("{usage}");
                    return ExitCode::from(2);
                }
            }
        } else if root.replace(arg).is_some() {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    }
    let Some(root) = root else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    match run(Path::new(&root), threads) {
        Ok((files, assignments)) => {
            println!("parsed {files} files ({assignments} assignments)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("parse_only: {e}");
            ExitCode::FAILURE
        }
    }
}
