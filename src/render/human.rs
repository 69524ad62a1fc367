//! Human output: miette graphical reports, the value underlined in its file.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents,
};

use super::{docs_pointer, plural, totals};
use crate::finding::{Finding, Severity};
use crate::source::{FileId, Sources};

/// Options of the graphical renderer.
#[derive(Clone, Copy, Debug)]
pub struct HumanOptions {
    pub color: bool,
    pub width: usize,
}

struct Report {
    message: String,
    code: String,
    url: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<Shown>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.code.is_empty()).then(|| Box::new(&self.code) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        (!self.url.is_empty()).then(|| Box::new(&self.url) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)))
        }
    }
}

/// A file's text and where each of its lines starts, counted as miette counts them (after
/// `\n`, `\r\n` or a lone `\r`). miette finds a snippet by scanning the text from its first
/// byte, once per label and report: with one finding per line that is quadratic (10,000
/// findings took 40 s). Here a snippet is read from the line its context starts at, found in
/// the index, so each costs only its own lines and the output stays byte for byte the same.
struct Indexed {
    text: String,
    starts: Vec<usize>,
}

impl Indexed {
    fn new(text: String) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    i += 1;
                    starts.push(i + 1);
                }
                b'\r' | b'\n' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        Indexed { text, starts }
    }
}

impl SourceCode for Indexed {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        // The span's line, its context lines before it, and one more (an empty span at a
        // line's start ends, for miette, on the line break before it): miette's own reading
        // of the text from that line's start sees what it would have seen from the file's
        // start, less the lines before, which are added back to the line numbers.
        let line = self
            .starts
            .partition_point(|&s| s <= span.offset())
            .saturating_sub(1);
        let first = line.saturating_sub(context_lines_before + 1);
        let base = self.starts.get(first).copied().unwrap_or(0);
        let rest = self.text.as_bytes().get(base..).unwrap_or_default();
        let local = SourceSpan::new((span.offset() - base).into(), span.len());
        let inner = rest.read_span(&local, context_lines_before, context_lines_after)?;
        let at = *inner.span();
        // miette counts the column (read with no context: the `file:line:column` header) in
        // bytes; it is given here in characters, as the JSON, SARIF and GitHub outputs and
        // editors count it, so `é` before the value is one column.
        let column = if context_lines_before == 0 {
            let from = span.offset().saturating_sub(inner.column());
            char_count(
                self.text
                    .as_bytes()
                    .get(from..span.offset())
                    .unwrap_or_default(),
            )
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new(
            inner.data(),
            SourceSpan::new((at.offset() + base).into(), at.len()),
            inner.line() + first,
            column,
            inner.line_count() + first,
        )))
    }
}

/// Characters in UTF-8 bytes: every byte that does not continue a character.
fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// File texts, with their line index, shared by every report that shows them.
struct SourceCache<'s> {
    sources: &'s Sources,
    texts: HashMap<FileId, Arc<Indexed>>,
}

impl SourceCache<'_> {
    /// The file as one report shows it: whole, or, when a line near its labels is very long,
    /// those lines cut around the labels (see [`Cut`]).
    fn shown(&mut self, id: FileId, spans: &[crate::source::Span]) -> Option<(String, Shown)> {
        let file = self.sources.get(id)?;
        let text = self
            .texts
            .entry(id)
            .or_insert_with(|| Arc::new(Indexed::new(file.text.clone())))
            .clone();
        let shown = match Cut::new(&text, spans) {
            Some(cut) => Shown::Cut(cut),
            None => Shown::Whole(text),
        };
        Some((file.display_path(), shown))
    }
}

/// A line longer than this many characters is shown cut around its labels.
const LONG_LINE: usize = 400;
/// Characters kept on each side of the labels of a cut line.
const AROUND: usize = 60;
/// Characters of a label kept on a cut line, from its start.
const LABEL_SHOWN: usize = 120;
/// What stands for the cut part of a line.
const MARK: &str = "…";

/// What one report shows of a file.
enum Shown {
    Whole(Arc<Indexed>),
    Cut(Cut),
}

impl Shown {
    /// Where an offset of the file is in the shown text.
    fn map(&self, offset: usize) -> usize {
        match self {
            Shown::Whole(_) => offset,
            Shown::Cut(cut) => cut.map(offset),
        }
    }
}

