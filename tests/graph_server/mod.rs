//! A loopback stand-in for Microsoft Graph's PIM for Groups endpoints and the token
//! endpoint, for tests only. It validates field names and enum spellings, enforces the
//! five-minute rules and the group policy (ExpirationRule, JustificationRule), answers
//! RoleAssignmentExists, throttles on request, makes new schedules readable only after a
//! delay, and records every request. Like Microsoft's v1.0 examples, schedules print
//! `Direct`/`Assigned`; requests can answer other statuses than `Provisioned` (and be read
//! back by id, and cancelled while not carried out); removing a missing schedule is a 404.
//! Its directory (for the fact checks) throttles each kind of read on request (429 or 503,
//! with `Retry-After`), can put an empty page with `@odata.nextLink` before every page, and
//! lags: a change of owners or members shows only after some reads or some time, an active
//! PIM membership can be left unlisted, and a group just created answers 404 for some reads
//! (eventual consistency). Like v1.0, `/members` leaves service principals out.
//! It listens on 127.0.0.1 only.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

pub const TOKEN: &str = "test-access-token-0123456789";
pub const SECRET: &str = "test-client-secret-abcdef";
/// The scope of a token for Azure Storage (a remote state's `auth: entra`).
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
pub const ASSERTION: &str = "eyJ-federated-assertion";
/// The bearer token GitHub gives a job with `id-token: write` (ACTIONS_ID_TOKEN_REQUEST_TOKEN).
pub const OIDC_REQUEST_TOKEN: &str = "test-oidc-request-token-9876543210";
/// The "signature" of the assertions this stand-in issues as GitHub's OIDC provider; its
/// token endpoint accepts only those (and the static `ASSERTION`).
const OIDC_SIGNATURE: &str = "c3RhbmQtaW4tc2lnbmF0dXJl";

/// A 200 answer that is not an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRead {
    /// No body at all.
    Empty,
    /// A body that stops half way (fewer bytes than `Content-Length` says, then closed).
    Cut,
    /// Not JSON.
    Malformed,
    /// JSON, but without the `value` list of a collection.
    NoValue,
    /// The whole answer, one byte every [`TRICKLE_GAP`]: it ends long after any sane timeout
    /// (a proxy buffering, a congested link).
    Trickle,
}

/// The gap between the bytes of a trickling answer.
pub const TRICKLE_GAP: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub raw_body: String,
    /// When it had arrived whole (head and body), before it was answered or held.
    pub at: Instant,
}

#[derive(Clone, Debug)]
pub struct Schedule {
    /// The `afterDuration` it was asked with, if any (counted from when it starts).
    pub after_duration: Option<TimeDelta>,
    pub id: String,
    pub eligible: bool,
    pub group_id: String,
    pub principal_id: String,
    pub access_id: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub visible_at: Instant,
    pub justification: Option<String>,
    /// `memberType: group` (the principal has it through a group) instead of `direct`.
    pub through_group: bool,
    /// `assignmentType: activated` (a just-in-time activation) instead of `assigned`.
    pub activated: bool,
}

#[derive(Default)]
pub struct Inner {
    /// The service's clock; tests set it to the `--now` they pass pimplan.
    pub now: Option<DateTime<Utc>>,
    pub requests: Vec<Recorded>,
    /// Answer this many of the next requests with 429 and `Retry-After`.
    pub throttle: usize,
    pub retry_after: u64,
    /// Answer the POST to a request collection with this 1-based number with a 500.
    pub fail_post: Option<usize>,
    /// Answer the next GETs that would succeed with a 200 that cannot be read, one fault
    /// each, in order (what a proxy or a reset connection leaves).
    pub bad_reads: VecDeque<BadRead>,
    /// Carry out the POST with this number, then answer it with a 500 all the same.
    pub fail_post_after_doing_it: Option<usize>,
    /// Carry out the POST with this number, then close its connection without an answer (a
    /// connection reset after the service did it: the client cannot tell whether it did)...
    pub reset_post_after_doing_it: Option<usize>,
    /// ... and close this many of the Graph requests after it unanswered, without carrying
    /// them out (the network stays down, so the client's read-back fails too).
    pub down_after_reset: usize,
    down: usize,
    reset_now: bool,
    /// Carry out the POST with this number, then let its answer trickle ([`BadRead::Trickle`]).
    pub trickle_post: Option<usize>,
    trickle_now: bool,
    /// Carry out the POST with this number, then never answer it (the test kills the
    /// client meanwhile); `hung` turns true once it has been carried out.
    pub hang_post: Option<usize>,
    pub hung: bool,
    /// Carry out the POST with this number, then answer it only after this long (a slow
    /// service).
    pub slow_post: Option<(usize, Duration)>,
    slow_now: Option<Duration>,
    posts: usize,
    /// Answer this many of the next schedule requests with 404 SubjectNotFound (a principal
    /// PIM does not know yet).
    pub subject_not_found: usize,
    /// `expires_in` of the tokens handed out (default 3600).
    pub token_lifetime: Option<u64>,
    /// Seconds from `iat` to `exp` of the assertions the OIDC endpoint issues (default 300,
    /// GitHub's are valid minutes). Sign-in judges them by the real clock, as Entra does, not
    /// by `now` (the schedules' clock, which tests set to their `--now`).
    pub assertion_lifetime: Option<i64>,
    /// `scheme://host:port` this server is reached as: its token endpoint accepts the scope
    /// `{origin}/.default` only, as Entra accepts that of the Graph it serves.
    pub origin: String,
    /// Refuse the next Graph request with 401, whatever its token.
    pub refuse_token_once: bool,
    /// Answer the PATCH of a policy rule with this 1-based number with a 500.
    pub fail_patch: Option<usize>,
    patches: usize,
    pub visibility_delay: Duration,
    pub schedules: Vec<Schedule>,
    /// (group id, role) -> (policy id, rules by id)
    pub policies: BTreeMap<(String, String), (String, BTreeMap<String, Value>)>,
    next_id: u64,
    /// Statuses for the next adminAssign/adminUpdate requests that pass validation (default
    /// `Provisioned`): `Failed`, `Denied`, … make nothing; `Granted` and `Pending*` make a
    /// request that becomes a schedule only when the test calls [`Inner::provision`].
    pub request_statuses: VecDeque<String>,
    /// Every schedule request answered 201, by id, as `GET …ScheduleRequests/{id}` returns it.
    pub schedule_requests: BTreeMap<String, Value>,
    /// Requests taken but not carried out, by id: the schedule each makes when provisioned.
    pub waiting: BTreeMap<String, Schedule>,
    /// Answer an adminRemove of a schedule that does not exist with 400
    /// `RoleAssignmentDoesNotExist` instead of 404 (terraform-provider-azuread takes a 404 as
    /// gone; neither is documented).
    pub missing_removal_as_400: bool,
    /// Answer this many of the next adminRemove requests as if the schedule did not exist,
    /// although it does (a lagging replica).
    pub removal_says_missing: usize,
    /// Schedule id -> the `expiration.type` its list/get responses carry instead of the real
    /// one (e.g. `notSpecified`).
    pub odd_expiration: HashMap<String, String>,
    /// Schedules per page of a schedule list (`None`: all on one page). Further pages are
    /// reached, as in Graph, through the absolute `@odata.nextLink` the page carries, with
    /// the query it was asked with and a `$skiptoken`.
    pub page_size: Option<usize>,
    /// The `@odata.nextLink` every first page of a schedule list carries instead of its own
    /// (e.g. a link to another origin, which must not be followed).
    pub foreign_next_link: Option<String>,
    /// The directory the fact checks read (groups, their owners and members, role
    /// assignments, users' licences). `None`: the app was granted only the PIM permissions,
    /// and every directory read is refused with 403 `Authorization_RequestDenied`, as Graph
    /// refuses a read the token has no permission for.
    pub directory: Option<Directory>,
    /// Throttling of the directory reads, per resource: Graph throttles per app and tenant
    /// and per service, and says how long to wait in `Retry-After` on 429 and on 503.
    pub directory_throttle: Vec<DirThrottle>,
}

