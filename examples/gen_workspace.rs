//! Writes a large, realistic, lint-clean pimplan workspace and a matching state file, for
//! benchmarks (`bench/run.sh`).
//!
//! ```text
//! cargo run --release --example gen_workspace -- --assignments 100000 [--seed 1] OUT
//! ```
//!
//! Shape, for N assignments: about 2 % as many groups and 20 % as many principals, split the
//! way a platform team would: `pimplan.yaml` (settings, admins, policy templates, include
//! globs), `principals/*.yaml` (1,000 people per file, plus workloads and approvers) and one
//! `groups/<group>.yaml` per group holding its definition and its assignments. The output
//! is deterministic for a seed and lints clean at `--now 2026-12-01T00:00:00Z`.
//!
//! The facts the privilege paths rest on come at the scale of privilege-paths.md §A.8 (at
//! 100,000 assignments: 20,000 principals, 10,000 groups, 500 admins, 2,000 service principal
//! owners): standing members on a fifth of the PIM groups that are not role-assignable, groups
//! with standing members only (`groups/standing-*.yaml`, 8 % of N), owners on every service
//! principal, admins at directory and administrative-unit scope, and administrative units
//! (`principals/units.yaml`, every tenth one restricted management) with users and groups as
//! members.
//!
//! It lints clean under the PIM8xx rules the way a careful tenant would: the role-assignable
//! groups (their roles tier 0, or able to reach it) have no standing owners and only eligible
//! assignments, of separate `adm-…` accounts activating with approval, that sit in the
//! restricted management units (out of reach of the password-reset roles); the pipeline's
//! service principal (Privileged Role Administrator) is owned by the break-glass accounts; no
//! admin or group holds Cloud Application Administrator (it adds secrets to that principal).
//!
//! `pimplan.state.json` records every policy and about 90 % of the assignments as applied
//! on 2026-11-25, so `pimplan plan` at that `--now` shows only creates (the other ~10 %).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Duration, FixedOffset};

use pimplan::config::model::{AssignmentType, Role};
use pimplan::state::{AssignmentRecord, AssignmentSpec, Held, PolicyRecord, PolicySpec, State};

/// The "now" the workspace is valid at (lint and plan with `--now` set to this).
const NOW: &str = "2026-12-01T00:00:00Z";
/// When the recorded entries were applied: a week before `NOW`.
const APPLIED_AT: &str = "2026-11-24T09:30:00Z";
/// Share of assignments already recorded in the state.
const APPLIED_SHARE: f64 = 0.90;

// ---------------------------------------------------------------------------------------
// A tiny deterministic PRNG (SplitMix64): no dependency, same output on every platform.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// A random UUID (version 4 layout).
    fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            8 + (b >> 62),
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

// ---------------------------------------------------------------------------------------
// Vocabulary.

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "priya", "tomas", "amara", "bilal", "chen", "dmitri", "elena", "farah",
    "goran", "hana", "idris", "jonas", "kenji", "lena", "mateo", "nadia", "oscar", "paula",
    "quinn", "rafael", "sofia", "tariq", "ulla", "victor", "wen", "ximena", "yusuf", "zoe",
    "anders", "beatriz", "cyrus", "dalia", "emeka", "fiona", "gustavo", "helga", "ines",
];
const LAST: &[&str] = &[
    "smith",
    "okafor",
    "nguyen",
    "garcia",
    "mueller",
    "rossi",
    "kowalski",
    "tanaka",
    "johansson",
    "dubois",
    "silva",
    "kim",
    "patel",
    "haddad",
    "novak",
    "jensen",
    "moreau",
    "costa",
    "ivanova",
    "schmidt",
    "nakamura",
    "obrien",
    "fischer",
    "lopez",
    "andersen",
    "yilmaz",
    "walsh",
    "romano",
    "svensson",
    "mendes",
    "kaur",
    "horvat",
    "bauer",
    "lindqvist",
    "petrov",
    "ferreira",
    "sato",
    "murphy",
    "vargas",
    "weber",
];
const ENVS: &[&str] = &["prod", "prod", "stage", "dev", "shared"];
const DEPTS: &[&str] = &[
    "finance",
    "hr",
    "sales",
    "platform",
    "data",
    "security",
    "identity",
    "network",
    "payments",
    "legal",
    "marketing",
    "support",
    "devops",
    "analytics",
    "research",
    "logistics",
    "retail",
];
const SYSTEMS: &[&str] = &[
    "sap",
    "k8s",
    "sql",
    "snowflake",
    "jira",
    "github",
    "aws",
    "azure",
    "gcp",
    "salesforce",
    "workday",
    "splunk",
    "vault",
    "kafka",
    "redis",
    "postgres",
    "databricks",
    "servicenow",
];
const SUFFIXES: &[&str] = &[
    "admins",
    "operators",
    "contributors",
    "readers",
    "owners",
    "responders",
];
const JUSTIFICATIONS: &[&str] = &[
    "On-call rotation",
    "Platform engineer",
    "Release pipeline, rotated monthly",
    "Incident responder",
    "Quarter-end reporting",
    "Schema migration project",
    "Audit support",
    "Break-fix access for the service team",
    "Product owner",
    "Deputy team lead",
    "Team lead",
    "Contractor engagement",
    "Capacity planning",
    "Cost review",
    "Data subject access requests",
    "Vendor escalation support",
    "Graduate rotation",
    "Performance tuning engagement",
    "Disaster recovery exercise",
    "Security review of the tenant",
];
/// Directory roles a role-assignable group may hold (none of them lets anyone bypass PIM).
const ENTRA_ROLES: &[&str] = &[
    "Security Administrator",
    "Security Reader",
    "Global Reader",
    "Helpdesk Administrator",
    // Not SharePoint or Teams Administrator: they can change the members of the generated
    // Microsoft 365 groups outside PIM (PIM403), and the workspace lints clean.
    "Intune Administrator",
    "Compliance Administrator",
    "License Administrator",
    "Application Administrator",
    // Not Cloud Application Administrator: it adds secrets to the pipeline's service
    // principal, which holds Privileged Role Administrator (PIM804).
    "Reports Reader",
];

