//! Plans as text: human (terminal), JSON (machines), Markdown (pull-request comments).
//! The plan is data (`crate::plan`); nothing here decides anything.

use std::collections::BTreeMap;

use serde_json::json;

use chrono::{DateTime, FixedOffset};

use super::markdown as md;
use super::paths::edge_words;
use crate::paths::delta::{DeltaStep, PrivilegeDelta, change_key};
use crate::paths::{EdgeKind, PathClass};
use crate::plan::end::{change_end, describe_recorded};
use crate::plan::{Action, Change, Plan, PlanFinding, Reason};

const NONE: &str = "(none)";

struct Paint {
    on: bool,
}

impl Paint {
    fn action(&self, a: Action, text: &str) -> String {
        if !self.on {
            return text.to_owned();
        }
        let code = match a {
            Action::Create => "32",
            Action::Update => "33",
            Action::Remove => "31",
            Action::Replace => "35",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn bold(&self, text: &str) -> String {
        if self.on {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// One line per attribute that matters for this change: everything for a create or a
/// remove, the differences for an update or a replace. For an update or a replace of an
/// assignment, `end` is the end the schedule has (as recorded) and the end the change gives
/// it ([`change_end`], counted at `now`, the plan's clock), shown only when it moves: a
/// duration keeps the end its first apply gave it unless the start or the duration changes.
fn attribute_lines(
    change: &Change,
    now: DateTime<FixedOffset>,
) -> Vec<(String, Option<String>, Option<String>)> {
    let (before, after) = change.attributes();
    let keys: Vec<&str> = {
        let mut k: Vec<&str> = before.keys().chain(after.keys()).copied().collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    let mut out = Vec::new();
    for key in keys {
        let (old, new) = (before.get(key), after.get(key));
        match change.action {
            Action::Create => {
                if let Some(new) = new {
                    out.push((key.to_owned(), None, Some(new.clone())));
                }
            }
            Action::Remove => {
                if let Some(old) = old {
                    out.push((key.to_owned(), Some(old.clone()), None));
                }
            }
            Action::Update | Action::Replace => {
                if key == "end" && change.assignment_before().is_some() {
                    continue; // the end as the schedule has it, below
                }
                if old != new {
                    out.push((key.to_owned(), old.cloned(), new.cloned()));
                }
            }
        }
    }
    if let (Action::Update | Action::Replace, Some(before), Some(_)) = (
        change.action,
        change.assignment_before(),
        change.assignment_after(),
    ) {
        let end = change_end(change, now);
        if end.moves(before.ends_at) {
            out.push((
                "end".to_owned(),
                Some(describe_recorded(before.ends_at)),
                Some(end.describe(now)),
            ));
            out.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    out
}

fn reason_note(change: &Change) -> Option<String> {
    match &change.reason {
        Some(Reason::Expired { ended_at }) => Some(match change.action {
            Action::Remove if change.assignment_after().is_some() => format!(
                "ended {}; still declared, not granted again: dropped from the state (a new start, end or duration grants it again)",
                ended_at.to_rfc3339()
            ),
            Action::Remove => format!(
                "ended {}; only dropped from the state",
                ended_at.to_rfc3339()
            ),
            _ => format!(
                "ended {}; gone in the service, so created again",
                ended_at.to_rfc3339()
            ),
        }),
        Some(Reason::RoleOrTypeChanged) => {
            Some("role or type changed: cannot be updated in place".to_owned())
        }
        Some(Reason::IdsChanged) => Some("object ids changed".to_owned()),
        Some(Reason::NotSent) => Some("recorded by a state-only apply, not yet sent".to_owned()),
        None => None,
    }
}

/// A multi-line value's change, line by line (the `similar` crate).
fn text_diff(old: &str, new: &str, indent: &str) -> String {
    // Line by line, each line ending in a newline: a last line without one would otherwise
    // differ from the same line with one.
    let line_ended = |t: &str| {
        if t.ends_with('\n') {
            t.to_owned()
        } else {
            format!("{t}\n")
        }
    };
    let (old, new) = (line_ended(old), line_ended(new));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            similar::ChangeTag::Delete => "-",
            similar::ChangeTag::Insert => "+",
            similar::ChangeTag::Equal => " ",
        };
        out.push_str(&format!("{indent}{sign} {}", change.value()));
        if !change.value().ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

pub fn summary(plan: &Plan) -> String {
    let (add, change, remove) = plan.counts();
    format!("Plan: {add} to add, {change} to change, {remove} to remove.")
}

/// The line that says where the changes go.
pub fn target_line(plan: &Plan) -> String {
    plan.target
        .as_ref()
        .map(|t| format!("Target: {}.\n\n", t.describe()))
        .unwrap_or_default()
}

pub fn human(plan: &Plan, color: bool) -> String {
    let paint = Paint { on: color };
    let mut out = target_line(plan);
    if plan.is_empty() {
        out.push_str("No changes. The state matches the workspace.\n");
        return out;
    }
    out.push_str("pimplan will make these changes:\n\n");
    for change in &plan.changes {
        let symbol = paint.action(change.action, &format!("{:>3}", change.action.symbol()));
        out.push_str(&format!("{symbol} {}", paint.bold(&change.address)));
        if let Some(note) = reason_note(change) {
            out.push_str(&format!("  # {note}"));
        }
        out.push('\n');
        let lines = attribute_lines(change, plan.created_at);
        let width = lines.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        for (key, old, new) in lines {
            let pad = " ".repeat(width - key.len());
            match (old, new) {
                (None, Some(new)) if change.action == Action::Create => {
                    out.push_str(&format!("      {key}:{pad} {new}\n"));
                }
                (Some(old), None) if change.action == Action::Remove => {
                    out.push_str(&format!("      {key}:{pad} {old}\n"));
                }
                (Some(old), Some(new)) if old.contains('\n') || new.contains('\n') => {
                    out.push_str(&format!("      {key}:\n"));
                    out.push_str(&text_diff(&old, &new, "        "));
                }
                (old, new) => out.push_str(&format!(
                    "      {key}:{pad} {} -> {}\n",
                    old.as_deref().unwrap_or(NONE),
                    new.as_deref().unwrap_or(NONE)
                )),
            }
        }
        out.push('\n');
    }
    if let Some(delta) = &plan.privilege_delta {
        out.push_str(&delta_human(delta, &plan.changes));
    }
    out.push_str(&paint.bold(&summary(plan)));
    out.push('\n');
    out
}

/// A node key as a reader names it: `judy`, `tenant-admins`, `tenant-admins#owner`,
/// `Global Administrator`, `hub:add-members:all`.
fn node_name(key: &str) -> &str {
    key.strip_prefix("principal:")
        .or_else(|| key.strip_prefix("entra_role:"))
        .or_else(|| {
            key.strip_prefix("group:")
                .map(|g| g.strip_suffix("#member").unwrap_or(g))
        })
        .unwrap_or(key)
}

/// A witness path in one line, edges worded as `pimplan paths` words them:
/// `judy ─eligible owner [mfa]→ tenant-admins#owner ─…→ …`.
fn path_line(steps: &[DeltaStep]) -> String {
    let mut out = steps
        .first()
        .map(|s| node_name(&s.from).to_owned())
        .unwrap_or_default();
    for s in steps {
        let gates = if s.gates.is_empty() {
            String::new()
        } else {
            format!(" [{}]", s.gates.join(" · "))
        };
        // As `pimplan paths` words it; a name this version does not know, as it is.
        let edge = EdgeKind::from_name(&s.edge).map_or(s.edge.as_str(), |k| {
            edge_words(k, s.from.starts_with("principal:"))
        });
        out.push_str(&format!(" ─{edge}{gates}→ {}", node_name(&s.to)));
    }
    out
}

/// The changes `keys` name, by their addresses (a key no change has, as it is).
fn cause_names(keys: &[String], changes: &[Change]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            changes
                .iter()
                .find(|c| change_key(c) == *k)
                .map_or_else(|| k.clone(), |c| c.address.clone())
        })
        .collect()
}

fn without_approval(class: &str) -> bool {
    PathClass::parse(class).is_some_and(|c| c <= PathClass::NoApproval)
}

/// The headline of each tier-0 role that principals gain: (gained, of them without
/// approval, role).
fn headlines(delta: &PrivilegeDelta) -> Vec<(usize, usize, &str)> {
    delta
        .targets
        .iter()
        .filter(|t| t.target.tier == 0 && !t.gained.is_empty())
        .map(|t| {
            let without = t
                .gained
                .iter()
                .filter(|e| without_approval(&e.class))
                .count();
            (t.gained.len(), without, t.target.name.as_str())
        })
        .collect()
}

/// Tier-0 roles that principals already reaching them now reach without approval: (how
/// many, role).
fn weakened(delta: &PrivilegeDelta) -> Vec<(usize, &str)> {
    delta
        .targets
        .iter()
        .filter(|t| t.target.tier == 0)
        .map(|t| {
            let n = t
                .class_changed
                .iter()
                .filter(|e| !without_approval(&e.class_before) && without_approval(&e.class_after))
                .count();
            (n, t.target.name.as_str())
        })
        .filter(|(n, _)| *n > 0)
        .collect()
}

fn weakened_line(n: usize, role: &str, bold: impl Fn(String) -> String) -> String {
    format!(
        "this change lets {} {} reach {} without approval that needed it before",
        bold(n.to_string()),
        if n == 1 { "principal" } else { "principals" },
        bold(role.to_owned()),
    )
}

fn headline(gained: usize, without: usize, role: &str, bold: impl Fn(String) -> String) -> String {
    format!(
        "this change lets {} more {} reach {}, {} of them without approval",
        bold(gained.to_string()),
        if gained == 1 {
            "principal"
        } else {
            "principals"
        },
        bold(role.to_owned()),
        bold(without.to_string()),
    )
}

/// The delta's headline sentences, for every format: one per tier-0 role that principals
/// gain ([`headline`]), then one per tier-0 role more principals reach without approval
/// ([`weakened_line`]); `bold` formats the numbers and the role (as is for a terminal,
/// escaped and `**`-wrapped for Markdown). None: no principal gains a tier-0 path.
fn headline_sentences(delta: &PrivilegeDelta, bold: impl Fn(String) -> String) -> Vec<String> {
    let gained = headlines(delta)
        .into_iter()
        .map(|(gained, without, role)| headline(gained, without, role, &bold));
    let weaker = weakened(delta)
        .into_iter()
        .map(|(n, role)| weakened_line(n, role, &bold));
    gained.chain(weaker).collect()
}

/// The "Privilege delta" block of a human plan (privilege-paths §A.10), before the summary
/// line.
fn delta_human(delta: &PrivilegeDelta, changes: &[Change]) -> String {
    if delta.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("Privilege delta (who can reach privileged roles after this plan):\n");
    let width = delta
        .targets
        .iter()
        .map(|t| t.target.name.len())
        .max()
        .unwrap_or(0);
    for t in &delta.targets {
        let without = t
            .gained
            .iter()
            .filter(|e| without_approval(&e.class))
            .count();
        let mut counts = Vec::new();
        if !t.gained.is_empty() {
            counts.push(format!(
                "+{} ({without} without approval)",
                crate::render::plural(t.gained.len(), "principal")
            ));
        }
        if !t.lost.is_empty() {
            counts.push(format!(
                "-{}",
                crate::render::plural(t.lost.len(), "principal")
            ));
        }
        if !t.class_changed.is_empty() {
            counts.push(format!("{} changed class", t.class_changed.len()));
        }
        out.push_str(&format!(
            "  {:width$}  tier {}   {}\n",
            t.target.name,
            t.target.tier,
            counts.join("   ")
        ));
        let names = t
            .gained
            .iter()
            .chain(&t.lost)
            .map(|e| e.principal.len())
            .chain(t.class_changed.iter().map(|e| e.principal.len()))
            .max()
            .unwrap_or(0);
        let entry = |out: &mut String,
                     sign: &str,
                     who: &str,
                     class: &str,
                     path: &[DeltaStep],
                     causes: &[String]| {
            out.push_str(&format!(
                "    {sign} {who:names$}  {class}   {}\n",
                path_line(path)
            ));
            if !causes.is_empty() {
                out.push_str(&format!(
                    "      {:names$}  because: {}\n",
                    "",
                    cause_names(causes, changes).join(", ")
                ));
            }
        };
        for e in &t.gained {
            entry(&mut out, "+", &e.principal, &e.class, &e.path, &e.caused_by);
        }
        for e in &t.lost {
            entry(&mut out, "-", &e.principal, &e.class, &e.path, &e.caused_by);
        }
        for e in &t.class_changed {
            let class = format!("{} -> {}", e.class_before, e.class_after);
            entry(&mut out, "~", &e.principal, &class, &e.path, &e.caused_by);
        }
    }
    let sentences = headline_sentences(delta, |s| s);
    for sentence in &sentences {
        out.push_str(&format!("Privilege delta: {sentence}.\n"));
    }
    if sentences.is_empty() {
        out.push_str("Privilege delta: no principal gains a path to a tier-0 role");
        if delta.summary.principals_lost > 0 {
            out.push_str(&format!(
                "; {} a path to a privileged role",
                if delta.summary.principals_lost == 1 {
                    "1 principal loses".to_owned()
                } else {
                    format!("{} principals lose", delta.summary.principals_lost)
                }
            ));
        }
        out.push_str(".\n");
    }
    out.push('\n');
    out
}

/// The privilege delta of a Markdown plan: the headlines, then a `<details>` table per role.
fn delta_markdown(delta: &PrivilegeDelta, changes: &[Change]) -> String {
    if delta.is_empty() {
        return String::new();
    }
    let cell = md::text;
    let bold = |s: String| format!("**{}**", cell(&s));
    let mut out = String::from("#### Privilege delta\n\n");
    let sentences = headline_sentences(delta, bold);
    for sentence in &sentences {
        out.push_str(&format!("⚠ {sentence}\n\n"));
    }
    if sentences.is_empty() {
        out.push_str("No principal gains a path to a tier-0 role.\n\n");
    }
    for t in &delta.targets {
        out.push_str(&format!(
            "<details><summary>{} (tier {}): +{} −{} ~{}</summary>\n\n",
            cell(&t.target.name),
            t.target.tier,
            t.gained.len(),
            t.lost.len(),
            t.class_changed.len()
        ));
        out.push_str(
            "| | principal | class | path | caused by |\n| --- | --- | --- | --- | --- |\n",
        );
        let row = |out: &mut String,
                   sign: &str,
                   who: &str,
                   class: &str,
                   path: &[DeltaStep],
                   causes: &[String]| {
            out.push_str(&format!(
                "| `{sign}` | {} | `{class}` | {} | {} |\n",
                cell(who),
                cell(&path_line(path)),
                cell(&cause_names(causes, changes).join(", "))
            ));
        };
        for e in &t.gained {
            row(&mut out, "+", &e.principal, &e.class, &e.path, &e.caused_by);
        }
        for e in &t.lost {
            row(&mut out, "-", &e.principal, &e.class, &e.path, &e.caused_by);
        }
        for e in &t.class_changed {
            let class = format!("{} → {}", e.class_before, e.class_after);
            row(&mut out, "~", &e.principal, &class, &e.path, &e.caused_by);
        }
        out.push_str("\n</details>\n\n");
    }
    out
}

/// The plan's findings, one line each (`file:line:column: severity[CODE]: message`), for
/// `show` (the plan itself prints them with their source), then the findings its baseline
/// left out, as such.
pub fn findings_lines(plan: &Plan) -> String {
    let mut out: String = plan
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{}: {}[{}]: {}\n  help: {}\n",
                f.file, f.line, f.column, f.severity, f.code, f.message, f.help
            )
        })
        .collect();
    if !plan.baselined.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "{} left out by the baseline `{}` (recorded when pimplan was adopted; they did not fail the plan):\n",
            crate::render::plural(plan.baselined.len(), "finding"),
            plan.baseline.as_deref().unwrap_or_default()
        ));
        for f in &plan.baselined {
            out.push_str(&format!(
                "  {}:{}:{}: {} ({}, baselined) {}\n",
                f.file, f.line, f.column, f.code, f.severity, f.message
            ));
        }
    }
    out
}

