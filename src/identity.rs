//! What a finding is about, independent of line numbers: the assignment, group, principal
//! or admin entry its value belongs to. Baselines and SARIF fingerprints match findings by
//! this, so moving or reformatting an entry does not make an old finding look new.

use std::collections::HashMap;
use std::path::Path;

use crate::config::model::Workspace;
use crate::finding::Finding;
use crate::source::{FileId, Sources, Span};

/// Byte extents of the entries of each file, sorted by start.
pub struct Identities {
    extents: HashMap<FileId, Vec<(u32, u32, String)>>,
}

fn extent(spans: impl IntoIterator<Item = Span>) -> Option<(FileId, u32, u32)> {
    let mut it = spans.into_iter();
    let first = it.next()?;
    let (mut start, mut end) = (first.start, first.end);
    for s in it.filter(|s| s.file == first.file && !(s.start == 0 && s.end == 0)) {
        start = start.min(s.start);
        end = end.max(s.end);
    }
    Some((first.file, start, end))
}

impl Identities {
    pub fn new(ws: Option<&Workspace>) -> Self {
        let mut extents: HashMap<FileId, Vec<(u32, u32, String)>> = HashMap::new();
        let mut add = |ext: Option<(FileId, u32, u32)>, subject: String| {
            if let Some((file, start, end)) = ext {
                extents.entry(file).or_default().push((start, end, subject));
            }
        };
        let Some(ws) = ws else {
            return Identities { extents };
        };
        for a in &ws.assignments {
            let spans = [
                Some(a.group.span),
                Some(a.principal.span),
                Some(a.role.span),
                Some(a.kind.span),
            ]
            .into_iter()
            .chain([
                a.start.as_ref().map(|s| s.span),
                a.expiry_span(),
                a.justification.as_ref().map(|j| j.span),
            ])
            .chain(a.ticket.iter().map(|t| Some(t.number.span)))
            .flatten();
            let (g, p, r, k) = a.key();
            add(extent(spans), format!("assignment {g}/{p}/{r}/{k}"));
        }
        for g in &ws.groups {
            let spans = [
                Some(g.name.span),
                g.id.as_ref().map(|s| s.span),
                g.role_assignable.as_ref().map(|s| s.span),
            ]
            .into_iter()
            .chain([
                g.kind.as_ref().map(|s| s.span),
                g.membership.as_ref().map(|s| s.span),
                g.source.as_ref().map(|s| s.span),
            ])
            .chain(g.owners.iter().chain(&g.entra_roles).map(|s| Some(s.span)))
            .flatten();
            add(extent(spans), format!("group {}", g.name.value));
        }
        for p in &ws.principals {
            let spans = [
                Some(p.name.span),
                p.kind.as_ref().map(|s| s.span),
                p.upn.as_ref().map(|s| s.span),
                p.id.as_ref().map(|s| s.span),
            ]
            .into_iter()
            .chain(p.licenses.iter().map(|l| Some(l.span)))
            .chain([p.emergency_access.as_ref().map(|s| s.span)])
            .flatten();
            add(extent(spans), format!("principal {}", p.name.value));
        }
        for a in &ws.admins {
            let spans = [
                Some(a.principal.span),
                Some(a.role.span),
                a.scope.as_ref().map(|s| s.span),
            ]
            .into_iter()
            .chain([a.administrative_unit.as_ref().map(|s| s.span)])
            .flatten();
            add(
                extent(spans),
                format!("admin {}/{}", a.principal.value, a.role.value),
            );
        }
        for list in extents.values_mut() {
            list.sort();
        }
        Identities { extents }
    }

    /// The entry `finding` is about; else the text of its line (without the line number).
    pub fn subject(&self, sources: &Sources, finding: &Finding) -> String {
        let span = finding.primary.span;
        let inside = self.extents.get(&span.file).and_then(|list| {
            list.iter()
                .filter(|(start, end, _)| *start <= span.start && span.end <= *end)
                .min_by_key(|(start, end, _)| end - start)
                .map(|(_, _, subject)| subject.clone())
        });
        inside.unwrap_or_else(|| {
            let line = sources.line_col(span).line;
            let text = sources.get(span.file).map_or("", |f| f.line_text(line));
            format!(
                "line {}",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
    }

    /// A stable fingerprint: rule, file (relative to the workspace root), subject and the
    /// text of the value at fault.
    pub fn fingerprint(&self, sources: &Sources, root_dir: &Path, finding: &Finding) -> String {
        let span = finding.primary.span;
        let text = sources
            .get(span.file)
            .and_then(|f| f.text.get(span.start as usize..span.end as usize))
            .unwrap_or_default();
        let key = format!(
            "{}\0{}\0{}\0{}",
            finding.rule.code,
            relative_path(sources, root_dir, span.file),
            self.subject(sources, finding),
            text
        );
        crate::state::checksum(&key)[..32].to_owned()
    }
}

/// A file's path relative to the workspace root folder, with forward slashes.
pub fn relative_path(sources: &Sources, root_dir: &Path, file: FileId) -> String {
    sources.get(file).map_or_else(String::new, |f| {
        f.path
            .strip_prefix(root_dir)
            .unwrap_or(&f.path)
            .to_string_lossy()
            .replace('\\', "/")
    })
}