impl SourceCode for Shown {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        match self {
            Shown::Whole(text) => text.read_span(span, context_lines_before, context_lines_after),
            Shown::Cut(cut) => cut.read_span(span, context_lines_before, context_lines_after),
        }
    }
}

/// One line of a [`Cut`]: where it starts in the file and in the cut text and, if it is cut,
/// which part of it is shown.
struct CutLine {
    file_start: usize,
    file_end: usize,
    text_start: usize,
    window: Option<Window>,
}

/// The shown part of a cut line: file bytes `from..to`, at `text_at` in the cut text.
struct Window {
    from: usize,
    to: usize,
    text_at: usize,
}

/// The lines around a report's labels, with every line longer than [`LONG_LINE`]
/// characters cut to the part around its labels, `…` for what is left out. miette pads
/// label positions with a formatting width, which panics past 65,535 columns; and a
/// pasted blob is unreadable in full anyway. Line numbers and the `line:column` of the
/// header stay those of the file.
struct Cut {
    full: Arc<Indexed>,
    text: String,
    /// The file's line index of the cut text's first line.
    first: usize,
    lines: Vec<CutLine>,
}

impl Cut {
    /// `None` when no line near the labels is long: the file is shown whole.
    fn new(full: &Arc<Indexed>, spans: &[crate::source::Span]) -> Option<Cut> {
        let text = full.text.as_str();
        let line_of = |o: usize| full.starts.partition_point(|&s| s <= o).saturating_sub(1);
        let points: Vec<usize> = spans
            .iter()
            .flat_map(|s| [s.start as usize, s.end as usize])
            .map(|o| o.min(text.len()))
            .collect();
        let lo = points.iter().map(|&o| line_of(o)).min()?.saturating_sub(2);
        let hi = points.iter().map(|&o| line_of(o)).max()? + 2;
        let hi = hi.min(full.starts.len() - 1);
        let bounds = |line: usize| {
            let start = full.starts[line];
            let next = full.starts.get(line + 1).copied().unwrap_or(text.len());
            let end = start + text[start..next].trim_end_matches(['\r', '\n']).len();
            (start, end, next)
        };
        let long = |line: usize| {
            let (start, end, _) = bounds(line);
            end - start > LONG_LINE && text[start..end].chars().count() > LONG_LINE
        };
        if !(lo..=hi).any(long) {
            return None;
        }
        let mut cut = Cut {
            full: Arc::clone(full),
            text: String::new(),
            first: lo,
            lines: Vec::new(),
        };
        for line in lo..=hi {
            let (start, end, next) = bounds(line);
            let text_start = cut.text.len();
            let window = if long(line) {
                let here: Vec<usize> = points
                    .iter()
                    .copied()
                    .filter(|&o| start <= o && o <= end)
                    .collect();
                let chars: Vec<usize> = text[start..end]
                    .char_indices()
                    .map(|(i, _)| start + i)
                    .chain([end])
                    .collect();
                let col = |o: usize| chars.partition_point(|&c| c < o);
                let (a, b) = match (here.iter().min(), here.iter().max()) {
                    (Some(&a), Some(&b)) => {
                        let a = col(a);
                        (a, col(b).min(a + LABEL_SHOWN))
                    }
                    _ => (0, LABEL_SHOWN),
                };
                let last = chars.len() - 1;
                let from = chars[a.saturating_sub(AROUND)];
                let to = chars[(b + AROUND).min(last)];
                if from > start {
                    cut.text.push_str(MARK);
                }
                let text_at = cut.text.len();
                cut.text.push_str(&text[from..to]);
                if to < end {
                    cut.text.push_str(MARK);
                }
                cut.text.push_str(&text[end..next]);
                Some(Window { from, to, text_at })
            } else {
                cut.text.push_str(&text[start..next]);
                None
            };
            cut.lines.push(CutLine {
                file_start: start,
                file_end: end,
                text_start,
                window,
            });
        }
        Some(cut)
    }

    /// The last line for which `starts_before` holds (lines are in order of both their file
    /// and their cut-text starts), or the first line.
    fn line_where(&self, starts_before: impl Fn(&CutLine) -> bool) -> Option<&CutLine> {
        let i = self.lines.partition_point(starts_before).saturating_sub(1);
        self.lines.get(i)
    }