// ---------------------------------------------------------------------------------------
// Policies: resolved values, and how they are written (template plus overrides).

#[derive(Clone, Debug, PartialEq)]
struct RolePol {
    /// Activation maximum in minutes (a multiple of 30).
    activation_minutes: i64,
    activation_require: Vec<&'static str>,
    approval: bool,
    approvers: Vec<String>,
    eligible_max_days: i64,
    active_max_days: i64,
}

impl RolePol {
    fn microsoft_default() -> Self {
        RolePol {
            activation_minutes: 8 * 60,
            activation_require: vec!["justification"],
            approval: false,
            approvers: Vec::new(),
            eligible_max_days: 365,
            active_max_days: 180,
        }
    }

    fn max_days(&self, kind: AssignmentType) -> i64 {
        match kind {
            AssignmentType::Eligible => self.eligible_max_days,
            AssignmentType::Active => self.active_max_days,
        }
    }

    /// The state's `setting -> value` map, as `pimplan::plan::desired::policy_settings` writes it.
    fn settings(
        &self,
        id_of: &dyn Fn(&str) -> String,
    ) -> std::collections::BTreeMap<String, String> {
        let list = pimplan::plan::desired::list;
        let mut s = std::collections::BTreeMap::new();
        let mut put = |k: &str, v: String| {
            s.insert(k.to_owned(), v);
        };
        put(
            "activation.max_duration",
            iso_minutes(self.activation_minutes),
        );
        put(
            "activation.require",
            list(
                self.activation_require
                    .iter()
                    .map(|r| (*r).to_owned())
                    .collect(),
            ),
        );
        put("activation.authentication_context", "none".to_owned());
        put("activation.approval.required", self.approval.to_string());
        put(
            "activation.approval.approvers",
            list(self.approvers.clone()),
        );
        put(
            "activation.approval.approver_ids",
            list(self.approvers.iter().map(|a| id_of(a)).collect()),
        );
        put("eligible_assignment.allow_permanent", "false".to_owned());
        put(
            "eligible_assignment.max_duration",
            format!("P{}D", self.eligible_max_days),
        );
        put("active_assignment.allow_permanent", "false".to_owned());
        put(
            "active_assignment.max_duration",
            format!("P{}D", self.active_max_days),
        );
        put("active_assignment.require", "justification".to_owned());
        put("eligible_assignment.require", "none".to_owned());
        // Microsoft's notification defaults, for each event class and recipient.
        for class in ["activation", "eligible_assignment", "active_assignment"] {
            for recipient in ["admin", "assignee", "approver"] {
                let key = |field: &str| format!("{class}.notifications.{recipient}.{field}");
                put(&key("default_recipients"), "true".to_owned());
                put(&key("level"), "all".to_owned());
                put(&key("additional_recipients"), "none".to_owned());
            }
        }
        s
    }

    /// YAML lines (at `indent`) for the keys where `self` differs from `base`; empty when equal.
    fn overrides_yaml(&self, base: &RolePol, indent: usize) -> String {
        let pad = " ".repeat(indent);
        let mut activation = Vec::new();
        if self.activation_minutes != base.activation_minutes {
            activation.push(format!(
                "max_duration: {}",
                iso_minutes(self.activation_minutes)
            ));
        }
        if self.activation_require != base.activation_require {
            activation.push(format!("require: [{}]", self.activation_require.join(", ")));
        }
        let mut approval = Vec::new();
        if self.approval != base.approval {
            approval.push(format!("required: {}", self.approval));
        }
        if self.approvers != base.approvers {
            approval.push(format!("approvers: [{}]", self.approvers.join(", ")));
        }
        if !approval.is_empty() {
            activation.push(format!("approval: {{ {} }}", approval.join(", ")));
        }
        let mut out = String::new();
        if !activation.is_empty() {
            let _ = writeln!(out, "{pad}activation:");
            for line in activation {
                let _ = writeln!(out, "{pad}  {line}");
            }
        }
        if self.eligible_max_days != base.eligible_max_days {
            let _ = writeln!(
                out,
                "{pad}eligible_assignment: {{ max_duration: P{}D }}",
                self.eligible_max_days
            );
        }
        if self.active_max_days != base.active_max_days {
            let _ = writeln!(
                out,
                "{pad}active_assignment: {{ max_duration: P{}D }}",
                self.active_max_days
            );
        }
        out
    }
}

fn iso_minutes(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("PT{m}M"),
        (h, 0) => format!("PT{h}H"),
        (h, m) => format!("PT{h}H{m}M"),
    }
}

#[derive(Clone, Debug)]
struct Template {
    name: &'static str,
    member: RolePol,
    owner: RolePol,
}

fn templates(approvers: &[String]) -> Vec<Template> {
    let pair = vec![approvers[0].clone(), approvers[1].clone()];
    let guarded = |minutes, eligible, active| RolePol {
        activation_minutes: minutes,
        activation_require: vec!["mfa", "justification"],
        approval: true,
        approvers: pair.clone(),
        eligible_max_days: eligible,
        active_max_days: active,
    };
    let open = |minutes, require: Vec<&'static str>, eligible, active| RolePol {
        activation_minutes: minutes,
        activation_require: require,
        approval: false,
        approvers: Vec::new(),
        eligible_max_days: eligible,
        active_max_days: active,
    };
    vec![
        Template {
            name: "tier0",
            member: guarded(120, 90, 30),
            owner: guarded(60, 90, 30),
        },
        Template {
            name: "tier1",
            member: open(240, vec!["mfa", "justification"], 180, 90),
            owner: open(120, vec!["mfa", "justification"], 180, 90),
        },
        Template {
            name: "tier2",
            member: open(480, vec!["justification"], 365, 180),
            owner: open(240, vec!["mfa", "justification"], 365, 180),
        },
    ]
}

