//! The YAML layer: with [`super::recover`], the only module that names the YAML crate
//! (`serde-saphyr`).
//!
//! It parses one file into a serde type with budgets sized from the file (aliases, depth,
//! nodes; see [`Limits`]), duplicate keys refused, YAML tags refused (pimplan gives them no
//! meaning), YAML 1.1 booleans (`yes`/`no`/`on`/`off`) never coerced, and numbers never
//! silently turned into names. Every [`Spanned`] value carries the byte range
//! it was written at; errors carry a byte range too.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::granit_parser::{ErrorKind, Event, Parser, Scanner, StrInput, TokenType};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options};

use super::{FileId, SourceFile, Span};

/// The budgets for one file, sized from its length in bytes.
///
/// Without aliases a file cannot hold more YAML nodes than it has bytes (the densest YAML,
/// `{a,b,c}`, spends one byte per node) nor more parser events than twice that, so the node
/// and event budgets never refuse a file for its size. They count the nodes that aliases
/// replay too, so they stop aliases from making a file expand beyond what a file of its size
/// could hold. The alias budgets are fixed and small on top of that: a hand-written workspace
/// uses a few anchors, and an alias bomb is refused after at most [`MAX_REPLAYED_EVENTS`]
/// replayed events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of lists and mappings.
    pub depth: usize,
    /// Scalars, lists and mappings written in the file.
    pub nodes: usize,
    /// Parser events: nodes, the ends of lists and mappings, aliases.
    pub events: usize,
    /// Alias uses (`*name`).
    pub aliases: usize,
    /// Anchor definitions (`&name`).
    pub anchors: usize,
    /// Events replayed by all aliases together.
    pub replayed_events: usize,
    /// Uses of one anchor.
    pub uses_per_anchor: usize,
}

const MAX_DEPTH: usize = 64;
/// Room above the per-byte counts for the events every file has (stream, document).
const SLACK: usize = 1_024;
const MAX_ALIASES: usize = 1_000;
const MAX_ANCHORS: usize = 1_000;
pub const MAX_REPLAYED_EVENTS: usize = 100_000;
const MAX_EXPANSIONS_PER_ANCHOR: usize = 100;

impl Limits {
    /// The budgets for a file of `bytes` bytes.
    pub fn for_bytes(bytes: usize) -> Limits {
        Limits {
            depth: MAX_DEPTH,
            nodes: bytes.saturating_add(SLACK),
            events: bytes.saturating_mul(2).saturating_add(SLACK),
            aliases: MAX_ALIASES,
            anchors: MAX_ANCHORS,
            replayed_events: MAX_REPLAYED_EVENTS,
            uses_per_anchor: MAX_EXPANSIONS_PER_ANCHOR,
        }
    }
}

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

/// The JSON Schema of a wrapper that the YAML layer reads around a value (`Spanned<T>`,
/// `Entry<T>`) is the value's: the wrapper is not written in the file.
macro_rules! schema_of_inner {
    ($wrapper:ident) => {
        impl<T: schemars::JsonSchema> schemars::JsonSchema for $wrapper<T> {
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
    };
}
pub(crate) use schema_of_inner;

schema_of_inner!(Spanned);

/// What went wrong reading a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// Not valid YAML, or not valid UTF-8; `cause` says what the parser met, as far as
    /// pimplan can tell, so that the finding's label and help fit it.
    Syntax { cause: SyntaxCause },
    /// Valid YAML, but a budget (size, depth, aliases) was exceeded.
    Limit,
    /// The file writes YAML tags (`!include x`, `!!str 1`); the error's span is the first,
    /// `others` the rest, in order.
    Tag { others: Vec<Span> },
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
    /// Valid YAML that holds a `key: value` pair where text belongs, because a `: ` in an
    /// unquoted value inside `{ }` or `[ ]` starts a mapping (`principal: [a: b]`,
    /// `justification: {see: ticket 42}`); `value` is the value as written.
    ColonInFlowValue { value: String },
    /// An unknown key that is the rest of a value a `,` cut short inside `{ }`
    /// (`justification: ticket 42, see wiki}` reads a key `see wiki`); `value` is the whole
    /// value as written, comma included.
    CommaInFlowValue { field: String, value: String },
}

