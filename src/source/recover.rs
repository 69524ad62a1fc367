//! Reading past structure errors: part of the YAML layer (with [`super::yaml`]).
//!
//! serde stops at the first unknown key or wrong type. To report every one in a file, the
//! file is parsed again with the entry that held the error left out, until it reads: an
//! entry of a list section (`principals`, `groups`, …), a pair of a keyed section
//! (`policy_templates`, `rules`) or, outside those, the whole top-level key. Leaving out
//! means writing over the entry with spaces (and `~` where the list needs a value) in a copy
//! of the text, so every byte offset, and so every span, stays that of the file as written.
//! [`Entry`] reads a list item written over that way as [`Entry::LeftOut`].
//!
//! What each left-out entry named (its `name`, `group`, `principal`, or its key) is kept
//! in [`Skipped`], so that what depends on it is not reported as missing.

use std::cell::RefCell;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer};
use serde_saphyr::granit_parser::{Event, Parser, StructureStyle};

use super::yaml::{YamlError, YamlErrorKind};
use super::{FileId, SourceFile, Span};

/// Top-level keys whose value is a list of entries, each left out on its own.
const LIST_SECTIONS: &[&str] = &[
    "administrative_units",
    "principals",
    "admins",
    "groups",
    "assignments",
];
/// Top-level keys whose value is a mapping of named entries, each left out on its own.
const KEYED_SECTIONS: &[&str] = &["policy_templates", "rules"];

/// At most this many structure errors are reported per file; past them the file is not read.
pub const MAX_ERRORS_PER_FILE: usize = 100;

