//! The YAML layer: the only module that names the YAML crate (`serde-saphyr`).
//!
//! It parses one file into a serde type with tight budgets (aliases, depth, nodes),
//! duplicate keys refused, YAML 1.1 booleans (`yes`/`no`/`on`/`off`) never coerced, and
//! numbers never silently turned into names. Every [`Spanned`] value carries the byte range
//! it was written at; errors carry a byte range too.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_saphyr::granit_parser::{Event, Parser};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options};

use super::{FileId, SourceFile, Span};

/// Budgets for one file. A configuration file is small; these leave room for a
/// 100,000-assignment file while refusing alias bombs and pathological nesting.
const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 4_000_000;
const MAX_ALIASES: usize = 1_000;
const MAX_ANCHORS: usize = 1_000;
const MAX_REPLAYED_EVENTS: usize = 100_000;
const MAX_EXPANSIONS_PER_ANCHOR: usize = 100;

thread_local! {
    /// The file being deserialised on this thread, so that [`Spanned`] can name it.
    static CURRENT_FILE: Cell<FileId> = const { Cell::new(FileId(0)) };
}

/// A value together with the place it was written.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    /// Equality is on the value only: where it was written does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let inner = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        let file = CURRENT_FILE.with(Cell::get);
        let span = location_span(file, &inner.referenced, None);
        Ok(Spanned {
            value: inner.value,
            span,
        })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// What went wrong reading a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// Not valid YAML, or not valid UTF-8.
    Syntax,
    /// Valid YAML, but a budget (size, depth, aliases) was exceeded.
    Limit,
    /// A key the format does not have; `expected` lists the keys allowed there.
    UnknownField {
        field: String,
        expected: Vec<String>,
    },
    /// A required key is missing.
    MissingField { field: String },
    /// A mapping repeats a key; `first` is where it was written first.
    DuplicateKey { key: String, first: Option<Span> },
    /// Valid YAML of the wrong shape or type (a list where a mapping belongs, a number
    /// where a name belongs, `yes` where a boolean belongs).
    Shape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub kind: YamlErrorKind,
    pub message: String,
    pub span: Span,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn options() -> Options {
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.strict_booleans = true;
    options.no_schema = true;
    options.with_snippet = false;
    options.legacy_octal_numbers = false;
    let mut budget = Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    budget.max_aliases = MAX_ALIASES;
    budget.max_anchors = MAX_ANCHORS;
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    options.alias_limits.max_alias_expansions_per_anchor = MAX_EXPANSIONS_PER_ANCHOR;
    options
}

/// Parse one file. `Ok(None)` means the file holds no document (empty, or only comments).
pub fn parse<T: DeserializeOwned>(id: FileId, file: &SourceFile) -> Result<Option<T>, YamlError> {
    let text = file.text.as_str();
    CURRENT_FILE.with(|c| c.set(id));
    match serde_saphyr::from_str_with_options::<Option<T>>(text, options()) {
        Ok(value) => Ok(value),
        Err(error) => Err(convert_error(id, file, &error)),
    }
}

fn location_span(
    file: FileId,
    location: &serde_saphyr::Location,
    source: Option<&SourceFile>,
) -> Span {
    let span = location.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(start), Some(len)) => {
            let start = usize::try_from(start).unwrap_or(usize::MAX);
            let len = usize::try_from(len).unwrap_or(0);
            Span::new(file, start, start.saturating_add(len))
        }
        _ => {
            // The parser knows only line and column here (scanner errors): map them to bytes.
            let start = source.map_or(0, |s| {
                s.offset_of(
                    usize::try_from(location.line()).unwrap_or(1),
                    usize::try_from(location.column()).unwrap_or(1),
                )
            });
            Span::new(file, start, start)
        }
    }
}