/// `times` of the next directory reads whose path contains `path` (`/members`, `/owners`,
/// `/roleManagement/`, `/users/`) answered with `status` (429 Too Many Requests, or 503
/// Service Unavailable) and `Retry-After: retry_after` seconds.
#[derive(Clone, Debug)]
pub struct DirThrottle {
    pub path: String,
    pub status: u16,
    pub times: usize,
    pub retry_after: u64,
}

/// A change to a group's `owners` or `members` still replicating: Microsoft Entra is
/// eventually consistent, and a read after a write may not show it yet. `reads` reads of
/// that list (first pages) still show the list without it, and it shows only once `until`
/// (if any) has passed too.
#[derive(Clone, Debug)]
pub struct Lagging {
    pub group: String,
    /// `owners` or `members`.
    pub list: String,
    pub principal: String,
    /// Added (`true`) or removed.
    pub add: bool,
    pub reads: usize,
    pub until: Option<Instant>,
}

/// A group of the directory, as `GET /groups/{id}` shows it.
#[derive(Clone, Debug, Default)]
pub struct DirGroup {
    /// Kept as given: Graph compares ids without regard to case.
    pub id: String,
    pub display_name: String,
    pub is_assignable_to_role: bool,
    /// `["Unified"]` for a Microsoft 365 group, `[]` for a security group, with
    /// `"DynamicMembership"` for a dynamic one.
    pub group_types: Vec<String>,
    pub security_enabled: bool,
    pub mail_enabled: bool,
    /// Object ids (users).
    pub owners: Vec<String>,
    pub members: Vec<String>,
}

impl DirGroup {
    /// A cloud security group, as Microsoft's create-group example makes one.
    pub fn security(id: &str, name: &str) -> Self {
        DirGroup {
            id: id.to_owned(),
            display_name: name.to_owned(),
            security_enabled: true,
            ..DirGroup::default()
        }
    }
}

/// A directory role assignment (`unifiedRoleAssignment`).
#[derive(Clone, Debug)]
pub struct DirRole {
    pub principal_id: String,
    /// The role's template id for a built-in role.
    pub role_definition_id: String,
    /// `/` or `/administrativeUnits/{id}`.
    pub directory_scope_id: String,
}

/// One `licenseDetails` of a user: its SKU part number and service plans (name, status).
#[derive(Clone, Debug)]
pub struct DirLicense {
    pub sku_part_number: String,
    pub service_plans: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub groups: Vec<DirGroup>,
    pub roles: Vec<DirRole>,
    /// User object id -> licences. A user not listed does not exist (404).
    pub users: BTreeMap<String, Vec<DirLicense>>,
    /// Items per page of a directory collection (Graph's default is 100).
    pub page_size: Option<usize>,
    /// Every page of a directory collection comes after an empty one (`value: []`) that
    /// still carries `@odata.nextLink`: Graph says a page may be empty while more follow
    /// (it pages its index, then filters what it may show).
    pub empty_pages: bool,
    /// Changes of owners and members not replicated yet.
    pub lagging: Vec<Lagging>,
    /// Principals whose active PIM membership or ownership does not show in the group's
    /// lists yet (an activation still replicating).
    pub pim_unlisted: Vec<String>,
    /// Object ids of service principals. As Microsoft documents for v1.0, `GET
    /// /groups/{id}/members` does not list the service principals among a group's members;
    /// `GET /groups/{id}?$expand=members` does, with the first 20 members only (the limit of
    /// `$expand` on directory objects).
    pub service_principals: Vec<String>,
    /// Groups and users created a moment ago: the next `n` reads of a group or user whose
    /// path contains the given part (its id: any of its paths; `{id}/owners`: that list)
    /// answer 404, as a replica the new object has not reached yet does.
    pub arriving: Vec<(String, usize)>,
}

fn not_found(id: &str) -> Answer {
    error(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// Only the properties `$select` asks for (Graph returns those, and `id`).
fn select(v: Value, query: &str) -> Value {
    let Some(fields) = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("$select="))
        .map(decode)
    else {
        return v;
    };
    let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| k == "id" || k.starts_with('@') || wanted.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

impl Directory {
    fn group(&self, id: &str) -> Option<&DirGroup> {
        self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// One page of `list`, with an absolute `@odata.nextLink` (the query asked, and an
    /// opaque `$skiptoken`) when more follow.
    fn page(&self, origin: &str, path: &str, query: &str, list: Vec<Value>) -> Value {
        // `X'n'`: the page from item n; `E'n'`: the same, past the empty page before it.
        let token = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("$skiptoken="))
            .map(decode);
        let past_empty = token.as_deref().is_some_and(|t| t.starts_with("E'"));
        let skip: usize = token
            .as_deref()
            .and_then(|v| v.strip_prefix("X'").or_else(|| v.strip_prefix("E'")))
            .and_then(|v| v.trim_end_matches('\'').parse().ok())
            .unwrap_or(0);
        let link = |kind: char, at: usize| {
            let asked: Vec<&str> = query
                .split('&')
                .filter(|kv| !kv.is_empty() && !kv.starts_with("$skiptoken="))
                .collect();
            let sep = if asked.is_empty() { "" } else { "&" };
            format!(
                "{origin}{path}?{}{sep}$skiptoken={kind}'{at}'",
                asked.join("&")
            )
        };
        let context = "https://graph.microsoft.com/v1.0/$metadata#directoryObjects";
        if self.empty_pages && !past_empty {
            return json!({ "@odata.context": context, "value": [], "@odata.nextLink": link('E', skip) });
        }
        let size = self.page_size.unwrap_or(100);
        let page: Vec<Value> = list.iter().skip(skip).take(size).cloned().collect();
        let mut answer = json!({ "@odata.context": context, "value": page });
        if skip.saturating_add(size) < list.len() {
            answer["@odata.nextLink"] = json!(link('X', skip + size));
        }
        answer
    }

    /// Whether this read of a group meets a replica the group has not reached yet.
    fn not_arrived(&mut self, path: &str) -> bool {
        if !path.starts_with("/v1.0/groups/") && !path.starts_with("/v1.0/users/") {
            return false;
        }
        let path = path.to_ascii_lowercase();
        match self
            .arriving
            .iter_mut()
            .find(|(part, n)| *n > 0 && path.contains(&part.to_ascii_lowercase()))
        {
            Some((_, n)) => {
                *n -= 1;
                true
            }
            None => false,
        }
    }

    /// A read of a group's `owners` or `members` (its first page): the changes that have
    /// replicated by now show from this read on.
    fn replicate(&mut self, path: &str, query: &str) {
        if query.contains("$skiptoken=") {
            return;
        }
        let Some((id, list)) = path
            .strip_prefix("/v1.0/groups/")
            .and_then(|rest| rest.split_once('/'))
        else {
            return;
        };
        let mut done = Vec::new();
        for (i, l) in self.lagging.iter_mut().enumerate() {
            if !l.group.eq_ignore_ascii_case(id) || l.list != list {
                continue;
            }
            if l.reads > 0 {
                l.reads -= 1;
            } else if l.until.is_none_or(|u| Instant::now() >= u) {
                done.push(i);
            }
        }
        for i in done.into_iter().rev() {
            let l = self.lagging.remove(i);
            if let Some(g) = self
                .groups
                .iter_mut()
                .find(|g| g.id.eq_ignore_ascii_case(&l.group))
            {
                let ids = if l.list == "owners" {
                    &mut g.owners
                } else {
                    &mut g.members
                };
                ids.retain(|p| !p.eq_ignore_ascii_case(&l.principal));
                if l.add {
                    ids.push(l.principal.clone());
                }
            }
        }
    }

    /// `pim`: (group id, principal id, access id) of the active PIM schedules, which Graph
    /// shows in the group's `members` and `owners` too (as it does activations).
    fn route(
        &self,
        origin: &str,
        path: &str,
        query: &str,
        pim: &[(String, String, String)],
    ) -> Option<Answer> {
        let user = |id: &String| {
            let kind = if self
                .service_principals
                .iter()
                .any(|s| s.eq_ignore_ascii_case(id))
            {
                "#microsoft.graph.servicePrincipal"
            } else {
                "#microsoft.graph.user"
            };
            json!({ "@odata.type": kind, "id": id })
        };
        let listed_in_v1 = |id: &&String| {
            !self
                .service_principals
                .iter()
                .any(|s| s.eq_ignore_ascii_case(id))
        };
        let with_pim = |g: &DirGroup, standing: &[String], access: &str| {
            let mut ids: Vec<String> = standing.to_vec();
            for (group, principal, a) in pim {
                if group.eq_ignore_ascii_case(&g.id)
                    && a == access
                    && !ids.iter().any(|i| i.eq_ignore_ascii_case(principal))
                    && !self
                        .pim_unlisted
                        .iter()
                        .any(|u| u.eq_ignore_ascii_case(principal))
                {
                    ids.push(principal.clone());
                }
            }
            ids
        };
        if let Some(rest) = path.strip_prefix("/v1.0/groups/") {
            let (id, nav) = rest
                .split_once('/')
                .map_or((rest, None), |(i, n)| (i, Some(n)));
            let Some(g) = self.group(id) else {
                return Some(not_found(id));
            };
            return Some(match nav {
                None => {
                    let mut group = select(
                        json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#groups/$entity",
                                "id": g.id, "displayName": g.display_name, "groupTypes": g.group_types,
                                "isAssignableToRole": g.is_assignable_to_role, "securityEnabled": g.security_enabled,
                                "mailEnabled": g.mail_enabled, "membershipRule": null }),
                        query,
                    );
                    if decode(query).contains("$expand=members") {
                        let members: Vec<Value> = with_pim(g, &g.members, "member")
                            .iter()
                            .take(20)
                            .map(user)
                            .collect();
                        group["members"] = json!(members);
                    }
                    (200, group, Vec::new())
                }
                Some("owners") => (
                    200,
                    self.page(
                        origin,
                        path,
                        query,
                        with_pim(g, &g.owners, "owner").iter().map(user).collect(),
                    ),
                    Vec::new(),
                ),
                Some("members") => (
                    200,
                    self.page(
                        origin,
                        path,
                        query,
                        with_pim(g, &g.members, "member")
                            .iter()
                            .filter(listed_in_v1)
                            .map(user)
                            .collect(),
                    ),
                    Vec::new(),
                ),
                Some(_) => error(400, "BadRequest", "unsupported navigation"),
            });
        }
        if path == "/v1.0/roleManagement/directory/roleAssignments" {
            let terms = filter_terms(query);
            let list: Vec<Value> = self
                .roles
                .iter()
                .enumerate()
                .filter(|(_, r)| terms.get("principalId").is_none_or(|p| p.eq_ignore_ascii_case(&r.principal_id)))
                .map(|(i, r)| {
                    select(
                        json!({ "id": format!("lAPpYvVpN0KRkAEhdxReE{i:04}"), "principalId": r.principal_id,
                                "roleDefinitionId": r.role_definition_id, "directoryScopeId": r.directory_scope_id }),
                        query,
                    )
                })
                .collect();
            return Some((200, self.page(origin, path, query, list), Vec::new()));
        }
        if let Some(rest) = path.strip_prefix("/v1.0/users/")
            && let Some(id) = rest.strip_suffix("/licenseDetails")
        {
            let Some(licenses) = self
                .users
                .iter()
                .find(|(u, _)| u.eq_ignore_ascii_case(id))
                .map(|(_, l)| l)
            else {
                return Some(not_found(id));
            };
            let list: Vec<Value> = licenses
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let plans: Vec<Value> = l
                        .service_plans
                        .iter()
                        .map(|(n, st)| json!({ "servicePlanId": format!("0000000{i}-plan"), "servicePlanName": n, "provisioningStatus": st, "appliesTo": "User" }))
                        .collect();
                    select(
                        json!({ "id": format!("lic-{i}"), "skuId": format!("sku-{i}"), "skuPartNumber": l.sku_part_number, "servicePlans": plans }),
                        query,
                    )
                })
                .collect();
            return Some((200, self.page(origin, path, query, list), Vec::new()));
        }
        None
    }
}

