//! The facts the privilege graph rests on, checked against the directory: for the groups and
//! principals the files declare, a group's role-assignability, kind and membership type
//! (`GET /groups/{id}`), its owners and standing members (`/groups/{id}/owners`,
//! `/groups/{id}/members`), the admins' directory role assignments and their scopes
//! (`/roleManagement/directory/roleAssignments?$filter=principalId eq '…'`) and a group's own
//! active `entra_roles` (the same, for the group's id), and the licences
//! of users with PIM assignments (`/users/{id}/licenseDetails`). Only what the files declare
//! is compared; each difference is a [`DriftItem::FactDiffers`].
//!
//! Requests: one per group that declares `role_assignable`, `type` or `membership`, one per
//! group for `owners:` and two for `members:` where declared (`/members`, and
//! `/groups/{id}?$expand=members` for the service principals v1.0's `/members` does not
//! list), one per admin principal and per
//! group with `entra_roles`, one per
//! user with PIM assignments and `licenses:` (plus one per further page of 100 results, an
//! empty page with a paging link included). An
//! answer 403 (the app lacks the permission) leaves that kind of fact unchecked
//! ([`DriftItem::FactUnchecked`], not drift) and sends no more requests of that kind.
//! A throttled read (429, 503) is asked again as `Retry-After` says, by the client; one still
//! throttled at the client's limit fails the refresh, naming what was read.
//!
//! The directory is eventually consistent: a change (a PIM activation or removal, a member
//! added or removed) may take a while to show in `/members` and `/owners`. So principals with
//! a PIM assignment of the group (files or state) are never standing members or owners,
//! listed or not; and a list that differs from the files, or a group or user not found (404:
//! one created a moment ago may not have reached the replica that answers), is read twice
//! more, 5 s apart, before the difference is reported: only a difference every read shows is
//! drift.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use super::client::{Client, GraphError, values};
use crate::config::model::{AdminScope, GroupType, Membership, PrincipalType, Role, Workspace};
use crate::drift::DriftItem;
use crate::licenses::{PRODUCTS, Plan, plan_of};
use crate::state::State;

/// The kinds of facts, each read with its own permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Group,
    Roles,
    Licenses,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Group => "groups' role-assignability, kind, owners and members",
            Kind::Roles => "admins' directory role assignments",
            Kind::Licenses => "users' licences",
        }
    }

    fn permission(self) -> &'static str {
        match self {
            Kind::Group => "GroupMember.Read.All",
            Kind::Roles => "RoleManagement.Read.Directory",
            Kind::Licenses => "User.Read.All",
        }
    }
}

fn encode(path: &str) -> String {
    path.replace(' ', "%20")
}

fn lower(id: &str) -> String {
    id.to_ascii_lowercase()
}

/// What a read found: the answer, or that the object is gone (404).
enum Found<T> {
    Yes(T),
    Gone,
}

fn found<T>(r: Result<T, GraphError>) -> Result<Found<T>, GraphError> {
    match r {
        Ok(v) => Ok(Found::Yes(v)),
        Err(e) if e.status() == Some(404) => Ok(Found::Gone),
        Err(e) => Err(e),
    }
}

/// Every item of a collection, following `@odata.nextLink`.
fn all(client: &mut Client, first: &str) -> Result<Vec<Value>, GraphError> {
    let mut path = encode(first);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let (_, page) = client.send("GET", &path, None)?;
        out.extend(values(&page, &path)?.iter().cloned());
        seen.insert(path.clone());
        match page["@odata.nextLink"].as_str() {
            Some(link) => path = client.next_path(link)?,
            None => return Ok(out),
        }
        // A link back to a page already read would never end.
        if seen.contains(&path) {
            return Err(GraphError::Unreadable(format!(
                "a paging link (`@odata.nextLink`) leads back to a page already read: {path}"
            )));
        }
    }
}

/// The object ids of a collection of directory objects, lowercased.
fn ids(client: &mut Client, path: &str) -> Result<Found<BTreeSet<String>>, GraphError> {
    Ok(match found(all(client, path))? {
        Found::Yes(items) => Found::Yes(
            items
                .iter()
                .filter_map(|v| v["id"].as_str().map(lower))
                .collect(),
        ),
        Found::Gone => Found::Gone,
    })
}

