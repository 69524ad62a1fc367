//! Microsoft Graph for one workspace: the sign-in from the environment (for the workspace's
//! tenant), the executor that applies its plans, and its names for the objects it declares.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};

use super::client::{Client, from_env, timeout_from_env};
use super::executor::{GraphExecutor, principal_ids};
use crate::config::model::Workspace;

/// A client signed in from the environment, for the tenant of `ws`.
pub fn client(ws: &Workspace, verbose: bool) -> Result<Client, String> {
    let tenant = ws.settings.tenant_id.as_ref().map(|t| t.value.as_str());
    let (endpoints, credential) = from_env(tenant).map_err(|e| e.to_string())?;
    let timeout = timeout_from_env().map_err(|e| e.to_string())?;
    let mut c = Client::new(endpoints, credential, timeout);
    c.verbose = verbose;
    Ok(c)
}

/// Object id -> name, for the principals and the groups the workspace declares (apart: a
/// group may be declared both as a group and, under another name, as a principal).
pub struct Names {
    pub principals: HashMap<String, String>,
    pub groups: HashMap<String, String>,
}

pub fn names(ws: &Workspace) -> Names {
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

/// The Graph executor for `ws`: sign-in from the environment, approvers' ids from the files.
pub fn executor(
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