    /// Where a file offset is in the cut text; an offset in a cut-out part is at the edge
    /// of the shown part.
    fn map(&self, offset: usize) -> usize {
        let Some(line) = self.line_where(|l| l.file_start <= offset) else {
            return 0;
        };
        let offset = offset.max(line.file_start);
        match &line.window {
            None => line.text_start + (offset - line.file_start),
            Some(w) if offset < w.from => w.text_at,
            Some(w) if offset <= w.to => w.text_at + (offset - w.from),
            // Past the shown part: its end, or, if the line is shown to its end, the break.
            Some(w) if w.to < line.file_end || offset <= line.file_end => {
                w.text_at + (w.to - w.from)
            }
            Some(w) => w.text_at + (w.to - w.from) + (offset - line.file_end),
        }
    }

    /// Where an offset of the cut text is in the file.
    fn unmap(&self, at: usize) -> usize {
        let Some(line) = self.line_where(|l| l.text_start <= at) else {
            return 0;
        };
        match &line.window {
            None => line.file_start + (at - line.text_start),
            Some(w) => w.from + at.saturating_sub(w.text_at).min(w.to - w.from),
        }
    }
}

impl SourceCode for Cut {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner =
            self.text
                .as_bytes()
                .read_span(span, context_lines_before, context_lines_after)?;
        // A column other than 0 is the one of the span's own start (miette reads the header's
        // `line:column` so): the file's, read at the same place of the file.
        let column = if inner.column() == 0 {
            0
        } else {
            let at = SourceSpan::new(self.unmap(inner.span().offset()).into(), 0);
            self.full.read_span(&at, 0, 0)?.column()
        };
        Ok(Box::new(MietteSpanContents::new(
            inner.data(),
            *inner.span(),
            inner.line() + self.first,
            column,
            inner.line_count() + self.first,
        )))
    }
}

fn severity(s: Severity) -> miette::Severity {
    match s {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    }
}

fn label(span: crate::source::Span, message: &str, primary: bool, shown: &Shown) -> LabeledSpan {
    let text = (!message.is_empty()).then(|| message.to_owned());
    let start = shown.map(span.start as usize);
    let range = start..shown.map(span.end as usize).max(start);
    if primary {
        LabeledSpan::new_primary_with_span(text, range)
    } else {
        LabeledSpan::new_with_span(text, range)
    }
}

/// A named source and the labels on it, mapped to what is shown.
fn shown_with_labels(
    cache: &mut SourceCache<'_>,
    file: FileId,
    labels: &[(crate::source::Span, &str, bool)],
) -> (Option<NamedSource<Shown>>, Vec<LabeledSpan>) {
    let spans: Vec<_> = labels.iter().map(|l| l.0).collect();
    let (named, shown) = match cache.shown(file, &spans) {
        Some((name, shown)) => (Some(name), shown),
        None => (None, Shown::Whole(Arc::new(Indexed::new(String::new())))),
    };
    let labels = labels
        .iter()
        .map(|&(span, message, primary)| label(span, message, primary, &shown))
        .collect();
    let source = named.map(|name| NamedSource::new(name, shown).with_language("yaml"));
    (source, labels)
}

fn report(finding: &Finding, cache: &mut SourceCache<'_>) -> Report {
    let file = finding.primary.span.file;
    let mut here = vec![(finding.primary.span, finding.primary.message.as_str(), true)];
    let mut related = Vec::new();
    for second in &finding.secondary {
        if second.span.file == file {
            here.push((second.span, second.message.as_str(), false));
        } else {
            // A second place in another file gets a report of its own, with that file.
            let (source, labels) =
                shown_with_labels(cache, second.span.file, &[(second.span, "", true)]);
            related.push(Report {
                message: second.message.clone(),
                code: "see also".to_owned(),
                url: String::new(),
                severity: miette::Severity::Advice,
                help: None,
                source,
                labels,
                related: Vec::new(),
            });
        }
    }
    let (source, labels) = shown_with_labels(cache, file, &here);
    Report {
        message: finding.message.clone(),
        code: format!("{}({})", finding.rule.code, finding.rule.name),
        url: docs_pointer(finding.rule.code),
        severity: severity(finding.severity),
        help: Some(finding.help_text().to_owned()),
        source,
        labels,
        related,
    }
}

