//! Real Graphviz for the `--format dot` tests: its WebAssembly build, `@hpcc-js/wasm-graphviz`,
//! pinned in `tests/tools/package-lock.json` and run by `tests/tools/render_dot.mjs` (Node.js)
//! with the `dot` layout.
//!
//! - Installed by `npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error`. When
//!   Node.js or the package is missing (or the installed package is not the pinned version), a
//!   test that needs it **fails** with that command: it never skips.
//! - [`render`] turns DOT files into SVG, failing with Graphviz's own error; [`Svg::parse`]
//!   reads the SVG as XML (so a control character Graphviz copied into it fails) and gives
//!   each drawn node's `<title>` (its DOT id) and text lines, and the number of drawn edges;
//!   [`Dot::of`] gives the node and edge statements of `pimplan paths --format dot` output,
//!   to hold the drawing against.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::manifest;

/// The command that installs the pinned Graphviz.
pub const INSTALL: &str = "npm ci --prefix tests/tools --no-audit --no-fund --loglevel=error";

const PACKAGE: &str = "@hpcc-js/wasm-graphviz";

/// The version `tests/tools/package.json` pins.
fn pinned() -> Result<String, String> {
    let path = manifest().join("tests/tools/package.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    doc["dependencies"][PACKAGE]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{} pins no {PACKAGE}", path.display()))
}

/// Node.js runs and the pinned package is installed; otherwise what to do.
pub fn check_installed() -> Result<(), String> {
    let node = Command::new("node").arg("--version").output().map_err(|e| {
        format!(
            "Node.js is not installed (`node --version`: {e}); the DOT tests render with Graphviz under Node.js ≥ 20: install Node.js and npm, then run `{INSTALL}`"
        )
    })?;
    if !node.status.success() {
        return Err(format!(
            "`node --version` failed: {}; run `{INSTALL}` with Node.js ≥ 20",
            String::from_utf8_lossy(&node.stderr)
        ));
    }
    let want = pinned()?;
    let installed = manifest().join(format!("tests/tools/node_modules/{PACKAGE}/package.json"));
    let text = std::fs::read_to_string(&installed).map_err(|_| {
        format!(
            "{PACKAGE} is not installed ({} is missing); the DOT tests render with it: run `{INSTALL}` in the repository",
            installed.display()
        )
    })?;
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    match doc["version"].as_str() {
        Some(v) if v == want => Ok(()),
        got => Err(format!(
            "{PACKAGE} {} is installed but tests/tools pins {want}: run `{INSTALL}`",
            got.unwrap_or("(unknown version)")
        )),
    }
}

/// Renders each DOT file to `FILE.svg` and returns the SVGs in order; an error carries
/// Graphviz's message (`FAIL: FILE: syntax error in line …`) or the install command.
pub fn render(files: &[PathBuf]) -> Result<Vec<String>, String> {
    check_installed()?;
    let script = manifest().join("tests/tools/render_dot.mjs");
    let out = Command::new("node")
        .arg(&script)
        .args(files)
        .output()
        .map_err(|e| format!("cannot run node {}: {e}; run `{INSTALL}`", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "Graphviz did not render the DOT (exit {:?}): {}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let said = String::from_utf8_lossy(&out.stdout);
    let rendered = said.lines().filter(|l| l.starts_with("rendered ")).count();
    if rendered != files.len() {
        return Err(format!(
            "{} files given, {rendered} rendered: {said}",
            files.len()
        ));
    }
    files
        .iter()
        .map(|f| {
            let svg = svg_path(f);
            std::fs::read_to_string(&svg).map_err(|e| format!("{}: {e}", svg.display()))
        })
        .collect()
}

fn svg_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".svg");
    PathBuf::from(name)
}

/// One drawn node or edge: its `<title>` (the DOT id, `n0`, or `n0->n1`) and its text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvgNode {
    pub title: String,
    pub lines: Vec<String>,
}

impl SvgNode {
    /// The label as drawn, its lines joined by `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// What an SVG from Graphviz draws.
#[derive(Debug)]
pub struct Svg {
    /// The graph's `<title>` (the DOT graph's name).
    pub graph: String,
    /// Every `<g class="node">`, in order.
    pub nodes: Vec<SvgNode>,
    /// Every `<g class="edge">`, in order.
    pub edges: Vec<SvgNode>,
}

impl Svg {
    pub fn parse(text: &str) -> Result<Svg, String> {
        let options = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        };
        let doc = roxmltree::Document::parse_with_options(text, options)
            .map_err(|e| format!("the SVG is not well-formed XML: {e}"))?;
        let class_of = |class: &'static str| {
            doc.descendants()
                .filter(move |n| n.has_tag_name("g") && n.attribute("class") == Some(class))
        };
        let title = |g: roxmltree::Node<'_, '_>| {
            g.children()
                .find(|c| c.has_tag_name("title"))
                .and_then(|t| t.text())
                .unwrap_or("")
                .to_owned()
        };
        let drawn = |g: roxmltree::Node<'_, '_>| SvgNode {
            title: title(g),
            lines: g
                .descendants()
                .filter(|c| c.has_tag_name("text"))
                .map(|t| t.text().unwrap_or("").to_owned())
                .collect(),
        };
        Ok(Svg {
            graph: class_of("graph").next().map(title).unwrap_or_default(),
            nodes: class_of("node").map(drawn).collect(),
            edges: class_of("edge").map(drawn).collect(),
        })
    }

    pub fn node(&self, title: &str) -> Option<&SvgNode> {
        self.nodes.iter().find(|n| n.title == title)
    }
}

/// The statements of a `pimplan paths --format dot` graph: one per line.
#[derive(Debug)]
pub struct Dot {
    /// The ids of the node statements (`n0 [label=…]`), in order.
    pub nodes: Vec<String>,
    /// The number of edge statements (`n0 -> n1 […]`).
    pub edges: usize,
}

impl Dot {
    pub fn of(text: &str) -> Dot {
        let mut nodes = Vec::new();
        let mut edges = 0;
        for line in text.lines().map(str::trim) {
            let Some((head, _)) = line.split_once(" [") else {
                continue;
            };
            if head.contains(" -> ") {
                edges += 1;
            } else if head
                .strip_prefix('n')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            {
                nodes.push(head.to_owned());
            }
        }
        Dot { nodes, edges }
    }
}

/// The drawing holds exactly the DOT's statements: one node per node statement (by id, in
/// order; an edge to an undeclared id would draw one more) and one edge per edge statement.
pub fn drawn_as_declared(dot: &str, svg: &Svg) -> Result<(), String> {
    let want = Dot::of(dot);
    let titles: Vec<&str> = svg.nodes.iter().map(|n| n.title.as_str()).collect();
    if titles != want.nodes {
        return Err(format!(
            "the SVG draws nodes {titles:?}, the DOT declares {:?}",
            want.nodes
        ));
    }
    if svg.edges.len() != want.edges {
        return Err(format!(
            "the SVG draws {} edges, the DOT has {}",
            svg.edges.len(),
            want.edges
        ));
    }
    Ok(())
}