/// How a list of owners or members that differs from the files is read again before the
/// difference is reported: Microsoft Entra is eventually consistent, so a change (a PIM
/// activation or removal, a member added or removed, by pimplan or anyone) may take a while
/// to show in `/members` and `/owners`. A difference is drift only when every read shows it.
#[derive(Clone, Copy, Debug)]
struct Settle {
    rereads: u32,
    wait: Duration,
}

impl Settle {
    /// Two more reads, 5 s apart (`PIMPLAN_TEST_SETTLE_MS` sets the wait in the tests).
    fn from_env() -> Self {
        Settle {
            rereads: 2,
            wait: std::env::var("PIMPLAN_TEST_SETTLE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(Duration::from_secs(5), Duration::from_millis),
        }
    }
}

/// The most objects `$expand` shows of a directory object's relationship (Microsoft's limit).
const EXPAND_LIMIT: usize = 20;

/// The service principals among a group's members, which v1.0's `/members` does not list (a
/// known issue Microsoft documents, with `$expand=members` as the way round), and whether the
/// expanded list may be cut at `$expand`'s limit (more members, unseen, may follow).
fn member_service_principals(
    client: &mut Client,
    id: &str,
) -> Result<Found<(BTreeSet<String>, bool)>, GraphError> {
    let path = format!("/groups/{id}?$select=id&$expand=members($select=id)");
    let Found::Yes((_, group)) = found(client.send("GET", &path, None))? else {
        return Ok(Found::Gone);
    };
    let members = group["members"].as_array().ok_or_else(|| {
        GraphError::Unreadable(format!(
            "{path} answered without the `members` it was asked to expand"
        ))
    })?;
    let service_principals = members
        .iter()
        .filter(|m| {
            m["@odata.type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("#microsoft.graph.servicePrincipal"))
        })
        .filter_map(|m| m["id"].as_str().map(lower))
        .collect();
    Ok(Found::Yes((
        service_principals,
        members.len() >= EXPAND_LIMIT,
    )))
}

/// The facts checker of one refresh.
struct Checker<'a> {
    ws: &'a Workspace,
    st: &'a State,
    live_pim: &'a [(String, String, Role)],
    /// lowercased object id -> principal name.
    principal_names: HashMap<String, String>,
    /// principal name -> lowercased object id.
    principal_ids: HashMap<&'a str, String>,
    denied: HashSet<Kind>,
    /// Groups found gone: nothing more is read of them.
    gone: HashSet<String>,
    items: Vec<DriftItem>,
    settle: Settle,
    /// The resource being read, for an error.
    reading: String,
}

impl Checker<'_> {
    /// Say what is read, for the client's notices and for an error.
    fn reading(&mut self, client: &mut Client, doing: String, path: &str) {
        client.doing = doing;
        self.reading = path.split('?').next().unwrap_or(path).to_owned();
    }

    /// An error of a read, naming what was read (a transport error names it already).
    fn failed(&self, client: &Client, e: GraphError) -> String {
        match e {
            GraphError::Transport { .. } => e.to_string(),
            _ => format!("{e}, while {} (GET {})", client.doing, self.reading),
        }
    }

