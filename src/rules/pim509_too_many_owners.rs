//! PIM509 too-many-owners.
use std::collections::HashSet;

use super::{Check, Context, Docs, Rule, RuleMeta};
use crate::config::model::{AssignmentType, Role};
use crate::finding::{Finding, Severity};
use crate::source::Span;

/// Owners a group may have.
pub const LIMIT: usize = 100;

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM509",
        name: "too-many-owners",
        severity: Severity::Error,
        message: "a group would have more than 100 owners",
        help: "reduce the standing owners and active owner assignments to 100 or fewer",
        docs: Docs {
            what: "A group's standing `owners:` plus its active owner assignments name more than 100 \
distinct principals. The finding labels the owners it counted: the standing owners, and each \
active owner assignment that adds a principal; eligible owner assignments are not counted.",
            why: "A group can have at most 100 owners; assignments past the limit fail at apply \
time. That many owners also means nobody really owns the group.",
            example: "groups:\n  - name: all-hands\n    owners: [u1, u2, …, u101]\n",
            fix: "Make most of them eligible owners (activated when needed) or members.",
            source: "Microsoft Learn, Entra service limits include: at most 100 owners per group.",
        },
        locked: None,
    },
    check: Check::Workspace(check),
};

fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for group in &cx.workspace.groups {
        // Each distinct principal once: the standing owners, then the active owner
        // assignments that add someone new (an eligible owner is not an owner until activated).
        let mut owners: HashSet<&str> = HashSet::new();
        let standing: Vec<_> = group
            .owners
            .iter()
            .filter(|o| owners.insert(o.value.as_str()))
            .collect();
        let active: Vec<_> = cx
            .assignments_of(&group.name.value)
            .iter()
            .filter(|a| a.role.value == Role::Owner && a.kind.value == AssignmentType::Active)
            .filter(|a| owners.insert(a.principal.value.as_str()))
            .collect();
        if owners.len() <= LIMIT {
            continue;
        }
        let mut f = Finding::new(
            &RULE,
            group.name.span,
            format!(
                "`{}` would have {} owners, over the limit of {LIMIT}",
                group.name.value,
                owners.len()
            ),
        )
        .label(match active.len() {
            0 => format!("{} owners counted, all standing", owners.len()),
            n => format!(
                "{} owners counted: {} standing, {n} by active owner assignments",
                owners.len(),
                standing.len()
            ),
        });
        // The standing owners as one label over the list, from the first to the last.
        if let (Some(first), Some(last)) = (standing.first(), standing.last()) {
            let span = if first.span.file == last.span.file && first.span.start <= last.span.end {
                Span {
                    end: last.span.end,
                    ..first.span
                }
            } else {
                first.span
            };
            f = f.with_secondary(span, format!("{} standing owners, counted", standing.len()));
        }
        for a in &active {
            f = f.with_secondary(
                a.principal.span,
                format!("active owner `{}`, counted", a.principal.value),
            );
        }
        out.push(f);
    }
}
