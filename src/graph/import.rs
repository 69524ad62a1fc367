//! `pimplan import`: the schedules and policies of groups, read from Microsoft Graph into a
//! new state, with names for the principals, approvers and groups the workspace does not
//! declare. Nothing is written here: the state is the caller's to write (under its lock),
//! and the YAML that declares what was read is `render/import_yaml.rs`.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use super::bodies::utc;
use super::client::{Client, GraphError};
use super::facts::{LiveGroup, live_group, live_ids, live_roles};
use super::read::{policy_settings, schedules};
use super::session::names;
use crate::config::model::{Role, Workspace};
use crate::state::{AssignmentRecord, AssignmentSpec, Held, PolicyRecord, PolicySpec, State};

/// The justification of every imported assignment.
pub const IMPORTED: &str = "imported from Microsoft Graph";

/// What an import read.
#[derive(Debug)]
pub struct Imported {
    /// The new state: the assignments (in the order read) and the policies of the groups.
    pub state: State,
    /// The principals (and approvers) the workspace does not declare: name -> object id.
    pub principals: BTreeMap<String, String>,
    /// The groups the workspace does not declare, by the name given to them.
    pub groups: BTreeMap<String, NewGroup>,
    /// How many groups were read.
    pub groups_read: usize,
    /// The directory roles of the principals the workspace does not declare, as read.
    pub admins: Vec<ImportedAdmin>,
    /// The administrative units those roles are scoped to: name -> object id.
    pub units: BTreeMap<String, String>,
}

/// A directory role assignment of an imported principal (a built-in role, at directory or
/// administrative-unit scope: the ones the files can declare).
#[derive(Debug, PartialEq, Eq)]
pub struct ImportedAdmin {
    pub principal: String,
    pub role: String,
    /// The administrative unit's name, for a unit-scoped assignment.
    pub unit: Option<String>,
}

/// A group's facts as the directory holds them (`None` where the app may not read them).
#[derive(Debug, Default)]
pub struct GroupFacts {
    pub group: Option<LiveGroup>,
    /// Standing owners and members (names): those without a PIM schedule of that role.
    pub owners: Option<Vec<String>>,
    pub members: Option<Vec<String>>,
}

/// A group the workspace does not declare: its object id, and its member and owner policy
/// settings as read (empty where the service holds none).
#[derive(Debug)]
pub struct NewGroup {
    pub id: String,
    pub member: BTreeMap<String, String>,
    pub owner: BTreeMap<String, String>,
    pub facts: GroupFacts,
}

/// The groups to import: the ones given, or every group of the workspace with an `id`.
pub fn group_ids(ws: &Workspace, given: &[String]) -> Vec<String> {
    if given.is_empty() {
        ws.groups
            .iter()
            .filter_map(|g| g.id.as_ref().map(|i| i.value.clone()))
            .collect()
    } else {
        given.to_vec()
    }
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// Names for objects the workspace does not declare: `PREFIX-` and the id's first eight
/// characters, or the whole id where those are taken.
struct Namer<'a> {
    known: &'a HashMap<String, String>,
    made: HashMap<String, String>,
    taken: HashSet<String>,
}