/// Whether `path` is one of the directory routes the fact checks read.
fn is_directory(path: &str) -> bool {
    path.starts_with("/v1.0/groups/")
        || path == "/v1.0/roleManagement/directory/roleAssignments"
        || (path.starts_with("/v1.0/users/") && path.ends_with("/licenseDetails"))
}

impl Inner {
    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-8000-{:012}", self.next_id)
    }

    /// Carry out a waiting request (see `request_statuses`): its schedule is made (an
    /// update replaces the old one) and the request is `Provisioned`. False if none waits.
    pub fn provision(&mut self, request_id: &str) -> bool {
        let Some(mut schedule) = self.waiting.remove(request_id) else {
            return false;
        };
        let now = self.now();
        self.schedules.retain(|s| {
            !(s.eligible == schedule.eligible
                && s.group_id == schedule.group_id
                && s.principal_id == schedule.principal_id
                && s.access_id == schedule.access_id)
        });
        // Started when carried out; a duration counts from then (an end date stays).
        let started = schedule.start.max(now);
        if let Some(d) = schedule.after_duration {
            schedule.end = Some(started + d);
        }
        schedule.start = started;
        schedule.created = now;
        schedule.visible_at = Instant::now();
        if let Some(r) = self.schedule_requests.get_mut(request_id) {
            r["status"] = json!("Provisioned");
            r["targetScheduleId"] = json!(schedule.id);
        }
        self.schedules.push(schedule);
        true
    }

    pub fn live(&self) -> Vec<&Schedule> {
        let now = self.now();
        self.schedules
            .iter()
            .filter(|s| s.end.is_none_or(|e| e > now))
            .collect()
    }
}

pub struct Server {
    pub base: String,
    pub inner: Arc<Mutex<Inner>>,
}

