//! The lint run: load, check every rule, apply severities and suppressions, sort. What the
//! state records (for the rules that ask) comes from the caller.

use std::collections::HashSet;
use std::path::Path;

use crate::clock::Clock;
use crate::config::model::StateLocation;
use crate::finding::{Finding, Severity};
use crate::load::{LoadError, Loaded, load};
use crate::rules::selection::Selection;
use crate::rules::{self, Check, Context, Index, Rule};
use crate::source::Sources;
use crate::suppress;

/// The result of linting one workspace.
pub struct LintRun {
    pub loaded: Loaded,
    /// Sorted by file, line, column, code.
    pub findings: Vec<Finding>,
    /// String values that run over several lines (see [`multi_line_text`]), kept for the
    /// plan's own pass over ignore comments.
    pub text: Vec<crate::source::Span>,
    /// The root file's `rules:`, resolved: which rules run, at what severity.
    pub selection: Selection,
    /// The privilege graph of the files at the run's clock, when a PIM8xx rule built it:
    /// `plan` takes it as the delta's "after" side and `paths` as its graph, so that a run
    /// builds it once (privilege-paths §A.8).
    pub graph: Option<crate::paths::PrivilegeGraph>,
}

impl LintRun {
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Sort findings by file, line, column and code, and drop exact repeats (a template's value
/// reported for every group that uses it).
pub fn sort(sources: &Sources, findings: &mut Vec<Finding>) {
    findings.sort_by_cached_key(|f| {
        let at = sources.line_col(f.primary.span);
        (
            sources.path(f.primary.span.file),
            at.line,
            at.column,
            f.rule.code,
            f.message.clone(),
        )
    });
    findings.dedup_by(|a, b| {
        a.rule.code == b.rule.code && a.primary.span == b.primary.span && a.message == b.message
    });
}

/// The string values of the workspace that run over several lines (a quoted or block
/// scalar): a line inside them that looks like an ignore comment is text.
fn multi_line_text(loaded: &Loaded) -> Vec<crate::source::Span> {
    let Some(ws) = &loaded.workspace else {
        return Vec::new();
    };
    let sources = &loaded.sources;
    let spans = ws
        .assignments
        .iter()
        .flat_map(|a| {
            [
                Some(&a.group),
                Some(&a.principal),
                a.justification.as_ref(),
                a.ticket.as_ref().and_then(|t| t.system.as_ref()),
                a.ticket.as_ref().map(|t| &t.number),
            ]
        })
        .chain(
            ws.principals
                .iter()
                .flat_map(|p| [Some(&p.name), p.upn.as_ref(), p.id.as_ref()]),
        )
        .chain(
            ws.groups
                .iter()
                .flat_map(|g| [Some(&g.name), g.id.as_ref()]),
        )
        .flatten()
        .map(|s| s.span);
    spans
        .filter(|span| {
            sources
                .get(span.file)
                .and_then(|f| f.text.get(span.start as usize..span.end as usize))
                .is_some_and(|t| t.contains('\n'))
        })
        .collect()
}

/// The state's applied assignment keys, given where the state is (for PIM208 and PIM204);
/// [`crate::state::applied_keys`] reads them from its backend.
pub type Applied<'a> = &'a dyn Fn(&StateLocation) -> HashSet<String>;

/// Lint the workspace of `root`, the applied assignments read from the state file.
pub fn lint(root: &Path, clock: &Clock) -> Result<LintRun, LoadError> {
    lint_with(root, clock, &crate::state::applied_keys)
}

/// Lint the workspace of `root`. `applied` answers which assignments the state records as
/// applied; it is asked only when a rule needs it (a caller that reads the state anyway
/// answers from its read).
pub fn lint_with(root: &Path, clock: &Clock, applied: Applied<'_>) -> Result<LintRun, LoadError> {
    let mut loaded = load(root)?;
    let now = clock.now();
    let mut findings = std::mem::take(&mut loaded.findings);
    let selection = Selection::resolve(loaded.workspace.as_ref(), &mut findings);
    // The rules run on everything that could be read. What could not (an entry left out
    // after a structure error, a file with a syntax error) is in the workspace's
    // `left_out`: the rules do not report what depends on it as missing, and their ignore
    // comments are not judged (below), since a rule may not have seen what they silence.
    let mut graph = None;
    let complete = loaded
        .workspace
        .as_ref()
        .is_some_and(|ws| ws.left_out.is_empty() && loaded.unread.is_empty());
    if let Some(ws) = loaded.workspace.as_ref() {
        // Which assignments are applied, for PIM208 and PIM204, asked of the caller only
        // when an assignment starts in the past or ends within five minutes: the state of a
        // large tenant is large, and nothing else in lint needs it.
        let location = ws.settings.state_location(&loaded.root_dir);
        let needed = ws.assignments.iter().any(|a| {
            a.start.as_ref().is_some_and(|s| s.value < now)
                || a.effective_end(now)
                    .is_some_and(|end| end > now && end < now + rules::FIVE_MINUTES)
        });
        let applied = if needed && let Ok(location) = location {
            applied(&location)
        } else {
            Default::default()
        };
        let cx = Context {
            workspace: ws,
            index: Index::new(ws),
            sources: &loaded.sources,
            now,
            applied,
            graph: std::cell::OnceCell::new(),
        };
        findings.extend(rules::check_all(&cx, |rule| selection.enabled(rule)));
        graph = cx.graph.into_inner();
    }
    let ran = |rule: &Rule| {
        selection.enabled(rule)
            && match rule.check {
                Check::Loader => true,
                Check::Workspace(_) | Check::WorkspaceAndPlan(..) => complete,
                Check::Plan(_) => false,
            }
    };
    let text = multi_line_text(&loaded);
    // An ignore in a file that is not read (PIM008's) silences only PIM008: the rest of
    // the file is not checked, so an ignore there is not judged.
    let quiet: Vec<_> = loaded
        .unread
        .iter()
        .chain(&loaded.not_included)
        .copied()
        .collect();
    let findings = suppress::apply(
        &loaded.sources,
        now.date_naive(),
        findings,
        &suppress::Pass {
            ran: &ran,
            unread: &quiet,
            report_malformed: true,
            text: &text,
        },
    );
    let mut findings = selection.apply(findings);
    sort(&loaded.sources, &mut findings);
    Ok(LintRun {
        loaded,
        findings,
        text,
        selection,
        graph,
    })
}
