//! Commands that read Microsoft Graph: `drift`, `plan --refresh` and `import`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, TimeDelta};

use crate::apply::{REQUEST, settle};
use crate::cli::{Arguments, write_out};
use crate::cli_plan::{fail, root};
use crate::clock::Clock;
use crate::config::model::{AssignmentType, PrincipalType, Role, Workspace};
use crate::exit::ExitStatus;
use crate::graph::bodies::utc;
use crate::graph::client::{Client, from_env, timeout_from_env};
use crate::graph::executor::{GraphExecutor, principal_ids};
use crate::graph::read::{LiveSchedule, policy_settings, schedules};
use crate::state::{
    self, AssignmentRecord, AssignmentSpec, Held, PolicyRecord, PolicySpec, State, store,
};

fn client(ws: &Workspace, verbose: bool) -> Result<Client, String> {
    let tenant = ws.settings.tenant_id.as_ref().map(|t| t.value.as_str());
    let (endpoints, credential) = from_env(tenant).map_err(|e| e.to_string())?;
    let timeout = timeout_from_env().map_err(|e| e.to_string())?;
    let mut c = Client::new(endpoints, credential, timeout);
    c.verbose = verbose;
    Ok(c)
}

/// Object id -> name, for the principals and the groups the workspace declares (apart: a
/// group may be declared both as a group and, under another name, as a principal).
struct Names {
    principals: HashMap<String, String>,
    groups: HashMap<String, String>,
}

fn names(ws: &Workspace) -> Names {
    Names {
        principals: ws
            .principals
            .iter()
            .filter_map(|p| Some((p.id.as_ref()?.value.clone(), p.name.value.clone())))
            .collect(),
        groups: ws
            .groups
            .iter()
            .filter_map(|g| Some((g.id.as_ref()?.value.clone(), g.name.value.clone())))
            .collect(),
    }
}

const SLACK: TimeDelta = TimeDelta::minutes(5);

/// The Graph executor for `ws`: sign-in from the environment, approvers' ids from the files.
pub(crate) fn executor(
    ws: &Workspace,
    verbose: bool,
    now: DateTime<FixedOffset>,
) -> Result<GraphExecutor, String> {
    Ok(GraphExecutor::new(
        client(ws, verbose)?,
        now,
        principal_ids(ws),
    ))
}