fn rule(id: &str, kind: &str, caller: &str, level: &str, extra: Value) -> (String, Value) {
    let mut v = json!({
        "@odata.type": format!("#microsoft.graph.unifiedRoleManagementPolicy{kind}Rule"),
        "id": id,
        "target": { "caller": caller, "operations": ["All"], "level": level, "inheritableSettings": [], "enforcedSettings": [] },
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    (id.to_owned(), v)
}

/// The rules of a newly onboarded group's policy (domain notes §6, §14).
fn default_rules() -> BTreeMap<String, Value> {
    [
        rule("Expiration_EndUser_Assignment", "Expiration", "EndUser", "Assignment", json!({"isExpirationRequired": true, "maximumDuration": "PT8H"})),
        rule("Enablement_EndUser_Assignment", "Enablement", "EndUser", "Assignment", json!({"enabledRules": ["Justification"]})),
        rule("AuthenticationContext_EndUser_Assignment", "AuthenticationContext", "EndUser", "Assignment", json!({"isEnabled": false, "claimValue": null})),
        rule("Approval_EndUser_Assignment", "Approval", "EndUser", "Assignment", json!({"setting": {"isApprovalRequired": false, "approvalMode": "NoApproval", "approvalStages": []}})),
        rule("Expiration_Admin_Eligibility", "Expiration", "Admin", "Eligibility", json!({"isExpirationRequired": true, "maximumDuration": "P365D"})),
        rule("Expiration_Admin_Assignment", "Expiration", "Admin", "Assignment", json!({"isExpirationRequired": true, "maximumDuration": "P180D"})),
        rule("Enablement_Admin_Assignment", "Enablement", "Admin", "Assignment", json!({"enabledRules": ["Justification"]})),
        rule("Enablement_Admin_Eligibility", "Enablement", "Admin", "Eligibility", json!({"enabledRules": []})),
    ]
    .into_iter()
    .chain(notification_rules())
    .collect()
}

/// The nine notification rules with Microsoft's defaults: e-mail, every notification, to the
/// default recipients and no one else (domain notes §10).
fn notification_rules() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (suffix, caller, level) in [
        ("Admin_Eligibility", "Admin", "Eligibility"),
        ("Admin_Assignment", "Admin", "Assignment"),
        ("EndUser_Assignment", "EndUser", "Assignment"),
    ] {
        for recipient in ["Admin", "Requestor", "Approver"] {
            out.push(rule(
                &format!("Notification_{recipient}_{suffix}"),
                "Notification",
                caller,
                level,
                json!({"notificationType": "Email", "recipientType": recipient, "notificationLevel": "All", "isDefaultRecipientsEnabled": true, "notificationRecipients": []}),
            ));
        }
    }
    out
}

/// Whether `body` may replace the rule `current` (the checks of a rule PATCH, also made for
/// each rule of a policy PATCH): its derived type, id and target are the rule's own, and its
/// values are ones the service takes.
fn check_rule(current: &Value, body: &Value) -> Result<(), Answer> {
    if body["@odata.type"] != current["@odata.type"] {
        return Err(error(
            400,
            "BadRequest",
            "@odata.type must name the rule's derived type",
        ));
    }
    if body["id"] != current["id"] || body["target"] != current["target"] {
        return Err(error(
            400,
            "BadRequest",
            "id and target must be those of the rule",
        ));
    }
    let id = current["id"].as_str().unwrap_or_default();
    let invalid = |what: &str| {
        Err(error(
            400,
            "InvalidPolicy",
            &format!("The policy is invalid: {what}"),
        ))
    };
    if id.starts_with("Enablement_") {
        let allowed: &[&str] = if id == "Enablement_EndUser_Assignment" {
            &["MultiFactorAuthentication", "Justification", "Ticketing"]
        } else {
            &["MultiFactorAuthentication", "Justification"]
        };
        let ok = body["enabledRules"].as_array().is_some_and(|l| {
            l.iter()
                .all(|r| r.as_str().is_some_and(|r| allowed.contains(&r)))
        });
        if !ok {
            return invalid("enabledRules");
        }
    }
    if id.starts_with("Expiration_")
        && body["isExpirationRequired"] == true
        && body["maximumDuration"]
            .as_str()
            .and_then(parse_duration)
            .is_none()
    {
        return invalid("maximumDuration is required when isExpirationRequired is true");
    }
    if id.starts_with("Notification_") {
        if body["notificationType"] != "Email" || body["recipientType"] != current["recipientType"]
        {
            return invalid("notificationType and recipientType");
        }
        if !["None", "Critical", "All"]
            .iter()
            .any(|l| body["notificationLevel"] == *l)
        {
            return invalid("notificationLevel");
        }
        if !body["isDefaultRecipientsEnabled"].is_boolean()
            || !body["notificationRecipients"]
                .as_array()
                .is_some_and(|l| l.iter().all(Value::is_string))
        {
            return invalid("isDefaultRecipientsEnabled and notificationRecipients");
        }
    }
    Ok(())
}

/// The checks the service makes of a policy as a whole, after any update: MFA on activation
/// and an authentication context exclude each other (`MfaAndAcrsConflict`, as EasyPIM
/// documents; terraform-provider-azuread marks the two as conflicting).
fn check_policy(rules: &BTreeMap<String, Value>) -> Result<(), Answer> {
    let mfa = rules
        .get("Enablement_EndUser_Assignment")
        .and_then(|r| r["enabledRules"].as_array())
        .is_some_and(|l| l.iter().any(|r| r == "MultiFactorAuthentication"));
    let context = rules
        .get("AuthenticationContext_EndUser_Assignment")
        .is_some_and(|r| r["isEnabled"] == true);
    if mfa && context {
        return Err(error(
            400,
            "MfaAndAcrsConflict",
            "Multi-factor authentication and an authentication context cannot both be required on activation.",
        ));
    }
    Ok(())
}

/// A status, a JSON body and extra headers.
type Answer = (u16, Value, Vec<(String, String)>);

fn error(status: u16, code: &str, message: &str) -> (u16, Value, Vec<(String, String)>) {
    (
        status,
        json!({ "error": { "code": code, "message": message } }),
        Vec::new(),
    )
}

fn decode(s: &str) -> String {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `field eq 'value'` terms of a `$filter`.
fn filter_terms(query: &str) -> HashMap<String, String> {
    let mut terms = HashMap::new();
    let filter = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("$filter="))
        .map(decode)
        .unwrap_or_default();
    for term in filter.split(" and ") {
        if let Some((field, value)) = term.split_once(" eq ") {
            terms.insert(
                field.trim().to_owned(),
                value.trim().trim_matches('\'').to_owned(),
            );
        }
    }
    terms
}

fn parse_duration(text: &str) -> Option<TimeDelta> {
    let body = text.strip_prefix('P')?;
    if body.contains('Y') || body.split('T').next().is_some_and(|d| d.contains('M')) {
        return None; // the service refuses years and months
    }
    let (days, time) = body.split_once('T').unwrap_or((body, ""));
    let mut total = 0i64;
    let num = |s: &str, unit: char| -> Option<i64> { s.strip_suffix(unit)?.parse().ok() };
    if !days.is_empty() {
        total += num(days, 'D')? * 86_400;
    }
    let mut rest = time;
    for (unit, secs) in [('H', 3600), ('M', 60), ('S', 1)] {
        if let Some(i) = rest.find(unit) {
            total += rest[..i].parse::<i64>().ok()? * secs;
            rest = &rest[i + 1..];
        }
    }
    Some(TimeDelta::seconds(total))
}

const REQUEST_FIELDS: &[&str] = &[
    "accessId",
    "principalId",
    "groupId",
    "action",
    "scheduleInfo",
    "justification",
    "ticketInfo",
    "isValidationOnly",
    "customData",
];

impl Inner {
    fn policy(&mut self, group: &str, role: &str) -> &mut (String, BTreeMap<String, Value>) {
        let key = (group.to_owned(), role.to_owned());
        if !self.policies.contains_key(&key) {
            let id = format!("Group_{group}_{}", self.id());
            self.policies.insert(key.clone(), (id, default_rules()));
        }
        self.policies
            .entry(key)
            .or_insert_with(|| (String::new(), BTreeMap::new()))
    }

    fn schedule_request(
        &mut self,
        eligible: bool,
        body: &Value,
    ) -> (u16, Value, Vec<(String, String)>) {
        let Some(obj) = body.as_object() else {
            return error(400, "BadRequest", "body is not a JSON object");
        };
        if let Some(unknown) = obj.keys().find(|k| !REQUEST_FIELDS.contains(&k.as_str())) {
            return error(400, "BadRequest", &format!("unknown property '{unknown}'"));
        }
        let access = body["accessId"].as_str().unwrap_or("");
        if access != "member" && access != "owner" {
            return error(400, "BadRequest", "accessId must be member or owner");
        }
        let (group, principal) = (
            body["groupId"].as_str().unwrap_or(""),
            body["principalId"].as_str().unwrap_or(""),
        );
        if group.is_empty() || principal.is_empty() {
            return error(400, "BadRequest", "groupId and principalId are required");
        }
        let action = body["action"].as_str().unwrap_or("");
        let now = self.now();
        let existing = self.schedules.iter().position(|s| {
            s.eligible == eligible
                && s.group_id == group
                && s.principal_id == principal
                && s.access_id == access
                && s.end.is_none_or(|e| e > now)
        });
        match action {
            "adminRemove" => {
                if body.get("scheduleInfo").is_some_and(|s| {
                    !s.is_null()
                        && s.get("expiration").is_some()
                        && s["expiration"].get("type").is_none()
                }) {
                    return error(400, "BadRequest", "malformed scheduleInfo");
                }
                let lagging = self.removal_says_missing > 0;
                self.removal_says_missing = self.removal_says_missing.saturating_sub(1);
                let Some(i) = existing.filter(|_| !lagging) else {
                    return if self.missing_removal_as_400 {
                        error(
                            400,
                            "RoleAssignmentDoesNotExist",
                            "The Role assignment does not exist.",
                        )
                    } else {
                        error(404, "ResourceNotFound", "The resource is not found.")
                    };
                };
                if now - self.schedules[i].created < TimeDelta::minutes(5) {
                    return error(
                        400,
                        "RoleAssignmentRequestPolicyValidationFailed",
                        "An assignment can't be removed within 5 minutes of being made.",
                    );
                }
                self.schedules.remove(i);
                let id = self.id();
                (
                    201,
                    json!({ "id": id, "status": "Revoked", "action": action }),
                    Vec::new(),
                )
            }
            "adminAssign" | "adminUpdate" => {
                let info = &body["scheduleInfo"];
                // `startDateTime` is optional: absent, the schedule starts when the request is
                // processed. A past start is moved to that moment too, and a duration counts
                // from the moved start (v1.0 POST examples: asked 2023-02-06T19:25, started
                // 2023-02-07T06:57:55.6Z, `PT2H` counted from there).
                let start = match info.get("startDateTime").filter(|s| !s.is_null()) {
                    None => now,
                    Some(s) => match s
                        .as_str()
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    {
                        Some(s) => s.with_timezone(&Utc).max(now),
                        None => {
                            return error(
                                400,
                                "BadRequest",
                                "scheduleInfo.startDateTime is malformed",
                            );
                        }
                    },
                };
                let exp = &info["expiration"];
                let end = match exp["type"].as_str() {
                    Some("noExpiration") => None,
                    Some("afterDateTime") => {
                        if exp.get("duration").is_some_and(|d| !d.is_null()) {
                            return error(
                                400,
                                "BadRequest",
                                "afterDateTime takes endDateTime, not duration",
                            );
                        }
                        match exp["endDateTime"]
                            .as_str()
                            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        {
                            Some(e) => Some(e.with_timezone(&Utc)),
                            None => {
                                return error(400, "BadRequest", "afterDateTime needs endDateTime");
                            }
                        }
                    }
                    Some("afterDuration") => {
                        if exp.get("endDateTime").is_some_and(|d| !d.is_null()) {
                            return error(
                                400,
                                "BadRequest",
                                "afterDuration must not include endDateTime",
                            );
                        }
                        match exp["duration"].as_str().and_then(parse_duration) {
                            Some(d) => Some(start + d),
                            None => {
                                return error(
                                    400,
                                    "InvalidRoleAssignmentRequest",
                                    "The role assignment request is invalid.",
                                );
                            }
                        }
                    }
                    _ => {
                        return error(
                            400,
                            "BadRequest",
                            "expiration.type must be noExpiration, afterDateTime or afterDuration",
                        );
                    }
                };
                if let Some(end) = end
                    && end - start < TimeDelta::minutes(5)
                {
                    return error(
                        400,
                        "ActiveDurationTooShort",
                        "The Active duration is too short. Minimum Required is 5 minutes.",
                    );
                }
                // The group's policy.
                let rules = self.policy(group, access).1.clone();
                let level = if eligible {
                    "Expiration_Admin_Eligibility"
                } else {
                    "Expiration_Admin_Assignment"
                };
                let expiration = &rules[level];
                if expiration["isExpirationRequired"] == true {
                    let max = expiration["maximumDuration"]
                        .as_str()
                        .and_then(parse_duration)
                        .unwrap_or(TimeDelta::MAX);
                    if end.is_none_or(|e| e - start > max + TimeDelta::minutes(5)) {
                        return error(
                            400,
                            "RoleAssignmentRequestPolicyValidationFailed",
                            "The following policy rules failed: [\"ExpirationRule\"]",
                        );
                    }
                }
                let enablement = if eligible {
                    "Enablement_Admin_Eligibility"
                } else {
                    "Enablement_Admin_Assignment"
                };
                if rules[enablement]["enabledRules"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == "Justification"))
                    && body["justification"].as_str().is_none_or(str::is_empty)
                {
                    return error(
                        400,
                        "RoleAssignmentRequestPolicyValidationFailed",
                        "The following policy rules failed: [\"JustificationRule\"]",
                    );
                }
                match (action, existing) {
                    ("adminAssign", Some(_)) => {
                        return error(
                            400,
                            "RoleAssignmentExists",
                            "The Role assignment already exists.",
                        );
                    }
                    ("adminUpdate", None) => {
                        return error(
                            400,
                            "RoleAssignmentDoesNotExist",
                            "The Role assignment does not exist.",
                        );
                    }
                    _ => {}
                }
                let status = self
                    .request_statuses
                    .pop_front()
                    .unwrap_or_else(|| "Provisioned".to_owned());
                let waits = status == "Granted" || status.starts_with("Pending");
                let guid = self.id();
                if status != "Provisioned" && !waits {
                    // Failed, Denied, …: answered, and nothing is made.
                    return (
                        201,
                        json!({ "id": guid, "status": status, "action": action }),
                        Vec::new(),
                    );
                }
                if let ("adminUpdate", Some(i)) = (action, existing)
                    && !waits
                {
                    self.schedules.remove(i);
                }
                let schedule_id = format!("{group}_{access}_{guid}");
                let schedule = Schedule {
                    after_duration: match exp["type"].as_str() {
                        Some("afterDuration") => exp["duration"].as_str().and_then(parse_duration),
                        _ => None,
                    },
                    id: schedule_id.clone(),
                    eligible,
                    group_id: group.to_owned(),
                    principal_id: principal.to_owned(),
                    access_id: access.to_owned(),
                    start,
                    end,
                    created: now,
                    visible_at: Instant::now() + self.visibility_delay,
                    justification: body["justification"].as_str().map(str::to_owned),
                    through_group: false,
                    activated: false,
                };
                if waits {
                    // Taken, not carried out: no schedule until the test provisions it.
                    self.waiting.insert(guid.clone(), schedule);
                    return (
                        201,
                        json!({ "id": guid, "status": status, "action": action }),
                        Vec::new(),
                    );
                }
                self.schedules.push(schedule);
                // The answer carries the schedule as stored: the start as processed, the
                // expiration as asked (the docs' response example).
                let expiration = match exp["type"].as_str() {
                    Some("afterDuration") => {
                        json!({ "type": "afterDuration", "endDateTime": null, "duration": exp["duration"] })
                    }
                    Some("afterDateTime") => {
                        json!({ "type": "afterDateTime", "endDateTime": exp["endDateTime"], "duration": null })
                    }
                    _ => json!({ "type": "noExpiration", "endDateTime": null, "duration": null }),
                };
                (
                    201,
                    json!({ "id": guid, "status": "Provisioned", "action": action, "targetScheduleId": schedule_id,
                            "accessId": access, "principalId": principal, "groupId": group,
                            "scheduleInfo": { "startDateTime": start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                                              "recurrence": null, "expiration": expiration } }),
                    Vec::new(),
                )
            }
            _ => error(
                400,
                "BadRequest",
                &format!("action '{action}' is not valid here"),
            ),
        }
    }

    /// A schedule as the v1.0 list and get examples print it: `"memberType": "Direct"`,
    /// `"assignmentType": "Assigned"`, `"status": "Provisioned"`.
    fn schedule_json(&self, s: &Schedule) -> Value {
        let mut expiration = match s.end {
            Some(e) => {
                json!({ "type": "afterDateTime", "endDateTime": e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) })
            }
            None => json!({ "type": "noExpiration" }),
        };
        if let Some(odd) = self.odd_expiration.get(&s.id) {
            expiration["type"] = json!(odd);
        }
        let mut v = json!({
            "id": s.id, "groupId": s.group_id, "principalId": s.principal_id, "accessId": s.access_id,
            "memberType": if s.through_group { "Group" } else { "Direct" }, "status": "Provisioned",
            "scheduleInfo": { "startDateTime": s.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "expiration": expiration },
        });
        if !s.eligible
            && let Some(o) = v.as_object_mut()
        {
            o.insert(
                "assignmentType".into(),
                json!(if s.activated { "Activated" } else { "Assigned" }),
            );
        }
        v
    }

    fn route(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: &Value,
    ) -> (u16, Value, Vec<(String, String)>) {
        const PRIV: &str = "/v1.0/identityGovernance/privilegedAccess/group/";
        if self.throttle > 0 {
            self.throttle -= 1;
            return (
                429,
                json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}),
                vec![
                    ("Retry-After".into(), self.retry_after.to_string()),
                    (
                        "x-ms-throttle-scope".into(),
                        "Tenant_Application/ReadWrite/test-tenant/test-app".into(),
                    ),
                ],
            );
        }
        if let Some(rest) = path.strip_prefix(PRIV) {
            let (collection, id) = rest
                .split_once('/')
                .map_or((rest, None), |(c, i)| (c, Some(i)));
            let eligible = collection.starts_with("eligibility");
            match (method, collection, id) {
                ("POST", "eligibilityScheduleRequests" | "assignmentScheduleRequests", None) => {
                    if self.subject_not_found > 0 {
                        self.subject_not_found -= 1;
                        return error(404, "SubjectNotFound", "The subject is not found.");
                    }
                    self.posts += 1;
                    if self.fail_post == Some(self.posts) {
                        return error(500, "InternalServerError", "Something went wrong.");
                    }
                    let answer = self.schedule_request(eligible, body);
                    if answer.0 == 201
                        && let Some(id) = answer.1["id"].as_str()
                    {
                        self.schedule_requests
                            .insert(id.to_owned(), answer.1.clone());
                    }
                    if self.fail_post_after_doing_it == Some(self.posts) {
                        return error(500, "InternalServerError", "Something went wrong.");
                    }
                    if self.reset_post_after_doing_it == Some(self.posts) {
                        self.reset_now = true;
                        self.down = self.down_after_reset;
                    }
                    if self.hang_post == Some(self.posts) {
                        self.hung = true;
                    }
                    if self.trickle_post == Some(self.posts) {
                        self.trickle_now = true;
                    }
                    if let Some((n, wait)) = self.slow_post
                        && n == self.posts
                    {
                        self.slow_now = Some(wait);
                    }
                    return answer;
                }
                ("GET", "eligibilitySchedules" | "assignmentSchedules", None) => {
                    let terms = filter_terms(query);
                    if !terms.contains_key("groupId") && !terms.contains_key("principalId") {
                        return error(
                            400,
                            "BadRequest",
                            "a $filter on groupId or principalId is required",
                        );
                    }
                    let now = Instant::now();
                    let list: Vec<Value> = self
                        .live()
                        .into_iter()
                        .filter(|s| s.eligible == eligible && s.visible_at <= now)
                        .filter(|s| terms.get("groupId").is_none_or(|g| *g == s.group_id))
                        .filter(|s| {
                            terms
                                .get("principalId")
                                .is_none_or(|p| *p == s.principal_id)
                        })
                        .map(|s| self.schedule_json(s))
                        .collect();
                    let skip: usize = query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("$skiptoken="))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let size = self.page_size.unwrap_or(usize::MAX);
                    let page: Vec<Value> = list.iter().skip(skip).take(size).cloned().collect();
                    let mut answer = json!({ "value": page });
                    if skip == 0
                        && let Some(link) = &self.foreign_next_link
                    {
                        answer["@odata.nextLink"] = json!(link);
                    } else if skip.saturating_add(size) < list.len() {
                        let asked: Vec<&str> = query
                            .split('&')
                            .filter(|kv| !kv.starts_with("$skiptoken="))
                            .collect();
                        answer["@odata.nextLink"] = json!(format!(
                            "{}{path}?{}&$skiptoken={}",
                            self.origin,
                            asked.join("&"),
                            skip + size
                        ));
                    }
                    return (200, answer, Vec::new());
                }
                ("GET", "eligibilitySchedules" | "assignmentSchedules", Some(id)) => {
                    let now = Instant::now();
                    return match self
                        .schedules
                        .iter()
                        .find(|s| s.id == id && s.eligible == eligible && s.visible_at <= now)
                    {
                        Some(s) => (200, self.schedule_json(s), Vec::new()),
                        None => error(404, "NotFound", "schedule not found"),
                    };
                }
                ("GET", "eligibilityScheduleRequests" | "assignmentScheduleRequests", Some(id)) => {
                    return match self.schedule_requests.get(id) {
                        Some(r) => (200, r.clone(), Vec::new()),
                        None => error(404, "NotFound", "request not found"),
                    };
                }
                // Cancel applies only to a request not carried out yet (the docs: a request
                // that is `Provisioned` or `Failed` is not cancelable); it becomes `Revoked`.
                (
                    "POST",
                    "eligibilityScheduleRequests" | "assignmentScheduleRequests",
                    Some(id),
                ) if id.ends_with("/cancel") => {
                    let id = id.trim_end_matches("/cancel").to_owned();
                    if self.waiting.remove(&id).is_none() {
                        return error(
                            400,
                            "BadRequest",
                            "The request is not in a state that can be canceled.",
                        );
                    }
                    if let Some(r) = self.schedule_requests.get_mut(&id) {
                        r["status"] = json!("Revoked");
                    }
                    return (204, Value::Null, Vec::new());
                }
                _ => return error(400, "BadRequest", "unknown PIM request"),
            }
        }
        if method == "GET" && path == "/v1.0/policies/roleManagementPolicyAssignments" {
            let terms = filter_terms(query);
            let (Some(scope), Some("Group")) = (
                terms.get("scopeId").cloned(),
                terms.get("scopeType").map(String::as_str),
            ) else {
                return error(
                    400,
                    "BadRequest",
                    "a $filter on scopeId and scopeType is required",
                );
            };
            let role = terms
                .get("roleDefinitionId")
                .cloned()
                .unwrap_or_else(|| "member".to_owned());
            let policy_id = self.policy(&scope, &role).0.clone();
            return (
                200,
                json!({ "value": [{ "id": format!("{policy_id}_{role}"), "policyId": policy_id, "scopeId": scope, "scopeType": "Group", "roleDefinitionId": role }] }),
                Vec::new(),
            );
        }
        if let Some(rest) = path.strip_prefix("/v1.0/policies/roleManagementPolicies/") {
            let (policy_id, rule_id) = match rest.split_once("/rules/") {
                Some((p, r)) => (p.to_owned(), Some(r.to_owned())),
                None => (rest.to_owned(), None),
            };
            if method == "PATCH" {
                self.patches += 1;
                if self.fail_patch == Some(self.patches) {
                    return error(500, "InternalServerError", "Something went wrong.");
                }
            }
            let Some(key) = self
                .policies
                .iter()
                .find(|(_, (id, _))| *id == policy_id)
                .map(|(k, _)| k.clone())
            else {
                return error(404, "NotFound", "policy not found");
            };
            let current = self.policies[&key].1.clone();
            // Every update is checked against the policy as a whole, and is all or nothing.
            let mut updated = current.clone();
            let answer = match (method, rule_id) {
                ("GET", None) => {
                    let list: Vec<Value> = current.values().cloned().collect();
                    return (
                        200,
                        json!({ "id": policy_id, "scopeId": key.0, "scopeType": "Group", "rules": list }),
                        Vec::new(),
                    );
                }
                ("PATCH", Some(rule_id)) => {
                    let Some(rule) = current.get(&rule_id) else {
                        return error(404, "NotFound", "rule not found");
                    };
                    if let Err(e) = check_rule(rule, body) {
                        return e;
                    }
                    updated.insert(rule_id, body.clone());
                    (204, Value::Null)
                }
                ("PATCH", None) => {
                    let Some(list) = body["rules"].as_array() else {
                        return error(400, "BadRequest", "the body must hold the policy's `rules`");
                    };
                    for r in list {
                        let Some(rule) = r["id"].as_str().and_then(|id| current.get(id)) else {
                            return error(404, "NotFound", "rule not found");
                        };
                        if let Err(e) = check_rule(rule, r) {
                            return e;
                        }
                        updated.insert(r["id"].as_str().unwrap_or_default().to_owned(), r.clone());
                    }
                    (200, Value::Null)
                }
                _ => return error(405, "MethodNotAllowed", "not supported"),
            };
            if let Err(e) = check_policy(&updated) {
                return e;
            }
            // The policy id changes with each modification (terraform-provider-azuread
            // re-reads it after an update): an id found before is gone.
            let fresh = format!("Group_{}_{}", key.0, self.id());
            let list: Vec<Value> = updated.values().cloned().collect();
            self.policies.insert(key.clone(), (fresh.clone(), updated));
            return match answer {
                (204, _) => (204, Value::Null, Vec::new()),
                (status, _) => (
                    status,
                    json!({ "id": fresh, "scopeId": key.0, "scopeType": "Group", "rules": list }),
                    Vec::new(),
                ),
            };
        }
        if method == "GET" && is_directory(path) {
            let pim: Vec<(String, String, String)> = self
                .live()
                .into_iter()
                .filter(|s| !s.eligible)
                .map(|s| {
                    (
                        s.group_id.clone(),
                        s.principal_id.clone(),
                        s.access_id.clone(),
                    )
                })
                .collect();
            if let Some(t) = self
                .directory_throttle
                .iter_mut()
                .find(|t| t.times > 0 && path.contains(&t.path))
            {
                t.times -= 1;
                let (code, message) = if t.status == 503 {
                    ("serviceNotAvailable", "Service Unavailable")
                } else {
                    ("TooManyRequests", "Too many requests")
                };
                return (
                    t.status,
                    json!({ "error": { "code": code, "message": message } }),
                    vec![
                        ("Retry-After".into(), t.retry_after.to_string()),
                        (
                            "x-ms-throttle-scope".into(),
                            "Tenant_Application/Read/test-tenant/test-app".into(),
                        ),
                    ],
                );
            }
            let origin = self.origin.clone();
            let arrived = self.directory.as_mut().is_none_or(|d| !d.not_arrived(path));
            return match &mut self.directory {
                None => error(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                ),
                Some(_) if !arrived => {
                    let id = path.trim_start_matches("/v1.0/groups/");
                    not_found(id.split('/').next().unwrap_or(id))
                }
                Some(d) => {
                    d.replicate(path, query);
                    d.route(&origin, path, query, &pim)
                        .unwrap_or_else(|| error(404, "NotFound", "no route"))
                }
            };
        }
        error(404, "NotFound", &format!("no route for {method} {path}"))
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn unbase64url(text: &str) -> Option<Vec<u8>> {
    let (mut bits, mut count, mut out) = (0u32, 0, Vec::new());
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

/// A JWT-shaped assertion as GitHub's OIDC provider issues it, valid from `iat` to `exp`
/// (Unix seconds), signed by this stand-in.
pub fn assertion(audience: &str, iat: i64, exp: i64) -> String {
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": "stand-in" });
    let claims = json!({
        "jti": uuid_like(iat, exp),
        "sub": "repo:example/pim:environment:pim-production",
        "aud": audience,
        "iss": "https://token.actions.githubusercontent.com",
        "nbf": iat,
        "iat": iat,
        "exp": exp,
    });
    format!(
        "{}.{}.{OIDC_SIGNATURE}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    )
}

fn uuid_like(iat: i64, exp: i64) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{iat:x}-{exp:x}-{n}")
}

/// The token endpoint's judgement of a client assertion (None: accepted), as Entra answers.
fn judge_assertion(assertion: &str, now: DateTime<Utc>) -> Option<String> {
    if assertion == ASSERTION {
        return None; // the static assertion of the simplest federated test
    }
    let parts: Vec<&str> = assertion.split('.').collect();
    let claims = match parts.as_slice() {
        [_, payload, OIDC_SIGNATURE] => unbase64url(payload)
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let (Some(nbf), Some(exp)) = (claims["nbf"].as_i64(), claims["exp"].as_i64()) else {
        return Some("AADSTS50027: JWT token is invalid or malformed.".to_owned());
    };
    if claims["aud"] != "api://AzureADTokenExchange" {
        return Some(format!(
            "AADSTS700212: No matching federated identity record found for presented assertion audience '{}'.",
            claims["aud"].as_str().unwrap_or("")
        ));
    }
    let at = |t: i64| {
        DateTime::from_timestamp(t, 0)
            .unwrap_or_default()
            .to_rfc3339()
    };
    if now.timestamp() < nbf || now.timestamp() >= exp {
        return Some(format!(
            "AADSTS700024: Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
            now.to_rfc3339(),
            at(nbf),
            at(exp)
        ));
    }
    None
}

fn respond(stream: &mut TcpStream, status: u16, body: &Value, headers: &[(String, String)]) {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let reason = match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Other",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

fn handle(mut stream: TcpStream, inner: &Arc<Mutex<Inner>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut length = 0;
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "authorization" => auth = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut raw = vec![0; length];
    if reader.read_exact(&mut raw).is_err() {
        return;
    }
    let raw_body = String::from_utf8_lossy(&raw).into_owned();
    let body: Value = serde_json::from_str(&raw_body).unwrap_or(Value::Null);
    let (path, query) = target
        .split_once('?')
        .map_or((target.clone(), String::new()), |(p, q)| {
            (p.to_owned(), q.to_owned())
        });
    let mut state: MutexGuard<'_, Inner> = match inner.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    state.requests.push(Recorded {
        method: method.clone(),
        path: if query.is_empty() {
            path.clone()
        } else {
            format!("{path}?{}", decode(&query))
        },
        body: body.clone(),
        raw_body: raw_body.clone(),
        at: Instant::now(),
    });
    // GitHub's OIDC token request (`ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`, the request
    // token as bearer): a JWT in `value`, valid a few minutes from now (the real clock).
    if path == "/oidc/token" && method == "GET" {
        let audience = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("audience="))
            .map(decode);
        let lifetime = state.assertion_lifetime.unwrap_or(300);
        drop(state);
        if auth.as_deref() != Some(&format!("Bearer {OIDC_REQUEST_TOKEN}")) {
            respond(&mut stream, 401, &json!({ "message": "Unauthorized" }), &[]);
            return;
        }
        let iat = Utc::now().timestamp();
        let value = assertion(audience.as_deref().unwrap_or(""), iat, iat + lifetime);
        respond(
            &mut stream,
            200,
            &json!({ "count": 1, "value": value }),
            &[],
        );
        return;
    }
    if path.starts_with("/auth/") && path.ends_with("/oauth2/v2.0/token") {
        let form: HashMap<String, String> = raw_body
            .split('&')
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (decode(k), decode(v))))
            .collect();
        let expected_scope = format!("{}/.default", state.origin);
        let lifetime = state.token_lifetime.unwrap_or(3600);
        drop(state);
        let scope = form.get("scope").cloned().unwrap_or_default();
        // Azure Storage is a resource of every tenant: its token is a JWT for
        // `https://storage.azure.com`, as Entra issues one (and Azurite's OAuth mode reads).
        let storage = scope == STORAGE_SCOPE;
        if scope != expected_scope && !storage {
            // Entra does not know another cloud's Graph as a resource.
            let resource = scope.trim_end_matches("/.default");
            respond(
                &mut stream,
                400,
                &json!({ "error": "invalid_resource", "error_description": format!("AADSTS500011: The resource principal named {resource} was not found in the tenant.") }),
                &[],
            );
            return;
        }
        let refused_assertion = form
            .get("client_assertion")
            .filter(|_| {
                form.get("client_assertion_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            })
            .and_then(|a| judge_assertion(a, Utc::now()));
        if let Some(description) = refused_assertion {
            respond(
                &mut stream,
                401,
                &json!({ "error": "invalid_client", "error_description": description }),
                &[],
            );
            return;
        }
        let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
            && (form.get("client_secret").map(String::as_str) == Some(SECRET)
                || (form.contains_key("client_assertion")
                    && form.get("client_assertion_type").map(String::as_str)
                        == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")));
        if ok {
            respond(
                &mut stream,
                200,
                &json!({
                    "access_token": if storage {
                        crate::common::azurite::test_jwt("https://storage.azure.com")
                    } else {
                        TOKEN.to_owned()
                    },
                    "token_type": "Bearer",
                    "expires_in": lifetime,
                }),
                &[],
            );
        } else {
            respond(
                &mut stream,
                401,
                &json!({ "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided." }),
                &[],
            );
        }
        return;
    }
    let refused = std::mem::take(&mut state.refuse_token_once);
    if refused || auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        drop(state);
        respond(
            &mut stream,
            401,
            &json!({ "error": { "code": "InvalidAuthenticationToken", "message": "Access token is empty or invalid." } }),
            &[],
        );
        return;
    }
    if state.down > 0 {
        // The network is down: nothing reaches the service, nothing comes back.
        state.down -= 1;
        return;
    }
    let was_hung = state.hung;
    let (status, value, headers) = state.route(&method, &path, &query, &body);
    if std::mem::take(&mut state.reset_now) {
        return;
    }
    let hang = state.hung && !was_hung;
    let slow = state.slow_now.take();
    let bad = if std::mem::take(&mut state.trickle_now) {
        Some(BadRead::Trickle)
    } else if method == "GET" && status == 200 {
        state.bad_reads.pop_front()
    } else {
        None
    };
    drop(state);
    if let Some(bad) = bad {
        let text = value.to_string().into_bytes();
        let (body, length): (Vec<u8>, usize) = match bad {
            BadRead::Empty => (Vec::new(), 0),
            BadRead::Cut => (text[..text.len() / 2].to_vec(), text.len()),
            BadRead::Malformed => (b"<html>gateway</html>".to_vec(), 20),
            BadRead::NoValue => (b"{\"@odata.context\":\"x\"}".to_vec(), 22),
            BadRead::Trickle => {
                let head = format!(
                    "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    text.len()
                );
                let _ = stream.write_all(head.as_bytes());
                for byte in &text {
                    if stream.write_all(std::slice::from_ref(byte)).is_err() {
                        return; // the client gave up
                    }
                    let _ = stream.flush();
                    std::thread::sleep(TRICKLE_GAP);
                }
                return;
            }
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(&body);
        let _ = stream.flush();
        return;
    }
    if hang {
        // Done, but never answered: the client is killed while it waits.
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    if let Some(wait) = slow {
        std::thread::sleep(wait);
    }
    respond(&mut stream, status, &value, &headers);
}

/// Run pimplan in `dir` against `server`, the server's clock at `now`: the runner most
/// Graph tests need.
pub fn pimplan(
    server: &Server,
    dir: &std::path::Path,
    now: &str,
    args: &[&str],
) -> crate::common::Run {
    crate::common::Run::of(&server.run(dir, now, chrono::TimeDelta::zero(), args, &[]))
}

/// Alice's and Bob's object ids in [`two_grants`].
pub const ALICE: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const BOB: &str = "bbbbbbbb-0000-4000-8000-000000000002";
/// Alice's eligibility, a line of [`two_grants`]' `assignments:`.
pub const ALICE_LINE: &str = "  - { group: ops, principal: alice, role: member, type: eligible, end: 2027-03-01T00:00:00Z, justification: on-call }\n";
/// Bob's active membership, the other line.
pub const BOB_LINE: &str = "  - { group: ops, principal: bob, role: member, type: active, duration: P30D, justification: migration }\n";

/// A workspace of one group, `ops` (bob its owner), with alice eligible and bob active, all
/// with object ids: the smallest workspace a Graph apply sends two requests for.
pub fn two_grants() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let text = format!(
        "version: 1\ntenant: {{ id: 5f1c2f4e-8d1b-4c55-9a7e-2b1f0c9d3e11 }}\nprincipals:\n  - {{ name: alice, type: user, id: {ALICE}, licenses: [entra_id_p2] }}\n  - {{ name: bob, type: user, id: {BOB}, licenses: [entra_id_p2] }}\ngroups:\n  - name: ops\n    id: 99999999-0000-4000-8000-000000000009\n    owners: [bob]\nassignments:\n{ALICE_LINE}{BOB_LINE}"
    );
    std::fs::write(tmp.path().join("pimplan.yaml"), text).unwrap_or(());
    tmp
}

/// `group/principal/role/type` (and `/end` with `ends`) of every assignment a state file
/// (as JSON) records, sorted: to compare with [`Server::keys`].
pub fn state_keys(state: &Value, ends: bool) -> Vec<String> {
    let mut keys: Vec<String> = state["assignments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let mut key = format!(
                "{}/{}/{}/{}",
                a["group_id"].as_str().unwrap_or(""),
                a["principal_id"].as_str().unwrap_or(""),
                a["role"].as_str().unwrap_or(""),
                a["type"].as_str().unwrap_or("")
            );
            if ends {
                let end = a["ends_at"]
                    .as_str()
                    .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                    .map(|e| e.with_timezone(&Utc).to_rfc3339())
                    .unwrap_or_default();
                key = format!("{key}/{end}");
            }
            key
        })
        .collect();
    keys.sort();
    keys
}

/// A test's clock reading: `now` as a UTC time (the epoch when it does not read).
pub fn at(now: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(now)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

impl Server {
    /// Run pimplan in `dir` against this server, with `--now now` and the server's clock set
    /// to `now + ahead` (a service whose clock runs ahead models a long apply), the sign-in
    /// variables of [`Server::env`] and then `extra_env`; no credential or Actions variable
    /// of the calling environment leaks in.
    pub fn run(
        &self,
        dir: &std::path::Path,
        now: &str,
        ahead: TimeDelta,
        args: &[&str],
        extra_env: &[(&str, String)],
    ) -> std::process::Output {
        self.state().now = Some(at(now) + ahead);
        let mut cmd =
            assert_cmd::Command::cargo_bin("pimplan").unwrap_or_else(|e| unreachable!("{e}"));
        cmd.current_dir(dir)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .args(args)
            .args(["--now", now, "--color", "never"])
            .timeout(Duration::from_secs(120));
        for k in [
            "PIMPLAN_NOW",
            "PIMPLAN_GRAPH_TOKEN",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        // Re-reads of a list that differs from the files, a few ms apart rather than seconds.
        cmd.env("PIMPLAN_TEST_SETTLE_MS", "30");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap_or_else(|e| unreachable!("{e}"))
    }

    /// (path after `/v1.0/identityGovernance/privilegedAccess/group/`, body) of every POST to
    /// a schedule request collection, or to a request's `cancel`, in order.
    pub fn schedule_posts(&self) -> Vec<(String, Value)> {
        self.state()
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("ScheduleRequests"))
            .map(|r| {
                (
                    r.path
                        .trim_start_matches("/v1.0/identityGovernance/privilegedAccess/group/")
                        .to_owned(),
                    r.body.clone(),
                )
            })
            .collect()
    }

    /// `group/principal/role/type` (and `/end` with `ends`) of every live schedule, sorted.
    pub fn keys(&self, ends: bool) -> Vec<String> {
        let mut keys: Vec<String> = self
            .state()
            .live()
            .into_iter()
            .map(|s| {
                let kind = if s.eligible { "eligible" } else { "active" };
                let key = format!("{}/{}/{}/{kind}", s.group_id, s.principal_id, s.access_id);
                if ends {
                    let end = s.end.map(|e| e.to_rfc3339()).unwrap_or_default();
                    format!("{key}/{end}")
                } else {
                    key
                }
            })
            .collect();
        keys.sort();
        keys
    }

    /// The bodies of [`Server::schedule_posts`].
    pub fn post_bodies(&self) -> Vec<Value> {
        self.schedule_posts().into_iter().map(|(_, b)| b).collect()
    }

    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| unreachable!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let inner = Arc::new(Mutex::new(Inner {
            retry_after: 0,
            origin: format!("http://127.0.0.1:{port}"),
            ..Inner::default()
        }));
        let shared = Arc::clone(&inner);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || handle(stream, &shared));
            }
        });
        Server {
            base: format!("http://127.0.0.1:{port}"),
            inner,
        }
    }

    pub fn state(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// The environment pimplan needs to talk to this server with a client secret.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PIMPLAN_GRAPH_URL", format!("{}/v1.0", self.base)),
            ("AZURE_AUTHORITY_HOST", format!("{}/auth", self.base)),
            (
                "AZURE_CLIENT_ID",
                "11111111-2222-3333-4444-555555555555".to_owned(),
            ),
            ("AZURE_CLIENT_SECRET", SECRET.to_owned()),
        ]
    }

    /// The variables GitHub gives a job with `id-token: write`, pointing at this server's
    /// OIDC endpoint (whose URL, like GitHub's, already has a query string), and no secret.
    pub fn actions_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_CLIENT_SECRET", String::new()),
            (
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{}/oidc/token?api-version=2.0", self.base),
            ),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                OIDC_REQUEST_TOKEN.to_owned(),
            ),
        ]
    }
}

/// What the state says is what the service holds (keys as [`state_keys`] gives them): every
/// recorded assignment is `live` in the service, and every live one is recorded or marked
/// `pending` (a request the state could not yet know the outcome of). `what` names the case.
pub fn assert_state_true_to_service(
    recorded: &[String],
    pending: &[String],
    live: &[String],
    what: &str,
) {
    assert!(
        recorded.iter().all(|k| live.contains(k)),
        "{what}: recorded but not in the service: {recorded:?} / {live:?}"
    );
    assert!(
        live.iter()
            .all(|k| recorded.contains(k) || pending.contains(k)),
        "{what}: in the service, neither recorded nor pending: {live:?}"
    );
}