thread_local! {
    /// Byte offsets at which the current parse wrote `~` over a left-out list item.
    static LEFT_OUT: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// An item of a list section, or a value of a keyed one: read, or left out after an error.
#[derive(Debug)]
pub enum Entry<T> {
    Read(T),
    LeftOut,
}

impl<T> Entry<T> {
    pub fn read(self) -> Option<T> {
        match self {
            Entry::Read(v) => Some(v),
            Entry::LeftOut => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entry<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let inner = serde_saphyr::Spanned::<Option<T>>::deserialize(deserializer)?;
        match inner.value {
            Some(value) => Ok(Entry::Read(value)),
            None => {
                let at = inner.referenced.span().byte_offset();
                let ours = at.is_some_and(|at| {
                    let at = usize::try_from(at).unwrap_or(usize::MAX);
                    LEFT_OUT.with(|l| l.borrow().binary_search(&at).is_ok())
                });
                if ours {
                    Ok(Entry::LeftOut)
                } else {
                    Err(de::Error::invalid_type(
                        de::Unexpected::Unit,
                        &"an entry (this one is empty)",
                    ))
                }
            }
        }
    }
}

super::yaml::schema_of_inner!(Entry);

/// The scalar keys an entry writes at its first level, with their values.
pub type Fields = Vec<(String, String)>;

/// One part of a file left out after a structure error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The top-level key it was under (`principals`, `rules`, `tenant`, …).
    pub section: String,
    /// The whole top-level key was left out, not one entry of it.
    pub whole: bool,
    /// Where it was written.
    pub span: Span,
    /// Per entry left out, the scalar keys it wrote at its first level (`name`, `group`,
    /// `principal`, …) with their values; for a keyed section, `key` and the entry's key.
    /// Several entries when a whole list or keyed section was left out.
    pub entries: Vec<Fields>,
}

/// A file parsed past its structure errors.
pub struct Recovered<T> {
    /// `None` when the file could not be read at all (a syntax error, a budget, a tag, an
    /// error outside any entry, or too many errors).
    pub value: Option<T>,
    /// Every error found, in the order found (at most one per left-out part).
    pub errors: Vec<YamlError>,
    pub skipped: Vec<Skipped>,
}

/// A part of the file that can be left out, as found by the YAML parser.
#[derive(Debug, Clone)]
struct Unit {
    section: String,
    /// Bytes from the start of this part up to the start of the next one: an error reported
    /// in there belongs to this part.
    owns: (usize, usize),
    /// The bytes to write over.
    node: (usize, usize),
    /// Write `~` first (a list item, or a value in a flow mapping), or only spaces (a
    /// pair of a block mapping).
    null: bool,
    whole: bool,
    entries: Vec<Fields>,
}

/// A key and its value inside an entry, written over on its own to find the entry's next
/// error (the entry is left out all the same).
#[derive(Debug, Clone)]
struct Pair {
    owns: (usize, usize),
    node: (usize, usize),
}

/// Parse `file` as `T`, leaving out each entry that holds a structure error, and report
/// every such error. `parse` is the YAML layer's parser for one text.
///
/// Within an entry, the key that holds an error is written over first, to find the entry's
/// other errors; a missing key, or the same error again, that this causes is not reported.
/// Once no error is left, every entry that had one is written over whole, and that text is
/// the one read.
pub fn parse<T: DeserializeOwned>(
    id: FileId,
    file: &SourceFile,
    parse: impl Fn(&str) -> Result<Option<T>, YamlError>,
    syntax: impl Fn(&str) -> Result<(), YamlError>,
) -> Recovered<Option<T>> {
    LEFT_OUT.with(|l| l.borrow_mut().clear());
    let first = match parse(&file.text) {
        Ok(value) => {
            return Recovered {
                value: Some(value),
                errors: Vec::new(),
                skipped: Vec::new(),
            };
        }
        Err(e) => e,
    };
    let unreadable = |errors: Vec<YamlError>| Recovered {
        value: None,
        errors,
        skipped: Vec::new(),
    };
    if !recoverable(&first) {
        return unreadable(vec![first]);
    }
    // serde reads as it goes: a syntax error further on is reported too, and stops here.
    if let Err(e) = syntax(&file.text)
        && !recoverable(&e)
    {
        return unreadable(vec![first, e]);
    }
    // A file with aliases is not read past its first error: writing over an entry an
    // alias refers to would change what the alias means.
    let Some((units, pairs)) = units(&file.text) else {
        return unreadable(vec![first]);
    };
    let mut text = file.text.clone().into_bytes();
    let mut errors: Vec<(usize, YamlError)> = Vec::new();
    // Entries written over whole, and entries with an error not yet written over whole.
    let mut whole: Vec<usize> = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    let mut blanked_pairs: Vec<usize> = Vec::new();
    // The text before the last key written over, to go back to when that made it unreadable.
    let mut before_pair: Option<(Vec<u8>, usize)> = None;
    let mut next = Err(first);
    let mut steps = 0usize;
    let result = loop {
        steps += 1;
        if steps > 4 * MAX_ERRORS_PER_FILE {
            break None;
        }
        let error = match next {
            Ok(value) => {
                // Every entry with an error is left out whole before the text is read.
                if pending.is_empty() {
                    break Some(value);
                }
                for index in std::mem::take(&mut pending) {
                    leave_out(&mut text, &units[index]);
                    whole.push(index);
                }
                before_pair = None;
                next = reparse(&text, &parse);
                continue;
            }
            Err(e) if !recoverable(&e) => {
                // Writing over a key inside a flow mapping can leave it unreadable: go back
                // and leave that entry out whole instead.
                match before_pair.take() {
                    Some((saved, index)) => {
                        text = saved;
                        pending.retain(|p| *p != index);
                        leave_out(&mut text, &units[index]);
                        whole.push(index);
                        next = reparse(&text, &parse);
                        continue;
                    }
                    // Writing over an entry cannot make a file that read into one that does
                    // not, unless an alias pointed into it: stop, with the errors so far.
                    None => break None,
                }
            }
            Err(e) => e,
        };
        let at = error.span.start as usize;
        let found = units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.owns.0 <= at && at < u.owns.1)
            // The innermost: an entry rather than its section.
            .max_by_key(|(_, u)| u.owns.0);
        let Some((index, unit)) = found else {
            errors.push((usize::MAX, error));
            break None;
        };
        if whole.contains(&index) || errors.len() >= MAX_ERRORS_PER_FILE {
            break None;
        }
        let follow_on = pending.contains(&index)
            && (matches!(error.kind, YamlErrorKind::MissingField { .. })
                // An error in the text written over (`- key: value` whose one pair was
                // written over reads as an empty item) is caused by that.
                || blanked_pairs.iter().any(|&b| {
                    pairs
                        .get(b)
                        .is_some_and(|p| p.node.0 <= at && at <= p.node.1)
                })
                || errors
                    .iter()
                    .any(|(i, e)| *i == index && e.message == error.message));
        if !follow_on {
            errors.push((index, error.clone()));
            if !pending.contains(&index) {
                pending.push(index);
            }
            let pair = pairs
                .iter()
                .enumerate()
                .filter(|(i, p)| {
                    !blanked_pairs.contains(i)
                        && p.owns.0 <= at
                        && at < p.owns.1
                        && unit.owns.0 <= p.owns.0
                        && p.owns.0 < unit.owns.1
                        // A key that is all of the entry: the entry is written over instead.
                        && !(p.node.0 <= unit.node.0 && unit.node.1 <= p.node.1)
                })
                .max_by_key(|(_, p)| p.owns.0);
            if let Some((p, pair)) = pair {
                before_pair = Some((text.clone(), index));
                blanked_pairs.push(p);
                write_over(&mut text, pair.node, false);
                next = reparse(&text, &parse);
                continue;
            }
        }
        pending.retain(|p| *p != index);
        leave_out(&mut text, unit);
        whole.push(index);
        before_pair = None;
        next = reparse(&text, &parse);
    };
    LEFT_OUT.with(|l| l.borrow_mut().clear());
    let errors: Vec<YamlError> = errors.into_iter().map(|(_, e)| e).collect();
    match result {
        Some(value) => {
            let mut skipped: Vec<Skipped> = whole
                .iter()
                .map(|&i| {
                    let unit = &units[i];
                    Skipped {
                        section: unit.section.clone(),
                        whole: unit.whole,
                        span: Span::new(id, unit.node.0, unit.node.1),
                        entries: unit.entries.clone(),
                    }
                })
                .collect();
            skipped.sort_by_key(|s| s.span.start);
            Recovered {
                value: Some(value),
                errors,
                skipped,
            }
        }
        None => unreadable(errors),
    }
}