/// What made a file invalid YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxCause {
    /// A `{` or `[` that is never closed. The error's span is the bracket; `stopped` is
    /// where the parser gave up: the end of the file when `at_end`, else the line where the
    /// file goes on as if the bracket had been closed.
    UnclosedBracket {
        bracket: char,
        stopped: Span,
        at_end: bool,
    },
    /// A `{` closed by `]` or a `[` by `}`; the error's span is the opening bracket.
    MismatchedBracket { bracket: char, found: char },
    /// A `: ` inside an unquoted value, which YAML reads as the start of another key; the
    /// error's span is the colon, `value` the value as written (to suggest quoting it).
    ColonInValue { value: String },
    /// A tab where YAML allows only spaces (indentation).
    Tab,
    /// A second document (`---`) in the file.
    SecondDocument,
    /// The file is not UTF-8.
    Utf8,
    /// Anything else: the parser's own words say what.
    Other,
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

/// The parser options for a file of `bytes` bytes; a budget breach is written to `breach`.
fn options(bytes: usize, breach: &Rc<RefCell<Option<BudgetBreach>>>) -> Options {
    let limits = Limits::for_bytes(bytes);
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.strict_booleans = true;
    options.no_schema = true;
    options.with_snippet = false;
    options.legacy_octal_numbers = false;
    let mut budget = Budget::default();
    budget.max_depth = limits.depth;
    budget.max_nodes = limits.nodes;
    budget.max_events = limits.events;
    budget.max_aliases = limits.aliases;
    budget.max_anchors = limits.anchors;
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = limits.replayed_events;
    options.alias_limits.max_alias_expansions_per_anchor = limits.uses_per_anchor;
    // The breach, when there is one, is the cause of whatever error comes out: errors raised
    // inside serde's buffering (untagged enums) carry only its Debug text.
    let breach = Rc::clone(breach);
    options.with_budget_report(move |report| {
        if let Some(b) = report.breached {
            breach.borrow_mut().get_or_insert(b);
        }
    })
}

/// Parse one file. `Ok(None)` means the file holds no document (empty, or only comments).
pub fn parse<T: DeserializeOwned>(id: FileId, file: &SourceFile) -> Result<Option<T>, YamlError> {
    parse_text(id, &file.text, file)
}

/// Parse one file past its structure errors: every entry that holds one is left out and
/// its error reported (see [`super::recover`]).
pub fn parse_all<T: DeserializeOwned>(
    id: FileId,
    file: &SourceFile,
) -> super::recover::Recovered<Option<T>> {
    super::recover::parse(
        id,
        file,
        |text| parse_text(id, text, file),
        |text| parse_text::<serde::de::IgnoredAny>(id, text, file).map(|_| ()),
    )
}

/// Parse `text`, which is `file`'s text or a copy of it with entries written over (same
/// length, same lines): errors are placed in `file`.
fn parse_text<T: DeserializeOwned>(
    id: FileId,
    text: &str,
    file: &SourceFile,
) -> Result<Option<T>, YamlError> {
    if let Some(error) = find_tags(id, text) {
        return Err(error);
    }
    CURRENT_FILE.with(|c| c.set(id));
    let breach = Rc::new(RefCell::new(None));
    let result =
        serde_saphyr::from_str_with_options::<Option<T>>(text, options(text.len(), &breach));
    match result {
        Ok(value) => Ok(value),
        Err(error) => {
            let breach = breach.borrow_mut().take();
            Err(convert_error(id, file, &error, breach.as_ref()))
        }
    }
}

/// Whether `text` may hold a YAML tag: a `!` where a token can start (at the start, after
/// white space, or after a flow indicator or `:`). A `!` inside a word (`urgent!`) cannot
/// start a tag, so most files skip the scan below.
fn may_have_tags(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| {
        b == b'!'
            && (i == 0
                || matches!(
                    bytes[i - 1],
                    b' ' | b'\t' | b'\r' | b'\n' | b'[' | b'{' | b',' | b':' | 0xBF
                ))
    })
}

