//! What the PIM8xx rules ask of the privilege graph besides [`crate::paths::Reach`]: which
//! nodes (not only principals) reach a set of targets, with the next edge towards one, in a
//! single reverse traversal (linear, as privilege-paths §A.8 asks), and how to name things
//! in a message.

use crate::paths::{EdgeId, NodeId, NodeKind, PathClass, PrivilegeGraph};

use super::Context;

const NONE: u32 = u32::MAX;

/// One reverse breadth-first traversal from a set of targets over the edges of a class or
/// better: for every node, whether it reaches a target and by which edge it leaves towards
/// one (fewest edges).
pub struct Toward {
    next: Vec<EdgeId>,
    reached: Vec<bool>,
}

fn index(id: u32) -> usize {
    usize::try_from(id).unwrap_or(usize::MAX)
}

impl Toward {
    pub fn new(graph: &PrivilegeGraph, targets: &[NodeId], class: PathClass) -> Self {
        let n = graph.nodes().len();
        let mut next = vec![NONE; n];
        let mut reached = vec![false; n];
        let mut queue = std::collections::VecDeque::new();
        for t in targets {
            if let Some(r) = reached.get_mut(index(*t))
                && !*r
            {
                *r = true;
                queue.push_back(*t);
            }
        }
        while let Some(v) = queue.pop_front() {
            for &e in graph.in_edges(v) {
                if graph.edge_class(e) > class {
                    continue;
                }
                let u = index(graph.edge(e).tail);
                if !reached[u] {
                    reached[u] = true;
                    next[u] = e;
                    queue.push_back(graph.edge(e).tail);
                }
            }
        }
        Toward { next, reached }
    }

    pub fn reaches(&self, node: NodeId) -> bool {
        self.reached.get(index(node)).copied().unwrap_or(false)
    }

    /// The edges from `node` to the target it reaches (empty for a target, or a node that
    /// reaches none).
    pub fn path(&self, graph: &PrivilegeGraph, node: NodeId) -> Vec<EdgeId> {
        let mut path = Vec::new();
        let mut x = node;
        while let Some(&e) = self.next.get(index(x)) {
            if e == NONE || path.len() > self.next.len() {
                break;
            }
            path.push(e);
            x = graph.edge(e).head;
        }
        path
    }
}

/// Whether a principal node is marked `emergency_access` (a break-glass account).
pub fn is_emergency(cx: &Context<'_>, graph: &PrivilegeGraph, node: NodeId) -> bool {
    let n = graph.node(node);
    n.kind == NodeKind::Principal
        && cx
            .principal(&n.name)
            .is_some_and(crate::config::model::Principal::is_emergency_access)
}

/// How a message names a node: `alice`, "members of `g`", "owners of `g`", a role's name.
pub fn describe(graph: &PrivilegeGraph, node: NodeId) -> String {
    let n = graph.node(node);
    match n.kind {
        NodeKind::Principal => format!("`{}`", n.name),
        NodeKind::GroupMember => format!("members of `{}`", n.name),
        NodeKind::GroupOwner => format!("owners of `{}`", n.name),
        NodeKind::EntraRole => match &n.scope {
            Some(au) => format!("{} (in `{au}`)", n.name),
            None => n.name.clone(),
        },
        NodeKind::AzureRole | NodeKind::Hub => n.name.clone(),
    }
}

/// `a, b, c and 2 more`: at most `cap` items, the rest counted.
pub fn capped(items: &[String], cap: usize) -> String {
    let shown: Vec<&str> = items.iter().take(cap).map(String::as_str).collect();
    let rest = items.len().saturating_sub(cap);
    match (shown.len(), rest) {
        (0, _) => String::new(),
        (1, 0) => shown[0].to_owned(),
        (n, 0) => format!("{} and {}", shown[..n - 1].join(", "), shown[n - 1]),
        (_, r) => format!("{} and {r} more", shown.join(", ")),
    }
}

/// The principals that hold `node` without any action through standing memberships (E1,
/// E7): the node itself when it is a principal, else the principals that are standing
/// members of the group, nested groups included.
pub fn standing_holders(graph: &PrivilegeGraph, node: NodeId) -> Vec<NodeId> {
    use crate::paths::EdgeKind;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![node];
    while let Some(v) = stack.pop() {
        if !seen.insert(v) {
            continue;
        }
        if graph.node(v).kind == NodeKind::Principal {
            out.push(v);
            continue;
        }
        for &e in graph.in_edges(v) {
            let edge = graph.edge(e);
            if matches!(edge.kind, EdgeKind::ActiveMember | EdgeKind::NestedActive) {
                stack.push(edge.tail);
            }
        }
    }
    out.sort_by_key(|n| graph.node(*n).name.clone());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_lists_read_as_prose() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(capped(&s(&["a"]), 3), "a");
        assert_eq!(capped(&s(&["a", "b"]), 3), "a and b");
        assert_eq!(capped(&s(&["a", "b", "c"]), 3), "a, b and c");
        assert_eq!(
            capped(&s(&["a", "b", "c", "d", "e"]), 3),
            "a, b, c and 2 more"
        );
    }
}