/// Parse the text with entries written over.
fn reparse<T>(
    text: &[u8],
    parse: &impl Fn(&str) -> Result<Option<T>, YamlError>,
) -> Result<Option<T>, YamlError> {
    match std::str::from_utf8(text) {
        Ok(text) => parse(text),
        Err(_) => Err(YamlError {
            kind: YamlErrorKind::Syntax {
                cause: super::yaml::SyntaxCause::Other,
            },
            message: String::new(),
            span: Span::default(),
        }),
    }
}

/// Write over an entry, and remember where a `~` now stands for it.
fn leave_out(text: &mut [u8], unit: &Unit) {
    write_over(text, unit.node, unit.null);
    if unit.null {
        LEFT_OUT.with(|l| {
            let mut l = l.borrow_mut();
            if let Err(at) = l.binary_search(&unit.node.0) {
                l.insert(at, unit.node.0);
            }
        });
    }
}

/// Errors of structure, which leaving out an entry can get past; a syntax error, a budget
/// or a tag makes the file unreadable.
fn recoverable(e: &YamlError) -> bool {
    matches!(
        e.kind,
        YamlErrorKind::UnknownField { .. }
            | YamlErrorKind::MissingField { .. }
            | YamlErrorKind::DuplicateKey { .. }
            | YamlErrorKind::Shape
            | YamlErrorKind::ColonInFlowValue { .. }
            | YamlErrorKind::CommaInFlowValue { .. }
    )
}