/// The YAML tags the file writes, found by the YAML scanner (so a `!` in a quoted string,
/// a block scalar or a comment is not one). `None` when there is none, or when the file is
/// not valid YAML: the deserialiser reports that, with its place.
fn find_tags(id: FileId, text: &str) -> Option<YamlError> {
    if !may_have_tags(text) {
        return None;
    }
    let mut spans = Vec::new();
    for token in Scanner::new(StrInput::new(text)) {
        let token = token.ok()?;
        if let TokenType::Tag(..) = token.token_type() {
            let span = token.span();
            let start = span.start.byte_offset()?;
            let end = span.end.byte_offset().unwrap_or(start);
            spans.push(Span::new(id, start, end));
        }
    }
    let (first, others) = spans.split_first()?;
    let written = text
        .get(first.start as usize..first.end as usize)
        .unwrap_or("!");
    Some(YamlError {
        kind: YamlErrorKind::Tag {
            others: others.to_vec(),
        },
        message: format!("pimplan does not interpret YAML tags, such as `{written}` here"),
        span: *first,
    })
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

fn convert_error(
    id: FileId,
    file: &SourceFile,
    error: &serde_saphyr::Error,
    breach: Option<&BudgetBreach>,
) -> YamlError {
    use serde_saphyr::Error as E;
    let mut error = error.without_snippet();
    let mut span = error
        .location()
        .map_or(Span::new(id, 0, 0), |l| location_span(id, &l, Some(file)));
    let raw = error.to_string();
    // An error met while replaying an alias is wrapped; what went wrong is inside.
    while let E::AliasError { error: inner, .. } = error {
        error = inner.without_snippet();
    }
    let tab = raw.contains("tab");
    if tab {
        span = point_at_tab(file, span);
    }
    // The crate appends " at line L, column C"; we print locations ourselves.
    let message = raw
        .find(" at line ")
        .map_or(raw.as_str(), |i| &raw[..i])
        .to_owned();
    let limits = Limits::for_bytes(file.text.len());
    if let Some(breach) = breach {
        let kind = if matches!(breach, BudgetBreach::Documents { .. }) {
            YamlErrorKind::Syntax {
                cause: SyntaxCause::SecondDocument,
            }
        } else {
            YamlErrorKind::Limit
        };
        return YamlError {
            kind,
            message: breach_message(breach, &limits),
            span,
        };
    }
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
            YamlErrorKind::Syntax {
                cause: SyntaxCause::Utf8,
            },
            "the file is not valid UTF-8".to_owned(),
        ),
        E::Budget { breach, .. } => (YamlErrorKind::Limit, breach_message(breach, &limits)),
        E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::RecursiveReferencesRequireWeakTypes { .. } => {
            (YamlErrorKind::Limit, limit_message(&message, &limits))
        }
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
        _ if is_limit(&message) => (YamlErrorKind::Limit, limit_message(&message, &limits)),
        // The crate's wording names its own API; say what it means for a workspace file.
        _ if message.contains("multiple YAML documents") => (
            YamlErrorKind::Syntax {
                cause: SyntaxCause::SecondDocument,
            },
            "a second YAML document (`---`): a workspace file holds one document; split it into two files".to_owned(),
        ),
        _ if tab => (
            YamlErrorKind::Syntax {
                cause: SyntaxCause::Tab,
            },
            message,
        ),
        _ => {
            let (cause, message, at) = syntax_cause(file, span, message);
            span = at;
            (YamlErrorKind::Syntax { cause }, message)
        }
    };
    if let YamlErrorKind::UnknownField { field, .. } = &kind
        && let Some(value) = comma_cut(&file.text, span)
    {
        return YamlError {
            message: format!("unknown key `{field}`: inside `{{ }}`, a `,` ends a value"),
            kind: YamlErrorKind::CommaInFlowValue {
                field: field.clone(),
                value,
            },
            span,
        };
    }
    if kind == YamlErrorKind::Shape
        && message == TEXT_EXPECTED
        && let Some(value) = pair_as_written(&file.text, span.start as usize)
    {
        return YamlError {
            message: format!(
                "expected text, found `{value}`: inside `{{ }}` or `[ ]`, a `: ` makes a `key: value` pair"
            ),
            kind: YamlErrorKind::ColonInFlowValue { value },
            span,
        };
    }
    YamlError {
        kind,
        message,
        span,
    }
}

