//! `pimplan paths --format dot|mermaid`: the union of the listed paths as one diagram.
//! Principals are boxes, group member and owner nodes rounded boxes, roles ellipses (Mermaid:
//! hexagons) labelled with their tier; eligible edges are dashed, edges of a path that needs
//! no approval are bold red. Gate labels read `approval: dave|erin · mfa`.

use std::collections::BTreeMap;

use super::paths::{PathsReport, Step, edge_label, gate_words, node_label, steps};
use crate::paths::{NodeId, NodeKind, PathClass};

/// One drawn edge: its step, and whether a path without approval uses it.
struct Drawn {
    step: Step,
    hot: bool,
}

/// The nodes (in first-seen order) and the distinct steps of every listed path.
fn layout(report: &PathsReport<'_>) -> (Vec<NodeId>, Vec<Drawn>) {
    let mut nodes: Vec<NodeId> = Vec::new();
    let mut drawn: Vec<Drawn> = Vec::new();
    let mut index: BTreeMap<(NodeId, NodeId, String), usize> = BTreeMap::new();
    for r in &report.reaches {
        let hot = r.class < PathClass::Approval;
        for s in steps(report.graph, &r.path) {
            for n in [s.from, s.to] {
                if !nodes.contains(&n) {
                    nodes.push(n);
                }
            }
            let key = (s.from, s.to, s.kind.name().to_owned());
            match index.get(&key) {
                Some(&i) => drawn[i].hot |= hot,
                None => {
                    index.insert(key, drawn.len());
                    drawn.push(Drawn { step: s, hot });
                }
            }
        }
    }
    (nodes, drawn)
}

/// A node's label: `priya (user)`, `ops · member`, `Security Administrator · tier 0`.
fn label(report: &PathsReport<'_>, id: NodeId) -> String {
    let n = report.graph.node(id);
    match n.kind {
        NodeKind::Principal => match n.principal_type {
            Some(t) => format!("{} ({t})", n.name),
            None => n.name.clone(),
        },
        NodeKind::GroupMember => format!("{} · member", n.name),
        NodeKind::GroupOwner => format!("{} · owner", n.name),
        NodeKind::EntraRole => format!(
            "{} · tier {}",
            node_label(report.graph, id),
            report.settings.tier(&n.name)
        ),
        NodeKind::AzureRole | NodeKind::Hub => node_label(report.graph, id),
    }
}

fn edge_text(report: &PathsReport<'_>, step: &Step) -> String {
    let mut parts = vec![edge_label(report.graph, step).to_owned()];
    parts.extend(gate_words(&step.gates));
    parts.join(" · ")
}

/// A control character other than a line break or tab (or U+FFFE, U+FFFF), as visible text
/// (`\u{7}`): Graphviz copies it into the SVG, where XML forbids it, and Mermaid has no
/// entity for it.
fn visible(c: char) -> Option<String> {
    let hidden = (c.is_control() && c != '\t') || matches!(c, '\u{fffe}' | '\u{ffff}');
    hidden.then(|| format!("\\u{{{:x}}}", u32::from(c)))
}

/// A DOT quoted string that Graphviz shows as `text`. In a quoted string the parser only
/// undoes `\"`; the label then reads `\n` `\l` `\r` as line breaks, `\N` `\G` … as the
/// node's or graph's name, `\x` as `x` and `&amp;`, `&lt;` … as entities. So `\` and `"`
/// are escaped, `&` becomes `&amp;`, and a line break in a name becomes `\n`.
fn dot_quote(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '&' => out.push_str("&amp;"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            c => match visible(c) {
                Some(v) => out.push_str(&v.replace('\\', "\\\\")),
                None => out.push(c),
            },
        }
    }
    out.push('"');
    out
}

/// `--format dot`: `digraph pimplan_paths { rankdir=LR; … }`.
pub fn dot(report: &PathsReport<'_>) -> String {
    let (nodes, drawn) = layout(report);
    let mut out = String::from(
        "digraph pimplan_paths {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n",
    );
    for (i, &n) in nodes.iter().enumerate() {
        let shape = match report.graph.node(n).kind {
            NodeKind::Principal => "shape=box",
            NodeKind::GroupMember | NodeKind::GroupOwner => "shape=box, style=rounded",
            NodeKind::EntraRole | NodeKind::AzureRole => "shape=ellipse",
            NodeKind::Hub => "shape=point",
        };
        out.push_str(&format!(
            "  n{i} [label={}, {shape}];\n",
            dot_quote(&label(report, n))
        ));
    }
    let at = |n: NodeId| nodes.iter().position(|x| *x == n).unwrap_or(0);
    for d in &drawn {
        let mut attrs = vec![format!("label={}", dot_quote(&edge_text(report, &d.step)))];
        if d.step.eligible() {
            attrs.push("style=dashed".to_owned());
        }
        if d.hot {
            attrs.push("color=red, fontcolor=red, penwidth=2".to_owned());
        }
        out.push_str(&format!(
            "  n{} -> n{} [{}];\n",
            at(d.step.from),
            at(d.step.to),
            attrs.join(", ")
        ));
    }
    out.push_str("}\n");
    out
}

/// A Mermaid quoted label that shows `text`. Mermaid's flowchart syntax has no backslash
/// escapes: a character is written as an entity code, `#quot;` or `#35;` (base 10; its
/// docs, "Entity codes to escape characters"), which Mermaid turns into an HTML entity. So
/// `"` and `|` (they end the label), `#` (it starts an entity code), `&` (an HTML entity),
/// `<` and `>` (labels are HTML), `` ` `` (a label in backticks is Markdown) and `%` (`%%`
/// starts a comment or a directive) are written as codes, and a line break as `<br>`.
fn mermaid_quote(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '|' => out.push_str("#124;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '%' => out.push_str("#37;"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            c => match visible(c) {
                Some(v) => out.push_str(&v),
                None => out.push(c),
            },
        }
    }
    out.push('"');
    out
}

/// `--format mermaid`: `flowchart LR`, ids `n0`, `n1`, …, quoted labels.
pub fn mermaid(report: &PathsReport<'_>) -> String {
    let (nodes, drawn) = layout(report);
    let mut out = String::from("flowchart LR\n");
    for (i, &n) in nodes.iter().enumerate() {
        let text = mermaid_quote(&label(report, n));
        let shaped = match report.graph.node(n).kind {
            NodeKind::Principal => format!("[{text}]"),
            NodeKind::GroupMember | NodeKind::GroupOwner => format!("([{text}])"),
            NodeKind::EntraRole | NodeKind::AzureRole => format!("{{{{{text}}}}}"),
            NodeKind::Hub => format!("(({text}))"),
        };
        out.push_str(&format!("  n{i}{shaped}\n"));
    }
    let at = |n: NodeId| nodes.iter().position(|x| *x == n).unwrap_or(0);
    let mut hot = Vec::new();
    for (k, d) in drawn.iter().enumerate() {
        let arrow = if d.step.eligible() { "-.->" } else { "-->" };
        out.push_str(&format!(
            "  n{} {arrow}|{}| n{}\n",
            at(d.step.from),
            mermaid_quote(&edge_text(report, &d.step)),
            at(d.step.to)
        ));
        if d.hot {
            hot.push(k.to_string());
        }
    }
    if !hot.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:red,stroke-width:3px\n",
            hot.join(",")
        ));
    }
    out
}
