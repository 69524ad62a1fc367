//! `pimplan paths`: who can reach a role or a group's membership, or what a principal can
//! reach, with the best class and the shortest path of that class for each (privilege-paths
//! §A.9). It computes from whatever loaded, lint errors or not, and exits 0 when it did.

use std::io::Write;

use chrono::{DateTime, FixedOffset};

use super::RunContext;
use super::output::{fail, write_out};
use crate::config::model::Workspace;
use crate::exit::ExitStatus;
use crate::finding::{Severity, did_you_mean};
use crate::paths::{
    BuildOptions, Grant, Grants, NodeId, NodeKind, PathClass, PrivilegeGraph, ResetProtection,
};
use crate::render::paths::{Direction, NotYet, PathsReport, TargetView, node_label};
use crate::render::{self, human::HumanOptions};

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathsFormat {
    Human,
    Json,
    Markdown,
    Dot,
    Mermaid,
}

/// `--from`: which grants the graph is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathsFrom {
    /// The workspace's files (what a merge would make true).
    Files,
    /// The state file (what the tenant holds if nothing drifted).
    State,
}

/// What the target names, when a flag says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathsTarget {
    /// A bare name: a role, else a group, else a principal.
    Name(String),
    Role(String),
    Group(String),
    Principal(String),
    /// Every tier-0 role at once.
    Tier0,
}

/// What `pimplan paths` was asked.
pub struct PathsRequest {
    /// `None`: no target was given (a usage error).
    pub target: Option<PathsTarget>,
    /// `--class`: the worst class listed (`any` is [`PathClass::Approval`]).
    pub class: PathClass,
    pub from: PathsFrom,
    /// `--at`, as typed.
    pub at: Option<String>,
    pub format: PathsFormat,
}

pub fn run(
    cx: &RunContext,
    request: &PathsRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    // A workspace that does not load fails as `plan` fails (exit 1); a target or a time
    // that cannot be read is a usage error (exit 2).
    match traced(cx, request) {
        Ok(Traced::Done(status)) => Ok(status),
        Ok(Traced::Written(text)) => {
            write_out(out, &text)?;
            Ok(ExitStatus::Success)
        }
        Err(usage) => {
            eprintln!("{usage:?}");
            Ok(ExitStatus::Failure)
        }
    }
}

/// What a run came to when it did not stop at a usage error.
enum Traced {
    /// It stopped (and said why) with this status.
    Done(ExitStatus),
    /// The output.
    Written(String),
}

fn traced(cx: &RunContext, request: &PathsRequest) -> miette::Result<Traced> {
    let Some(target) = &request.target else {
        miette::bail!(
            "name what to trace: `pimplan paths NAME`, or --role, --group, --principal or --tier0"
        );
    };
    let at = match &request.at {
        None => cx.now(),
        Some(text) => DateTime::parse_from_rfc3339(text).map_err(|e| {
            miette::miette!("--at `{text}` is not an RFC 3339 time with offset: {e}")
        })?,
    };
    let mut lint = match crate::lint::lint(&cx.root(), &cx.clock) {
        Ok(lint) => lint,
        Err(e) => return Ok(Traced::Done(fail(e))),
    };
    let errors = lint.count(Severity::Error);
    let Some(ws) = lint.loaded.workspace.as_ref() else {
        eprint!(
            "{}",
            render::human::render(
                &lint.findings,
                &lint.loaded.sources,
                HumanOptions {
                    color: cx.color,
                    width: 100
                },
                true,
            )
        );
        return Ok(Traced::Done(fail(format!(
            "the workspace stopped at {errors} error-level finding(s); no paths were computed"
        ))));
    };
    if errors > 0 && !cx.quiet {
        eprintln!(
            "note: lint reports {errors} error-level finding(s); the paths are computed from what loaded (run `pimplan lint`)"
        );
    }
    let now = cx.now();
    let files;
    let loaded_state;
    let desired;
    let read_state = || -> Result<(String, crate::state::LoadedState), ExitStatus> {
        let location = ws
            .settings
            .state_location(&lint.loaded.root_dir)
            .map_err(|e| fail(format!("{e}; run `pimplan lint`")))?;
        let backend = crate::state::backend::open(&location);
        let loaded = crate::state::read_from(backend.as_ref()).map_err(fail)?;
        Ok((backend.describe(), loaded))
    };
    // Lint's graph (the files' at the run's clock, if a PIM8xx rule built it).
    let linted = lint.graph.take();
    let grants: Grants<'_> = match request.from {
        // Now or later: what the files make true once applied, each assignment without
        // `start` counted from now, as the plan counts it (`graph_grants`: the graph's
        // grants only, the graph `desired` would give). Before now: an assignment
        // without `start` was in effect only from its apply, which the state records, so
        // both sides give the same reach for a time in the past.
        PathsFrom::Files if at >= now => {
            files = crate::plan::desired::graph_grants(ws, now);
            files.grants()
        }
        PathsFrom::Files => {
            desired = crate::plan::desired(ws);
            loaded_state = match read_state() {
                Ok((_, s)) => s,
                Err(status) => return Ok(Traced::Done(status)),
            };
            desired.grants_applied(now, &loaded_state.state)
        }
        PathsFrom::State => {
            let path;
            (path, loaded_state) = match read_state() {
                Ok(read) => read,
                Err(status) => return Ok(Traced::Done(status)),
            };
            // As for `plan`, an absent state is an empty one (nothing applied yet): the
            // paths are the facts' alone, and that is said, not left to be guessed.
            if loaded_state.text.is_none() && !cx.quiet {
                eprintln!(
                    "note: there is no state file at {}: nothing has been applied, so only the paths of the workspace's facts (owners, standing members, admins) are shown",
                    path
                );
            }
            Grants::from_state(&loaded_state.state)
        }
    };
    let graph = match linted {
        Some(graph) if at == now && request.from == PathsFrom::Files => graph,
        _ => crate::paths::build_with(ws, &grants, at, options(ws)),
    };
    let query = resolve(ws, &graph, target)?;
    let reaches = match query.direction {
        Direction::To => graph.reach_any(&query.nodes, request.class),
        Direction::From => query
            .nodes
            .first()
            .map(|p| graph.reach_from(*p, request.class))
            .unwrap_or_default(),
    };
    let not_yet = match query.direction {
        Direction::To => not_yet(ws, &grants, &graph, &query.view, at, request.class),
        Direction::From => Vec::new(),
    };
    let report = PathsReport {
        graph: &graph,
        sources: &lint.loaded.sources,
        settings: &ws.settings.paths,
        now,
        class: request.class,
        direction: query.direction,
        target: query.view,
        reaches,
        not_yet,
        notes: graph.notes().to_vec(),
    };
    let text = match request.format {
        PathsFormat::Human => render::paths::human(&report),
        PathsFormat::Json => render::paths::json(&report),
        PathsFormat::Markdown => render::paths::markdown(&report),
        PathsFormat::Dot => render::paths_diagram::dot(&report),
        PathsFormat::Mermaid => render::paths_diagram::mermaid(&report),
    };
    Ok(Traced::Written(text))
}

