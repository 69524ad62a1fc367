//! The graph lint's PIM8xx rules build from `plan::desired::graph_grants` (the graph's
//! grants only) is the graph `plan::desired(ws).grants(now)` gives (the full specs, the
//! plan's "after" side): the same nodes, edges (their spans included) and notes, for every
//! fixture workspace, at several moments.

use std::error::Error;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

fn roots(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            roots(&path, out)?;
        } else if path.file_name().is_some_and(|n| n == "pimplan.yaml") {
            out.push(path);
        }
    }
    Ok(())
}

#[test]
fn graph_grants_build_the_desired_graph() -> Result {
    let mut all = Vec::new();
    roots(Path::new("fixtures"), &mut all)?;
    all.sort();
    let moments: Vec<DateTime<FixedOffset>> = [
        "2026-12-01T00:00:00Z",
        "2026-06-01T12:00:00+02:00",
        "2027-06-01T00:00:00Z",
    ]
    .iter()
    .map(|t| DateTime::parse_from_rfc3339(t))
    .collect::<std::result::Result<_, _>>()?;
    let mut compared = 0;
    let mut with_edges = 0;
    for root in &all {
        let Ok(loaded) = pimplan::load::load(root) else {
            continue;
        };
        let Some(ws) = loaded.workspace.as_ref() else {
            continue;
        };
        for now in &moments {
            let desired = pimplan::plan::desired(ws);
            let full = pimplan::paths::build(ws, &desired.grants(*now), *now);
            let light = pimplan::plan::desired::graph_grants(ws, *now);
            let graph = pimplan::paths::build(ws, &light.grants(), *now);
            let at = root.display();
            assert_eq!(full.nodes(), graph.nodes(), "nodes of {at} at {now}");
            assert_eq!(full.edges(), graph.edges(), "edges of {at} at {now}");
            assert_eq!(full.notes(), graph.notes(), "notes of {at} at {now}");
            compared += 1;
            with_edges += usize::from(full.edges().iter().any(|e| e.source.is_some()));
        }
    }
    // The fixtures hold hundreds of workspaces; most declare something with a span.
    assert!(compared > 300, "compared {compared} graphs");
    assert!(with_edges > 100, "{with_edges} graphs with declared edges");
    Ok(())
}
