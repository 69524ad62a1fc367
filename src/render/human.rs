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
    source: Option<NamedSource<Arc<Indexed>>>,
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
    fn named(&mut self, id: FileId) -> Option<NamedSource<Arc<Indexed>>> {
        let file = self.sources.get(id)?;
        let text = self
            .texts
            .entry(id)
            .or_insert_with(|| Arc::new(Indexed::new(file.text.clone())))
            .clone();
        Some(NamedSource::new(file.display_path(), text).with_language("yaml"))
    }
}

fn severity(s: Severity) -> miette::Severity {
    match s {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Info => miette::Severity::Advice,
    }
}

fn label(span: crate::source::Span, message: &str, primary: bool) -> LabeledSpan {
    let text = (!message.is_empty()).then(|| message.to_owned());
    let range = span.start as usize..span.end as usize;
    if primary {
        LabeledSpan::new_primary_with_span(text, range)
    } else {
        LabeledSpan::new_with_span(text, range)
    }
}

fn report(finding: &Finding, cache: &mut SourceCache<'_>) -> Report {
    let file = finding.primary.span.file;
    let mut labels = vec![label(finding.primary.span, &finding.primary.message, true)];
    let mut related = Vec::new();
    for second in &finding.secondary {
        if second.span.file == file {
            labels.push(label(second.span, &second.message, false));
        } else {
            // A second place in another file gets a report of its own, with that file.
            related.push(Report {
                message: second.message.clone(),
                code: "see also".to_owned(),
                url: String::new(),
                severity: miette::Severity::Advice,
                help: None,
                source: cache.named(second.span.file),
                labels: vec![label(second.span, "", true)],
                related: Vec::new(),
            });
        }
    }
    Report {
        message: finding.message.clone(),
        code: format!("{}({})", finding.rule.code, finding.rule.name),
        url: docs_pointer(finding.rule.code),
        severity: severity(finding.severity),
        help: Some(finding.help_text().to_owned()),
        source: cache.named(file),
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
                plural(sources.len(), "file")
            ));
        } else {
            out.push_str(&format!(
                "pimplan: {}, {}, {} in {}\n",
                plural(errors, "error"),
                plural(warnings, "warning"),
                plural(infos, "info"),
                plural(sources.len(), "file")
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
}
