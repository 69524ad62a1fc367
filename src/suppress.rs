//! In-place suppressions: `# pimplan: ignore CODE [until=YYYY-MM-DD] reason`.
//!
//! A directive silences findings of the named rules (codes or names, comma-separated) on
//! its own line, or, when the comment stands alone on its line, on the next line (several
//! directives may stand one above the other). A directive that silences nothing, names an
//! unknown rule, gives no reason, has passed its `until` date, or names a finding that
//! cannot be silenced ([`Rule::locked`]) is itself reported (PIM007).

use chrono::NaiveDate;

use crate::finding::{Finding, did_you_mean};
use crate::rules::{self, Rule, pim007_unused_ignore};
use crate::source::{FileId, SourceFile, Sources, Span};

#[derive(Debug)]
struct Directive {
    span: Span,
    /// The line whose findings it silences (1-based).
    target_line: usize,
    rules: Vec<&'static Rule>,
    until: Option<NaiveDate>,
    used: bool,
    /// It names a finding on its line that cannot be silenced: why not.
    refused: Option<&'static str>,
}

/// Whether a line holds nothing but a `pimplan:` directive.
fn directive_only(line: &str) -> bool {
    line.trim_start()
        .strip_prefix('#')
        .is_some_and(|c| c.trim_start().starts_with("pimplan:"))
}

/// Byte offset of the comment on a line, if any: a `#` at the start or after white space,
/// outside quoted scalars.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    // The last character that was not white space: a quote opens a scalar only where one can
    // begin (line start, after `:`, `-`, `?`, `[`, `{` or `,`), not inside plain text
    // (`Bob 's cover`).
    let mut last_word_char: Option<char> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => {
                // `''` inside a single-quoted scalar is an escaped quote.
                if q == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => {
                let scalar_may_begin = last_word_char.is_none_or(|l| "[{,:-?".contains(l))
                    && (prev.is_whitespace() || "[{,:-".contains(prev));
                if (c == '"' || c == '\'') && scalar_may_begin {
                    quote = Some(c);
                } else if c == '#' && prev.is_whitespace() {
                    return Some(i);
                }
            }
        }
        if !c.is_whitespace() && quote.is_none() {
            last_word_char = Some(c);
        }
        prev = c;
    }
    None
}

/// Find every directive of one file; malformed ones are reported at once. `in_text` says
/// whether a byte offset lies inside a multi-line string value: a `#` there is text, not a
/// comment (`justification: |` with a line `# pimplan: ignore …` silences nothing).
fn scan(
    id: FileId,
    file: &SourceFile,
    today: NaiveDate,
    in_text: &dyn Fn(usize) -> bool,
    findings: &mut Vec<Finding>,
) -> Vec<Directive> {
    let mut out = Vec::new();
    if !file.text.contains("pimplan:") {
        return out;
    }
    let line_count = file.line_count();
    for line_no in 1..=line_count {
        let line = file.line_text(line_no);
        let Some(hash) = comment_start(line) else {
            continue;
        };
        let comment = line[hash + 1..].trim();
        let Some(rest) = comment.strip_prefix("pimplan:") else {
            continue;
        };
        let start = file.offset_of(line_no, 1) + hash;
        if in_text(start) {
            continue;
        }
        let span = Span::new(id, start, start + line.len() - hash);
        let mut words = rest.split_whitespace();
        if words.next() != Some("ignore") {
            findings.push(
                Finding::new(
                    &pim007_unused_ignore::RULE,
                    span,
                    "unknown pimplan directive",
                )
                .label("not understood")
                .with_help(
                    "the only directive is `# pimplan: ignore PIMnnn [until=YYYY-MM-DD] reason`",
                ),
            );
            continue;
        }
        let mut rule_list = Vec::new();
        let codes = words.next().unwrap_or("");
        for code in codes.split(',').filter(|c| !c.is_empty()) {
            match rules::find(code) {
                Some(rule) => rule_list.push(rule),
                None => {
                    let help = did_you_mean(code, rules::selectors()).map_or_else(
                        || "`pimplan rules` lists every rule".to_owned(),
                        |c| format!("did you mean `{c}`?"),
                    );
                    findings.push(
                        Finding::new(
                            &pim007_unused_ignore::RULE,
                            span,
                            format!("`{code}` is not a pimplan rule"),
                        )
                        .label("unknown rule")
                        .with_help(help),
                    );
                }
            }
        }
        if codes.is_empty() {
            findings.push(
                Finding::new(
                    &pim007_unused_ignore::RULE,
                    span,
                    "the ignore names no rule",
                )
                .label("which rule?")
                .with_help("write `# pimplan: ignore PIMnnn reason`"),
            );
        }
        let mut reason_words: Vec<&str> = words.collect();
        let mut until = None;
        // `until=` belongs before the reason; written later, it still counts (an expiry the
        // author meant must not be lost), and it is reported.
        if let Some(at) = reason_words.iter().position(|w| w.starts_with("until=")) {
            if at > 0 {
                findings.push(
                    Finding::new(
                        &pim007_unused_ignore::RULE,
                        span,
                        "`until=` comes after the reason",
                    )
                    .label("until= here")
                    .with_help("write `# pimplan: ignore PIMnnn until=YYYY-MM-DD reason`"),
                );
            }
            let word = reason_words.remove(at);
            reason_words.insert(0, word);
        }
        if let Some(first) = reason_words.first()
            && let Some(date) = first.strip_prefix("until=")
        {
            match NaiveDate::parse_from_str(date, "%Y-%m-%d") {
                Ok(d) => until = Some(d),
                // A date that does not read silences nothing: an ignore meant to expire must
                // not hold for good.
                Err(_) => {
                    findings.push(
                        Finding::new(
                            &pim007_unused_ignore::RULE,
                            span,
                            format!("`until={date}` is not a date, so the ignore silences nothing"),
                        )
                        .label("bad date")
                        .with_help("write `until=YYYY-MM-DD`"),
                    );
                    continue;
                }
            }
            reason_words.remove(0);
        }
        if rule_list.is_empty() {
            continue;
        }
        if reason_words.is_empty() {
            findings.push(
                Finding::new(&pim007_unused_ignore::RULE, span, "the ignore gives no reason")
                    .label("why is this safe?")
                    .with_help("add the reason after the code, e.g. `# pimplan: ignore PIM207 renewed in CHG0012345`"),
            );
        }
        if let Some(d) = until
            && d < today
        {
            findings.push(
                Finding::new(
                    &pim007_unused_ignore::RULE,
                    span,
                    format!("the ignore expired on {d}"),
                )
                .label("expired")
                .with_help("fix what it silenced, or set a new `until=` date after review"),
            );
            continue;
        }
        // A comment alone on its line applies to the line below it (past other directives
        // stacked there, and nothing else: a blank line or another comment between them
        // makes it apply to nothing, which is reported).
        let alone = line[..hash].trim().is_empty();
        let mut target_line = line_no;
        if alone {
            target_line = line_no + 1;
            while target_line <= line_count && directive_only(file.line_text(target_line)) {
                target_line += 1;
            }
        }
        out.push(Directive {
            span,
            target_line,
            rules: rule_list,
            until,
            used: false,
            refused: None,
        });
    }
    out
}