/// The whole value, when the key at `span` has no value of its own and follows a `,` that
/// ends a value inside `{ }` on the same line (`{justification: ticket 42, see wiki}`): then
/// the comma most likely belongs to the value before it.
fn comma_cut(text: &str, span: Span) -> Option<String> {
    let (start, end) = (span.start as usize, span.end as usize);
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let before = text.get(line_start..start)?.trim_end().strip_suffix(',')?;
    let rest = text.get(end..)?;
    let line_end = end + rest.find('\n').unwrap_or(rest.len());
    let after = text.get(end..line_end)?.trim_start();
    if !(after.starts_with([',', '}']) || after.is_empty()) {
        return None;
    }
    // The value before the comma: after the last `: ` and after any earlier `,` or `{`.
    let after_key = before.rfind(": ")? + 2;
    if before[after_key..].contains([',', '{', '[', '}', ']', '"', '\'']) {
        return None;
    }
    let cut = text.get(line_start + after_key..end)?;
    Some(cut.trim().to_owned())
}

/// The value written at byte `at`, when it holds a `: ` that made it a mapping: a whole
/// `{ }` or `[ ]` on one line with a colon in it, or an unquoted `key: value` item of one.
fn pair_as_written(text: &str, at: usize) -> Option<String> {
    let rest = text.get(at..)?;
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let value = match line.chars().next()? {
        open @ ('{' | '[') => {
            let mut depth = 0usize;
            let end = line.char_indices().find_map(|(i, c)| {
                if c == open {
                    depth += 1;
                } else if c == closer(open) {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                None
            })?;
            line[..end].to_owned()
        }
        // An item of a `[ ]` or `{ }` only: in a block list (`- key: value`), the colon is
        // not inside any bracket.
        _ if text
            .get(..at)?
            .trim_end_matches([' ', '\t', '\r', '\n'])
            .ends_with([',', '[', '{']) =>
        {
            value_at(text, at, true)
        }
        _ => return None,
    };
    (value.contains(": ") || value.ends_with(':')).then_some(value)
}

/// What a syntax error at `span` (the parser's `message`) comes from: an unclosed bracket
/// before it, a colon inside an unquoted value, or something else. Returns the cause, the
/// message to print and the place to point at (the bracket, for an unclosed one).
fn syntax_cause(file: &SourceFile, span: Span, message: String) -> (SyntaxCause, String, Span) {
    let text = file.text.as_str();
    let at = (span.start as usize).min(text.len());
    if !text.is_char_boundary(at) {
        return (SyntaxCause::Other, message, span);
    }
    // The crate finds an unclosed bracket at the end of the file itself, and points at it.
    if message.starts_with("unclosed bracket") {
        let bracket = text[at..].chars().next().unwrap_or('[');
        return (
            SyntaxCause::UnclosedBracket {
                bracket,
                stopped: end_of(span.file, text),
                at_end: true,
            },
            unclosed_message(bracket),
            Span::new(span.file, at, at + bracket.len_utf8()),
        );
    }
    if let Some(rest) = message.strip_prefix("mismatched bracket '") {
        let mut chars = rest.chars();
        let bracket = chars.next().unwrap_or('{');
        let found = chars.find(|c| matches!(c, '}' | ']')).unwrap_or(']');
        return (
            SyntaxCause::MismatchedBracket { bracket, found },
            format!("this `{bracket}` is closed by `{found}`"),
            span,
        );
    }
    let scan = scan_to(text, at);
    if let Some(open) = scan.open.last().copied()
        && resumes_block(text, open, at)
    {
        let bracket = text[open..].chars().next().unwrap_or('[');
        let at_end = only_comments(&text[at..]);
        // The line where the file goes on as if the bracket had been closed, from its
        // first character (the parser stops later on it, at a `:` or a `-`).
        let stopped = if at_end {
            end_of(span.file, text)
        } else {
            let line = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let first = line + (text[line..at].len() - text[line..at].trim_start().len());
            Span::new(span.file, first, first)
        };
        return (
            SyntaxCause::UnclosedBracket {
                bracket,
                stopped,
                at_end,
            },
            unclosed_message(bracket),
            Span::new(span.file, open, open + 1),
        );
    }
    let colon = text[at..].starts_with(':')
        && (message.contains("did not find expected ','")
            || message.contains("mapping values are not allowed"));
    if colon {
        let value = value_at(text, value_start(text, at), !scan.open.is_empty());
        if !value.is_empty() {
            return (
                SyntaxCause::ColonInValue { value },
                "a `: ` inside an unquoted value: YAML reads it as the start of another key"
                    .to_owned(),
                Span::new(span.file, at, at + 1),
            );
        }
    }
    (SyntaxCause::Other, message, span)
}

/// Whether `rest` holds nothing but blank lines and comments.
fn only_comments(rest: &str) -> bool {
    rest.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#'))
}

/// The end of the file: its last character, so that it can be marked (the file's very end
/// is past every line).
fn end_of(file: FileId, text: &str) -> Span {
    let trimmed = text.trim_end();
    match trimmed.char_indices().last() {
        Some((i, c)) => Span::new(file, i, i + c.len_utf8()),
        None => Span::new(file, 0, 0),
    }
}

fn unclosed_message(bracket: char) -> String {
    let what = if bracket == '{' { "mapping" } else { "list" };
    format!(
        "this `{bracket}` is never closed: the {what} it opens has no `{}`",
        closer(bracket)
    )
}

/// The bracket that closes `bracket`.
pub fn closer(bracket: char) -> char {
    if bracket == '{' { '}' } else { ']' }
}

/// What the scanner saw before byte `end`: the flow brackets still open (their byte
/// offsets, outermost first).
struct Scan {
    open: Vec<usize>,
}

///
/// Only the text before `end` is scanned: the scanner looks ahead (to tell keys from
/// values), so on the whole file it can fail at `end` before it hands out the tokens
/// before it.
fn scan_to(text: &str, end: usize) -> Scan {
    let mut scan = Scan { open: Vec::new() };
    let text = text.get(..end).unwrap_or(text);
    for token in Scanner::new(StrInput::new(text)) {
        let token = match token {
            Ok(token) => token,
            // At the end of the text, a bracket still open: the scanner names it, also
            // when its lookahead kept back the tokens before.
            Err(e) => {
                if let ErrorKind::UnclosedFlowCollection { .. } = e.kind()
                    && let Some(at) = e.marker().byte_offset()
                {
                    scan.open = vec![at];
                }
                break;
            }
        };
        let Some(start) = token.span().start.byte_offset() else {
            continue;
        };
        // An implicit mapping (`[a: b]`) has a start and an end of no width: no bracket.
        let written = text[start..].chars().next();
        match token.token_type() {
            TokenType::FlowSequenceStart | TokenType::FlowMappingStart
                if matches!(written, Some('[' | '{')) =>
            {
                scan.open.push(start);
            }
            TokenType::FlowSequenceEnd | TokenType::FlowMappingEnd
                if matches!(written, Some(']' | '}')) =>
            {
                scan.open.pop();
            }
            _ => {}
        }
    }
    scan
}

/// Whether the error at byte `at`, met inside the flow collection opened at byte `open`,
/// is where the block structure goes on: the end of the file, or a later line indented no
/// deeper than the line of the bracket (a flow collection's lines are indented deeper).
/// Then the bracket was never closed.
fn resumes_block(text: &str, open: usize, at: usize) -> bool {
    if only_comments(&text[at..]) {
        return true;
    }
    let line_start = |i: usize| text[..i].rfind('\n').map_or(0, |n| n + 1);
    let (open_line, at_line) = (line_start(open), line_start(at));
    at_line > open_line && indent(&text[at_line..]) <= indent(&text[open_line..])
}

/// The indentation of a line, counting block list dashes (`- `) as indentation.
fn indent(line: &str) -> usize {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' => i += 1,
            b'-' if matches!(bytes.get(i + 1), Some(b' ')) => i += 2,
            _ => break,
        }
    }
    i
}