/// One table of findings, Markdown.
fn findings_table(findings: &[PlanFinding]) -> String {
    let mut out =
        String::from("| severity | code | place | message |\n| --- | --- | --- | --- |\n");
    for f in findings {
        out.push_str(&format!(
            "| {} | `{}` {} | `{}:{}:{}` | {} (help: {}) |\n",
            f.severity,
            f.code,
            f.name,
            f.file.replace('|', "\\|"),
            f.line,
            f.column,
            f.message.replace('|', "\\|").replace('\n', " "),
            f.help.replace('|', "\\|").replace('\n', " "),
        ));
    }
    out
}

/// The plan's findings as a Markdown section, then those its baseline left out (empty
/// without either).
fn findings_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.findings.is_empty() {
        let count = |s: &str| plan.findings.iter().filter(|f| f.severity == s).count();
        out.push_str(&format!(
            "#### Findings\n\n{}, {}, {}\n\n",
            crate::render::plural(count("error"), "error"),
            crate::render::plural(count("warning"), "warning"),
            crate::render::plural(count("info"), "info"),
        ));
        out.push_str(&findings_table(&plan.findings));
        out.push('\n');
    }
    if !plan.baselined.is_empty() {
        out.push_str(&format!(
            "#### Baselined findings\n\n{} left out by the baseline `{}` (recorded when pimplan was adopted; they do not fail the plan)\n\n",
            crate::render::plural(plan.baselined.len(), "finding"),
            plan.baseline.as_deref().unwrap_or_default().replace('`', "'")
        ));
        out.push_str(&findings_table(&plan.baselined));
        out.push('\n');
    }
    out
}

