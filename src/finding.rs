//! A finding: what a rule says about one place. Data only; renderers turn it into text.

use crate::rule_meta::RuleMeta;
pub use crate::rule_meta::Severity;
use crate::source::Span;

/// A place in a file, with what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static RuleMeta,
    pub severity: Severity,
    pub message: String,
    /// The value at fault.
    pub primary: Label,
    /// Places that explain it: the earlier definition, the policy that forbids it.
    pub secondary: Vec<Label>,
    /// How to fix this occurrence; the rule's generic help when `None`.
    pub help: Option<String>,
    /// Neither an ignore comment nor `rules:` can silence it or change its severity (see
    /// [`RuleMeta::locked`](crate::rule_meta::RuleMeta::locked)).
    pub locked: bool,
}

impl Finding {
    pub fn new(rule: &'static RuleMeta, span: Span, message: impl Into<String>) -> Self {
        Finding {
            rule,
            severity: rule.severity,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: None,
            locked: rule.locked.is_some(),
        }
    }

    /// A finding of a locked rule that is a judgement, not a failure to read the input (a
    /// role name Entra does not know may be a custom role): it can be silenced.
    #[must_use]
    pub fn unlocked(mut self) -> Self {
        self.locked = false;
        self
    }

    /// The label under the value at fault.
    #[must_use]
    pub fn label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// A second place that explains the finding.
    #[must_use]
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// A second place, when there is one (a policy default has none).
    #[must_use]
    pub fn with_secondary_opt(self, span: Option<Span>, message: impl Into<String>) -> Self {
        match span {
            Some(span) => self.with_secondary(span, message),
            None => self,
        }
    }

    /// A severity that depends on the workspace (PIM106: error only when the target is
    /// Microsoft Graph). `rules:` still overrides it.
    #[must_use]
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn code(&self) -> &'static str {
        self.rule.code
    }

    pub fn help_text(&self) -> &str {
        self.help.as_deref().unwrap_or(self.rule.help)
    }
}

/// "did you mean `x`?" for a misspelt name: the closest candidate within a small edit distance.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wrong_lower = wrong.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&wrong_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 4) && *d < c.chars().count().max(1))
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// The help for a misspelt value: "did you mean `x`?", else `prefix` and every allowed value.
pub fn spelling_help(wrong: &str, allowed: &[&str], prefix: &str) -> String {
    match did_you_mean(wrong, allowed.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => {
            let list: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
            format!("{prefix} {}", list.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("elegible", ["eligible", "active"]),
            Some("eligible")
        );
        assert_eq!(did_you_mean("Owner", ["member", "owner"]), Some("owner"));
        assert_eq!(did_you_mean("zzz", ["member", "owner"]), None);
    }
}
