//! `pimplan paths`: who can reach a target, or what a principal can reach, as a table for a
//! person (human), a PR comment (markdown) or a program (json, format version 1, documented
//! by `schemas/paths.schema.json`). The diagrams are in `paths_diagram.rs`.

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde_json::{Value, json};

use super::markdown as md;
use crate::config::model::PathsSettings;
use crate::paths::{EdgeKind, Gates, NodeId, NodeKind, PathClass, PrivilegeGraph, Reach};
use crate::source::{Sources, Span};

/// Version of the JSON shape; grows only when a field changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 1;

/// Which way the query runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Who reaches the target (a role, a group's membership, every tier-0 role).
    To,
    /// What the principal reaches.
    From,
}

/// What was asked and what it means, as the JSON's `query` and `target` say it.
#[derive(Clone, Debug)]
pub struct TargetView {
    /// `role`, `group`, `principal` or `tier0`.
    pub query: &'static str,
    /// `entra_role`, `group`, `principal` or `tier0`.
    pub kind: &'static str,
    pub name: String,
    pub id: Option<String>,
    pub template_id: Option<String>,
    /// The tier of a role (0 for the tier-0 union).
    pub tier: Option<u8>,
    /// The roles of the tier-0 union.
    pub roles: Vec<String>,
}

/// An assignment that does not count yet at `at` but would let a principal reach the target.
#[derive(Clone, Debug)]
pub struct NotYet {
    pub principal: String,
    /// `eligible member`, `active owner`, …
    pub what: String,
    pub from: DateTime<FixedOffset>,
}

/// Everything a renderer needs; nothing here is decided by the renderers.
pub struct PathsReport<'a> {
    pub graph: &'a PrivilegeGraph,
    pub sources: &'a Sources,
    pub settings: &'a PathsSettings,
    pub now: DateTime<FixedOffset>,
    /// `--class`: the worst class listed.
    pub class: PathClass,
    pub direction: Direction,
    pub target: TargetView,
    pub reaches: Vec<Reach>,
    pub not_yet: Vec<NotYet>,
    pub notes: Vec<String>,
}

/// One step of a path as shown: an edge, or an edge into a hub and the hub's edge out of it
/// taken as one (a hub is part of one hop).
#[derive(Clone, Debug)]
pub struct Step {
    pub from: NodeId,
    pub to: NodeId,
    pub kind: EdgeKind,
    pub gates: Gates,
    pub source: Option<Span>,
    pub class: PathClass,
}

impl Step {
    /// An activation of an eligibility (drawn dashed).
    pub fn eligible(&self) -> bool {
        matches!(
            self.kind,
            EdgeKind::EligibleMember
                | EdgeKind::EligibleOwner
                | EdgeKind::NestedEligible
                | EdgeKind::EligibleForRole
        )
    }
}

/// The steps of a witness path, hubs folded into the hop they are part of.
pub fn steps(graph: &PrivilegeGraph, path: &[u32]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut pending: Option<Step> = None;
    for &e in path {
        let edge = graph.edge(e);
        let class = graph.edge_class(e);
        let step = match pending.take() {
            Some(mut first) => {
                first.to = edge.head;
                first.class = first.class.max(class);
                first.source = first.source.or(edge.source);
                first
            }
            None => Step {
                from: edge.tail,
                to: edge.head,
                kind: edge.kind,
                gates: edge.gates.clone(),
                source: edge.source,
                class,
            },
        };
        if graph.node(edge.head).is_hub() {
            pending = Some(step);
        } else {
            out.push(step);
        }
    }
    out.extend(pending);
    out
}

/// A node as a person reads it.
pub fn node_label(graph: &PrivilegeGraph, id: NodeId) -> String {
    let n = graph.node(id);
    match (n.kind, n.scope.as_deref()) {
        (NodeKind::GroupOwner, _) => format!("{}#owner", n.name),
        (NodeKind::EntraRole | NodeKind::AzureRole, Some(scope)) => {
            format!("{} @ {scope}", n.name)
        }
        _ => n.name.clone(),
    }
}

/// What an edge does, in words: the one labelling of edges, for `paths` (every format but
/// JSON, which keeps [`EdgeKind::name`]) and the plan's privilege delta.
pub fn edge_label(graph: &PrivilegeGraph, step: &Step) -> &'static str {
    edge_words(step.kind, graph.node(step.from).kind == NodeKind::Principal)
}