/// Where the value holding the colon at byte `colon` starts: after the `: ` (or `,`, `{`,
/// `[`) before it on its line.
fn value_start(text: &str, colon: usize) -> usize {
    let line_start = text[..colon].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..colon];
    let after_key = before.rfind(": ").map(|i| i + 2);
    let after_flow = before.rfind([',', '{', '[']).map(|i| i + 1);
    line_start + after_key.max(after_flow).unwrap_or(0)
}

/// The unquoted value that starts at byte `start`, up to the end of the line (a comment
/// aside) or, inside `{ }` or `[ ]`, up to the next `,`, `}` or `]`.
fn value_at(text: &str, start: usize, flow: bool) -> String {
    let rest = &text[start..];
    let mut end = rest.find('\n').unwrap_or(rest.len());
    if let Some(i) = rest[..end].find(" #") {
        end = i;
    }
    if flow && let Some(i) = rest[..end].find([',', '}', ']']) {
        end = i;
    }
    rest[..end].trim().to_owned()
}

/// `value` quoted so YAML reads it as text: in double quotes, or in single quotes when it
/// holds a `"` or a `\\`.
pub fn quoted(value: &str) -> String {
    if value.contains(['"', '\\']) {
        format!("'{}'", value.replace('\'', "''"))
    } else {
        format!("\"{value}\"")
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

/// `n` with a comma every three digits, as the README writes numbers.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const SPLIT: &str = "split it into several files listed under `include:`";
const WRITE_OUT: &str = "write the repeated values out instead of using anchors and aliases (`&name`, `*name`), or split the file into several files listed under `include:`";

/// A breached budget as a sentence: which limit, and what to do.
fn breach_message(breach: &BudgetBreach, limits: &Limits) -> String {
    match breach {
        BudgetBreach::Nodes { .. } => format!(
            "this file has more than {} YAML nodes, counting those its aliases (`*name`) repeat (pimplan's limit for a file of this size); {WRITE_OUT}",
            thousands(limits.nodes)
        ),
        BudgetBreach::Events { .. } => format!(
            "this file has more than {} YAML events (values, and starts and ends of lists and mappings), counting those its aliases (`*name`) repeat (pimplan's limit for a file of this size); {WRITE_OUT}",
            thousands(limits.events)
        ),
        BudgetBreach::Depth { .. } => format!(
            "this file nests lists and mappings more than {} levels deep (pimplan's limit); a workspace file needs fewer than 10: remove the extra nesting",
            limits.depth
        ),
        BudgetBreach::Aliases { .. } => format!(
            "this file uses more than {} aliases (`*name`; pimplan's limit for one file); {WRITE_OUT}",
            thousands(limits.aliases)
        ),
        BudgetBreach::Anchors { .. } => format!(
            "this file defines more than {} anchors (`&name`; pimplan's limit for one file); {WRITE_OUT}",
            thousands(limits.anchors)
        ),
        BudgetBreach::AliasAnchorRatio { aliases, anchors } => format!(
            "this file uses {} aliases for {} anchors, more than 10 uses of each anchor once a file has 100 aliases (pimplan's limit against alias bombs); {WRITE_OUT}",
            thousands(*aliases),
            thousands(*anchors)
        ),
        BudgetBreach::Documents { .. } => "a second YAML document (`---`): a workspace file holds one document; split it into two files".to_owned(),
        BudgetBreach::ScalarBytes { .. } => format!(
            "the text values of this file add up to more than pimplan's limit for one file; {SPLIT}"
        ),
        BudgetBreach::RecordedAnchorEvents { .. } | BudgetBreach::RecordedAnchorBytes { .. } => {
            format!("the anchors (`&name`) of this file hold more than pimplan's limit for one file; {WRITE_OUT}")
        }
        BudgetBreach::SequenceUnbalanced => "a list or mapping ends that never started".to_owned(),
        _ => format!("this file exceeds one of pimplan's limits on YAML for one file; {SPLIT}"),
    }
}

/// An alias limit (its wording from the YAML crate, perhaps through serde's buffering) as a
/// sentence: which limit, and what to do.
fn limit_message(message: &str, limits: &Limits) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("expansion limit") {
        format!(
            "an anchor (`&name`) of this file is used more than {} times (pimplan's limit against alias bombs); {WRITE_OUT}",
            limits.uses_per_anchor
        )
    } else if m.contains("replay limit") || m.contains("counter overflow") {
        format!(
            "the aliases (`*name`) of this file expand to more than {} YAML events (pimplan's limit against alias bombs); {WRITE_OUT}",
            thousands(limits.replayed_events)
        )
    } else if m.contains("stack depth") {
        format!(
            "aliases (`*name`) of this file refer to anchors that hold aliases, nested too deep (pimplan's limit against alias bombs); {WRITE_OUT}"
        )
    } else if m.contains("recursion limit") {
        // The scanner's own nesting limit, met before the depth budget in flow collections.
        format!(
            "this file nests lists and mappings more than {} levels deep (pimplan's limit); a workspace file needs fewer than 10: remove the extra nesting",
            limits.depth
        )
    } else if m.contains("recursive") {
        "an alias (`*name`) refers to the list or mapping it is written in: pimplan cannot read a value that contains itself; write the value out".to_owned()
    } else {
        format!("this file exceeds one of pimplan's limits on YAML for one file; {SPLIT}")
    }
}

/// Budget errors can come wrapped (an alias replay inside another error), so look at the words.
fn is_limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("limit exceeded") || m.contains("budget")
}