/// `plan --format json`, and the file `plan --out` saves: the plan with its summary, its
/// findings and each change's diff. Format version [`crate::plan::FORMAT_VERSION`].
pub fn json(plan: &Plan) -> String {
    let (add, change, remove) = plan.counts();
    let mut value = serde_json::to_value(plan).unwrap_or_default();
    if let Some(o) = value.as_object_mut() {
        o.insert(
            "summary".into(),
            json!({ "add": add, "change": change, "remove": remove }),
        );
        if let Some(t) = &plan.target {
            let mut target = serde_json::to_value(t).unwrap_or_default();
            if let Some(t_obj) = target.as_object_mut() {
                t_obj.insert("description".into(), json!(t.describe()));
            }
            o.insert("target".into(), target);
        }
        if let Some(serde_json::Value::Array(changes)) = o.get_mut("changes") {
            for (c, plan_change) in changes.iter_mut().zip(&plan.changes) {
                let diff: BTreeMap<String, serde_json::Value> =
                    attribute_lines(plan_change, plan.created_at)
                        .into_iter()
                        .map(|(k, old, new)| (k, json!({ "before": old, "after": new })))
                        .collect();
                if let Some(obj) = c.as_object_mut() {
                    obj.insert("diff".into(), json!(diff));
                }
            }
        }
    }
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

/// `plan --format markdown`: for a pull-request comment or a job summary.
pub fn markdown(plan: &Plan) -> String {
    let mut out = String::from("### pimplan plan\n\n");
    if let Some(t) = &plan.target {
        out.push_str(&format!("**Target:** {}\n\n", t.describe()));
    }
    if plan.is_empty() {
        out.push_str("No changes. The state matches the workspace.\n");
        if !plan.findings.is_empty() || !plan.baselined.is_empty() {
            out.push('\n');
            out.push_str(&findings_markdown(plan));
        }
        return out;
    }
    out.push_str(&format!("**{}**\n\n", summary(plan)));
    out.push_str("| | object | what changes |\n| --- | --- | --- |\n");
    for change in &plan.changes {
        let what: Vec<String> =
            match change.action {
                Action::Create | Action::Remove => reason_note(change).into_iter().collect(),
                Action::Update | Action::Replace => matches!(change.reason, Some(Reason::NotSent))
                    .then(|| reason_note(change))
                    .flatten()
                    .into_iter()
                    .chain(attribute_lines(change, plan.created_at).into_iter().map(
                        |(k, old, new)| {
                            format!(
                                "`{k}`: {} → {}",
                                md::text(old.as_deref().unwrap_or(NONE)),
                                md::text(new.as_deref().unwrap_or(NONE))
                            )
                        },
                    ))
                    .collect(),
            };
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            change.action.symbol(),
            md::text(&change.address),
            what.join("<br>")
        ));
    }
    out.push('\n');
    if let Some(delta) = &plan.privilege_delta {
        out.push_str(&delta_markdown(delta, &plan.changes));
    }
    out.push_str(&findings_markdown(plan));
    let full = human(plan, false);
    let full = full.strip_prefix(&target_line(plan)).unwrap_or(&full);
    // A fence longer than any run of backticks in the plan: a name cannot close it.
    let fence = "`".repeat(longest_backtick_run(full).max(2) + 1);
    out.push_str(&format!(
        "<details><summary>Full plan</summary>\n\n{fence}diff\n"
    ));
    for line in full.lines() {
        let t = line.trim_start();
        let mapped = if t.starts_with("-/+") {
            format!("! {}", t)
        } else if t.starts_with('+') || t.starts_with('-') {
            t.to_owned()
        } else if t.starts_with('~') {
            format!("! {}", t)
        } else {
            format!("  {line}")
        };
        out.push_str(&mapped);
        out.push('\n');
    }
    out.push_str(&format!("{fence}\n\n</details>\n"));
    out
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}
