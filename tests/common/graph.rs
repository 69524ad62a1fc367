//! Helpers for the library tests of the privilege graph (tests/paths_build.rs,
//! tests/paths_facts.rs): a graph built from a small root file, and short answers about it.

use std::error::Error;

use chrono::{DateTime, FixedOffset};
use pimplan::paths::{
    BuildOptions, Grant, Grants, NodeId, PathClass, PrivilegeGraph, Reach, build, build_with,
};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// The run's "now" in every test: 2026-12-01T12:00:00Z.
pub const NOW: &str = "2026-12-01T12:00:00Z";

/// A built graph and the workspace it was built from.
pub struct Built {
    pub graph: PrivilegeGraph,
    pub loaded: pimplan::load::Loaded,
}

impl Built {
    /// The text of the YAML span an edge was created from.
    pub fn source_text(&self, edge: u32) -> Option<String> {
        let span = self.graph.edge(edge).source?;
        self.loaded.sources.text(span).map(str::to_owned)
    }

    /// The workspace's `paths:` settings.
    pub fn paths(&self) -> Result<&pimplan::config::model::PathsSettings> {
        Ok(&self
            .loaded
            .workspace
            .as_ref()
            .ok_or("the workspace did not load")?
            .settings
            .paths)
    }
}

pub fn time(t: &str) -> Result<DateTime<FixedOffset>> {
    Ok(DateTime::parse_from_rfc3339(t)?)
}

/// The graph of `yaml` (a root file, `version: 1` added), the files' grants declared at
/// [`NOW`], built at `at` with `options` (`None`: the options of the workspace's `paths:`
/// section, as [`build`] reads them).
fn built(yaml: &str, at: &str, options: Option<BuildOptions>) -> Result<Built> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("pimplan.yaml");
    std::fs::write(&root, format!("version: 1\n{yaml}"))?;
    let loaded = pimplan::load::load(&root).map_err(|e| e.to_string())?;
    let ws = loaded
        .workspace
        .as_ref()
        .ok_or("the workspace did not load")?;
    let now = time(NOW)?;
    let desired = pimplan::plan::desired(ws);
    let span_of = |key: &str| desired.span_of(key);
    let grants = Grants {
        assignments: desired
            .assignments
            .iter()
            .map(|(spec, _)| Grant::declared(spec, now))
            .collect(),
        policies: desired.policies.iter().map(|(p, _)| p).collect(),
        span_of: &span_of,
    };
    let at = time(at)?;
    let graph = match options {
        Some(options) => build_with(ws, &grants, at, options),
        None => build(ws, &grants, at),
    };
    drop(grants);
    drop(desired);
    Ok(Built { graph, loaded })
}

/// The graph of `yaml` at [`NOW`] through [`build`]: its options come from the workspace's
/// `paths:` section.
pub fn graph(yaml: &str) -> Result<Built> {
    built(yaml, NOW, None)
}

/// The graph of `yaml` at `at` with explicit options.
pub fn graph_with(yaml: &str, at: &str, options: BuildOptions) -> Result<Built> {
    built(yaml, at, Some(options))
}

pub fn role(g: &PrivilegeGraph, name: &str) -> Result<NodeId> {
    Ok(g.entra_role(name).ok_or(format!("no role {name}"))?)
}

pub fn member(g: &PrivilegeGraph, group: &str) -> Result<NodeId> {
    Ok(g.group_member(group).ok_or(format!("no group {group}"))?)
}

pub fn principal(g: &PrivilegeGraph, name: &str) -> Result<NodeId> {
    Ok(g.principal(name).ok_or(format!("no principal {name}"))?)
}

/// `name class hops` per principal that reaches `target` (any class).
pub fn who(g: &PrivilegeGraph, target: NodeId) -> Vec<String> {
    g.reach(target, PathClass::Approval)
        .iter()
        .map(|r| format!("{} {} {}", g.node(r.node).name, r.class, r.hops))
        .collect()
}

pub fn find<'a>(g: &PrivilegeGraph, reach: &'a [Reach], name: &str) -> Result<&'a Reach> {
    Ok(reach
        .iter()
        .find(|r| g.node(r.node).name == name)
        .ok_or(format!("{name} does not reach"))?)
}

/// The witness's edge codes.
pub fn kinds(g: &PrivilegeGraph, r: &Reach) -> Vec<&'static str> {
    r.path.iter().map(|e| g.edge(*e).kind.code()).collect()
}