/// The build's options as the root file's `paths:` sets them.
fn options(ws: &Workspace) -> BuildOptions {
    use crate::config::model::ResetProtection as Written;
    BuildOptions {
        eligible_reset_protection: match ws.settings.paths.eligible_reset_protection() {
            Written::Unprotected => ResetProtection::Unprotected,
            Written::Protected => ResetProtection::Protected,
        },
    }
}

/// A resolved target: its nodes (one, or every tier-0 role), which way to traverse, and how
/// the output names it.
struct Query {
    nodes: Vec<NodeId>,
    direction: Direction,
    view: TargetView,
}

fn view(query: &'static str, kind: &'static str, name: &str) -> TargetView {
    TargetView {
        query,
        kind,
        name: name.to_owned(),
        id: None,
        template_id: None,
        tier: None,
        roles: Vec::new(),
    }
}

/// A name typed on the command line, as [`PathsTarget`] says to read it; an unknown or
/// ambiguous one is a usage error (exit 2).
fn resolve(ws: &Workspace, graph: &PrivilegeGraph, target: &PathsTarget) -> miette::Result<Query> {
    let is_role = |n: &str| crate::entra_roles::find(n).is_some();
    let group = |n: &str| ws.groups.iter().find(|g| g.name.value == n);
    let principal = |n: &str| ws.principals.iter().find(|p| p.name.value == n);
    let role_query = |name: &str| -> miette::Result<Query> {
        let node = graph
            .entra_role(name)
            .filter(|_| is_role(name))
            .ok_or_else(|| unknown("role", name, crate::entra_roles::names()))?;
        let mut v = view("role", "entra_role", name);
        v.template_id = crate::entra_roles::find(name).map(|r| r.template_id.to_owned());
        v.tier = Some(ws.settings.paths.tier(name));
        Ok(Query {
            nodes: vec![node],
            direction: Direction::To,
            view: v,
        })
    };
    let group_query = |name: &str| -> miette::Result<Query> {
        let node = graph
            .group_member(name)
            .filter(|_| group(name).is_some())
            .ok_or_else(|| {
                unknown(
                    "group",
                    name,
                    ws.groups.iter().map(|g| g.name.value.as_str()).collect(),
                )
            })?;
        let mut v = view("group", "group", name);
        v.id = group(name).and_then(|g| g.id.as_ref().map(|i| i.value.clone()));
        Ok(Query {
            nodes: vec![node],
            direction: Direction::To,
            view: v,
        })
    };
    let principal_query = |name: &str| -> miette::Result<Query> {
        let node = graph
            .principal(name)
            .filter(|_| principal(name).is_some())
            .ok_or_else(|| {
                unknown(
                    "principal",
                    name,
                    ws.principals
                        .iter()
                        .map(|p| p.name.value.as_str())
                        .collect(),
                )
            })?;
        let mut v = view("principal", "principal", name);
        v.id = principal(name).and_then(|p| p.id.as_ref().map(|i| i.value.clone()));
        Ok(Query {
            nodes: vec![node],
            direction: Direction::From,
            view: v,
        })
    };
    match target {
        PathsTarget::Role(n) => role_query(n),
        PathsTarget::Group(n) => group_query(n),
        PathsTarget::Principal(n) => principal_query(n),
        PathsTarget::Tier0 => {
            // A `paths.tier0` name that is no built-in role (PIM002) is a target only where
            // a group holds a role of that name (a custom role): a misspelling is no target.
            let mut roles: Vec<String> = ws
                .settings
                .paths
                .tier0_roles()
                .into_iter()
                .filter(|r| is_role(r) || graph.entra_role(r).is_some())
                .map(str::to_owned)
                .collect();
            // The tier-0 Azure roles the groups hold (`paths.tier0_azure`), as the rules
            // count them: `Owner @ /subscriptions/s1`.
            let nodes = crate::paths::tier0_targets(graph, &ws.settings.paths);
            roles.extend(
                nodes
                    .iter()
                    .filter(|n| graph.node(**n).kind == NodeKind::AzureRole)
                    .map(|n| node_label(graph, *n)),
            );
            let mut v = view("tier0", "tier0", "tier 0");
            v.tier = Some(0);
            v.roles = roles;
            Ok(Query {
                nodes,
                direction: Direction::To,
                view: v,
            })
        }
        PathsTarget::Name(n) => {
            // A group principal stands for its group's membership: one meaning, not two.
            let principal_apart =
                principal(n).is_some() && graph.principal(n) != graph.group_member(n);
            let meanings: Vec<&str> = [
                (is_role(n), "a directory role"),
                (group(n).is_some(), "a group"),
                (principal_apart, "a principal"),
            ]
            .into_iter()
            .filter_map(|(yes, what)| yes.then_some(what))
            .collect();
            if meanings.len() > 1 {
                miette::bail!(
                    "`{n}` names {}; use --role/--group/--principal to say which",
                    meanings.join(" and ")
                );
            }
            if is_role(n) {
                role_query(n)
            } else if group(n).is_some() {
                group_query(n)
            } else if principal(n).is_some() {
                principal_query(n)
            } else {
                let mut all = crate::entra_roles::names();
                all.extend(ws.groups.iter().map(|g| g.name.value.as_str()));
                all.extend(ws.principals.iter().map(|p| p.name.value.as_str()));
                Err(unknown("role, group or principal", n, all))
            }
        }
    }
}

