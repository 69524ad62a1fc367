//! What a rule's check reads: the workspace with its indexes ([`Context`]), and at plan time
//! the changes and the state ([`PlanContext`]).

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use crate::config::model::{
    Admin, Assignment, AssignmentPolicy, Group, Principal, PrincipalType, Workspace,
};
use crate::paths::{NodeId, PrivilegeGraph};
use crate::source::Sources;
use crate::source::yaml::Spanned;

/// Lookups built once per run, so that no rule scans all entries per entry.
pub struct Index<'w> {
    pub principals: HashMap<&'w str, &'w Principal>,
    pub groups: HashMap<&'w str, &'w Group>,
    /// Assignments per group name, in file order.
    pub assignments_by_group: HashMap<&'w str, Vec<&'w Assignment>>,
    /// Standing role holders per principal name.
    pub admins_by_principal: HashMap<&'w str, Vec<&'w Admin>>,
}

impl<'w> Index<'w> {
    pub fn new(ws: &'w Workspace) -> Self {
        // First definition wins; PIM102 reports the others.
        let mut principals = HashMap::with_capacity(ws.principals.len());
        for p in &ws.principals {
            principals.entry(p.name.value.as_str()).or_insert(p);
        }
        let mut groups = HashMap::with_capacity(ws.groups.len());
        for g in &ws.groups {
            groups.entry(g.name.value.as_str()).or_insert(g);
        }
        let mut assignments_by_group: HashMap<&str, Vec<&Assignment>> = HashMap::new();
        for a in &ws.assignments {
            assignments_by_group
                .entry(a.group.value.as_str())
                .or_default()
                .push(a);
        }
        let mut admins_by_principal: HashMap<&str, Vec<&Admin>> = HashMap::new();
        for a in &ws.admins {
            admins_by_principal
                .entry(a.principal.value.as_str())
                .or_default()
                .push(a);
        }
        Index {
            principals,
            groups,
            assignments_by_group,
            admins_by_principal,
        }
    }
}

/// What a rule's check reads: the workspace, its indexes, the files and the one clock.
pub struct Context<'w> {
    pub workspace: &'w Workspace,
    pub index: Index<'w>,
    pub sources: &'w Sources,
    pub now: DateTime<FixedOffset>,
    /// State keys of the assignments already applied (empty without a state file).
    pub applied: HashSet<String>,
    /// The privilege graph of the files at `now`, built by the first
    /// [`Context::privilege_graph`] call (a PIM8xx rule that runs) and shared by the others;
    /// a run without such a rule never builds it. Start it empty (`OnceCell::new()`).
    pub graph: OnceCell<PrivilegeGraph>,
}

impl<'w> Context<'w> {
    /// The privilege graph of the files' facts and grants in effect at the run's clock
    /// (privilege-paths §A.8: built once per run, on first use).
    pub fn privilege_graph(&self) -> &PrivilegeGraph {
        self.graph.get_or_init(|| {
            // The graph's grants only, not the full specs `plan::desired` makes.
            let grants = crate::plan::desired::graph_grants(self.workspace, self.now);
            // `build` reads `paths.eligible_reset_protection` itself.
            crate::paths::build(self.workspace, &grants.grants(), self.now)
        })
    }

    /// Whether anyone can hold a directory role at all: an `admins:` entry, or a group's
    /// `entra_roles`. Every path to a role starts with one (E8, E9; granting a role, E14,
    /// needs a role), so without any the PIM8xx rules have nothing to find and do not build
    /// the graph (a 100,000-principal directory export lints as fast as before).
    pub fn roles_declared(&self) -> bool {
        !self.workspace.admins.is_empty()
            || self
                .workspace
                .groups
                .iter()
                .any(|g| !g.entra_roles.is_empty() || !g.azure_roles.is_empty())
    }

    /// The graph's tier-0 targets: the tier-0 directory roles (`paths.tier0`, the core roles
    /// always in it) and the Azure roles held at or above a `paths.tier0_azure` scope.
    pub fn tier0_targets(&self) -> Vec<NodeId> {
        crate::paths::tier0_targets(self.privilege_graph(), &self.workspace.settings.paths)
    }

    /// The group an assignment names, and the group's policy for the assignment's role and
    /// type (defaults applied); `None` when the group is not defined (PIM101 reports it).
    /// Each standing member (`groups[].members`) that is a group principal, with its group:
    /// what PIM505 and PIM506 judge like an active assignment of a group.
    pub fn standing_group_members(&self) -> impl Iterator<Item = (&'w Group, &'w Spanned<String>)> {
        let principals = &self.index.principals;
        self.workspace.groups.iter().flat_map(move |g| {
            g.members
                .iter()
                .filter(move |m| {
                    principals
                        .get(m.value.as_str())
                        .is_some_and(|p| p.is(PrincipalType::Group))
                })
                .map(move |m| (g, m))
        })
    }

    pub fn principal(&self, name: &str) -> Option<&'w Principal> {
        self.index.principals.get(name).copied()
    }

    pub fn group(&self, name: &str) -> Option<&'w Group> {
        self.index.groups.get(name).copied()
    }

    /// The assignments of one group (empty when it has none).
    pub fn assignments_of(&self, group: &str) -> &[&'w Assignment] {
        self.index
            .assignments_by_group
            .get(group)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether the state records this assignment as applied.
    pub fn is_applied(&self, a: &Assignment) -> bool {
        if self.applied.is_empty() {
            return false;
        }
        fn id(o: Option<&Spanned<String>>) -> Option<&str> {
            o.map(|i| i.value.as_str())
        }
        let group_id = self.group(&a.group.value).and_then(|g| id(g.id.as_ref()));
        let principal_id = self
            .principal(&a.principal.value)
            .and_then(|p| id(p.id.as_ref()));
        let key = crate::state::assignment_key(
            &a.group.value,
            group_id,
            &a.principal.value,
            principal_id,
            a.role.value,
            a.kind.value,
        );
        self.applied.contains(&key)
    }

    pub fn assignment_policy(&self, a: &Assignment) -> Option<(&'w Group, &'w AssignmentPolicy)> {
        let group = *self.index.groups.get(a.group.value.as_str())?;
        Some((
            group,
            group.policy.role(a.role.value).assignment(a.kind.value),
        ))
    }
}

/// What a plan-time rule reads: the changes, where they are written, the state, the clock.
pub struct PlanContext<'a> {
    pub changes: &'a [crate::plan::Change],
    pub desired: &'a crate::plan::Desired<'a>,
    pub workspace: &'a Workspace,
    pub state: &'a crate::state::State,
    pub now: DateTime<FixedOffset>,
    pub allow_mass_removal: bool,
    /// The span of a state entry (its key in the state file), for changes that are not in
    /// the workspace any more.
    pub state_entry: &'a dyn Fn(&str) -> Option<crate::source::Span>,
    /// Where a finding about the plan as a whole points (the root file's `state:` or top).
    pub plan_span: crate::source::Span,
    /// What the plan does to who can reach the privileged roles (`None` without changes,
    /// or when no privileged role's reach changes).
    pub privilege_delta: Option<&'a crate::paths::PrivilegeDelta>,
}

impl PlanContext<'_> {
    /// Where a finding about one change points.
    pub fn span_of(&self, change: &crate::plan::Change) -> crate::source::Span {
        crate::plan::change_span(change, self.desired, self.state_entry).unwrap_or(self.plan_span)
    }
}
