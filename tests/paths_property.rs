//! Reach against a naive oracle on random graphs (privilege-paths §A.13 item 3): 500 graphs
//! of at most 60 nodes with random gates. For every class, the principals `reach` lists are
//! exactly those a per-source DFS over the class-filtered edges finds; each one's class is
//! the first class it is found in; each witness is consecutive, runs from the principal to
//! the target, has the class it is reported with, and is as short as the shortest path of
//! that class (Bellman-Ford over the same weights). The same for `reach_from`.

use std::collections::BTreeSet;

use pimplan::paths::{
    Approval, Edge, EdgeKind, Gates, GraphBuilder, Node, NodeId, NodeKind, PathClass,
    PrivilegeGraph, Reach,
};
use proptest::prelude::*;

const INF: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Spec {
    kinds: Vec<u8>,
    /// (tail, head, gate bits, kind index)
    edges: Vec<(usize, usize, u8, usize)>,
    target: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (2usize..=60).prop_flat_map(|n| {
        (
            proptest::collection::vec(0u8..4, n),
            proptest::collection::vec((0..n, 0..n, any::<u8>(), 0usize..19), 0..=3 * n),
            0..n,
        )
            .prop_map(|(kinds, edges, target)| Spec {
                kinds,
                edges,
                target,
            })
    })
}

fn id(i: usize) -> NodeId {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn graph(spec: &Spec) -> PrivilegeGraph {
    let mut b = GraphBuilder::new();
    for (i, k) in spec.kinds.iter().enumerate() {
        let kind = match k {
            0 => NodeKind::Principal,
            1 => NodeKind::GroupMember,
            2 => NodeKind::Hub,
            _ => NodeKind::EntraRole,
        };
        b.node(Node::new(kind, format!("n{i}")));
    }
    for &(t, h, bits, k) in &spec.edges {
        let mut e = Edge::new(EdgeKind::ALL[k], id(t), id(h)).with_gates(Gates {
            approval: (bits & 1 != 0).then(|| Approval {
                approvers: vec!["a".to_owned()],
            }),
            mfa: bits & 2 != 0,
            auth_context: (bits & 4 != 0).then(|| "c".to_owned()),
            justification: bits & 8 != 0,
            ticket: bits & 32 != 0,
        });
        e.action = bits & 16 != 0;
        b.edge(e);
    }
    b.finish()
}

/// The edges of class `c` or better, as an adjacency list (forward when `!reverse`).
fn adjacency(g: &PrivilegeGraph, c: PathClass, reverse: bool) -> Vec<Vec<(usize, u32)>> {
    let mut adj = vec![Vec::new(); g.nodes().len()];
    for (i, e) in g.edges().iter().enumerate() {
        if g.edge_class(id(i)) <= c {
            let (from, to) = if reverse {
                (e.head, e.tail)
            } else {
                (e.tail, e.head)
            };
            adj[from as usize].push((to as usize, g.weight(id(i))));
        }
    }
    adj
}

/// Per-source DFS: whether `from` reaches `to`.
fn dfs(adj: &[Vec<(usize, u32)>], from: usize, to: usize) -> bool {
    let mut seen = vec![false; adj.len()];
    let mut stack = vec![from];
    while let Some(v) = stack.pop() {
        if v == to {
            return true;
        }
        if std::mem::replace(&mut seen[v], true) {
            continue;
        }
        stack.extend(adj[v].iter().map(|(u, _)| *u));
    }
    false
}

/// Bellman-Ford distances from `from` over `adj`.
fn distances(adj: &[Vec<(usize, u32)>], from: usize) -> Vec<u32> {
    let mut d = vec![INF; adj.len()];
    d[from] = 0;
    for _ in 0..adj.len() {
        let mut changed = false;
        for v in 0..adj.len() {
            if d[v] == INF {
                continue;
            }
            for &(u, w) in &adj[v] {
                if d[v] + w < d[u] {
                    d[u] = d[v] + w;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    d
}

/// Checks one result list against the oracle; `reverse`: `start` is the target.
fn check(
    g: &PrivilegeGraph,
    start: usize,
    class: PathClass,
    reverse: bool,
    got: &[Reach],
    keep: impl Fn(usize) -> bool,
) -> Result<(), TestCaseError> {
    let n = g.nodes().len();
    let classes: Vec<PathClass> = PathClass::ALL.into_iter().filter(|c| *c <= class).collect();
    let adjs: Vec<_> = classes.iter().map(|c| adjacency(g, *c, false)).collect();
    let mut expected = BTreeSet::new();
    for v in (0..n).filter(|v| *v != start && keep(*v)) {
        let (from, to) = if reverse { (v, start) } else { (start, v) };
        if dfs(&adjs[adjs.len() - 1], from, to) {
            expected.insert(v);
        }
    }
    let listed: BTreeSet<usize> = got.iter().map(|r| r.node as usize).collect();
    prop_assert_eq!(&listed, &expected, "reach set in class {}", class);
    prop_assert_eq!(listed.len(), got.len(), "a node listed twice");
    // Distances of the oracle per class: to the target (reverse), or from the start.
    let dist: Vec<Vec<u32>> = classes
        .iter()
        .map(|c| distances(&adjacency(g, *c, reverse), start))
        .collect();
    for r in got {
        let v = r.node as usize;
        let Some(best) = (0..classes.len()).find(|i| dist[*i][v] != INF) else {
            return Err(TestCaseError::fail(format!("{v} reported but unreachable")));
        };
        prop_assert_eq!(r.class, classes[best], "best class of {}", v);
        prop_assert_eq!(r.hops, dist[best][v], "hops of {}", v);
        // The witness: consecutive, from the principal to the target, of its class, short.
        let path: Vec<&Edge> = r.path.iter().map(|e| g.edge(*e)).collect();
        prop_assert!(!path.is_empty());
        let (first, last) = (path[0].tail as usize, path[path.len() - 1].head as usize);
        if reverse {
            prop_assert_eq!((first, last), (v, start));
        } else {
            prop_assert_eq!((first, last), (start, v));
        }
        for w in path.windows(2) {
            prop_assert_eq!(w[0].head, w[1].tail, "witness not consecutive");
        }
        prop_assert_eq!(g.path_class(&r.path), r.class, "witness class of {}", v);
        prop_assert_eq!(
            PathClass::of_path(path.iter().map(|e| PathClass::of(&e.gates, e.action))),
            r.class
        );
        prop_assert_eq!(g.hops(&r.path), r.hops, "witness length of {}", v);
        let flags = path
            .iter()
            .fold(pimplan::paths::Flags::default(), |f, e| f.union(e.flags));
        prop_assert_eq!(flags, r.flags);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn reach_matches_a_naive_oracle(spec in spec()) {
        let g = graph(&spec);
        let is_principal = |v: usize| g.nodes()[v].kind == NodeKind::Principal;
        let not_hub = |v: usize| g.nodes()[v].kind != NodeKind::Hub;
        for class in PathClass::ALL {
            let got = g.reach(id(spec.target), class);
            check(&g, spec.target, class, true, &got, is_principal)?;
            let got = g.reach_from(id(spec.target), class);
            check(&g, spec.target, class, false, &got, not_hub)?;
        }
    }
}
