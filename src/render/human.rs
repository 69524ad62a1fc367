//! Human output: miette graphical reports, the value underlined in its file.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
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
    source: Option<NamedSource<Arc<String>>>,
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

/// File texts shared by every report that shows them.
struct SourceCache<'s> {
    sources: &'s Sources,
    texts: HashMap<FileId, Arc<String>>,
}

impl SourceCache<'_> {
    fn named(&mut self, id: FileId) -> Option<NamedSource<Arc<String>>> {
        let file = self.sources.get(id)?;
        let text = self
            .texts
            .entry(id)
            .or_insert_with(|| Arc::new(file.text.clone()))
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