/// The shape error of a list or mapping where text belongs; [`convert_error`] looks for it
/// to tell a `key: value` pair inside brackets apart.
const TEXT_EXPECTED: &str = "expected a single name or text here, not a list or mapping";

/// serde's wording ("invalid type: sequence, expected a string") made a little plainer.
fn shape_message(message: &str) -> String {
    let m = message.trim_start_matches("invalid type: ");
    if m.starts_with("expected mapping start") {
        return "expected a mapping (`key: value` lines) here".to_owned();
    }
    if m.starts_with("expected sequence start") {
        return "expected a list (`[a, b]`, or `- a` lines) here".to_owned();
    }
    if m.starts_with("expected string scalar") {
        return TEXT_EXPECTED.to_owned();
    }
    // The crate's wording names its own API (`use Option<String>`).
    if m.starts_with("cannot deserialize null into string") {
        return "expected a name or text here, found no value (`~`, `null` or nothing)".to_owned();
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
        assert!(
            err.message.contains("aliases (`*name`)") && !err.message.contains('{'),
            "{}",
            err.message
        );
    }

    #[test]
    fn budgets_are_sized_from_the_file() {
        // A 100,000-principal export is 7.6 MB: about 1.1 million nodes, 1.4 million events.
        let limits = Limits::for_bytes(7_600_000);
        assert_eq!(limits.nodes, 7_601_024);
        assert_eq!(limits.events, 15_201_024);
        assert_eq!(limits.depth, 64);
        assert_eq!(limits.replayed_events, 100_000);
        // An empty file still has room for its stream and document events.
        assert_eq!(Limits::for_bytes(0).events, 1_024);
        assert_eq!(Limits::for_bytes(usize::MAX).events, usize::MAX);
    }

    /// The densest YAML there is, well past the slack: no file is refused for its size.
    #[test]
    fn the_densest_yaml_stays_within_its_budget() {
        let n = 20_000;
        let keys: Vec<String> = (0..n).map(|i| format!("{i:x}")).collect();
        let flow_map = format!("{{{}}}", keys.join(","));
        let maps = format!("[{}]", vec!["{a}"; n].join(","));
        let empties = format!("[{}]", vec!["[]"; n].join(","));
        let nulls = "-\n".repeat(n);
        let aliases = format!("- &a x\n{}", "- *a\n".repeat(90));
        for text in [flow_map, maps, empties, nulls, aliases] {
            let file = SourceFile::new(PathBuf::from("t.yaml"), text.clone());
            let parsed = parse::<serde::de::IgnoredAny>(FileId(0), &file);
            assert!(
                parsed.is_ok(),
                "{:?}: {}",
                parsed.err(),
                &text[..40.min(text.len())]
            );
        }
    }

    #[test]
    fn a_breached_node_budget_is_a_sentence() {
        let limits = Limits::for_bytes(7_600_000);
        let message = breach_message(&BudgetBreach::Nodes { nodes: 7_601_025 }, &limits);
        assert_eq!(
            message,
            "this file has more than 7,601,024 YAML nodes, counting those its aliases (`*name`) repeat (pimplan's limit for a file of this size); write the repeated values out instead of using anchors and aliases (`&name`, `*name`), or split the file into several files listed under `include:`"
        );
        let message = breach_message(&BudgetBreach::Events { events: 1 }, &limits);
        assert!(
            message.contains("more than 15,201,024 YAML events"),
            "{message}"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
    }

    #[test]
    fn tags_are_found_by_the_scanner_only() {
        let tagged = "a: \"!x\" # !y\nb: |\n  !z\nc: !t v\n";
        let err = run_any(tagged).err().unwrap_or_else(|| unreachable!());
        assert_eq!(err.kind, YamlErrorKind::Tag { others: vec![] });
        assert_eq!((err.span.start, err.span.end), (26, 28));
        assert!(run_any("a: \"!x\" # !y\nb: |\n  !z\nc: v!\n").is_ok());
        assert!(!may_have_tags("a: wow!\nb: x!y\n"));
        assert!(may_have_tags("!t a") && may_have_tags("[!t a]") && may_have_tags("{\"a\":!t b}"));
    }

    fn run_any(text: &str) -> Result<Option<serde::de::IgnoredAny>, YamlError> {
        let file = SourceFile::new(PathBuf::from("t.yaml"), text.to_owned());
        parse::<serde::de::IgnoredAny>(FileId(0), &file)
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("tree: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        let err = run(&text).err().unwrap_or_else(|| unreachable!());
        assert_eq!(err.kind, YamlErrorKind::Limit, "{err:?}");
        assert_eq!(
            err.message,
            "this file nests lists and mappings more than 64 levels deep (pimplan's limit); a workspace file needs fewer than 10: remove the extra nesting"
        );
        assert!(err.span.start >= 6, "{err:?}");
        // Block nesting meets the depth budget itself: the same sentence.
        let text = format!("tree:\n  {}x\n", "- ".repeat(70));
        let block = run(&text).err().unwrap_or_else(|| unreachable!());
        assert_eq!(block.kind, YamlErrorKind::Limit, "{block:?}");
        assert_eq!(block.message, err.message);
    }

    #[test]
    fn a_value_is_quoted_so_that_yaml_reads_it_as_written() {
        assert_eq!(quoted("b: c"), "\"b: c\"");
        assert_eq!(quoted("say \"hi\": it's"), "'say \"hi\": it''s'");
        assert_eq!(quoted("a\\b: c"), "'a\\b: c'");
    }

    #[test]
    fn a_bracket_left_open_is_found_behind_the_scanners_lookahead() {
        // The scanner fails at the `-` of line 3 before it hands out line 2's tokens.
        let text = "principals:\n  - { name: carol, licenses: [p2]\n  - { name: dave }\n";
        let at = text.rfind("- {").unwrap_or(0);
        assert_eq!(scan_to(text, at).open, vec![16]);
        assert!(resumes_block(text, 16, at));
        // A later line indented deeper goes on inside the bracket.
        let deeper = "a:\n  b: [x,\n      y: z\n";
        let at = deeper.find("y:").unwrap_or(0);
        assert!(!resumes_block(deeper, deeper.find('[').unwrap_or(0), at));
    }
}