fn template_yaml(t: &Template) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  {}:", t.name);
    for (role, p) in [("member", &t.member), ("owner", &t.owner)] {
        let _ = writeln!(out, "    {role}:");
        let _ = writeln!(out, "      activation:");
        let _ = writeln!(
            out,
            "        max_duration: {}",
            iso_minutes(p.activation_minutes)
        );
        let _ = writeln!(
            out,
            "        require: [{}]",
            p.activation_require.join(", ")
        );
        if p.approval {
            let _ = writeln!(
                out,
                "        approval: {{ required: true, approvers: [{}] }}",
                p.approvers.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "      eligible_assignment: {{ allow_permanent: false, max_duration: P{}D }}",
            p.eligible_max_days
        );
        let _ = writeln!(
            out,
            "      active_assignment: {{ allow_permanent: false, max_duration: P{}D, require: [justification] }}",
            p.active_max_days
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// The model the generator builds before writing anything.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    ServicePrincipal,
    Group,
}

struct Principal {
    name: String,
    id: String,
    kind: Kind,
    emergency: bool,
}

struct Group {
    name: String,
    id: String,
    role_assignable: bool,
    m365: bool,
    owners: Vec<usize>,
    /// Standing (non-PIM) members: `members:`.
    members: Vec<usize>,
    entra_role: Option<&'static str>,
    /// The group is only eligible for its Entra role (the long form of `entra_roles`).
    entra_role_eligible: bool,
    /// An Azure role at a subscription (`azure_roles`).
    azure_role: Option<(&'static str, String)>,
    template: Option<usize>,
    member: RolePol,
    owner: RolePol,
}

impl Group {
    fn policy(&self, role: Role) -> &RolePol {
        match role {
            Role::Member => &self.member,
            Role::Owner => &self.owner,
        }
    }
}

enum Expiry {
    Days(i64),
    End(DateTime<FixedOffset>),
}

struct Assignment {
    principal: usize,
    role: Role,
    kind: AssignmentType,
    expiry: Expiry,
    justification: &'static str,
    ticket: Option<(&'static str, String)>,
}

struct Args {
    assignments: usize,
    seed: u64,
    out: PathBuf,
}

fn usage() -> String {
    "usage: gen_workspace --assignments N [--seed S] OUT".to_owned()
}

fn parse_args() -> Result<Args, String> {
    let mut assignments = None;
    let mut seed = 1u64;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--assignments" | "-n" => {
                let v = value("--assignments")?.replace('_', "");
                assignments = Some(
                    v.parse::<usize>()
                        .map_err(|e| format!("--assignments: {e}"))?,
                );
            }
            "--seed" => {
                seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?;
            }
            "-h" | "--help" => return Err(usage()),
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`\n{}", usage())),
            s => {
                if out.replace(PathBuf::from(s)).is_some() {
                    return Err(format!("one OUT folder only\n{}", usage()));
                }
            }
        }
    }
    let assignments = assignments.ok_or_else(usage)?;
    if assignments < 1000 {
        return Err(
            "--assignments must be at least 1000 (smaller groups would run out of principals)"
                .to_owned(),
        );
    }
    Ok(Args {
        assignments,
        seed,
        out: out.ok_or_else(usage)?,
    })
}

fn ts(text: &str) -> std::io::Result<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{text}: {e}")))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match generate(&args) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen_workspace: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(args: &Args) -> std::io::Result<String> {
    let mut rng = Rng::new(args.seed);
    let n = args.assignments;
    let now = ts(NOW)?;
    let applied_at = ts(APPLIED_AT)?;

    // --- principals ---------------------------------------------------------------------
    let total_principals = ((n as f64) * 0.20).round().max(20.0) as usize;
    let approver_count = (total_principals / 200).clamp(4, 60);
    let sp_count = (total_principals / 25).max(2);
    let group_principal_count = (total_principals / 50).max(1);
    // Separate admin accounts (`adm-…`) for the eligibilities of the role-assignable groups.
    let admin_account_count = (total_principals / 100).max(150);
    let breakglass = 2;
    // The actor is one of the service principals.
    let user_count = total_principals
        - approver_count
        - admin_account_count
        - sp_count
        - group_principal_count
        - breakglass;

    let mut first: Vec<&str> = FIRST.to_vec();
    let mut last: Vec<&str> = LAST.to_vec();
    rng.shuffle(&mut first);
    rng.shuffle(&mut last);
    let mut principals: Vec<Principal> = Vec::with_capacity(total_principals);
    let person_name = |i: usize| {
        let f = first[i % first.len()];
        let l = last[(i / first.len()) % last.len()];
        match i / (first.len() * last.len()) {
            0 => format!("{f}.{l}"),
            k => format!("{f}.{l}{}", k + 1),
        }
    };
    let users: Vec<usize> = (0..user_count).collect();
    for i in 0..user_count {
        principals.push(Principal {
            name: person_name(i),
            id: rng.uuid(),
            kind: Kind::User,
            emergency: false,
        });
    }
    let approvers: Vec<usize> = (0..approver_count).map(|i| principals.len() + i).collect();
    for i in 0..approver_count {
        principals.push(Principal {
            name: format!("approver-{:02}.{}", i + 1, last[i % last.len()]),
            id: rng.uuid(),
            kind: Kind::User,
            emergency: false,
        });
    }
    let admin_accounts: Vec<usize> = (0..admin_account_count)
        .map(|i| principals.len() + i)
        .collect();
    for i in 0..admin_account_count {
        principals.push(Principal {
            name: format!("adm-{}", person_name(i * 7 + 3)),
            id: rng.uuid(),
            kind: Kind::User,
            emergency: false,
        });
    }
    for i in 0..breakglass {
        principals.push(Principal {
            name: format!("breakglass-{:02}", i + 1),
            id: rng.uuid(),
            kind: Kind::User,
            emergency: true,
        });
    }
    let actor = principals.len();
    principals.push(Principal {
        name: "svc-pim-pipeline".to_owned(),
        id: rng.uuid(),
        kind: Kind::ServicePrincipal,
        emergency: false,
    });
    let sps: Vec<usize> = (0..sp_count - 1).map(|i| principals.len() + i).collect();
    for i in 0..sp_count - 1 {
        principals.push(Principal {
            name: format!("svc-{}-{}-{:04}", rng.pick(DEPTS), rng.pick(SYSTEMS), i + 1),
            id: rng.uuid(),
            kind: Kind::ServicePrincipal,
            emergency: false,
        });
    }
    let group_principals: Vec<usize> = (0..group_principal_count)
        .map(|i| principals.len() + i)
        .collect();
    for i in 0..group_principal_count {
        principals.push(Principal {
            name: format!(
                "team-{}-{}-{:04}",
                rng.pick(DEPTS),
                rng.pick(&["oncall", "sre", "dba", "ops"]),
                i + 1
            ),
            id: rng.uuid(),
            kind: Kind::Group,
            emergency: false,
        });
    }
    let approver_names: Vec<String> = approvers
        .iter()
        .map(|&i| principals[i].name.clone())
        .collect();
    let templates = templates(&approver_names);

    // --- groups -------------------------------------------------------------------------
    let group_count = ((n as f64) * 0.02).round().max(1.0) as usize;
    let role_assignable_count = ((group_count as f64) * 0.02).ceil().min(450.0) as usize;
    let mut names = HashSet::new();
    let mut groups: Vec<Group> = Vec::with_capacity(group_count);
    for gi in 0..group_count {
        let role_assignable = gi < role_assignable_count;
        let name = loop {
            let base = format!(
                "{}-{}-{}-{}",
                rng.pick(ENVS),
                rng.pick(DEPTS),
                rng.pick(SYSTEMS),
                rng.pick(SUFFIXES)
            );
            let candidate = if names.contains(&base) {
                format!("{base}-{}", gi + 1)
            } else {
                base
            };
            if names.insert(candidate.clone()) {
                break candidate;
            }
        };
        let m365 = !role_assignable && rng.chance(0.15);
        let template = if role_assignable {
            Some(0)
        } else {
            match rng.below(10) {
                0..=3 => Some(1),
                4..=7 => Some(2),
                _ => None,
            }
        };
        let (mut member, mut owner) = match template {
            Some(t) => (templates[t].member.clone(), templates[t].owner.clone()),
            None => (RolePol::microsoft_default(), RolePol::microsoft_default()),
        };
        // Single-key overrides, the way teams tune a group.
        if rng.chance(0.3) {
            member.activation_minutes =
                30 * (1 + rng.below(if role_assignable { 6 } else { 16 })) as i64;
        }
        if rng.chance(0.2) {
            member.eligible_max_days = *rng.pick(&[90, 180, 365]);
        }
        if rng.chance(0.15) {
            member.active_max_days = *rng.pick(&[15, 30, 90, 180]);
        }
        if rng.chance(0.1) {
            owner.eligible_max_days = *rng.pick(&[30, 90, 180]);
        }
        if template.is_none() && rng.chance(0.5) {
            member.activation_require = vec!["mfa", "justification", "ticket"];
        }
        if role_assignable && rng.chance(0.3) {
            // Another pair from the approver pool (never anyone with an assignment).
            let a = rng.below(approvers.len());
            let b = (a + 1 + rng.below(approvers.len() - 1)) % approvers.len();
            let pair = vec![approver_names[a].clone(), approver_names[b].clone()];
            member.approvers = pair.clone();
            owner.approvers = pair;
        }
        // A role-assignable group (its roles tier 0 or able to reach tier 0) has no standing
        // owner: an owner adds members without approval (PIM801); its owners are eligible,
        // under the tier-0 template's approval.
        let owner_count = if role_assignable { 0 } else { 1 + rng.below(2) };
        let mut owners = Vec::new();
        while owners.len() < owner_count {
            let u = users[rng.below(users.len())];
            if !owners.contains(&u) {
                owners.push(u);
            }
        }
        let entra_role = role_assignable.then(|| *rng.pick(ENTRA_ROLES));
        let entra_role_eligible = role_assignable && rng.chance(0.3);
        let azure_role = (!role_assignable && !m365 && rng.chance(0.1)).then(|| {
            (
                *rng.pick(&["Contributor", "Reader", "Owner"]),
                format!("/subscriptions/{}", rng.uuid()),
            )
        });
        groups.push(Group {
            name,
            id: rng.uuid(),
            role_assignable,
            m365,
            owners,
            members: Vec::new(),
            entra_role,
            entra_role_eligible,
            azure_role,
            template,
            member,
            owner,
        });
    }

    // --- assignments: sizes per group (they vary), then the entries ------------------------
    let weights: Vec<f64> = (0..group_count).map(|_| 0.25 + 1.5 * rng.unit()).collect();
    let total_weight: f64 = weights.iter().sum();
    let mut sizes: Vec<usize> = weights
        .iter()
        .map(|w| ((w / total_weight) * n as f64).floor() as usize)
        .collect();
    let mut missing = n - sizes.iter().sum::<usize>();
    let mut gi = 0;
    while missing > 0 {
        sizes[gi % group_count] += 1;
        missing -= 1;
        gi += 1;
    }

    let end_hours = [0u32, 8, 17];
    let mut per_group: Vec<Vec<Assignment>> = Vec::with_capacity(group_count);
    for (g, &size) in groups.iter().zip(&sizes) {
        let mut taken: HashSet<(usize, Role)> = HashSet::with_capacity(size * 2);
        for &o in &g.owners {
            taken.insert((o, Role::Member));
            taken.insert((o, Role::Owner));
        }
        let mut list = Vec::with_capacity(size);
        while list.len() < size {
            let r = rng.unit();
            let (role, kind) = if r < 0.85 {
                (Role::Member, AssignmentType::Eligible)
            } else if r < 0.91 {
                (Role::Owner, AssignmentType::Eligible)
            } else if r < 0.98 {
                (Role::Member, AssignmentType::Active)
            } else {
                (Role::Owner, AssignmentType::Active)
            };
            // A role-assignable group's members and owners are separate admin accounts, all
            // eligible, activating with approval: no standing path to its role (PIM803), and
            // no account the lesser reset roles can take over (they sit in restricted
            // management units, below).
            let (role, kind) = if g.role_assignable {
                (role, AssignmentType::Eligible)
            } else {
                (role, kind)
            };
            let principal = match (role, kind) {
                _ if g.role_assignable => *rng.pick(&admin_accounts),
                (Role::Member, AssignmentType::Eligible)
                    if !g.role_assignable && !g.m365 && rng.chance(0.03) =>
                {
                    *rng.pick(&group_principals)
                }
                (Role::Member, AssignmentType::Active) if rng.chance(0.3) => *rng.pick(&sps),
                _ => users[rng.below(users.len())],
            };
            // One (principal, role) per group: no duplicate, never eligible and active at once.
            if !taken.insert((principal, role)) {
                continue;
            }
            let max_days = g.policy(role).max_days(kind);
            let expiry = if rng.chance(0.55) {
                let choices: Vec<i64> = [15, 30, 60, 90, 180, 365]
                    .into_iter()
                    .filter(|d| *d <= max_days && (kind == AssignmentType::Active || *d >= 30))
                    .collect();
                if choices.contains(&90) && rng.chance(0.6) {
                    Expiry::Days(90)
                } else {
                    Expiry::Days(*rng.pick(&choices))
                }
            } else {
                // An end between 2027-01-01 and 2027-05-01 that fits the policy maximum.
                let hi = 151.min(max_days - 1);
                if hi >= 31 {
                    let day = 31 + rng.below((hi - 31 + 1) as usize) as i64;
                    let hour = *rng.pick(&end_hours);
                    Expiry::End(now + Duration::days(day) + Duration::hours(i64::from(hour)))
                } else {
                    Expiry::Days(max_days.min(30))
                }
            };
            let ticket = if rng.chance(0.3) {
                Some(if rng.chance(0.7) {
                    (
                        "ServiceNow",
                        format!("CHG{:07}", 10_000 + rng.below(9_000_000)),
                    )
                } else {
                    (
                        "Jira",
                        format!(
                            "{}-{}",
                            ["OPS", "SEC", "HD", "PLAT"][rng.below(4)],
                            100 + rng.below(9900)
                        ),
                    )
                })
            } else {
                None
            };
            list.push(Assignment {
                principal,
                role,
                kind,
                expiry,
                justification: JUSTIFICATIONS[rng.below(JUSTIFICATIONS.len())],
                ticket,
            });
        }
        per_group.push(list);
    }

    // --- the facts of privilege paths (§A.8 scale) --------------------------------------
    // Standing members: a fifth of the plain security groups, never anyone with an assignment
    // or ownership there; a break-glass account in the first role-assignable group.
    for (g, list) in groups.iter_mut().zip(&per_group) {
        if g.role_assignable || g.m365 || !rng.chance(0.2) {
            continue;
        }
        let busy: HashSet<usize> = list
            .iter()
            .map(|a| a.principal)
            .chain(g.owners.iter().copied())
            .collect();
        let want = 1 + rng.below(3);
        while g.members.len() < want {
            let u = users[rng.below(users.len())];
            if !busy.contains(&u) && !g.members.contains(&u) {
                g.members.push(u);
            }
        }
    }
    // breakglass-01 comes right after the users, the approvers and the admin accounts.
    if let Some(g) = groups.iter_mut().find(|g| g.role_assignable) {
        g.members
            .push(user_count + approver_count + admin_account_count);
    }
    // Groups with standing members only: no assignments, no policy of their own.
    let standing_count = ((n as f64) * 0.08).round() as usize;
    let mut standing: Vec<Group> = Vec::with_capacity(standing_count);
    for i in 0..standing_count {
        let owners = vec![users[rng.below(users.len())]];
        let want = 2 + rng.below(7);
        let mut members = Vec::with_capacity(want);
        while members.len() < want {
            let u = users[rng.below(users.len())];
            if !members.contains(&u) && !owners.contains(&u) {
                members.push(u);
            }
        }
        standing.push(Group {
            name: format!(
                "std-{}-{}-{:05}",
                rng.pick(DEPTS),
                rng.pick(&["readers", "users", "staff", "project"]),
                i + 1
            ),
            id: rng.uuid(),
            role_assignable: false,
            m365: false,
            owners,
            members,
            entra_role: None,
            entra_role_eligible: false,
            azure_role: None,
            template: None,
            member: RolePol::microsoft_default(),
            owner: RolePol::microsoft_default(),
        });
    }
    // Owners of every service principal: two or three people each; the actor's (it holds
    // Privileged Role Administrator) are the break-glass accounts, since an owner adds a
    // secret and signs in as it (PIM801).
    let mut sp_owners: std::collections::HashMap<usize, Vec<usize>> =
        std::collections::HashMap::new();
    let first_breakglass = user_count + approver_count + admin_account_count;
    sp_owners.insert(
        actor,
        (first_breakglass..first_breakglass + breakglass).collect(),
    );
    for &sp in &sps {
        let want = 2 + rng.below(2);
        let list = sp_owners.entry(sp).or_default();
        while list.len() < want {
            let u = users[rng.below(users.len())];
            if !list.contains(&u) {
                list.push(u);
            }
        }
    }
    // Administrative units: about 100 users and a few standing-only groups each; every tenth
    // is restricted management (users and security groups PIM does not manage only), the
    // others also hold plain PIM groups.
    let au_count = (n / 2000).max(2);
    let mut units: Vec<(String, String, bool, Vec<String>)> = Vec::with_capacity(au_count);
    let plain_pim: Vec<usize> = (0..groups.len())
        .filter(|&i| !groups[i].role_assignable && !groups[i].m365)
        .collect();
    for i in 0..au_count {
        let restricted = i % 10 == 0;
        let mut members: Vec<String> = Vec::new();
        let start = (i * 100) % users.len().max(1);
        for k in 0..100.min(users.len()) {
            members.push(principals[users[(start + k) % users.len()]].name.clone());
        }
        for k in 0..5.min(standing.len()) {
            members.push(standing[(i * 5 + k) % standing.len()].name.clone());
        }
        // The admin accounts sit in the restricted management units: only those units' own
        // admins (none) reset their passwords.
        if restricted {
            let restricted_units = au_count.div_ceil(10);
            for (k, &a) in admin_accounts.iter().enumerate() {
                if k % restricted_units == i / 10 {
                    members.push(principals[a].name.clone());
                }
            }
        }
        if !restricted && !plain_pim.is_empty() {
            for k in 0..2 {
                members.push(
                    groups[plain_pim[(i * 2 + k) % plain_pim.len()]]
                        .name
                        .clone(),
                );
            }
        }
        members.sort();
        members.dedup();
        let name = format!("au-{}-{:03}", rng.pick(DEPTS), i + 1);
        units.push((name, rng.uuid(), restricted, members));
    }
    // Admins: 0.5 % of N in all (500 at 100,000), the four of the root file included. Roles that
    // neither manage PIM groups nor change Microsoft 365 group members (PIM402, PIM403), a
    // fifth of them scoped to an administrative unit (password and authentication roles).
    let admin_count = (n / 200).max(4) - 4;
    let directory_roles = [
        "Security Administrator",
        "Security Reader",
        "Global Reader",
        "Application Administrator",
        "Message Center Reader", // not Cloud Application Administrator: see ENTRA_ROLES
        "Intune Administrator",
        "Conditional Access Administrator",
        "Authentication Administrator",
        "Helpdesk Administrator",
        "Reports Reader",
    ];
    let unit_roles = [
        "Helpdesk Administrator",
        "Password Administrator",
        "Authentication Administrator",
    ];
    let mut admins: Vec<(usize, &str, Option<usize>)> = Vec::with_capacity(admin_count);
    let mut admin_keys: HashSet<(usize, &str, Option<usize>)> = HashSet::new();
    while admins.len() < admin_count {
        let u = users[rng.below(users.len())];
        let entry = if rng.chance(0.2) {
            // Not a restricted management unit (every tenth): the admin accounts are there.
            let mut unit = rng.below(units.len());
            if unit.is_multiple_of(10) {
                unit = (unit + 1) % units.len();
            }
            (u, *rng.pick(&unit_roles), Some(unit))
        } else {
            (u, *rng.pick(&directory_roles), None)
        };
        if admin_keys.insert(entry) {
            admins.push(entry);
        }
    }

    // --- write the files ----------------------------------------------------------------
    let out = &args.out;
    std::fs::create_dir_all(out.join("principals"))?;
    std::fs::create_dir_all(out.join("groups"))?;
    // A fresh run replaces an earlier workspace in the same folder.
    for dir in ["principals", "groups"] {
        for entry in std::fs::read_dir(out.join(dir))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                std::fs::remove_file(path)?;
            }
        }
    }
    for stale in ["pimplan.state.json.backup", "pimplan.state.json.lock"] {
        let _ = std::fs::remove_file(out.join(stale));
    }
    let mut yaml_bytes = 0usize;
    let mut write = |path: &Path, text: &str| -> std::io::Result<()> {
        yaml_bytes += text.len();
        std::fs::write(path, text)
    };

    // Root file.
    let mut root = String::new();
    let _ = writeln!(
        root,
        "# Generated by `cargo run --release --example gen_workspace -- --assignments {n} --seed {}`.",
        args.seed
    );
    let _ = writeln!(root, "version: 1");
    let _ = writeln!(root, "tenant:\n  id: {}\n  domain: contoso.com", rng.uuid());
    let _ = writeln!(root, "state: pimplan.state.json");
    let _ = writeln!(root, "actor: {}", principals[actor].name);
    let _ = writeln!(
        root,
        "include:\n  - \"principals/*.yaml\"\n  - \"groups/*.yaml\""
    );
    let _ = writeln!(
        root,
        "rules:\n  PIM507: off            # on-call teams are nested on purpose"
    );
    let _ = writeln!(root, "plan:\n  max_removal_ratio: 0.25");
    let _ = writeln!(
        root,
        "paths:\n  eligible_reset_protection: unprotected   # Microsoft's note (the default)\n"
    );
    let _ = writeln!(root, "admins:");
    let _ = writeln!(
        root,
        "  - principal: {}\n    role: Privileged Role Administrator",
        principals[actor].name
    );
    let _ = writeln!(
        root,
        "  - principal: breakglass-01\n    role: Global Administrator"
    );
    let _ = writeln!(
        root,
        "  - principal: breakglass-02\n    role: Global Administrator"
    );
    let _ = writeln!(
        root,
        "  - principal: {}\n    role: Groups Administrator",
        principals[approvers[0]].name
    );
    for (u, role, unit) in &admins {
        match unit {
            Some(au) => {
                let _ = writeln!(
                    root,
                    "  - {{ principal: {}, role: {role}, scope: administrative_unit, administrative_unit: {} }}",
                    principals[*u].name, units[*au].0
                );
            }
            None => {
                let _ = writeln!(
                    root,
                    "  - {{ principal: {}, role: {role} }}",
                    principals[*u].name
                );
            }
        }
    }
    let _ = writeln!(root, "\npolicy_templates:");
    for t in &templates {
        root.push_str(&template_yaml(t));
    }
    write(&out.join("pimplan.yaml"), &root)?;

    // Principals: people 1,000 to a file, then approvers and break-glass, then workloads.
    let owners_of = |i: usize| -> String {
        let names: Vec<&str> = sp_owners
            .get(&i)
            .into_iter()
            .flatten()
            .map(|&o| principals[o].name.as_str())
            .collect();
        names.join(", ")
    };
    let principal_yaml = |i: usize, p: &Principal| -> String {
        match p.kind {
            Kind::User if p.emergency => format!(
                "  - name: {}\n    type: user\n    upn: {}@contoso.onmicrosoft.com\n    id: {}\n    licenses: [entra_id_p2]\n    emergency_access: true\n",
                p.name, p.name, p.id
            ),
            Kind::User => format!(
                "  - name: {}\n    type: user\n    upn: {}@contoso.com\n    id: {}\n    licenses: [entra_id_p2]\n",
                p.name, p.name, p.id
            ),
            Kind::ServicePrincipal => format!(
                "  - {{ name: {}, type: service_principal, id: {}, owners: [{}] }}\n",
                p.name,
                p.id,
                owners_of(i)
            ),
            Kind::Group => format!("  - {{ name: {}, type: group, id: {} }}\n", p.name, p.id),
        }
    };
    for (chunk_no, chunk) in users.chunks(1000).enumerate() {
        let mut text = String::from("principals:\n");
        for &u in chunk {
            text.push_str(&principal_yaml(u, &principals[u]));
        }
        write(
            &out.join(format!("principals/people-{:03}.yaml", chunk_no + 1)),
            &text,
        )?;
    }
    let mut text = String::from(
        "# Approvers of privileged activations, admin accounts and break-glass accounts.\nprincipals:\n",
    );
    for (i, p) in principals.iter().enumerate().filter(|(_, p)| {
        p.kind == Kind::User
            && (p.emergency || p.name.starts_with("approver-") || p.name.starts_with("adm-"))
    }) {
        text.push_str(&principal_yaml(i, p));
    }
    write(&out.join("principals/approvers.yaml"), &text)?;
    let mut text = String::from("# Workload identities and on-call teams.\nprincipals:\n");
    for (i, p) in principals
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind != Kind::User)
    {
        text.push_str(&principal_yaml(i, p));
    }
    write(&out.join("principals/workloads.yaml"), &text)?;
    let mut text = String::from(
        "# Administrative units and who is in them (facts, for privilege paths).\nadministrative_units:\n",
    );
    for (name, id, restricted, members) in &units {
        let _ = writeln!(text, "  - name: {name}\n    id: {id}");
        if *restricted {
            let _ = writeln!(text, "    restricted_management: true");
        }
        let _ = writeln!(text, "    members: [{}]", members.join(", "));
    }
    write(&out.join("principals/units.yaml"), &text)?;
    // Groups with standing members only, 500 to a file.
    let name_list = |list: &[usize]| -> String {
        let names: Vec<&str> = list.iter().map(|&i| principals[i].name.as_str()).collect();
        names.join(", ")
    };
    for (chunk_no, chunk) in standing.chunks(500).enumerate() {
        let mut text = String::from(
            "# Groups PIM does not manage: standing owners and members only.\ngroups:\n",
        );
        for g in chunk {
            let _ = writeln!(
                text,
                "  - name: {}\n    id: {}\n    owners: [{}]\n    members: [{}]",
                g.name,
                g.id,
                name_list(&g.owners),
                name_list(&g.members)
            );
        }
        write(
            &out.join(format!("groups/standing-{:03}.yaml", chunk_no + 1)),
            &text,
        )?;
    }

    // One file per group: its definition and its assignments.
    let fmt_end =
        |t: &DateTime<FixedOffset>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    for (g, list) in groups.iter().zip(&per_group) {
        let mut text = String::with_capacity(list.len() * 160 + 512);
        let _ = writeln!(text, "groups:\n  - name: {}\n    id: {}", g.name, g.id);
        if g.role_assignable {
            let _ = writeln!(text, "    role_assignable: true");
        }
        let _ = writeln!(
            text,
            "    type: {}",
            if g.m365 { "microsoft365" } else { "security" }
        );
        let owners: Vec<&str> = g
            .owners
            .iter()
            .map(|&o| principals[o].name.as_str())
            .collect();
        if !owners.is_empty() {
            let _ = writeln!(text, "    owners: [{}]", owners.join(", "));
        }
        if !g.members.is_empty() {
            let _ = writeln!(text, "    members: [{}]", name_list(&g.members));
        }
        match g.entra_role {
            Some(role) if g.entra_role_eligible => {
                let _ = writeln!(
                    text,
                    "    entra_roles:\n      - {{ role: {role}, type: eligible, approval: true, mfa: true }}"
                );
            }
            Some(role) => {
                let _ = writeln!(text, "    entra_roles: [{role}]");
            }
            None => {}
        }
        if let Some((role, scope)) = &g.azure_role {
            let _ = writeln!(
                text,
                "    azure_roles:\n      - {{ role: {role}, scope: {scope} }}"
            );
        }
        let base = match g.template {
            Some(t) => (templates[t].member.clone(), templates[t].owner.clone()),
            None => (RolePol::microsoft_default(), RolePol::microsoft_default()),
        };
        let member = g.member.overrides_yaml(&base.0, 8);
        let owner = g.owner.overrides_yaml(&base.1, 8);
        if g.template.is_some() || !member.is_empty() || !owner.is_empty() {
            let _ = writeln!(text, "    policy:");
            if let Some(t) = g.template {
                let _ = writeln!(text, "      template: {}", templates[t].name);
            }
            if !member.is_empty() {
                let _ = writeln!(text, "      member:\n{}", member.trim_end());
            }
            if !owner.is_empty() {
                let _ = writeln!(text, "      owner:\n{}", owner.trim_end());
            }
        }
        let _ = writeln!(text, "\nassignments:");
        // Teams write assignments either one per line (flow) or as blocks; keep one style a file.
        let block = rng.chance(0.35);
        for a in list {
            let p = &principals[a.principal];
            let expiry = match &a.expiry {
                Expiry::Days(d) => format!("duration: P{d}D"),
                Expiry::End(t) if !block => format!("end: \"{}\"", fmt_end(t)),
                Expiry::End(t) => format!("end: {}", fmt_end(t)),
            };
            if block {
                let _ = writeln!(
                    text,
                    "  - group: {}\n    principal: {}\n    role: {}\n    type: {}\n    {}\n    justification: {}",
                    g.name, p.name, a.role, a.kind, expiry, a.justification
                );
                if let Some((system, number)) = &a.ticket {
                    let _ = writeln!(text, "    ticket: {{ system: {system}, number: {number} }}");
                }
            } else {
                let ticket = a
                    .ticket
                    .as_ref()
                    .map(|(s, n)| format!(", ticket: {{ system: {s}, number: {n} }}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    text,
                    "  - {{ group: {}, principal: {}, role: {}, type: {}, {expiry}, justification: \"{}\"{ticket} }}",
                    g.name, p.name, a.role, a.kind, a.justification
                );
            }
        }
        write(&out.join(format!("groups/{}.yaml", g.name)), &text)?;
    }

    // --- the state: every policy, ~90 % of the assignments --------------------------------
    let ids: std::collections::HashMap<&str, &str> = principals
        .iter()
        .map(|p| (p.name.as_str(), p.id.as_str()))
        .collect();
    let id_of = |name: &str| {
        ids.get(name)
            .map_or_else(|| format!("name:{name}"), |id| (*id).to_owned())
    };
    let mut state = State::new();
    state.lineage = rng.uuid();
    state.serial = 42;
    state.written_by = "pimplan 0.1.0".to_owned();
    let mut recorded = 0usize;
    let no_assignments: Vec<Assignment> = Vec::new();
    let every_group = groups
        .iter()
        .zip(&per_group)
        .chain(standing.iter().zip(std::iter::repeat(&no_assignments)));
    for (g, list) in every_group {
        for role in [Role::Member, Role::Owner] {
            let spec = PolicySpec {
                group: g.name.clone(),
                group_id: Some(g.id.clone()),
                role,
                settings: g.policy(role).settings(&id_of),
            };
            state.policies.push(PolicyRecord {
                key: spec.key(),
                spec,
                applied_at,
                service: Some(Held::Same),
            });
        }
        for a in list {
            if !rng.chance(APPLIED_SHARE) {
                continue;
            }
            let p = &principals[a.principal];
            let (end, duration, ends_at) = match &a.expiry {
                Expiry::Days(d) => (
                    None,
                    Some(format!("P{d}D")),
                    applied_at + Duration::days(*d),
                ),
                Expiry::End(t) => (Some(fmt_end(t)), None, *t),
            };
            let spec = AssignmentSpec {
                group: g.name.clone(),
                group_id: Some(g.id.clone()),
                principal: p.name.clone(),
                principal_id: Some(p.id.clone()),
                role: a.role,
                kind: a.kind,
                start: None,
                end,
                duration,
                permanent: false,
                justification: Some(a.justification.to_owned()),
                ticket_system: a.ticket.as_ref().map(|(s, _)| (*s).to_owned()),
                ticket_number: a.ticket.as_ref().map(|(_, n)| n.clone()),
                emergency_access: p.emergency,
            };
            state.assignments.push(AssignmentRecord {
                key: spec.key(),
                spec,
                applied_at,
                starts_at: applied_at,
                ends_at: Some(ends_at),
                request_id: None,
                schedule_id: None,
                request_status: None,
                // As if applied to Microsoft Graph.
                service: Some(Held::Same),
            });
            recorded += 1;
        }
    }
    state.normalise();
    let state_text = state.to_json();
    std::fs::write(out.join("pimplan.state.json"), &state_text)?;

    let files = 1 + users.len().div_ceil(1000) + 3 + groups.len() + standing.len().div_ceil(500);
    let owner_entries: usize = sp_owners.values().map(Vec::len).sum();
    Ok(format!(
        "wrote {}: {n} assignments in {} groups ({role_assignable_count} role-assignable), {} more groups with standing members only, {} principals, {} admins, {} administrative units, {owner_entries} service principal owners, {files} YAML files, {:.1} MiB of YAML; state: {recorded} assignments ({:.1} %), {} policies, {:.1} MiB",
        out.display(),
        groups.len(),
        standing.len(),
        principals.len(),
        admins.len() + 4,
        units.len(),
        yaml_bytes as f64 / 1048576.0,
        100.0 * recorded as f64 / n as f64,
        state.policies.len(),
        state_text.len() as f64 / 1048576.0,
    ))
}
