//! Which rules run, and at what severity: the root file's `rules:` entries resolved against
//! the registry once, for lint and plan alike.

use std::collections::HashMap;

use crate::config::model::{SeverityLevel, Workspace};
use crate::finding::{Finding, Severity, did_you_mean};
use crate::rule_meta::RuleMeta;
use crate::source::yaml::Spanned;

use super::{find, pim002_invalid_config, selectors};

/// The severity `rules:` sets for each rule it names (by code); rules it does not name keep
/// their own.
#[derive(Debug, Default)]
pub struct Selection {
    levels: HashMap<&'static str, SeverityLevel>,
}

impl Selection {
    /// Resolve the `rules:` entries of `ws` (none without a workspace). A selector that names
    /// no rule, a locked rule, or a rule set already is reported (PIM002) and ignored. A rule
    /// whose entry could not be read counts as `off`: the severity it was given is unknown,
    /// and reporting it at its default could be a false alarm.
    pub fn resolve(ws: Option<&Workspace>, out: &mut Vec<Finding>) -> Self {
        let Some(ws) = ws else {
            return Selection::default();
        };
        let mut selection = Selection::from_entries(&ws.settings.rules, out);
        for selector in &ws.left_out.rule_settings {
            if let Some(rule) = find(selector) {
                selection.levels.insert(rule.code, SeverityLevel::Off);
            }
        }
        selection
    }

    /// The entries as written (`None`: a severity that is not one, reported by lowering; its
    /// selector is still checked).
    fn from_entries(
        entries: &[(Spanned<String>, Option<Spanned<SeverityLevel>>)],
        out: &mut Vec<Finding>,
    ) -> Self {
        let mut levels = HashMap::new();
        // The accepted entries, for "already set".
        let mut set: Vec<(&Spanned<String>, &'static str)> = Vec::new();
        for (selector, level) in entries {
            let Some(rule) = find(&selector.value) else {
                let help = did_you_mean(&selector.value, selectors()).map_or_else(
                    || "`pimplan rules` lists every rule".to_owned(),
                    |c| format!("did you mean `{c}`?"),
                );
                out.push(invalid(
                    selector,
                    format!("unknown rule `{}`", selector.value),
                    help,
                ));
                continue;
            };
            if let Some(why) = rule.locked {
                out.push(invalid(
                    selector,
                    format!(
                        "{} cannot be switched off or given another severity",
                        rule.code
                    ),
                    format!("remove `{}` from `rules:`: {why}", selector.value),
                ));
                continue;
            }
            // By code and by name, a rule is set once: which would win is not obvious.
            if let Some((first, _)) = set.iter().find(|(_, code)| *code == rule.code) {
                out.push(
                    Finding::new(
                        &pim002_invalid_config::RULE,
                        selector.span,
                        format!("{} is already set in `rules:`", rule.code),
                    )
                    .label("set again")
                    .with_secondary(first.span, "first set here")
                    .with_help("keep one of the two entries"),
                );
                continue;
            }
            if let Some(level) = level {
                set.push((selector, rule.code));
                levels.insert(rule.code, level.value);
            }
        }
        Selection { levels }
    }

    /// Whether the rule runs (it is not switched off).
    pub fn enabled(&self, rule: &RuleMeta) -> bool {
        self.levels.get(rule.code) != Some(&SeverityLevel::Off)
    }

    /// Give each finding the severity `rules:` sets for its rule; drop those switched off.
    /// Locked findings keep theirs.
    pub fn apply(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .filter_map(|mut f| {
                if f.locked {
                    return Some(f);
                }
                match self.levels.get(f.rule.code) {
                    Some(SeverityLevel::Off) => return None,
                    Some(SeverityLevel::Error) => f.severity = Severity::Error,
                    Some(SeverityLevel::Warning) => f.severity = Severity::Warning,
                    Some(SeverityLevel::Info) => f.severity = Severity::Info,
                    None => {}
                }
                Some(f)
            })
            .collect()
    }
}

fn invalid(selector: &Spanned<String>, message: String, help: String) -> Finding {
    Finding::new(&pim002_invalid_config::RULE, selector.span, message).with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span};

