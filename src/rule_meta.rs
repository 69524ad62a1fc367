//! What a rule is, apart from how it checks: code, name, severity, message, help, docs and
//! whether it is locked. A leaf: findings point at this, and only `rules` knows the checkers.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Documentation of a rule, shown by `pimplan explain`.
#[derive(Debug)]
pub struct Docs {
    /// What the rule checks.
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// A YAML example that triggers it.
    pub example: &'static str,
    /// How to fix it.
    pub fix: &'static str,
    /// The Microsoft page or observed behaviour that makes it true.
    pub source: &'static str,
}

/// A rule's metadata: everything about it but its check, declared in its file in
/// `src/rules/pimNNN_*.rs` together with the check.
#[derive(Debug)]
pub struct RuleMeta {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// One line: what is wrong when it fires.
    pub message: &'static str,
    /// One line: how to fix it in general (a finding may say more).
    pub help: &'static str,
    pub docs: Docs,
    /// Why a finding of this rule can be neither silenced in place nor switched off or
    /// downgraded in `rules:`; `None` when it can be.
    pub locked: Option<&'static str>,
}

impl PartialEq for RuleMeta {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
    }
}

impl Eq for RuleMeta {}
