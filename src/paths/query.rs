//! Reach queries (privilege-paths §A.8): one breadth-first traversal per class on the edges
//! of that class or better, with a parent pointer per node. That gives each principal's best
//! class and its shortest witness path within it; nothing enumerates paths.
//!
//! Hops count edges, an edge into a hub counting as part of the hub's hop (role → hub →
//! group is one hop), so the traversal is a 0-1 BFS: still linear.

use std::collections::VecDeque;

use super::edge::{EdgeId, Flags};
use super::gate::PathClass;
use super::node::{NodeId, NodeKind};
use super::{PrivilegeGraph, index};

const NONE: u32 = u32::MAX;

/// One principal (for [`PrivilegeGraph::reach`]) or one node (for
/// [`PrivilegeGraph::reach_from`]) and its best path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The principal that reaches the target, or the node the principal reaches.
    pub node: NodeId,
    /// The best class of any path (the classes nest, so it is also the least class the
    /// node is counted in).
    pub class: PathClass,
    /// The hops of the witness: the fewest of any path of `class`.
    pub hops: u32,
    /// The union of the witness's edge flags.
    pub flags: Flags,
    /// The witness, from the principal towards the target: consecutive edges.
    pub path: Vec<EdgeId>,
}

/// Distances and parent edges of one traversal.
struct Tree {
    dist: Vec<u32>,
    parent: Vec<EdgeId>,
}

impl PrivilegeGraph {
    /// What an edge adds to a path's hops: nothing when it enters a hub.
    pub fn weight(&self, edge: EdgeId) -> u32 {
        u32::from(self.node(self.edge(edge).head).kind != NodeKind::Hub)
    }

    /// The hops of a path (see [`PrivilegeGraph::weight`]).
    pub fn hops(&self, path: &[EdgeId]) -> u32 {
        path.iter().map(|e| self.weight(*e)).sum()
    }

    /// The class of a path: its weakest edge's.
    pub fn path_class(&self, path: &[EdgeId]) -> PathClass {
        PathClass::of_path(path.iter().map(|e| self.edge_class(*e)))
    }

    pub fn path_flags(&self, path: &[EdgeId]) -> Flags {
        path.iter()
            .fold(Flags::default(), |f, e| f.union(self.edge(*e).flags))
    }

    /// 0-1 BFS from `starts` over the edges of class `class` or better, against the edges'
    /// direction when `reverse`.
    fn traverse(&self, starts: &[NodeId], class: PathClass, reverse: bool) -> Tree {
        let n = self.nodes.len();
        let mut dist = vec![NONE; n];
        let mut parent = vec![NONE; n];
        let mut done = vec![false; n];
        let mut queue = VecDeque::new();
        for s in starts {
            if let Some(d) = dist.get_mut(index(*s)) {
                *d = 0;
                queue.push_back(*s);
            }
        }
        while let Some(v) = queue.pop_front() {
            let vi = index(v);
            if done[vi] {
                continue;
            }
            done[vi] = true;
            let edges = if reverse {
                self.in_edges(v)
            } else {
                self.out_edges(v)
            };
            for &e in edges {
                if self.edge_class(e) > class {
                    continue;
                }
                let edge = self.edge(e);
                let u = if reverse { edge.tail } else { edge.head };
                let w = self.weight(e);
                let d = dist[vi] + w;
                let ui = index(u);
                if d < dist[ui] {
                    dist[ui] = d;
                    parent[ui] = e;
                    if w == 0 {
                        queue.push_front(u);
                    } else {
                        queue.push_back(u);
                    }
                }
            }
        }
        Tree { dist, parent }
    }

    /// The witness of `node` in a tree: its parent edges up to a start, in path order.
    fn witness(&self, tree: &Tree, node: NodeId, reverse: bool) -> Vec<EdgeId> {
        let mut path = Vec::new();
        let mut x = node;
        while let Some(&e) = tree.parent.get(index(x)) {
            if e == NONE || path.len() > self.nodes.len() {
                break;
            }
            path.push(e);
            let edge = self.edge(e);
            x = if reverse { edge.head } else { edge.tail };
        }
        if !reverse {
            path.reverse();
        }
        path
    }

    /// Each node `keep` accepts that the traversals reach, with its best class up to `class`
    /// and the shortest witness of that class, sorted by class, hops and key.
    fn best(
        &self,
        starts: &[NodeId],
        class: PathClass,
        reverse: bool,
        keep: impl Fn(NodeId) -> bool,
    ) -> Vec<Reach> {
        let mut found = vec![false; self.nodes.len()];
        for s in starts {
            if let Some(f) = found.get_mut(index(*s)) {
                *f = true;
            }
        }
        let mut out = Vec::new();
        for c in PathClass::ALL.into_iter().filter(|c| *c <= class) {
            let tree = self.traverse(starts, c, reverse);
            for (i, d) in tree.dist.iter().enumerate() {
                let Ok(node) = u32::try_from(i) else { break };
                if *d == NONE || found[i] || !keep(node) {
                    continue;
                }
                found[i] = true;
                let path = self.witness(&tree, node, reverse);
                out.push(Reach {
                    node,
                    class: c,
                    hops: *d,
                    flags: self.path_flags(&path),
                    path,
                });
            }
        }
        out.sort_by_cached_key(|r| (r.class, r.hops, self.node(r.node).key()));
        out
    }

    /// The principals that reach `target` by a path of class `class` or better, each with
    /// its best class and shortest witness (reverse BFS per class).
    pub fn reach(&self, target: NodeId, class: PathClass) -> Vec<Reach> {
        self.reach_any(&[target], class)
    }

    /// [`PrivilegeGraph::reach`] for a set of targets at once (every tier-0 role: one
    /// super-target), each principal with its best path to any of them.
    pub fn reach_any(&self, targets: &[NodeId], class: PathClass) -> Vec<Reach> {
        self.best(targets, class, true, |n| {
            self.node(n).kind == NodeKind::Principal
        })
    }

    /// What `principal` reaches by a path of class `class` or better (forward BFS per
    /// class): every node but hubs, with its best class and shortest witness.
    pub fn reach_from(&self, principal: NodeId, class: PathClass) -> Vec<Reach> {
        self.best(&[principal], class, false, |n| !self.node(n).is_hub())
    }
}