fn convert_error(id: FileId, file: &SourceFile, error: &serde_saphyr::Error) -> YamlError {
    use serde_saphyr::Error as E;
    let error = error.without_snippet();
    let mut span = error
        .location()
        .map_or(Span::new(id, 0, 0), |l| location_span(id, &l, Some(file)));
    let raw = error.to_string();
    if raw.contains("tab") {
        span = point_at_tab(file, span);
    }
    // The crate appends " at line L, column C"; we print locations ourselves.
    let message = raw
        .find(" at line ")
        .map_or(raw.as_str(), |i| &raw[..i])
        .to_owned();
    let (kind, message) = match error {
        E::SerdeUnknownField {
            field, expected, ..
        } => (
            YamlErrorKind::UnknownField {
                field: field.clone(),
                expected: expected.iter().map(ToString::to_string).collect(),
            },
            format!("unknown key `{field}`"),
        ),
        E::SerdeMissingField { field, .. } => (
            YamlErrorKind::MissingField {
                field: (*field).to_owned(),
            },
            format!("missing required key `{field}`"),
        ),
        E::DuplicateMappingKey { key, .. } => {
            let key = key.clone().unwrap_or_default();
            let first = first_occurrence(id, &file.text, span.start as usize);
            (
                YamlErrorKind::DuplicateKey {
                    key: key.clone(),
                    first,
                },
                format!("duplicate key `{key}`"),
            )
        }
        E::InvalidBooleanStrict { .. } => (
            YamlErrorKind::Shape,
            "expected `true` or `false`".to_owned(),
        ),
        E::QuotingRequired { .. } => (
            YamlErrorKind::Shape,
            format!(
                "expected a name or text, found the number or boolean `{}`",
                file.text
                    .get(span.start as usize..span.end as usize)
                    .unwrap_or_default()
            ),
        ),
        E::InvalidUtf8Input => (
            YamlErrorKind::Syntax,
            "the file is not valid UTF-8".to_owned(),
        ),
        E::Budget { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::RecursiveReferencesRequireWeakTypes { .. } => (YamlErrorKind::Limit, message),
        E::Message { .. }
        | E::Unexpected { .. }
        | E::SerdeInvalidType { .. }
        | E::SerdeInvalidValue { .. }
        | E::SerdeInvalidLength { .. }
        | E::SerdeUnknownVariant { .. }
        | E::NullIntoString { .. }
        | E::UnexpectedValueForUnit { .. }
        | E::MergeKeyNotAllowed { .. }
        | E::MergeValueNotMapOrSeqOfMaps { .. }
        | E::TaggedScalarCannotDeserializeIntoString { .. } => {
            (YamlErrorKind::Shape, shape_message(&message))
        }
        _ if is_limit(&message) => (YamlErrorKind::Limit, message),
        // The crate's wording names its own API; say what it means for a workspace file.
        _ if message.contains("multiple YAML documents") => (
            YamlErrorKind::Syntax,
            "a second YAML document (`---`): a workspace file holds one document; split it into two files".to_owned(),
        ),
        _ => (YamlErrorKind::Syntax, message),
    };
    YamlError {
        kind,
        message,
        span,
    }
}

/// The scanner reports a tab error after the tab, sometimes at the value on the line before
/// it: point at the first tab from the start of the reported line, within two lines.
fn point_at_tab(file: &SourceFile, span: Span) -> Span {
    let line = file.line_col(span.start as usize).line;
    let line_start = file.offset_of(line, 1);
    let window_end = file.offset_of(line + 3, 1);
    match file
        .text
        .get(line_start..window_end)
        .and_then(|w| w.find('\t'))
    {
        Some(i) => Span::new(span.file, line_start + i, line_start + i + 1),
        None => span,
    }
}

/// Budget errors can come wrapped (an alias replay inside another error), so look at the words.
fn is_limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("limit exceeded") || m.contains("budget")
}

/// serde's wording ("invalid type: sequence, expected a string") made a little plainer.
fn shape_message(message: &str) -> String {
    let m = message.trim_start_matches("invalid type: ");
    if m.starts_with("expected mapping start") {
        return "expected a mapping (`key: value` lines) here".to_owned();
    }
    m.to_owned()
}