/// [`edge_label`] of an edge of this kind, `from_principal` when its tail is a principal (a
/// role a principal holds is an admin's).
pub fn edge_words(kind: EdgeKind, from_principal: bool) -> &'static str {
    match kind {
        EdgeKind::ActiveMember => "active member",
        EdgeKind::EligibleMember => "eligible member",
        EdgeKind::Owner => "owner (standing)",
        EdgeKind::EligibleOwner => "eligible owner",
        EdgeKind::OwnerAddsMembers => "adds member",
        EdgeKind::NestedEligible => "eligible nested member",
        EdgeKind::NestedActive => "nested member",
        EdgeKind::HoldsRole if from_principal => "admin",
        EdgeKind::HoldsRole | EdgeKind::AzureRole => "holds",
        EdgeKind::EligibleForRole => "eligible for",
        EdgeKind::AddMembersAll
        | EdgeKind::AddMembersNonRoleAssignable
        | EdgeKind::AddMembersM365 => "adds member (outside PIM)",
        EdgeKind::GrantRole => "grants role",
        EdgeKind::ResetPassword => "resets password",
        EdgeKind::OwnsServicePrincipal => "owns",
        EdgeKind::AddSecret => "adds secret",
        EdgeKind::AddOwner => "adds owner",
        EdgeKind::AdministrativeUnitScoped => "admin in unit",
    }
}

/// The gates of an edge, one word or `approval: a|b` each.
pub fn gate_words(gates: &Gates) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(a) = &gates.approval {
        if a.approvers.is_empty() {
            out.push("approval".to_owned());
        } else {
            out.push(format!("approval: {}", a.approvers.join("|")));
        }
    }
    if gates.mfa {
        out.push("mfa".to_owned());
    }
    if let Some(c) = &gates.auth_context {
        out.push(format!("auth context: {c}"));
    }
    if gates.justification {
        out.push("justification".to_owned());
    }
    if gates.ticket {
        out.push("ticket".to_owned());
    }
    out
}

/// `─eligible member [approval: dave|erin · mfa]→`
fn arrow(graph: &PrivilegeGraph, step: &Step) -> String {
    let gates = gate_words(&step.gates);
    let label = edge_label(graph, step);
    if gates.is_empty() {
        format!("─{label}→")
    } else {
        format!("─{label} [{}]→", gates.join(" · "))
    }
}

/// A path as one line: `frank ─eligible member [approval: dave|erin]→ ops ─holds→ Role`.
pub fn path_text(graph: &PrivilegeGraph, path: &[u32]) -> String {
    let steps = steps(graph, path);
    let mut text = match steps.first() {
        Some(s) => node_label(graph, s.from),
        None => String::new(),
    };
    for s in &steps {
        text.push(' ');
        text.push_str(&arrow(graph, s));
        text.push(' ');
        text.push_str(&node_label(graph, s.to));
    }
    text
}

/// Where the steps of a path are declared, `file:line:col` each.
fn locations(report: &PathsReport<'_>, path: &[u32]) -> Vec<String> {
    steps(report.graph, path)
        .iter()
        .filter_map(|s| s.source)
        .map(|span| {
            let at = report.sources.line_col(span);
            format!(
                "{}:{}:{}",
                report.sources.path(span.file),
                at.line,
                at.column
            )
        })
        .collect()
}

/// The node a row names: the principal that reaches the target, or the node reached.
fn row_name(report: &PathsReport<'_>, r: &Reach) -> String {
    node_label(report.graph, r.node)
}

/// For the tier-0 union: the role a principal's best path ends at.
pub fn reached_role(report: &PathsReport<'_>, r: &Reach) -> Option<String> {
    if report.target.kind != "tier0" {
        return None;
    }
    let last = r.path.last()?;
    Some(node_label(report.graph, report.graph.edge(*last).head))
}

/// Cumulative counts: `no_approval` includes the `no-approval-no-mfa` and `standing` ones.
struct Counts {
    all: usize,
    standing: usize,
    no_mfa: usize,
    no_approval: usize,
}

