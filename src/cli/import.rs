//! `pimplan import`: the groups' schedules and policies, read from Microsoft Graph into a
//! new state (and, if asked, the YAML that declares them).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use super::RunContext;
use super::output::{fail, refuse_overwrite, write_out};
use super::workspace::with_workspace;
use crate::config::model::{PrincipalType, Role, Workspace};
use crate::exit::ExitStatus;
use crate::graph::bodies::utc;
use crate::graph::read::{policy_settings, schedules};
use crate::graph::refresh::{client, names};
use crate::state::{
    AssignmentRecord, AssignmentSpec, Held, PolicyRecord, PolicySpec, State, store,
};

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
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

/// Policy settings as a YAML `policy:` role block.
fn policy_yaml(settings: &BTreeMap<String, String>, indent: &str) -> String {
    let get = |k: &str| settings.get(k).cloned().unwrap_or_default();
    let list = |k: &str| {
        let v = get(k);
        if v == "none" || v.is_empty() {
            "[]".to_owned()
        } else {
            let items: Vec<String> = v.split(", ").map(yaml_str).collect();
            format!("[{}]", items.join(", "))
        }
    };
    // A duration the service does not hold is left to the default.
    let duration = |k: &str, key: &str| match get(k).as_str() {
        "none" | "" => String::new(),
        d => format!("{key}{d}"),
    };
    let mut out = format!("{indent}activation:\n");
    let max = duration("activation.max_duration", "max_duration: ");
    if !max.is_empty() {
        out.push_str(&format!("{indent}  {max}\n"));
    }
    out.push_str(&format!(
        "{indent}  require: {}\n",
        list("activation.require")
    ));
    let context = get("activation.authentication_context");
    if context != "none" && !context.is_empty() {
        out.push_str(&format!("{indent}  authentication_context: {context}\n"));
    }
    out.push_str(&format!(
        "{indent}  approval: {{ required: {}, approvers: {} }}\n",
        get("activation.approval.required"),
        list("activation.approval.approvers")
    ));
    // Notifications that differ from Microsoft's default (a key left out means the default).
    let notifications = |section: &str, indent: &str| {
        let mut lines = String::new();
        for recipient in ["admin", "assignee", "approver"] {
            let key = |field: &str| format!("{section}.notifications.{recipient}.{field}");
            let default_recipients = get(&key("default_recipients"));
            let level = get(&key("level"));
            let extra = list(&key("additional_recipients"));
            let mut fields = Vec::new();
            if default_recipients == "false" {
                fields.push("default_recipients: false".to_owned());
            }
            if !level.is_empty() && level != "all" {
                fields.push(format!("level: {level}"));
            }
            if extra != "[]" {
                fields.push(format!("additional_recipients: {extra}"));
            }
            if !fields.is_empty() {
                lines.push_str(&format!(
                    "{indent}  {recipient}: {{ {} }}\n",
                    fields.join(", ")
                ));
            }
        }
        if lines.is_empty() {
            lines
        } else {
            format!("{indent}notifications:\n{lines}")
        }
    };
    out.push_str(&notifications("activation", &format!("{indent}  ")));
    for prefix in ["eligible_assignment", "active_assignment"] {
        let permanent = get(&format!("{prefix}.allow_permanent")) == "true";
        let mut fields = vec![format!("allow_permanent: {permanent}")];
        if !permanent {
            let max = duration(&format!("{prefix}.max_duration"), "max_duration: ");
            if !max.is_empty() {
                fields.push(max);
            }
        }
        fields.push(format!("require: {}", list(&format!("{prefix}.require"))));
        let notify = notifications(prefix, &format!("{indent}  "));
        if notify.is_empty() {
            out.push_str(&format!("{indent}{prefix}: {{ {} }}\n", fields.join(", ")));
        } else {
            out.push_str(&format!("{indent}{prefix}:\n"));
            for f in fields {
                out.push_str(&format!("{indent}  {f}\n"));
            }
            out.push_str(&notify);
        }
    }
    out
}

/// What `pimplan import` was asked.
pub struct ImportRequest {
    pub groups: Vec<String>,
    pub generate_config: Option<PathBuf>,
    pub verbose: bool,
}

pub const IMPORTED: &str = "imported from Microsoft Graph";

pub fn run(
    cx: &RunContext,
    options: &ImportRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    let root = cx.root();
    let now = cx.now();
    with_workspace(&root, |ws, path| {
        if let Some(file) = options.generate_config.as_deref()
            && let Some(refused) =
                refuse_overwrite("the generated YAML", file, Some(&path), [root.as_path()])
        {
            return Ok(fail(refused));
        }
        import_into(ws, &path, now, options, out)
    })
}