/// Where the key that is duplicated at byte `second` was first written, found with a
/// second, event-level pass over the file (the deserialiser reports only the second place).
fn first_occurrence(id: FileId, text: &str, second: usize) -> Option<Span> {
    enum Frame {
        Seq,
        Map {
            keys: HashMap<String, Span>,
            expect_key: bool,
        },
    }
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.ok()?;
        let start = span.start.byte_offset()?;
        let end = span.end.byte_offset().unwrap_or(start);
        // A node starts: in a mapping it is a key or a value, alternately.
        let is_node_start = matches!(
            event,
            Event::Scalar(..)
                | Event::Alias(..)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        );
        if is_node_start && let Some(Frame::Map { keys, expect_key }) = stack.last_mut() {
            if *expect_key && let Event::Scalar(value, ..) = &event {
                let here = Span::new(id, start, end);
                if start == second {
                    return keys.get(value.as_ref()).copied();
                }
                keys.entry(value.to_string()).or_insert(here);
            }
            *expect_key = !*expect_key;
        }
        match event {
            Event::MappingStart(..) => stack.push(Frame::Map {
                keys: HashMap::new(),
                expect_key: true,
            }),
            Event::SequenceStart(..) => stack.push(Frame::Seq),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: Option<Spanned<String>>,
        flag: Option<Spanned<bool>>,
        items: Option<Vec<Spanned<String>>>,
        tree: Option<Tree>,
    }

    /// Any nesting of lists of strings: makes the deserialiser expand every alias.
    #[derive(Debug, serde::Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Tree {
        Leaf(String),
        List(Vec<Tree>),
    }

    fn run(text: &str) -> Result<Option<Doc>, YamlError> {
        let file = SourceFile::new(PathBuf::from("t.yaml"), text.to_owned());
        parse::<Doc>(FileId(3), &file)
    }

    #[test]
    fn spans_are_bytes_even_after_multibyte_text() {
        let doc = run("items: [\"é日本\", x]\nname: abc\n").ok().flatten();
        let doc = doc.unwrap_or_else(|| unreachable!());
        let name = doc.name.unwrap_or_else(|| unreachable!());
        assert_eq!(
            (name.span.file, name.span.start, name.span.end),
            (FileId(3), 29, 32)
        );
    }

    #[test]
    fn duplicate_key_names_both_places() {
        let err = run("name: a\nflag: true\nname: b\n").err();
        let err = err.unwrap_or_else(|| unreachable!());
        assert_eq!(
            err.kind,
            YamlErrorKind::DuplicateKey {
                key: "name".into(),
                first: Some(Span::new(FileId(3), 0, 4))
            }
        );
        assert_eq!((err.span.start, err.span.end), (19, 23));
    }

    #[test]
    fn yes_is_never_a_boolean() {
        let err = run("flag: yes\n").err().unwrap_or_else(|| unreachable!());
        assert_eq!(err.kind, YamlErrorKind::Shape);
        assert_eq!(err.span.start, 6);
        let ok = run("name: yes\n")
            .ok()
            .flatten()
            .unwrap_or_else(|| unreachable!());
        assert_eq!(ok.name.map(|n| n.value), Some("yes".to_owned()));
    }

    #[test]
    fn numbers_are_not_names() {
        let err = run("name: 123\n").err().unwrap_or_else(|| unreachable!());
        assert_eq!(err.kind, YamlErrorKind::Shape);
        assert!(err.message.contains("`123`"), "{}", err.message);
    }

    #[test]
    fn alias_bomb_is_refused_quickly() {
        let mut text = String::from("tree:\n  - &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("  - &a{i} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let err = run(&text).err().unwrap_or_else(|| unreachable!());
        assert_eq!(err.kind, YamlErrorKind::Limit, "{err:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("tree: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        let err = run(&text).err().unwrap_or_else(|| unreachable!());
        assert_eq!(err.kind, YamlErrorKind::Limit, "{err:?}");
    }
}