/// Compare the state with the service: the state as the service has it, and a line per
/// difference. Entries without object ids cannot be looked up and are left as they are.
/// Changes left pending by an interrupted apply are first checked against the service
/// (a line each, starting `  ?`), so that they do not show as drift.
pub fn refresh(
    executor: &mut GraphExecutor,
    ws: &Workspace,
    st: &State,
    now: DateTime<FixedOffset>,
) -> Result<(State, Vec<String>), String> {
    let names = names(ws);
    let (mut out, mut lines) = if !st.unsettled() {
        (st.clone(), Vec::new())
    } else {
        settle(st, executor).map_err(|e| {
            format!("cannot check the changes left pending by an interrupted apply: {e}")
        })?
    };
    let client = &mut executor.client;
    let groups: Vec<String> = {
        let mut g: Vec<String> = out
            .assignments
            .iter()
            .filter_map(|a| a.spec.group_id.clone())
            .chain(out.policies.iter().filter_map(|p| p.spec.group_id.clone()))
            .collect();
        g.sort();
        g.dedup();
        g
    };
    let mut live: HashMap<(String, String, Role, AssignmentType), LiveSchedule> = HashMap::new();
    for g in &groups {
        let group = names.groups.get(g).map_or(g.as_str(), String::as_str);
        client.doing = format!("reading the schedules of group {group}");
        for s in schedules(client, g).map_err(|e| e.to_string())? {
            live.insert(s.key(), s);
        }
    }
    let mut seen = HashSet::new();
    out.assignments.retain_mut(|a| {
        let (Some(g), Some(p)) = (a.spec.group_id.clone(), a.spec.principal_id.clone()) else {
            return true;
        };
        if a.ends_at.is_some_and(|e| e <= now) {
            return true; // expired: the plan handles it
        }
        let key = (g, p, a.spec.role, a.spec.kind);
        seen.insert(key.clone());
        if a.request_status.is_some() {
            return true; // a request not carried out yet: its line is settle's
        }
        let what = format!(
            "assignment {}/{} ({}, {})",
            a.spec.group, a.spec.principal, a.spec.role, a.spec.kind
        );
        match live.get(&key) {
            None => {
                lines.push(format!("  - {what}: removed in the service"));
                false
            }
            Some(s) => {
                let differs = match (s.end, a.ends_at) {
                    (Some(x), Some(y)) => (x - y).abs() > SLACK,
                    (None, None) => false,
                    _ => true,
                };
                if differs {
                    let show = |t: Option<DateTime<FixedOffset>>| {
                        t.map_or_else(|| "never".to_owned(), utc)
                    };
                    lines.push(format!(
                        "  ~ {what}: ends {} in the service, {} recorded",
                        show(s.end),
                        show(a.ends_at)
                    ));
                    a.ends_at = s.end;
                    a.spec.end = s.end.map(utc);
                    a.spec.duration = None;
                    a.spec.permanent = s.end.is_none();
                }
                true
            }
        }
    });
    let mut extra: Vec<&LiveSchedule> =
        live.values().filter(|s| !seen.contains(&s.key())).collect();
    extra.sort_by_key(|s| s.key());
    for s in extra {
        let name = |map: &HashMap<String, String>, id: &str| {
            map.get(id).cloned().unwrap_or_else(|| id.to_owned())
        };
        lines.push(format!(
            "  + assignment {}/{} ({}, {}): in the service, not in the state (made outside pimplan)",
            name(&names.groups, &s.group_id),
            name(&names.principals, &s.principal_id),
            s.role,
            s.kind
        ));
    }
    for p in &mut out.policies {
        let Some(g) = p.spec.group_id.clone() else {
            continue;
        };
        client.doing = format!(
            "reading the {} policy of group {}",
            p.spec.role, p.spec.group
        );
        let live = policy_settings(client, &g, p.spec.role, &names.principals)
            .map_err(|e| e.to_string())?;
        for (key, value) in &live {
            if p.spec.settings.get(key) != Some(value) {
                lines.push(format!(
                    "  ~ policy {} ({}): {key} is {value} in the service, {} recorded",
                    p.spec.group,
                    p.spec.role,
                    p.spec.settings.get(key).map_or("nothing", String::as_str)
                ));
            }
        }
        if !live.is_empty() {
            p.spec.settings = live;
        }
    }
    // The policies the workspace declares for groups with ids that the state does not
    // record yet: the service holds them too, and the plan shows its change against them
    // (not against Microsoft's defaults).
    let desired = crate::plan::desired(ws);
    for (spec, _) in &desired.policies {
        let Some(g) = spec.group_id.as_deref() else {
            continue;
        };
        if out.policy(&spec.key()).is_some() {
            continue;
        }
        client.doing = format!("reading the {} policy of group {}", spec.role, spec.group);
        let live =
            policy_settings(client, g, spec.role, &names.principals).map_err(|e| e.to_string())?;
        if live.is_empty() {
            continue;
        }
        let spec = PolicySpec {
            settings: live,
            ..spec.clone()
        };
        out.policies.push(PolicyRecord {
            key: spec.key(),
            spec,
            applied_at: now,
            service: Some(Held::Same),
        });
    }
    out.normalise();
    Ok((out, lines))
}

/// Whether a refresh line is a difference (not a pending change checked, nor a request
/// still waiting).
pub fn is_drift(line: &str) -> bool {
    !line.starts_with(PENDING) && !line.starts_with(REQUEST)
}

const PENDING: &str = "  ?";

