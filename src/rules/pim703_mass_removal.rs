//! PIM703 mass-removal.
use super::{Check, Docs, PlanContext, Rule, RuleMeta};
use crate::finding::{Finding, Severity};
use crate::plan::{Action, Reason};

pub static RULE: Rule = Rule {
    meta: RuleMeta {
        code: "PIM703",
        name: "mass-removal",
        severity: Severity::Error,
        message: "the plan removes more than the allowed share of the assignments in the state",
        help: "check that no file or include glob went missing; pass `--allow-mass-removal` if the removal is intended",
        docs: Docs {
            what: "The plan removes more than `plan.max_removal_ratio` (default 0.25) of the \
assignments recorded in the state; a replace (a change of role or type, or of an object id) \
removes the old grant and counts too. `--allow-mass-removal` lets it through.",
            why: "A deleted file, a renamed folder that an `include:` no longer matches, or a bad \
merge makes a plan remove access wholesale, in the middle of an incident perhaps. Like \
peribolos and octoDNS, pimplan refuses such a plan unless told it is intended.",
            example: "# the state holds 40 assignments; a moved folder makes the plan remove 12 (30%)\n",
            fix: "Find out why so much is removed. If it is intended, run plan and apply with \
`--allow-mass-removal`, or raise `plan.max_removal_ratio`.",
            source: "pimplan safety guard, after peribolos (`--min-admins`, `--maximum-removal-delta`) \
and octoDNS (`--force` over the update and delete thresholds).",
        },
        locked: None,
    },
    check: Check::Plan(check),
};

fn check(cx: &PlanContext<'_>, out: &mut Vec<Finding>) {
    if cx.allow_mass_removal {
        return;
    }
    let total = cx
        .state
        .assignments
        .iter()
        .filter(|a| a.ends_at.is_none_or(|end| end > cx.now))
        .count();
    let removed: Vec<_> = cx
        .changes
        .iter()
        // A replace removes the old grant as surely as a removal does.
        .filter(|c| {
            matches!(c.action, Action::Remove | Action::Replace) && c.assignment_before().is_some()
        })
        .filter(|c| !matches!(c.reason, Some(Reason::Expired { .. })))
        .collect();
    if total == 0 || removed.is_empty() {
        return;
    }
    let ratio = cx.workspace.settings.max_removal_ratio();
    let share = removed.len() as f64 / total as f64;
    if share <= ratio {
        return;
    }
    let span = cx
        .workspace
        .settings
        .max_removal_ratio
        .as_ref()
        .map_or(cx.plan_span, |r| r.span);
    let mut f = Finding::new(
        &RULE,
        span,
        format!(
            "the plan removes {} of {} assignments ({:.0}%), more than the {:.0}% allowed",
            removed.len(),
            total,
            share * 100.0,
            ratio * 100.0
        ),
    )
    .label("limit on removals");
    if let Some(first) = removed.first() {
        f = f.with_secondary(cx.span_of(first), "one of the removals");
    }
    out.push(f);
}