/// Render every finding, then a summary line unless `quiet`.
pub fn render(
    findings: &[Finding],
    sources: &Sources,
    options: HumanOptions,
    quiet: bool,
) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
        .with_context_lines(1);
    let mut cache = SourceCache {
        sources,
        texts: HashMap::new(),
    };
    let mut out = String::new();
    for finding in findings {
        let r = report(finding, &mut cache);
        if handler.render_report(&mut out, &r).is_err() {
            out.push_str(&format!("{}: {}\n", finding.rule.code, finding.message));
        }
        out.push('\n');
    }
    if !quiet {
        let (errors, warnings, infos) = totals(findings);
        if findings.is_empty() {
            out.push_str(&format!(
                "pimplan: no findings in {}\n",
                plural(sources.checked(), "file")
            ));
        } else {
            out.push_str(&format!(
                "pimplan: {}, {}, {} in {}\n",
                plural(errors, "error"),
                plural(warnings, "warning"),
                plural(infos, "info"),
                plural(sources.checked(), "file")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The indexed source gives miette exactly what miette reading the whole text gives, for
    /// every span of a text with `\n`, `\r\n`, lone `\r`, empty lines and multi-byte text,
    /// except the header's column (read with no context lines), counted in characters.
    #[test]
    fn the_indexed_source_reads_every_span_as_the_plain_text_does() {
        let text = "a: 1\nbb: 2\r\n\r\nc: é3\rd: 4\n\n  e: [x, y]\nlast";
        let indexed = Indexed::new(text.to_owned());
        for offset in 0..=text.len() {
            for len in 0..=text.len() - offset {
                for before in 0..3 {
                    for after in 0..3 {
                        let span = SourceSpan::new(offset.into(), len);
                        let plain = text.read_span(&span, before, after);
                        let ours = indexed.read_span(&span, before, after);
                        match (plain, ours) {
                            (Ok(p), Ok(o)) => {
                                let what = format!("{offset}+{len} ({before}, {after})");
                                assert_eq!(p.data(), o.data(), "{what}");
                                assert_eq!(p.span(), o.span(), "{what}");
                                assert_eq!(p.line(), o.line(), "{what}");
                                let column = if before == 0 {
                                    char_count(&text.as_bytes()[offset - p.column()..offset])
                                } else {
                                    p.column()
                                };
                                assert_eq!(column, o.column(), "{what}");
                                assert_eq!(p.line_count(), o.line_count(), "{what}");
                            }
                            (Err(_), Err(_)) => {}
                            (p, o) => unreachable!(
                                "{offset}+{len}: {:?} against {:?}",
                                p.is_ok(),
                                o.is_ok()
                            ),
                        }
                    }
                }
            }
        }
    }

    /// A cut line keeps, for every label start on it, the file's line and column (what the
    /// header shows), with multi-byte text before it, and shows only a window around it.
    #[test]
    fn a_cut_line_keeps_the_files_line_and_column() {
        let long = format!("  k: [{}]", "é, x, ".repeat(200));
        let text = format!("a: 1\n{long}\nb: 2\n");
        let full = Arc::new(Indexed::new(text.clone()));
        let start = text.find("k:").unwrap_or(0);
        for offset in (start..start + long.len()).filter(|&o| text.is_char_boundary(o)) {
            let span = crate::source::Span::new(FileId(0), offset, offset + 1);
            let Some(cut) = Cut::new(&full, &[span]) else {
                unreachable!("a line of {} characters is cut", long.chars().count());
            };
            let at = SourceSpan::new(cut.map(offset).into(), 0);
            let whole = full.read_span(&SourceSpan::new(offset.into(), 0), 0, 0);
            let (Ok(ours), Ok(whole)) = (cut.read_span(&at, 0, 0), whole) else {
                unreachable!("{offset} reads");
            };
            assert_eq!(
                (ours.line(), ours.column()),
                (whole.line(), whole.column()),
                "{offset}"
            );
            assert!(
                cut.text.chars().count() < 2 * (AROUND + LABEL_SHOWN) + 20,
                "{offset}"
            );
        }
    }
}