fn counts(reaches: &[Reach]) -> Counts {
    let at_most = |c: PathClass| reaches.iter().filter(|r| r.class <= c).count();
    Counts {
        all: reaches.len(),
        standing: at_most(PathClass::Standing),
        no_mfa: at_most(PathClass::NoApprovalNoMfa),
        no_approval: at_most(PathClass::NoApproval),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `Security Administrator (tier 0)`, `every tier-0 role (8)`, `priya`.
fn title(t: &TargetView) -> String {
    match (t.kind, t.tier) {
        ("tier0", _) => format!("Tier 0 ({})", plural(t.roles.len(), "role", "roles")),
        ("group", _) => format!("{} (group membership)", t.name),
        (_, Some(tier)) => format!("{} (tier {tier})", t.name),
        _ => t.name.clone(),
    }
}

/// The headline sentence; for Markdown (`markdown`) the numbers `**`-wrapped and the
/// target's name escaped.
fn headline(report: &PathsReport<'_>, markdown: bool) -> String {
    let c = counts(&report.reaches);
    let named = if markdown {
        md::text(&title(&report.target))
    } else {
        title(&report.target)
    };
    let b = |n: usize| {
        if markdown {
            format!("**{n}**")
        } else {
            n.to_string()
        }
    };
    let filter = if report.class == PathClass::Approval {
        String::new()
    } else {
        format!(" (class {} or better)", report.class)
    };
    match report.direction {
        Direction::To => format!(
            "{} — {} {} can reach it{filter}: {} without approval ({} of them without MFA), {} standing",
            named,
            b(c.all),
            if c.all == 1 {
                "principal"
            } else {
                "principals"
            },
            b(c.no_approval),
            b(c.no_mfa),
            b(c.standing),
        ),
        Direction::From => format!(
            "{} can reach {} {}{filter}: {} without approval ({} of them without MFA), {} standing",
            named,
            b(c.all),
            if c.all == 1 { "target" } else { "targets" },
            b(c.no_approval),
            b(c.no_mfa),
            b(c.standing),
        ),
    }
}

fn column_name(report: &PathsReport<'_>) -> &'static str {
    match report.direction {
        Direction::To => "principal",
        Direction::From => "reaches",
    }
}

fn time(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn not_yet_line(n: &NotYet) -> String {
    format!(
        "{} ({} from {}; see with --at {})",
        n.principal,
        n.what,
        n.from.format("%Y-%m-%d"),
        time(&n.from)
    )
}

/// The human table (privilege-paths §A.9).
pub fn human(report: &PathsReport<'_>) -> String {
    let mut out = format!("{}\n", headline(report, false));
    let tier0 = report.target.kind == "tier0";
    let rows: Vec<[String; 5]> = report
        .reaches
        .iter()
        .map(|r| {
            [
                row_name(report, r),
                r.class.to_string(),
                r.hops.to_string(),
                reached_role(report, r).unwrap_or_default(),
                path_text(report.graph, &r.path),
            ]
        })
        .collect();
    if !rows.is_empty() {
        let mut head = [
            column_name(report).to_owned(),
            "class".to_owned(),
            "hops".to_owned(),
            "role".to_owned(),
            "path".to_owned(),
        ];
        let shown: Vec<usize> = if tier0 {
            vec![0, 1, 2, 3, 4]
        } else {
            vec![0, 1, 2, 4]
        };
        let width = |i: usize| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..5).map(width).collect();
        let line = |cells: &[String; 5]| {
            let mut l = String::from("  ");
            for (k, &i) in shown.iter().enumerate() {
                if k + 1 == shown.len() {
                    l.push_str(&cells[i]);
                } else {
                    l.push_str(&format!("{:<w$}  ", cells[i], w = widths[i]));
                }
            }
            l.trim_end().to_owned()
        };
        out.push('\n');
        head[4] = "path".to_owned();
        out.push_str(&line(&head));
        out.push('\n');
        for (r, cells) in report.reaches.iter().zip(&rows) {
            out.push_str(&line(cells));
            out.push('\n');
            let at = locations(report, &r.path);
            if !at.is_empty() {
                out.push_str(&format!("    declared at {}\n", at.join(", ")));
            }
        }
    }
    if !report.not_yet.is_empty() || !report.notes.is_empty() {
        out.push('\n');
    }
    for n in &report.not_yet {
        out.push_str(&format!("  not yet in effect: {}\n", not_yet_line(n)));
    }
    for n in &report.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}

/// The same table for a PR comment, paths in monospace, every name escaped
/// ([`md::text`]).
pub fn markdown(report: &PathsReport<'_>) -> String {
    let mut out = format!("### Privilege paths: {}\n\n", headline(report, true));
    let tier0 = report.target.kind == "tier0";
    if !report.reaches.is_empty() {
        let role = if tier0 { " role |" } else { "" };
        let rule = if tier0 { " --- |" } else { "" };
        out.push_str(&format!(
            "| {} | class | hops |{role} path | declared at |\n| --- | --- | --- |{rule} --- | --- |\n",
            column_name(report)
        ));
        for r in &report.reaches {
            let role = reached_role(report, r)
                .map(|n| format!(" {} |", md::text(&n)))
                .unwrap_or_default();
            let at: Vec<String> = locations(report, &r.path)
                .iter()
                .map(|l| md::code(l))
                .collect();
            out.push_str(&format!(
                "| {} | `{}` | {} |{role} {} | {} |\n",
                md::text(&row_name(report, r)),
                r.class,
                r.hops,
                md::code(&path_text(report.graph, &r.path)),
                at.join(", ")
            ));
        }
        out.push('\n');
    }
    for n in &report.not_yet {
        out.push_str(&format!(
            "- not yet in effect: {}\n",
            md::text(&not_yet_line(n))
        ));
    }
    for n in &report.notes {
        out.push_str(&format!("- note: {}\n", md::text(n)));
    }
    out
}

fn node_json(report: &PathsReport<'_>, id: NodeId) -> Value {
    let n = report.graph.node(id);
    let kind = match n.kind {
        NodeKind::Principal => n
            .principal_type
            .map_or_else(|| "principal".to_owned(), |t| t.to_string()),
        NodeKind::GroupMember => "group_member".to_owned(),
        NodeKind::GroupOwner => "group_owner".to_owned(),
        NodeKind::EntraRole => "entra_role".to_owned(),
        NodeKind::AzureRole => "azure_role".to_owned(),
        NodeKind::Hub => "hub".to_owned(),
    };
    json!({ "name": n.name, "type": kind, "id": n.id, "key": n.key() })
}

fn path_json(report: &PathsReport<'_>, path: &[u32]) -> Value {
    let g = report.graph;
    path.iter()
        .map(|&e| {
            let edge = g.edge(e);
            let mut step = json!({
                "from": g.node(edge.tail).key(),
                "to": g.node(edge.head).key(),
                "edge": edge.kind.name(),
                "code": edge.kind.code(),
                "class": g.edge_class(e).name(),
                "gates": gate_words(&edge.gates),
            });
            if let (Some(span), Some(obj)) = (edge.source, step.as_object_mut()) {
                let at = report.sources.line_col(span);
                obj.insert(
                    "location".to_owned(),
                    json!({
                        "file": report.sources.path(span.file),
                        "line": at.line,
                        "column": at.column,
                    }),
                );
            }
            step
        })
        .collect()
}

/// `--format json` (format version 1, `schemas/paths.schema.json`).
pub fn json(report: &PathsReport<'_>) -> String {
    let c = counts(&report.reaches);
    let t = &report.target;
    let mut target = json!({ "kind": t.kind, "name": t.name });
    if let Some(obj) = target.as_object_mut() {
        if let Some(id) = &t.id {
            obj.insert("id".to_owned(), json!(id));
        }
        if let Some(id) = &t.template_id {
            obj.insert("template_id".to_owned(), json!(id));
        }
        if let Some(tier) = t.tier {
            obj.insert("tier".to_owned(), json!(tier));
        }
        if t.kind == "tier0" {
            obj.insert("roles".to_owned(), json!(t.roles));
        }
    }
    let entries: Vec<Value> = report
        .reaches
        .iter()
        .map(|r| {
            let mut entry = json!({
                "class": r.class.name(),
                "hops": r.hops,
                "flags": r.flags.names(),
                "path": path_json(report, &r.path),
            });
            if let Some(obj) = entry.as_object_mut() {
                let who = match report.direction {
                    Direction::To => "principal",
                    Direction::From => "node",
                };
                obj.insert(who.to_owned(), node_json(report, r.node));
                if let Some(role) = reached_role(report, r) {
                    obj.insert("role".to_owned(), json!(role));
                }
            }
            entry
        })
        .collect();
    let list = match report.direction {
        Direction::To => "principals",
        Direction::From => "reached",
    };
    let mut doc = json!({
        "format_version": FORMAT_VERSION,
        "tool": {"name": "pimplan", "version": env!("CARGO_PKG_VERSION")},
        "now": report.now.to_rfc3339(),
        "query": {"kind": t.query, "name": t.name, "class": class_filter(report.class)},
        "target": target,
        "summary": {
            "principals": c.all,
            "standing": c.standing,
            "no_approval_no_mfa": c.no_mfa,
            "no_approval": c.no_approval,
            "approval": c.all - c.no_approval,
        },
        "not_yet_in_effect": report.not_yet.iter().map(|n| json!({
            "principal": n.principal, "what": n.what, "from": n.from.to_rfc3339(),
        })).collect::<Vec<_>>(),
        "notes": report.notes.iter().map(|n| json!({"text": n})).collect::<Vec<_>>(),
    });
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(list.to_owned(), Value::Array(entries));
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// `--class` as typed: `any` for the widest.
pub fn class_filter(class: PathClass) -> &'static str {
    if class == PathClass::Approval {
        "any"
    } else {
        class.name()
    }
}