fn import_into(
    ws: &Workspace,
    path: &Path,
    now: DateTime<FixedOffset>,
    options: &ImportRequest,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    if path.exists() {
        return Ok(fail(format!(
            "`{}` already exists; import writes a new state (move the old one away first)",
            path.display()
        )));
    }
    let group_ids: Vec<String> = if options.groups.is_empty() {
        ws.groups
            .iter()
            .filter_map(|g| g.id.as_ref().map(|i| i.value.clone()))
            .collect()
    } else {
        options.groups.to_vec()
    };
    if group_ids.is_empty() {
        return Ok(fail(
            "no group to import: give groups an `id:` in the workspace, or pass `--group ID`",
        ));
    }
    let mut c = match client(ws, options.verbose) {
        Ok(c) => c,
        Err(e) => return Ok(fail(e)),
    };
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
    let mut new_groups: BTreeMap<String, (String, [BTreeMap<String, String>; 2])> = BTreeMap::new();
    let mut yaml_assignments = String::new();
    for g in &group_ids {
        let group = group_names.name(g, "group");
        c.doing = format!("reading the schedules of group {group}");
        let live = match schedules(&mut c, g) {
            Ok(l) => l,
            Err(e) => return Ok(fail(e)),
        };
        let mut role_settings: [BTreeMap<String, String>; 2] = [BTreeMap::new(), BTreeMap::new()];
        for (i, role) in [Role::Member, Role::Owner].into_iter().enumerate() {
            c.doing = format!("reading the {role} policy of group {group}");
            let mut settings = match policy_settings(&mut c, g, role, &names.principals) {
                Ok(s) => s,
                Err(e) => return Ok(fail(e)),
            };
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
            new_groups.insert(group.clone(), (g.clone(), role_settings));
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
            let mut expiry = match &spec.end {
                Some(e) => format!("end: {e}"),
                None => "permanent: true".to_owned(),
            };
            if let Some(start) = &spec.start {
                expiry = format!("start: {start}, {expiry}");
            }
            yaml_assignments.push_str(&format!(
                "  - {{ group: {}, principal: {}, role: {}, type: {}, {expiry}, justification: {} }}\n",
                yaml_str(&group),
                yaml_str(&principal),
                s.role,
                s.kind,
                yaml_str(IMPORTED)
            ));
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
    if let Err(e) = store::write_state(path, &mut st) {
        return Ok(fail(e));
    }
    let mut report = format!(
        "Imported {} assignment(s) and {} policy setting block(s) from {} group(s) into `{}`.\n",
        st.assignments.len(),
        st.policies.len(),
        group_ids.len(),
        path.display()
    );
    if let Some(file) = options.generate_config.as_deref() {
        let mut yaml = format!(
            "# Generated by `pimplan import` at {}: what Microsoft Graph holds.\n",
            utc(now)
        );
        if !new_principals.is_empty() {
            yaml.push_str("principals:\n");
            for (name, id) in &new_principals {
                // Schedules do not say what kind of object a principal is, nor its licenses;
                // that it holds PIM schedules says the tenant has them.
                yaml.push_str(&format!(
                    "  - {{ name: {}, type: {}, id: {}, licenses: [entra_id_p2] }}   # check the type and licenses\n",
                    yaml_str(name),
                    PrincipalType::User,
                    yaml_str(id)
                ));
            }
        }
        if !new_groups.is_empty() {
            yaml.push_str("groups:\n");
            for (name, (id, settings)) in &new_groups {
                yaml.push_str(&format!(
                    "  - name: {}\n    id: {}\n    policy:\n",
                    yaml_str(name),
                    yaml_str(id)
                ));
                for (role, s) in ["member", "owner"].iter().zip(settings) {
                    if !s.is_empty() {
                        yaml.push_str(&format!("      {role}:\n{}", policy_yaml(s, "        ")));
                    }
                }
            }
        }
        yaml.push_str("assignments:\n");
        yaml.push_str(&yaml_assignments);
        if let Err(e) = store::write_atomic(file, &yaml) {
            return Ok(fail(format!("cannot write `{}`: {e}", file.display())));
        }
        report.push_str(&format!(
            "Wrote the YAML that declares them to `{}`; make sure an `include:` glob matches it.\n",
            file.display()
        ));
    }
    write_out(out, &report)?;
    Ok(ExitStatus::Success)
}