impl<'a> Namer<'a> {
    fn new(known: &'a HashMap<String, String>, declared: &HashSet<&str>) -> Self {
        Namer {
            known,
            made: HashMap::new(),
            taken: declared.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn name(&mut self, id: &str, prefix: &str) -> String {
        if let Some(n) = self.known.get(id).or_else(|| self.made.get(id)) {
            return n.clone();
        }
        let mut name = format!("{prefix}-{}", short(id));
        if self.taken.contains(&name) {
            name = format!("{prefix}-{id}");
        }
        self.taken.insert(name.clone());
        self.made.insert(id.to_owned(), name.clone());
        name
    }
}

/// Read the schedules and policies of `group_ids` through `c` into a new state (the
/// schedules that ended by `now` left out).
pub fn import(
    c: &mut Client,
    ws: &Workspace,
    group_ids: &[String],
    now: DateTime<FixedOffset>,
) -> Result<Imported, GraphError> {
    let names = names(ws);
    let declared_principals: HashSet<&str> = ws
        .principals
        .iter()
        .map(|p| p.name.value.as_str())
        .collect();
    let declared_groups: HashSet<&str> = ws.groups.iter().map(|g| g.name.value.as_str()).collect();
    let emergency: HashSet<&str> = ws
        .principals
        .iter()
        .filter(|p| p.is_emergency_access())
        .map(|p| p.name.value.as_str())
        .collect();
    let mut group_names = Namer::new(&names.groups, &declared_groups);
    let mut principal_names = Namer::new(&names.principals, &declared_principals);
    let mut st = State::new();
    let mut new_principals: BTreeMap<String, String> = BTreeMap::new();
    let mut new_groups: BTreeMap<String, NewGroup> = BTreeMap::new();
    for g in group_ids {
        let group = group_names.name(g, "group");
        c.doing = format!("reading the schedules of group {group}");
        let live = schedules(c, g)?;
        let mut role_settings: [BTreeMap<String, String>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for (i, role) in [Role::Member, Role::Owner].into_iter().enumerate() {
            c.doing = format!("reading the {role} policy of group {group}");
            let mut settings = policy_settings(c, g, role, &names.principals)?;
            // Approvers the workspace does not declare come back as object ids: they are
            // declared in the generated YAML under a name of their own.
            if let Some(approvers) = settings.get_mut("activation.approval.approvers")
                && approvers.as_str() != "none"
            {
                let named: Vec<String> = approvers
                    .split(", ")
                    .map(|a| {
                        if declared_principals.contains(a) {
                            a.to_owned()
                        } else {
                            let name = principal_names.name(a, "approver");
                            new_principals.insert(name.clone(), a.to_owned());
                            name
                        }
                    })
                    .collect();
                *approvers = named.join(", ");
            }
            if settings.is_empty() {
                continue;
            }
            let spec = PolicySpec {
                group: group.clone(),
                group_id: Some(g.clone()),
                role,
                settings: settings.clone(),
            };
            st.policies.push(PolicyRecord {
                key: spec.key(),
                spec,
                applied_at: now,
                service: Some(Held::Same),
            });
            role_settings[i] = settings;
        }
        if !declared_groups.contains(group.as_str()) {
            let [member, owner] = role_settings;
            c.doing = format!("reading group {group}");
            let mut facts = GroupFacts {
                group: live_group(c, g)?,
                ..GroupFacts::default()
            };
            for role in [Role::Owner, Role::Member] {
                c.doing = format!("reading the {role}s of group {group}");
                let Some(ids) = live_ids(c, g, &format!("{role}s"))? else {
                    continue;
                };
                // Principals with a PIM schedule of the role show here while it is active
                // (or activated): they are PIM's, not standing.
                let pim: HashSet<String> = live
                    .iter()
                    .filter(|s| s.role == role)
                    .map(|s| s.principal_id.to_ascii_lowercase())
                    .collect();
                let mut names: Vec<String> = ids
                    .iter()
                    .filter(|i| !pim.contains(*i))
                    .map(|i| {
                        let known = names
                            .principals
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(i))
                            .map(|(_, n)| n.clone());
                        known.unwrap_or_else(|| {
                            let name = principal_names.name(i, "principal");
                            new_principals.insert(name.clone(), i.clone());
                            name
                        })
                    })
                    .collect();
                names.sort();
                match role {
                    Role::Owner => facts.owners = Some(names),
                    Role::Member => facts.members = Some(names),
                }
            }
            new_groups.insert(
                group.clone(),
                NewGroup {
                    id: g.clone(),
                    member,
                    owner,
                    facts,
                },
            );
        }
        for s in live.iter().filter(|s| s.end.is_none_or(|e| e > now)) {
            let principal = principal_names.name(&s.principal_id, "principal");
            if !declared_principals.contains(principal.as_str()) {
                new_principals.insert(principal.clone(), s.principal_id.clone());
            }
            let spec = AssignmentSpec {
                group: group.clone(),
                group_id: Some(g.clone()),
                principal: principal.clone(),
                principal_id: Some(s.principal_id.clone()),
                role: s.role,
                kind: s.kind,
                start: s.start.map(utc),
                end: s.end.map(utc),
                duration: None,
                permanent: s.end.is_none(),
                justification: Some(IMPORTED.to_owned()),
                ticket_system: None,
                ticket_number: None,
                emergency_access: emergency.contains(principal.as_str()),
            };
            st.assignments.push(AssignmentRecord {
                key: spec.key(),
                spec,
                applied_at: now,
                starts_at: s.start.unwrap_or(now),
                ends_at: s.end,
                request_id: None,
                schedule_id: s.id.clone(),
                request_status: None,
                // Read from the service: it holds it.
                service: s.id.is_none().then_some(Held::Same),
            });
        }
    }
    // The directory roles of the principals the workspace does not declare: one request
    // each (none more once the app is refused).
    let mut admins = Vec::new();
    let mut units = BTreeMap::new();
    for (name, id) in &new_principals {
        c.doing = format!("reading the directory roles of {name}");
        let Some(roles) = live_roles(c, id)? else {
            break;
        };
        for (role, scope) in roles {
            if crate::entra_roles::find(&role).is_none() {
                continue; // a custom role: the files declare built-in roles only
            }
            let unit = if scope == "/" {
                None
            } else if let Some(unit_id) = scope
                .strip_prefix("/administrativeUnits/")
                .or_else(|| scope.strip_prefix("/administrativeunits/"))
            {
                let unit = format!("unit-{}", short(unit_id));
                units.insert(unit.clone(), unit_id.to_owned());
                Some(unit)
            } else {
                continue; // another scope (an application): not one the files declare
            };
            admins.push(ImportedAdmin {
                principal: name.clone(),
                role,
                unit,
            });
        }
    }
    Ok(Imported {
        state: st,
        principals: new_principals,
        groups: new_groups,
        groups_read: group_ids.len(),
        admins,
        units,
    })
}