/// Write spaces over `node` (keeping line breaks, so lines and columns stay), with a `~`
/// at its start where a list or flow mapping needs a value (`null`). A key written over in
/// a flow mapping takes the comma after it along.
fn write_over(text: &mut [u8], node: (usize, usize), null: bool) {
    let (start, mut end) = (node.0.min(text.len()), node.1.min(text.len()));
    if !null {
        let mut j = end;
        while j < text.len() && matches!(text[j], b' ' | b'\t') {
            j += 1;
        }
        if text.get(j) == Some(&b',') {
            end = j + 1;
        }
    }
    for b in &mut text[start..end] {
        if *b != b'\n' && *b != b'\r' {
            *b = b' ';
        }
    }
    if null && let Some(b) = text.get_mut(start) {
        *b = b'~';
    }
}

/// One event with its byte range.
struct Ev<'a> {
    event: Event<'a>,
    start: usize,
    end: usize,
}

/// The parts of `text` that can be left out, and the keys inside them; `None` when the
/// file is not a block mapping of plain keys the parser reads to its end.
fn units(text: &str) -> Option<(Vec<Unit>, Vec<Pair>)> {
    let mut events = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        if matches!(event, Event::Alias(..)) {
            return None;
        }
        let start = span.start.byte_offset()?;
        let end = span.end.byte_offset().unwrap_or(start).max(start);
        events.push(Ev { event, start, end });
    }
    let mut i = 0;
    let skip_to = |i: &mut usize, want: fn(&Event<'_>) -> bool| {
        while *i < events.len() && !want(&events[*i].event) {
            *i += 1;
        }
    };
    skip_to(&mut i, |e| {
        matches!(
            e,
            Event::MappingStart(..) | Event::Scalar(..) | Event::SequenceStart(..)
        )
    });
    let Some(Ev {
        event: Event::MappingStart(StructureStyle::Block, ..),
        ..
    }) = events.get(i)
    else {
        return None;
    };
    i += 1;
    let mut units = Vec::new();
    // Top-level pairs: key, value.
    // Per top-level key: the key, where it starts, where its value ends, and what the
    // entries of a value that has no parts name.
    let mut tops: Vec<(String, usize, usize, Vec<Fields>)> = Vec::new();
    let mut inner: Vec<Vec<Unit>> = Vec::new();
    while let Some(ev) = events.get(i) {
        let Event::Scalar(key, ..) = &ev.event else {
            break; // MappingEnd, or a key that is not a plain scalar
        };
        let key = key.to_string();
        let key_start = ev.start;
        i += 1;
        let value_start = events.get(i)?.start;
        let value_end_index = node_end(&events, i)?;
        let value_end = content_end(&events[i..=value_end_index]).max(value_start);
        let mut parts = Vec::new();
        if LIST_SECTIONS.contains(&key.as_str())
            && let Event::SequenceStart(..) = events[i].event
        {
            let mut j = i + 1;
            while j < value_end_index {
                let end = node_end(&events, j)?;
                parts.push(Unit {
                    section: key.clone(),
                    owns: (events[j].start, 0),
                    node: (events[j].start, content_end(&events[j..=end])),
                    null: true,
                    whole: false,
                    entries: vec![fields(&events[j..=end])],
                });
                j = end + 1;
            }
        } else if KEYED_SECTIONS.contains(&key.as_str())
            && let Event::MappingStart(style, ..) = &events[i].event
        {
            let block = matches!(style, StructureStyle::Block);
            let mut j = i + 1;
            while j < value_end_index {
                let Event::Scalar(name, ..) = &events[j].event else {
                    break;
                };
                let name = name.to_string();
                let pair_start = events[j].start;
                let value = j + 1;
                let end = node_end(&events, value)?;
                let value_start = events.get(value)?.start;
                let node_end_byte = content_end(&events[value..=end]).max(value_start);
                parts.push(Unit {
                    section: key.clone(),
                    owns: (pair_start, 0),
                    node: (if block { pair_start } else { value_start }, node_end_byte),
                    null: !block,
                    whole: false,
                    entries: vec![vec![("key".to_owned(), name)]],
                });
                j = end + 1;
            }
        }
        // Each part owns up to the next part's start; the last up to the section's end.
        let starts: Vec<usize> = parts.iter().map(|p| p.owns.0).skip(1).collect();
        for (part, next) in parts
            .iter_mut()
            .zip(starts.into_iter().map(Some).chain(std::iter::once(None)))
        {
            part.owns.1 = next.unwrap_or(usize::MAX);
        }
        // A key the format does not have, or a section of the wrong shape: what its
        // entries name, as far as it can be told.
        let loose = if parts.is_empty() {
            loose_entries(&events[i..=value_end_index])
        } else {
            Vec::new()
        };
        tops.push((key, key_start, value_end, loose));
        inner.push(parts);
        i = value_end_index + 1;
    }
    let next_tops: Vec<usize> = tops
        .iter()
        .skip(1)
        .map(|t| t.1)
        .chain(std::iter::once(text.len() + 1))
        .collect();
    for ((key, key_start, value_end, loose), (parts, next)) in
        tops.into_iter().zip(inner.into_iter().zip(next_tops))
    {
        let mut entries: Vec<_> = parts.iter().flat_map(|p| p.entries.clone()).collect();
        entries.extend(loose);
        for mut part in parts {
            part.owns.1 = part.owns.1.min(next);
            units.push(part);
        }
        units.push(Unit {
            section: key,
            owns: (key_start, next),
            node: (key_start, value_end),
            null: false,
            whole: true,
            entries,
        });
    }
    let pairs = pairs(&events);
    Some((units, pairs))
}