fn unknown(what: &str, name: &str, candidates: Vec<&str>) -> miette::Report {
    match did_you_mean(name, candidates) {
        Some(close) => miette::miette!("no {what} named `{name}`; did you mean `{close}`?"),
        None => miette::miette!("no {what} named `{name}`"),
    }
}

/// The assignments that start after `at` and would let a principal that does not reach the
/// target now reach it once they start: the graph built again with them in effect.
fn not_yet(
    ws: &Workspace,
    grants: &Grants<'_>,
    graph: &PrivilegeGraph,
    target: &TargetView,
    at: DateTime<FixedOffset>,
    class: PathClass,
) -> Vec<NotYet> {
    let future: Vec<&Grant<'_>> = grants
        .assignments
        .iter()
        .filter(|g| g.start.is_some_and(|s| s > at) && g.end.is_none_or(|e| e > at))
        .collect();
    if future.is_empty() {
        return Vec::new();
    }
    let later = Grants {
        assignments: grants
            .assignments
            .iter()
            .map(|g| {
                let mut g = *g;
                if g.start.is_some_and(|s| s > at) {
                    g.start = None;
                }
                g
            })
            .collect(),
        policies: grants.policies.clone(),
        span_of: grants.span_of,
    };
    let then = crate::paths::build_with(ws, &later, at, options(ws));
    let nodes = |g: &PrivilegeGraph| -> Vec<NodeId> {
        match target.kind {
            "tier0" => crate::paths::tier0_targets(g, &ws.settings.paths),
            "group" => g.group_member(&target.name).into_iter().collect(),
            _ => g.entra_role(&target.name).into_iter().collect(),
        }
    };
    let now: Vec<String> = graph
        .reach_any(&nodes(graph), class)
        .iter()
        .map(|r| graph.node(r.node).name.clone())
        .collect();
    let mut out: Vec<NotYet> = Vec::new();
    for r in then.reach_any(&nodes(&then), class) {
        let name = &then.node(r.node).name;
        if now.contains(name) {
            continue;
        }
        for g in future.iter().filter(|g| &g.spec.principal == name) {
            if let Some(from) = g.start {
                out.push(NotYet {
                    principal: name.clone(),
                    what: format!("{} {} of {}", g.spec.kind, g.spec.role, g.spec.group),
                    from,
                });
            }
        }
    }
    out.sort_by(|a, b| (a.from, &a.principal).cmp(&(b.from, &b.principal)));
    out
}
