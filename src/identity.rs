//! What a finding is about, independent of line numbers: the assignment, group, principal
//! or admin entry its value belongs to. Baselines and SARIF fingerprints match findings by
//! this, so moving or reformatting an entry does not make an old finding look new.

use std::collections::HashMap;
use std::path::Path;

use crate::config::model::Workspace;
use crate::finding::Finding;
use crate::source::{FileId, Sources, Span};

/// Byte extents of the entries of each file, sorted by start, each with the largest end
/// among it and those before it (so a lookup stops where no earlier extent reaches).
pub struct Identities {
    extents: HashMap<FileId, Vec<(u32, u32, String, u32)>>,
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
        let mut extents: HashMap<FileId, Vec<(u32, u32, String, u32)>> = HashMap::new();
        let mut add = |ext: Option<(FileId, u32, u32)>, subject: String| {
            if let Some((file, start, end)) = ext {
                extents
                    .entry(file)
                    .or_default()
                    .push((start, end, subject, 0));
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
            .chain(g.owners.iter().chain(&g.members).map(|s| Some(s.span)))
            .chain(g.entra_roles.iter().map(|r| Some(r.span)))
            .chain(g.azure_roles.iter().map(|r| Some(r.span)))
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
            .chain(p.owners.iter().map(|o| Some(o.span)))
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
            let mut reach = 0;
            for e in list.iter_mut() {
                reach = reach.max(e.1);
                e.3 = reach;
            }
        }
        Identities { extents }
    }

    /// The subject of the smallest extent holding `span` (the first of equals), found from
    /// the last extent starting at or before it, backwards until none before can reach its
    /// end: a few steps per finding rather than every entry of the file.
    fn inside(&self, span: Span) -> Option<String> {
        self.extents.get(&span.file).and_then(|list| {
            let mut best: Option<&(u32, u32, String, u32)> = None;
            let before = list.partition_point(|e| e.0 <= span.start);
            for e in list[..before].iter().rev() {
                if e.3 < span.end {
                    break;
                }
                if span.end <= e.1 && best.is_none_or(|b| e.1 - e.0 <= b.1 - b.0) {
                    best = Some(e);
                }
            }
            best.map(|e| e.2.clone())
        })
    }

    /// The entry `finding` is about; else the text of its line (without the line number).
    pub fn subject(&self, sources: &Sources, finding: &Finding) -> String {
        let span = finding.primary.span;
        let inside = self.inside(span);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup finds what trying every extent finds, with nested, overlapping, equal and
    /// disjoint extents.
    #[test]
    fn the_smallest_holding_extent_as_a_full_scan_finds_it() {
        let mut list: Vec<(u32, u32, String, u32)> = Vec::new();
        let mut seed = 7u32;
        for i in 0..200 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let start = (seed >> 8) % 500;
            let len = (seed >> 20) % if i % 10 == 0 { 300 } else { 20 };
            list.push((start, start + len, format!("e{i}"), 0));
        }
        list.sort();
        let mut reach = 0;
        for e in &mut list {
            reach = reach.max(e.1);
            e.3 = reach;
        }
        let ids = Identities {
            extents: HashMap::from([(FileId(0), list.clone())]),
        };
        for start in 0..520 {
            for len in [0, 1, 3, 10, 40] {
                let span = Span {
                    file: FileId(0),
                    start,
                    end: start + len,
                };
                let full = list
                    .iter()
                    .filter(|(s, e, _, _)| *s <= span.start && span.end <= *e)
                    .min_by_key(|(s, e, _, _)| e - s)
                    .map(|(_, _, subject, _)| subject.clone());
                assert_eq!(ids.inside(span), full, "{start}+{len}");
            }
        }
    }
}
