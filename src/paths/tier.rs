//! Which targets are tier 0, and the tier of a role node (privilege-paths §A.6): Entra roles
//! by `paths.tier0` and Microsoft's PRIVILEGED label (`entra_roles::tier`), Azure roles by
//! `paths.tier0_azure` (a tier-0 entry held at its scope or above it).

use crate::config::model::PathsSettings;

use super::PrivilegeGraph;
use super::node::{NodeId, NodeKind};

/// Azure's privileged administrator roles (tier 1 when not tier 0): the list lives with the
/// settings, which check `paths.tier0_azure` names against it.
pub use crate::config::model::AZURE_PRIVILEGED;

/// The tier-0 targets of the graph: the tier-0 Entra roles (directory scope, in
/// [`PathsSettings::tier0_roles`] order), then every Azure role node that is tier 0
/// ([`PathsSettings::is_tier0_azure`]), in node order.
pub fn tier0_targets(graph: &PrivilegeGraph, settings: &PathsSettings) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = settings
        .tier0_roles()
        .into_iter()
        .filter_map(|r| graph.entra_role(r))
        .collect();
    for (i, n) in graph.nodes().iter().enumerate() {
        if n.kind == NodeKind::AzureRole
            && settings.is_tier0_azure(&n.name, n.scope.as_deref().unwrap_or("/"))
            && let Ok(id) = NodeId::try_from(i)
        {
            out.push(id);
        }
    }
    out
}

/// The tier of a role node, for renderers: 0, 1 or 2 for an Entra role (at any scope, by its
/// name) or an Azure role (0 if tier 0 at its scope, 1 if one of [`AZURE_PRIVILEGED`], else
/// 2); `None` for any other node.
pub fn tier(graph: &PrivilegeGraph, node: NodeId, settings: &PathsSettings) -> Option<u8> {
    let n = graph.node(node);
    match n.kind {
        NodeKind::EntraRole => Some(settings.tier(&n.name)),
        NodeKind::AzureRole => Some(
            if settings.is_tier0_azure(&n.name, n.scope.as_deref().unwrap_or("/")) {
                0
            } else if AZURE_PRIVILEGED
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&n.name))
            {
                1
            } else {
                2
            },
        ),
        _ => None,
    }
}