    fn entry(
        at: usize,
        selector: &str,
        level: Option<SeverityLevel>,
    ) -> (Spanned<String>, Option<Spanned<SeverityLevel>>) {
        let span = Span::new(FileId(0), at, at + selector.len());
        (
            Spanned::new(selector.to_owned(), span),
            level.map(|l| Spanned::new(l, span)),
        )
    }

    fn messages(findings: &[Finding]) -> Vec<(String, Option<String>)> {
        findings
            .iter()
            .map(|f| (f.message.clone(), f.help.clone()))
            .collect()
    }

    #[test]
    fn selectors_that_name_no_rule_a_locked_rule_or_one_set_twice_are_reported() {
        let mut out = Vec::new();
        let selection = Selection::from_entries(
            &[
                entry(0, "PIM207", Some(SeverityLevel::Off)),
                entry(10, "asignment-too-short", Some(SeverityLevel::Off)),
                entry(40, "PIM001", Some(SeverityLevel::Off)),
                entry(50, "expiring-soon", Some(SeverityLevel::Error)),
                // An unreadable severity: the selector is still checked, the rule keeps its own.
                entry(70, "no-such-rule-at-all", None),
                entry(80, "PIM201", None),
                // Not "already set": the entry above did not set it.
                entry(90, "pim201", Some(SeverityLevel::Error)),
            ],
            &mut out,
        );
        assert_eq!(
            messages(&out),
            [
                (
                    "unknown rule `asignment-too-short`".to_owned(),
                    Some("did you mean `assignment-too-short`?".to_owned())
                ),
                (
                    "PIM001 cannot be switched off or given another severity".to_owned(),
                    Some(format!(
                        "remove `PIM001` from `rules:`: {}",
                        super::super::UNREADABLE
                    ))
                ),
                (
                    "PIM207 is already set in `rules:`".to_owned(),
                    Some("keep one of the two entries".to_owned())
                ),
                (
                    "unknown rule `no-such-rule-at-all`".to_owned(),
                    Some("`pimplan rules` lists every rule".to_owned())
                ),
            ]
        );
        assert_eq!(out[2].secondary[0].span, Span::new(FileId(0), 0, 6));
        let rule = |code: &str| find(code).map(|r| &r.meta);
        assert!(rule("PIM207").is_some_and(|r| !selection.enabled(r)));
        assert!(rule("PIM201").is_some_and(|r| selection.enabled(r)));
        assert_eq!(selection.levels.get("PIM201"), Some(&SeverityLevel::Error));
        assert_eq!(selection.levels.len(), 2);
    }

    #[test]
    fn findings_take_the_severity_set_and_switched_off_ones_go() {
        let mut out = Vec::new();
        let selection = Selection::from_entries(
            &[
                entry(0, "PIM207", Some(SeverityLevel::Off)),
                entry(10, "PIM201", Some(SeverityLevel::Info)),
            ],
            &mut out,
        );
        assert!(out.is_empty());
        let span = Span::new(FileId(0), 0, 0);
        let of = |code: &str| find(code).map(|r| Finding::new(&r.meta, span, "m"));
        let findings: Vec<Finding> = ["PIM207", "PIM201", "PIM203", "PIM001"]
            .iter()
            .filter_map(|c| of(c))
            .collect();
        let kept: Vec<_> = selection
            .apply(findings)
            .iter()
            .map(|f| (f.rule.code, f.severity))
            .collect();
        assert_eq!(
            kept,
            [
                ("PIM201", Severity::Info),
                (
                    "PIM203",
                    find("PIM203").map_or(Severity::Error, |r| r.severity)
                ),
                ("PIM001", Severity::Error),
            ]
        );
    }
}
