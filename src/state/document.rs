//! The state's bytes: decoded into a [`State`] with every check a reader makes, and the next
//! serial encoded, sealed by its checksum. The same for every backend (`backend.rs`), which
//! moves the bytes only. `path` names the state in errors (a backend's `describe()`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{
    Applying, AssignmentRecord, FORMAT_VERSION, LoadedState, Pending, PolicyRecord, Seal, State,
    StateError, check_seal,
};

/// The state of `bytes` (`None`: there is none yet, an empty state with a fresh lineage).
pub fn decoded(
    path: &Path,
    bytes: Option<Vec<u8>>,
    verify: bool,
) -> Result<LoadedState, StateError> {
    match bytes {
        Some(bytes) => decode(path, bytes, verify),
        None => Ok(LoadedState {
            state: State::new(),
            text: None,
            version: None,
        }),
    }
}

/// The lineage and serial of a state as pimplan writes it, from the start of its bytes
/// alone (`state snapshots` reads no more of each snapshot): pretty JSON whose first lines
/// hold them (the order of [`State`]'s fields). `None` when the start does not show them.
pub fn head(start: &[u8]) -> Option<(String, u64)> {
    let text = String::from_utf8_lossy(start);
    let mut lineage = None;
    let mut serial = None;
    for line in text.lines().take(8) {
        let line = line.trim().trim_end_matches(',');
        if let Some(value) = line.strip_prefix("\"lineage\":") {
            lineage = serde_json::from_str::<String>(value.trim()).ok();
        } else if let Some(value) = line.strip_prefix("\"serial\":") {
            serial = value.trim().parse::<u64>().ok();
        }
    }
    Some((lineage?, serial?))
}

/// The state of `bytes`, checking its checksum only if `verify` (`state accept-edit` reads
/// an edited state to accept it; every other check applies).
pub fn decode(path: &Path, bytes: Vec<u8>, verify: bool) -> Result<LoadedState, StateError> {
    let corrupt = |detail: String| StateError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let text = String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8 text".to_owned()))?;
    // One pass straight into `State`, with no JSON tree in between (a large tenant's state is
    // hundreds of megabytes). Only when that fails is the version looked at, so that a newer
    // format is refused as such and not as corrupt.
    let future = |found: u64| StateError::FutureVersion {
        path: path.to_path_buf(),
        found,
    };
    let state: State = match serde_json::from_str(&text) {
        Ok(state) => state,
        Err(e) => {
            #[derive(Deserialize)]
            struct Header {
                format_version: Option<u64>,
            }
            let header: Header = serde_json::from_str(&text)
                .map_err(|_| corrupt(format!("not a pimplan state ({e})")))?;
            return Err(match header.format_version {
                Some(v) if v > u64::from(FORMAT_VERSION) => future(v),
                Some(_) => corrupt(e.to_string()),
                None => corrupt("no `format_version`".to_owned()),
            });
        }
    };
    if u64::from(state.format_version) > u64::from(FORMAT_VERSION) {
        return Err(future(u64::from(state.format_version)));
    }
    if state.format_version == 0 {
        return Err(corrupt(
            "`format_version` is 0, and state formats start at 1".to_owned(),
        ));
    }
    if verify {
        let edited = |detail: String| StateError::Edited {
            path: path.to_path_buf(),
            detail,
        };
        match check_seal(&text) {
            Seal::Valid => {}
            Seal::Broken(detail) => return Err(edited(detail)),
            // Format 1 predates the checksum.
            Seal::Absent if state.format_version == 1 => {}
            Seal::Absent => {
                return Err(edited(format!(
                    "it has format version {} but no checksum, which pimplan writes in every state since format 2",
                    state.format_version
                )));
            }
        }
    }
    if uuid::Uuid::parse_str(&state.lineage).is_err() {
        return Err(corrupt(format!(
            "lineage `{}` is not a UUID",
            state.lineage
        )));
    }
    let mut keys = std::collections::HashSet::new();
    let entries = state
        .assignments
        .iter()
        .map(|a| (&a.key, a.spec.key(), "assignment"))
        .chain(
            state
                .policies
                .iter()
                .map(|p| (&p.key, p.spec.key(), "policy")),
        );
    for (key, computed, what) in entries {
        if *key != computed {
            return Err(corrupt(format!(
                "{what} entry `{key}` does not match its values"
            )));
        }
        if !keys.insert(key.as_str()) {
            return Err(corrupt(format!("{what} entry `{key}` appears twice")));
        }
    }
    if let Some(e) = state.ended.iter().find(|e| e.key != e.spec.key()) {
        return Err(corrupt(format!(
            "ended entry `{}` does not match its values",
            e.key
        )));
    }
    Ok(LoadedState {
        state,
        text: Some(text),
        version: None,
    })
}

/// The serial after `serial`; refused when it would wrap around, before anything is written.
pub fn next_serial(path: &Path, serial: u64) -> Result<u64, StateError> {
    serial
        .checked_add(1)
        .ok_or_else(|| StateError::SerialExhausted {
            path: path.to_path_buf(),
        })
}

/// The next serial of `state`, in the current format (an older state is upgraded), as
/// written.
pub fn encode_next(path: &Path, state: &mut State) -> Result<String, StateError> {
    state.serial = next_serial(path, state.serial)?;
    state.format_version = FORMAT_VERSION;
    state.written_by = format!("pimplan {}", env!("CARGO_PKG_VERSION"));
    state.normalise();
    Ok(state.to_json())
}

/// The state as written, borrowing its entries (already in key order).
#[derive(Serialize)]
struct View<'a> {
    format_version: u32,
    lineage: &'a str,
    serial: u64,
    written_by: &'a str,
    assignments: Vec<&'a AssignmentRecord>,
    policies: Vec<&'a PolicyRecord>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pending: &'a [Pending],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    ended: &'a [AssignmentRecord],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    removed: &'a [AssignmentRecord],
    #[serde(skip_serializing_if = "Option::is_none")]
    applying: &'a Option<Applying>,
}

/// [`encode_next`] for a state kept as maps by key (as apply keeps it), without copying the
/// entries.
pub fn encode_entries(
    path: &Path,
    header: &mut State,
    assignments: &BTreeMap<String, AssignmentRecord>,
    policies: &BTreeMap<String, PolicyRecord>,
) -> Result<String, StateError> {
    header.serial = next_serial(path, header.serial)?;
    header.format_version = FORMAT_VERSION;
    header.written_by = format!("pimplan {}", env!("CARGO_PKG_VERSION"));
    header.ended.sort_by(|a, b| a.key.cmp(&b.key));
    let view = View {
        format_version: header.format_version,
        lineage: &header.lineage,
        serial: header.serial,
        written_by: &header.written_by,
        assignments: assignments.values().collect(),
        policies: policies.values().collect(),
        pending: &header.pending,
        ended: &header.ended,
        removed: &header.removed,
        applying: &header.applying,
    };
    let mut text = serde_json::to_string_pretty(&view).unwrap_or_default();
    text.push('\n');
    Ok(super::seal(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_of_a_state_names_its_lineage_and_serial() {
        let mut state = State::new();
        state.serial = 41;
        let text = encode_next(Path::new("s"), &mut state).unwrap_or_default();
        let start = &text.as_bytes()[..text.len().min(200)];
        assert_eq!(head(start), Some((state.lineage.clone(), 42)));
        assert_eq!(head(b"{\n  \"format_version\": 2,\n"), None);
        assert_eq!(head(b"not json"), None);
    }
}