/// The key-value pairs of every mapping inside an entry: mappings below a list or keyed
/// section's entries (three levels down), and those of other top-level keys' values.
fn pairs(events: &[Ev<'_>]) -> Vec<Pair> {
    let mut out = Vec::new();
    // Per open collection: whether it is a mapping, and for the top-level mapping's values,
    // which key they belong to.
    let mut stack: Vec<bool> = Vec::new();
    let mut top_key: Option<String> = None;
    let mut i = 0;
    while i < events.len() {
        match &events[i].event {
            Event::MappingStart(..) => {
                let depth = stack.len() + 1;
                let sectioned = top_key
                    .as_deref()
                    .is_some_and(|k| LIST_SECTIONS.contains(&k) || KEYED_SECTIONS.contains(&k));
                if depth >= 3 || (depth == 2 && !sectioned) {
                    mapping_pairs(events, i, &mut out);
                }
                stack.push(true);
            }
            Event::SequenceStart(..) => stack.push(false),
            Event::SequenceEnd | Event::MappingEnd => {
                stack.pop();
            }
            Event::Scalar(key, ..) if stack.len() == 1 => {
                // A key of the top-level mapping; skip its value, noting the key.
                top_key = Some(key.to_string());
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The pairs of the mapping that starts at `events[start]`.
fn mapping_pairs(events: &[Ev<'_>], start: usize, out: &mut Vec<Pair>) {
    let Some(end) = node_end(events, start) else {
        return;
    };
    let close = events[end].end.max(events[end].start + 1);
    let mut found: Vec<(usize, usize)> = Vec::new();
    let mut j = start + 1;
    while j < end {
        let key_start = events[j].start;
        let Some(value_end) = node_end(events, j).and_then(|k| node_end(events, k + 1)) else {
            return;
        };
        let node_end_byte = content_end(&events[j..=value_end]).max(key_start);
        found.push((key_start, node_end_byte));
        j = value_end + 1;
    }
    let owns_ends: Vec<usize> = found
        .iter()
        .skip(1)
        .map(|f| f.0)
        .chain(std::iter::once(close))
        .collect();
    for ((key_start, node_end_byte), owns_end) in found.into_iter().zip(owns_ends) {
        out.push(Pair {
            owns: (key_start, owns_end),
            node: (key_start, node_end_byte),
        });
    }
}

/// The index of the last event of the node that starts at `events[i]`.
fn node_end(events: &[Ev<'_>], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    loop {
        match events.get(j)?.event {
            Event::SequenceStart(..) | Event::MappingStart(..) => depth += 1,
            Event::SequenceEnd | Event::MappingEnd => depth = depth.checked_sub(1)?,
            _ => {}
        }
        if depth == 0 {
            return Some(j);
        }
        j += 1;
    }
}

/// Where the content of a node ends: past its last scalar, alias or closing bracket (a
/// block collection's end event stands where the next token starts, past comments).
fn content_end(events: &[Ev<'_>]) -> usize {
    events
        .iter()
        .filter(|e| !matches!(e.event, Event::SequenceEnd | Event::MappingEnd) || e.end > e.start)
        .map(|e| e.end)
        .max()
        .unwrap_or(0)
}

/// The scalar keys and values at the first level of a mapping node. An entry written in
/// another shape still names what it was meant to define: a bare scalar (`- alice`) and the
/// one key of a mapping that holds a mapping (`- alice: { type: user }`) are its `name`.
fn fields(events: &[Ev<'_>]) -> Fields {
    let mut out = Vec::new();
    match events.first().map(|e| &e.event) {
        Some(Event::MappingStart(..)) => {}
        Some(Event::Scalar(value, ..)) if events.len() == 1 => {
            out.push(("name".to_owned(), value.to_string()));
            return out;
        }
        _ => return out,
    }
    let mut j = 1;
    let mut keys = Vec::new();
    while j < events.len() {
        let Event::Scalar(key, ..) = &events[j].event else {
            break;
        };
        let Some(end) = node_end(events, j + 1) else {
            break;
        };
        match &events[j + 1].event {
            Event::Scalar(value, ..) => out.push((key.to_string(), value.to_string())),
            // `name: [alice]`: a list of names where one belongs still names them.
            Event::SequenceStart(..) => {
                let items = &events[j + 2..end];
                if items.iter().all(|e| matches!(e.event, Event::Scalar(..))) {
                    for item in items {
                        if let Event::Scalar(value, ..) = &item.event {
                            out.push((key.to_string(), value.to_string()));
                        }
                    }
                }
            }
            _ => {}
        }
        keys.push((key.to_string(), end > j + 1));
        j = end + 1;
    }
    if let [(key, true)] = keys.as_slice()
        && !out.iter().any(|(k, _)| k == "name")
    {
        out.push(("name".to_owned(), key.clone()));
    }
    out
}

/// What the entries of a list or mapping name: each item's first-level scalars, or each key.
fn loose_entries(events: &[Ev<'_>]) -> Vec<Fields> {
    let mut out = Vec::new();
    let Some(end) = events.len().checked_sub(1) else {
        return out;
    };
    match events.first().map(|e| &e.event) {
        Some(Event::SequenceStart(..)) => {
            let mut j = 1;
            while j < end {
                let Some(item_end) = node_end(events, j) else {
                    break;
                };
                out.push(fields(&events[j..=item_end]));
                j = item_end + 1;
            }
        }
        Some(Event::MappingStart(..)) => {
            let mut j = 1;
            while j < end {
                let Event::Scalar(key, ..) = &events[j].event else {
                    break;
                };
                out.push(vec![("key".to_owned(), key.to_string())]);
                let Some(value_end) = node_end(events, j + 1) else {
                    break;
                };
                j = value_end + 1;
            }
        }
        // A section written as one scalar (`rules: PIM610`).
        Some(Event::Scalar(..)) if events.len() == 1 => out.push(fields(events)),
        _ => {}
    }
    out
}