/// What one pass of suppression looks at.
pub struct Pass<'a> {
    /// Whether `rule` ran before this pass: an ignore of a rule that did not run (switched
    /// off, a plan-time rule during lint) cannot be judged, and is not reported as unused.
    pub ran: &'a dyn Fn(&Rule) -> bool,
    /// Files no rule could look at (they could not be read): their ignores are not judged.
    pub unread: &'a [FileId],
    /// Report malformed directives (no reason, unknown rule, expired). The first pass over a
    /// workspace does; a later pass over more findings (plan time) does not repeat them.
    pub report_malformed: bool,
    /// String values that run over several lines: what looks like a comment inside them is
    /// text.
    pub text: &'a [Span],
}

/// Drop the findings that a directive silences, and report directives that silence nothing
/// or try to silence a finding that cannot be silenced.
pub fn apply(
    sources: &Sources,
    today: NaiveDate,
    findings: Vec<Finding>,
    pass: &Pass<'_>,
) -> Vec<Finding> {
    let mut extra = Vec::new();
    let mut directives: Vec<Vec<Directive>> = sources
        .iter()
        .map(|(id, file)| {
            let in_text = |offset: usize| {
                pass.text
                    .iter()
                    .any(|t| t.file == id && (t.start as usize) < offset && offset < t.end as usize)
            };
            scan(id, file, today, &in_text, &mut extra)
        })
        .collect();
    if !pass.report_malformed {
        extra.clear();
    }
    let mut kept = Vec::with_capacity(findings.len());
    for finding in findings {
        let span = finding.primary.span;
        let line = sources.line_col(span).line;
        let directive = directives.get_mut(span.file.0 as usize).and_then(|list| {
            list.iter_mut().find(|d| {
                d.target_line == line && d.rules.iter().any(|r| r.code == finding.rule.code)
            })
        });
        match directive {
            Some(d) if finding.locked => {
                d.refused = Some(finding.rule.locked.unwrap_or(rules::UNREADABLE));
                kept.push(finding);
            }
            Some(d) => d.used = true,
            None => kept.push(finding),
        }
    }
    for directive in directives.iter().flatten().filter(|d| !d.used) {
        let codes: Vec<_> = directive.rules.iter().map(|r| r.code).collect();
        if let Some(why) = directive.refused {
            extra.push(
                Finding::new(
                    &pim007_unused_ignore::RULE,
                    directive.span,
                    format!("the ignore of {} cannot silence it", codes.join(", ")),
                )
                .label("cannot be silenced")
                .with_help(format!("fix what it names: {why}")),
            );
            continue;
        }
        if pass.unread.contains(&directive.span.file)
            || !directive.rules.iter().all(|r| (pass.ran)(r))
        {
            continue;
        }
        let until = directive
            .until
            .map(|d| format!(" (until {d})"))
            .unwrap_or_default();
        extra.push(
            Finding::new(
                &pim007_unused_ignore::RULE,
                directive.span,
                format!("the ignore of {}{until} silences nothing", codes.join(", ")),
            )
            .label("nothing to silence here")
            .with_help("remove the comment; it would hide a future finding on this line"),
        );
    }
    kept.extend(extra);
    kept
}

#[cfg(test)]
mod tests {
    use super::comment_start;

    #[test]
    fn finds_comments_outside_quotes() {
        assert_eq!(comment_start("  # pimplan: ignore PIM207 x"), Some(2));
        assert_eq!(comment_start("end: x # c"), Some(7));
        assert_eq!(comment_start("justification: \"a # b\" # c"), Some(23));
        assert_eq!(comment_start("justification: 'it''s # b' # c"), Some(27));
        assert_eq!(comment_start("justification: Bob's shift # c"), Some(27));
        assert_eq!(comment_start("ticket: CHG#1"), None);
        // An apostrophe inside plain text opens nothing.
        assert_eq!(
            comment_start("  - { justification: Bob 's cover } # pimplan: ignore PIM205 x"),
            Some(36)
        );
        assert_eq!(comment_start("- 'quoted # not a comment' # c"), Some(27));
    }
}