    fn name(&self, id: &str) -> String {
        self.principal_names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_owned())
    }

    fn names(&self, ids: &BTreeSet<String>) -> String {
        let mut n: Vec<String> = ids.iter().map(|i| self.name(i)).collect();
        n.sort();
        shown(&n)
    }

    /// Run `read` unless `kind` was refused; a refusal (403) marks `kind` unchecked.
    fn read<T>(
        &mut self,
        kind: Kind,
        read: impl FnOnce() -> Result<T, GraphError>,
    ) -> Result<Option<T>, GraphError> {
        if self.denied.contains(&kind) {
            return Ok(None);
        }
        match read() {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(403) => {
                self.denied.insert(kind);
                self.items.push(DriftItem::FactUnchecked {
                    facts: kind.what().to_owned(),
                    permission: kind.permission().to_owned(),
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// [`Checker::read`] of an object that may be gone: one not found (404) is read again,
    /// as a [`Settle`] says, before it is taken as gone (an object created a moment ago may
    /// not have reached the replica that answers).
    fn read_found<T>(
        &mut self,
        kind: Kind,
        mut read: impl FnMut() -> Result<Found<T>, GraphError>,
    ) -> Result<Option<Found<T>>, GraphError> {
        let mut reads = 0;
        loop {
            let answer = self.read(kind, &mut read)?;
            if !matches!(answer, Some(Found::Gone)) || reads >= self.settle.rereads {
                return Ok(answer);
            }
            reads += 1;
            std::thread::sleep(self.settle.wait);
        }
    }

    fn differs(&mut self, subject: String, fact: &str, service: String, files: String) {
        if service != files {
            self.items.push(DriftItem::FactDiffers {
                subject,
                fact: fact.to_owned(),
                service,
                files,
            });
        }
    }
}

fn shown(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The principals (lowercased ids) with a PIM assignment of `role` on the group `group` in
/// the files or the state: an active one, or an activation, shows in the group's
/// members/owners, and is PIM's, not a standing fact. (The schedules the service holds,
/// made outside pimplan too, are added by the caller.)
fn pim_managed(ws: &Workspace, st: &State, group: &str, role: Role) -> HashSet<String> {
    let ids: HashMap<&str, &str> = ws
        .principals
        .iter()
        .filter_map(|p| Some((p.name.value.as_str(), p.id.as_ref()?.value.as_str())))
        .collect();
    let from_files = ws
        .assignments
        .iter()
        .filter(|a| a.group.value == group && a.role.value == role)
        .filter_map(|a| ids.get(a.principal.value.as_str()).map(|i| lower(i)));
    let from_state = st
        .assignments
        .iter()
        .filter(|a| a.spec.group == group && a.spec.role == role)
        .filter_map(|a| a.spec.principal_id.as_deref().map(lower));
    from_files.chain(from_state).collect()
}

/// Whether a `licenses:` entry is among the licences the service lists; `None` when the
/// entry names nothing pimplan can look for.
fn holds(license: &str, details: &[Value]) -> Option<bool> {
    let enabled_plans = || {
        details
            .iter()
            .flat_map(|d| d["servicePlans"].as_array().into_iter().flatten())
            .filter(|p| {
                !p["provisioningStatus"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("Disabled"))
            })
            .filter_map(|p| p["servicePlanName"].as_str())
    };
    let skus = || details.iter().filter_map(|d| d["skuPartNumber"].as_str());
    let trimmed = license.trim();
    if trimmed.eq_ignore_ascii_case("entra_id_p2") {
        return Some(enabled_plans().any(|p| p.eq_ignore_ascii_case("AAD_PREMIUM_P2")));
    }
    if trimmed.eq_ignore_ascii_case("entra_id_governance") {
        return Some(enabled_plans().any(|p| p.eq_ignore_ascii_case("Entra_Identity_Governance")));
    }
    let sku = PRODUCTS
        .iter()
        .find(|p| {
            p.sku.is_some_and(|s| s.eq_ignore_ascii_case(trimmed))
                || p.name.eq_ignore_ascii_case(trimmed)
        })
        .and_then(|p| p.sku)
        .unwrap_or(trimmed);
    if skus().any(|s| s.eq_ignore_ascii_case(sku)) {
        return Some(true);
    }
    // A product pimplan knows covers PIM: held when its plan is (an assignment of the plan
    // through another product gives the same rights); any other string cannot be told.
    match plan_of(trimmed) {
        Some(Plan::EntraIdP2) => {
            Some(enabled_plans().any(|p| p.eq_ignore_ascii_case("AAD_PREMIUM_P2")))
        }
        Some(Plan::IdGovernance) => {
            Some(enabled_plans().any(|p| p.eq_ignore_ascii_case("Entra_Identity_Governance")))
        }
        None => None,
    }
}

/// A role assignment's scope in pimplan's words: `directory`, or `administrative unit NAME`
/// (the unit's id where the files do not declare it); any other scope as the service says it.
fn scope_words(scope: &str, units: &HashMap<String, String>) -> String {
    if scope == "/" {
        return "directory".to_owned();
    }
    match scope
        .strip_prefix("/administrativeUnits/")
        .or_else(|| scope.strip_prefix("/administrativeunits/"))
    {
        Some(id) => format!(
            "administrative unit {}",
            units.get(&lower(id)).map_or(id, String::as_str)
        ),
        None => scope.to_owned(),
    }
}

/// Check the facts the files declare against the directory; the findings, in the files'
/// order (groups, then admins, then licences).
/// `live_pim`: (group id, principal id, role) of the PIM schedules the refresh read from the
/// service, those made outside pimplan included: their members and owners are PIM's too.
pub fn check(
    client: &mut Client,
    ws: &Workspace,
    st: &State,
    live_pim: &[(String, String, Role)],
) -> Result<Vec<DriftItem>, String> {
    let principal_ids: HashMap<&str, String> = ws
        .principals
        .iter()
        .filter_map(|p| Some((p.name.value.as_str(), lower(&p.id.as_ref()?.value))))
        .collect();
    let mut c = Checker {
        ws,
        st,
        live_pim,
        principal_names: principal_ids
            .iter()
            .map(|(n, i)| (i.clone(), (*n).to_owned()))
            .collect(),
        principal_ids,
        denied: HashSet::new(),
        gone: HashSet::new(),
        items: Vec::new(),
        settle: Settle::from_env(),
        reading: String::new(),
    };
    let result = groups(client, &mut c)
        .and_then(|()| admins(client, &mut c))
        .and_then(|()| licences(client, &mut c));
    result.map_err(|e| c.failed(client, e))?;
    Ok(c.items)
}

fn groups(client: &mut Client, c: &mut Checker) -> Result<(), GraphError> {
    let ws = c.ws;
    for g in &ws.groups {
        let Some(id) = g.id.as_ref().map(|i| i.value.clone()) else {
            continue;
        };
        let name = g.name.value.clone();
        let subject = format!("group {name}");
        if g.role_assignable.is_some() || g.kind.is_some() || g.membership.is_some() {
            let path = format!(
                "/groups/{id}?$select=id,isAssignableToRole,groupTypes,securityEnabled,mailEnabled"
            );
            c.reading(client, format!("reading group {name}"), &path);
            let Some(read) =
                c.read_found(Kind::Group, || found(client.send("GET", &path, None)))?
            else {
                continue;
            };
            let Found::Yes((_, group)) = read else {
                c.gone.insert(name.clone());
                c.items.push(DriftItem::GroupGone { group: name });
                continue;
            };
            let types: Vec<&str> = group["groupTypes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let has = |t: &str| types.iter().any(|x| x.eq_ignore_ascii_case(t));
            if let Some(ra) = &g.role_assignable {
                let service = group["isAssignableToRole"] == true;
                c.differs(
                    subject.clone(),
                    "role_assignable",
                    service.to_string(),
                    ra.value.to_string(),
                );
            }
            if let Some(kind) = &g.kind {
                let service = if has("Unified") {
                    GroupType::Microsoft365.to_string()
                } else if group["securityEnabled"] == true {
                    GroupType::Security.to_string()
                } else {
                    "distribution".to_owned()
                };
                c.differs(subject.clone(), "type", service, kind.value.to_string());
            }
            if let Some(m) = &g.membership {
                let service = if has("DynamicMembership") {
                    Membership::Dynamic
                } else {
                    Membership::Assigned
                };
                c.differs(
                    subject.clone(),
                    "membership",
                    service.to_string(),
                    m.value.to_string(),
                );
            }
        }
        let mut gone = false;
        for (fact, declared, role) in [
            ("owners", &g.owners, Role::Owner),
            ("members", &g.members, Role::Member),
        ] {
            if declared.is_empty() || gone {
                continue;
            }
            // A declared name without an object id cannot be compared.
            let Some(files): Option<BTreeSet<String>> = declared
                .iter()
                .map(|n| c.principal_ids.get(n.value.as_str()).cloned())
                .collect()
            else {
                continue;
            };
            let path = format!("/groups/{id}/{fact}?$select=id");
            c.reading(client, format!("reading the {fact} of group {name}"), &path);
            // PIM's members and owners (an active assignment or an activation, in the files
            // or the state) are not standing ones, whether the list shows them yet or not.
            let mut managed = pim_managed(ws, c.st, &name, role);
            managed.extend(
                c.live_pim
                    .iter()
                    .filter(|(g, _, r)| *r == role && g.eq_ignore_ascii_case(&id))
                    .map(|(_, p, _)| lower(p)),
            );
            // The service principals the files declare: with more members than `$expand`
            // shows, one not seen is not known to be missing.
            let declared_sps: HashSet<String> = ws
                .principals
                .iter()
                .filter(|p| p.is(PrincipalType::ServicePrincipal))
                .filter_map(|p| Some(lower(&p.id.as_ref()?.value)))
                .collect();
            let list =
                |client: &mut Client| -> Result<Found<(BTreeSet<String>, bool)>, GraphError> {
                    let Found::Yes(mut listed) = ids(client, &path)? else {
                        return Ok(Found::Gone);
                    };
                    if role != Role::Member {
                        return Ok(Found::Yes((listed, false)));
                    }
                    let Found::Yes((sps, cut)) = member_service_principals(client, &id)? else {
                        return Ok(Found::Gone);
                    };
                    listed.extend(sps);
                    Ok(Found::Yes((listed, cut)))
                };
            let mut reads = 0;
            let service = loop {
                let Some(read) = c.read(Kind::Group, || list(client))? else {
                    break None;
                };
                let Found::Yes((service, cut)) = read else {
                    if reads < c.settle.rereads {
                        reads += 1;
                        std::thread::sleep(c.settle.wait);
                        continue;
                    }
                    c.gone.insert(name.clone());
                    c.items.push(DriftItem::GroupGone {
                        group: name.clone(),
                    });
                    gone = true;
                    break None;
                };
                let service: BTreeSet<String> = service
                    .into_iter()
                    .filter(|i| files.contains(i) || !managed.contains(i))
                    .collect();
                let compared: BTreeSet<String> = files
                    .iter()
                    .filter(|i| !cut || !declared_sps.contains(*i) || service.contains(*i))
                    .cloned()
                    .collect();
                // A difference may be a change still replicating: read again, a while
                // later, before calling it drift.
                if service == compared || reads >= c.settle.rereads {
                    break Some((service, compared, cut));
                }
                reads += 1;
                std::thread::sleep(c.settle.wait);
            };
            let Some((service, compared, cut)) = service else {
                continue;
            };
            if cut {
                c.items.push(DriftItem::FactNotShown {
                    facts: format!("service principals among the members of group {name}"),
                    why: format!(
                        "Microsoft Graph v1.0 does not list them in /members, and `$expand=members` shows only the first {EXPAND_LIMIT} members"
                    ),
                });
            }
            let (s, f) = (c.names(&service), c.names(&compared));
            c.differs(subject.clone(), fact, s, f);
        }
    }
    Ok(())
}

fn admins(client: &mut Client, c: &mut Checker) -> Result<(), GraphError> {
    let ws = c.ws;
    let units: HashMap<String, String> = ws
        .administrative_units
        .iter()
        .filter_map(|u| Some((lower(&u.id.as_ref()?.value), u.name.value.clone())))
        .collect();
    let mut order: Vec<&str> = Vec::new();
    let mut declared: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for a in &ws.admins {
        let p = a.principal.value.as_str();
        if !order.contains(&p) {
            order.push(p);
        }
        let scope = match a.scope() {
            AdminScope::Directory => "directory".to_owned(),
            AdminScope::AdministrativeUnit => format!(
                "administrative unit {}",
                a.administrative_unit
                    .as_ref()
                    .map_or("", |u| u.value.as_str())
            ),
        };
        declared
            .entry(p)
            .or_default()
            .insert(format!("{} ({scope})", a.role.value));
    }
    for p in order {
        let Some(id) = c.principal_ids.get(p).cloned() else {
            continue;
        };
        c.reading(
            client,
            format!("reading the directory roles of {p}"),
            ROLE_ASSIGNMENTS,
        );
        let Some(list) = c.read(Kind::Roles, || roles_of(client, &id, &units))? else {
            continue;
        };
        let service: BTreeSet<String> = list
            .into_iter()
            .map(|(role, scope)| format!("{role} ({scope})"))
            .collect();
        let files = declared.remove(p).unwrap_or_default();
        c.differs(
            format!("principal {p}"),
            "directory roles",
            set(&service),
            set(&files),
        );
    }
    // A group's active `entra_roles` are role assignments of the group (its members hold
    // them); an eligible one shows here only while activated, so it is left out.
    for g in &ws.groups {
        let Some(id) = g.id.as_ref().map(|i| i.value.clone()) else {
            continue;
        };
        if g.entra_roles.is_empty() || c.gone.contains(&g.name.value) {
            continue;
        }
        let name = g.name.value.as_str();
        let files: BTreeSet<String> = g
            .entra_roles
            .iter()
            .filter(|r| r.is_active())
            .map(|r| format!("{} (directory)", r.role.value))
            .collect();
        let eligible: HashSet<&str> = g
            .entra_roles
            .iter()
            .filter(|r| !r.is_active())
            .map(|r| r.role.value.as_str())
            .collect();
        c.reading(
            client,
            format!("reading the directory roles of group {name}"),
            ROLE_ASSIGNMENTS,
        );
        let Some(list) = c.read(Kind::Roles, || roles_of(client, &id, &units))? else {
            continue;
        };
        let service: BTreeSet<String> = list
            .into_iter()
            .filter(|(role, _)| !eligible.contains(role.as_str()))
            .map(|(role, scope)| format!("{role} ({scope})"))
            .collect();
        c.differs(
            format!("group {name}"),
            "directory roles",
            set(&service),
            set(&files),
        );
    }
    Ok(())
}

const ROLE_ASSIGNMENTS: &str = "/roleManagement/directory/roleAssignments";

fn set(s: &BTreeSet<String>) -> String {
    shown(&s.iter().cloned().collect::<Vec<_>>())
}

/// A principal's role assignments: (built-in role name, or the role definition id; scope in
/// words).
fn roles_of(
    client: &mut Client,
    principal_id: &str,
    units: &HashMap<String, String>,
) -> Result<Vec<(String, String)>, GraphError> {
    let path = format!(
        "/roleManagement/directory/roleAssignments?$filter=principalId eq '{principal_id}'&$select=id,principalId,roleDefinitionId,directoryScopeId"
    );
    Ok(all(client, &path)?
        .iter()
        .map(|r| {
            let def = r["roleDefinitionId"].as_str().unwrap_or_default();
            let role = crate::entra_roles::BUILTIN_ROLES
                .iter()
                .find(|b| b.template_id.eq_ignore_ascii_case(def))
                .map_or(def, |b| b.name);
            (
                role.to_owned(),
                scope_words(r["directoryScopeId"].as_str().unwrap_or("/"), units),
            )
        })
        .collect())
}

fn licences(client: &mut Client, c: &mut Checker) -> Result<(), GraphError> {
    let ws = c.ws;
    let assigned: HashSet<&str> = ws
        .assignments
        .iter()
        .map(|a| a.principal.value.as_str())
        .collect();
    for p in &ws.principals {
        if p.licenses.is_empty()
            || !p.is(PrincipalType::User)
            || !assigned.contains(p.name.value.as_str())
        {
            continue;
        }
        let Some(id) = p.id.as_ref().map(|i| i.value.clone()) else {
            continue;
        };
        let name = p.name.value.as_str();
        let path = format!("/users/{id}/licenseDetails?$select=skuPartNumber,servicePlans");
        c.reading(client, format!("reading the licences of {name}"), &path);
        let Some(read) = c.read_found(Kind::Licenses, || found(all(client, &path)))? else {
            continue;
        };
        let subject = format!("principal {name}");
        let Found::Yes(details) = read else {
            c.items.push(DriftItem::FactDiffers {
                subject,
                fact: "object".to_owned(),
                service: "missing".to_owned(),
                files: "a user".to_owned(),
            });
            continue;
        };
        let missing: Vec<String> = p
            .licenses
            .iter()
            .filter(|l| holds(&l.value, &details) == Some(false))
            .map(|l| l.value.clone())
            .collect();
        if !missing.is_empty() {
            let skus: Vec<String> = details
                .iter()
                .filter_map(|d| d["skuPartNumber"].as_str().map(str::to_owned))
                .collect();
            c.items.push(DriftItem::FactDiffers {
                subject,
                fact: "licenses".to_owned(),
                service: shown(&skus),
                files: format!("{} (not held: {})", shown(&declared(p)), missing.join(", ")),
            });
        }
    }
    Ok(())
}

fn declared(p: &crate::config::model::Principal) -> Vec<String> {
    p.licenses.iter().map(|l| l.value.clone()).collect()
}

/// A group's own facts as the directory holds them, for `import`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveGroup {
    pub role_assignable: bool,
    /// `security`, `microsoft365` or `distribution`.
    pub kind: String,
    pub dynamic: bool,
}

/// Refused (403) reads are `None`: the app may not read them; nothing is guessed.
fn unless_denied<T>(r: Result<T, GraphError>) -> Result<Option<T>, GraphError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() == Some(403) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A group's role-assignability and kind (`None`: refused).
pub fn live_group(client: &mut Client, id: &str) -> Result<Option<LiveGroup>, GraphError> {
    let path = format!(
        "/groups/{id}?$select=id,isAssignableToRole,groupTypes,securityEnabled,mailEnabled"
    );
    Ok(
        unless_denied(client.send("GET", &path, None))?.map(|(_, g)| {
            let has = |t: &str| {
                g["groupTypes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(t)))
            };
            LiveGroup {
                role_assignable: g["isAssignableToRole"] == true,
                kind: if has("Unified") {
                    GroupType::Microsoft365.to_string()
                } else if g["securityEnabled"] == true {
                    GroupType::Security.to_string()
                } else {
                    "distribution".to_owned()
                },
                dynamic: has("DynamicMembership"),
            }
        }),
    )
}

/// A group's `owners` or `members` (lowercased object ids; `None`: refused).
pub fn live_ids(
    client: &mut Client,
    id: &str,
    which: &str,
) -> Result<Option<BTreeSet<String>>, GraphError> {
    let path = format!("/groups/{id}/{which}?$select=id");
    Ok(unless_denied(all(client, &path))?.map(|items| {
        items
            .iter()
            .filter_map(|v| v["id"].as_str().map(lower))
            .collect()
    }))
}

/// A principal's directory role assignments: (built-in role name, or the role definition id
/// of another role; `directoryScopeId`). `None`: refused.
pub fn live_roles(
    client: &mut Client,
    principal_id: &str,
) -> Result<Option<Vec<(String, String)>>, GraphError> {
    let path = format!(
        "/roleManagement/directory/roleAssignments?$filter=principalId eq '{principal_id}'&$select=id,principalId,roleDefinitionId,directoryScopeId"
    );
    Ok(unless_denied(all(client, &path))?.map(|list| {
        list.iter()
            .map(|r| {
                let def = r["roleDefinitionId"].as_str().unwrap_or_default();
                let role = crate::entra_roles::BUILTIN_ROLES
                    .iter()
                    .find(|b| b.template_id.eq_ignore_ascii_case(def))
                    .map_or(def, |b| b.name);
                (
                    role.to_owned(),
                    r["directoryScopeId"].as_str().unwrap_or("/").to_owned(),
                )
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn licences_by_keyword_sku_or_plan_and_a_disabled_plan_is_not_held() {
        let details = vec![json!({ "skuPartNumber": "SPE_E5", "servicePlans": [
            { "servicePlanName": "AAD_PREMIUM_P2", "provisioningStatus": "Success" },
            { "servicePlanName": "Entra_Identity_Governance", "provisioningStatus": "Disabled" } ] })];
        assert_eq!(holds("entra_id_p2", &details), Some(true));
        assert_eq!(holds("entra_id_governance", &details), Some(false));
        assert_eq!(holds("spe_e5", &details), Some(true));
        assert_eq!(holds("Microsoft 365 E5", &details), Some(true));
        assert_eq!(holds("EMSPREMIUM", &details), Some(true)); // its P2 plan is held
        assert_eq!(holds("some other thing", &details), None);
        assert_eq!(holds("entra_id_p2", &[]), Some(false));
    }

    #[test]
    fn scopes_in_words() {
        let units = HashMap::from([("aa-1".to_owned(), "emea".to_owned())]);
        assert_eq!(scope_words("/", &units), "directory");
        assert_eq!(
            scope_words("/administrativeUnits/AA-1", &units),
            "administrative unit emea"
        );
        assert_eq!(
            scope_words("/administrativeUnits/bb", &units),
            "administrative unit bb"
        );
    }
}
