//! The state against the service: `drift` and `plan --refresh` read the live schedules and
//! policies of the groups the state records, and the state as the service has it comes back
//! with each difference ([`DriftItem`]); and the facts the files declare (groups, owners,
//! members, admins' roles, licences) checked against the directory (`super::facts`).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset, TimeDelta};

use super::bodies::utc;
use super::executor::GraphExecutor;
use super::read::{LiveSchedule, policy_settings, schedules};
use super::session::{executor, names};
use crate::apply::settle;
use crate::config::model::{AssignmentType, Role, Workspace};
use crate::drift::{AssignmentRef, DriftItem};
use crate::state::{Held, PolicyRecord, PolicySpec, State};

const SLACK: TimeDelta = TimeDelta::minutes(5);

/// Compare the state with the service: the state as the service has it, and each difference.
/// Entries without object ids cannot be looked up and are left as they are. Changes left
/// pending by an interrupted apply, and requests the service had not carried out, are first
/// checked against the service (see [`settle`]), so that they do not show as drift.
pub fn refresh(
    executor: &mut GraphExecutor,
    ws: &Workspace,
    st: &State,
    now: DateTime<FixedOffset>,
) -> Result<(State, Vec<DriftItem>), String> {
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
        let assignment = AssignmentRef {
            group: a.spec.group.clone(),
            principal: a.spec.principal.clone(),
            role: a.spec.role,
            kind: a.spec.kind,
        };
        match live.get(&key) {
            None => {
                lines.push(DriftItem::RemovedInService { assignment });
                false
            }
            Some(s) => {
                let differs = match (s.end, a.ends_at) {
                    (Some(x), Some(y)) => (x - y).abs() > SLACK,
                    (None, None) => false,
                    _ => true,
                };
                if differs {
                    lines.push(DriftItem::EndDiffers {
                        assignment,
                        service: s.end,
                        recorded: a.ends_at,
                    });
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
        lines.push(DriftItem::MadeOutside {
            assignment: AssignmentRef {
                group: name(&names.groups, &s.group_id),
                principal: name(&names.principals, &s.principal_id),
                role: s.role,
                kind: s.kind,
            },
        });
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
                lines.push(DriftItem::PolicyDiffers {
                    group: p.spec.group.clone(),
                    role: p.spec.role,
                    setting: key.clone(),
                    service: value.clone(),
                    recorded: p.spec.settings.get(key).cloned(),
                });
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
    // The facts the privilege graph rests on, as the directory holds them.
    let live_pim: Vec<(String, String, Role)> = live
        .values()
        .map(|s| (s.group_id.clone(), s.principal_id.clone(), s.role))
        .collect();
    lines.extend(super::facts::check(client, ws, &out, &live_pim)?);
    out.normalise();
    Ok((out, lines))
}

/// A refresh for `plan --refresh`, with a client from the workspace of the plan.
pub fn refresher(
    verbose: bool,
    now: DateTime<FixedOffset>,
) -> impl FnMut(&Workspace, &State) -> Result<(State, Vec<DriftItem>), String> {
    move |ws, st| {
        let mut c = executor(ws, verbose, now)?;
        refresh(&mut c, ws, st, now)
    }
}