/// The drift section of a plan or of `pimplan drift`.
pub fn drift_text(lines: &[String]) -> String {
    let (drift, checked): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| is_drift(l));
    let (requests, pending): (Vec<&String>, Vec<&String>) =
        checked.into_iter().partition(|l| l.starts_with(REQUEST));
    let mut text = String::new();
    if !requests.is_empty() {
        text.push_str(&format!(
            "Requests the service had not carried out when they were applied, read again:\n\n{}\n\n",
            requests.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
        ));
    }
    if !pending.is_empty() {
        text.push_str(&format!(
            "Interrupted apply: {} change(s) it left pending, checked against the service (the next `pimplan apply --target graph` records this in the state):\n\n{}\n\n",
            pending.len(),
            pending.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n")
        ));
    }
    if drift.is_empty() {
        text.push_str("No drift: the service matches the state.\n");
    } else {
        text.push_str(&format!(
            "Drift: changes made outside pimplan since the last apply:\n\n{}\n\nDrift: {} difference(s).\n",
            drift.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n"),
            drift.len()
        ));
    }
    text
}

/// Run `f` on the workspace of `-c` (default `./pimplan.yaml`) with the run's "now" and the
/// state file's path; a workspace that does not read fails the command.
fn with_workspace(
    args: &Arguments,
    f: impl FnOnce(DateTime<FixedOffset>, &Workspace, PathBuf) -> miette::Result<ExitStatus>,
) -> miette::Result<ExitStatus> {
    let clock = Clock::from_flag(args.now.as_deref()).map_err(|e| miette::miette!("{e}"))?;
    let loaded = match crate::load::load(&root(args)) {
        Ok(l) => l,
        Err(e) => return Ok(fail(e)),
    };
    let Some(ws) = loaded.workspace.as_ref() else {
        return Ok(fail("the workspace could not be read; run `pimplan lint`"));
    };
    match ws.settings.state_file(&loaded.root_dir) {
        Ok(path) => f(clock.now(), ws, path),
        Err(e) => Ok(fail(format!("{e}; run `pimplan lint`"))),
    }
}

pub fn drift(args: &Arguments, verbose: bool, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    with_workspace(args, |now, ws, path| {
        let st = match state::read(&path) {
            Ok(s) if !s.exists() => {
                return Ok(fail(format!(
                    "no state at {}; run `pimplan import`",
                    path.display()
                )));
            }
            Ok(s) => s,
            Err(e) => return Ok(fail(e)),
        };
        let mut c = match executor(ws, verbose, now) {
            Ok(c) => c,
            Err(e) => return Ok(fail(e)),
        };
        // The service is compared with what it is known to hold: what an apply to the
        // state alone recorded is not drift.
        match refresh(&mut c, ws, &st.state.service_view(), now) {
            Ok((_, lines)) => {
                write_out(out, &drift_text(&lines))?;
                Ok(if lines.iter().any(|l| is_drift(l)) {
                    ExitStatus::Changes
                } else {
                    ExitStatus::Success
                })
            }
            Err(e) => Ok(fail(e)),
        }
    })
}

/// A client for `plan --refresh`, from the workspace of the plan.
pub fn refresher(
    verbose: bool,
    now: DateTime<FixedOffset>,
) -> impl FnMut(&Workspace, &State) -> Result<(State, Vec<String>), String> {
    move |ws, st| {
        let mut c = executor(ws, verbose, now)?;
        refresh(&mut c, ws, st, now)
    }
}

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

pub struct ImportOptions<'a> {
    pub groups: &'a [String],
    pub generate_config: Option<&'a Path>,
    pub verbose: bool,
}

pub const IMPORTED: &str = "imported from Microsoft Graph";

pub fn import(
    args: &Arguments,
    options: &ImportOptions<'_>,
    out: &mut dyn Write,
) -> miette::Result<ExitStatus> {
    with_workspace(args, |now, ws, path| {
        let root = root(args);
        if let Some(file) = options.generate_config
            && let Some(refused) = crate::cli::refuse_overwrite(
                "the generated YAML",
                file,
                Some(&path),
                [root.as_path()],
            )
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
    options: &ImportOptions<'_>,
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
    if let Some(file) = options.generate_config {
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
