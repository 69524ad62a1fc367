//! Parsing of the value formats: ISO 8601 durations and RFC 3339 timestamps.
//!
//! Each parser returns a typed error that says what is wrong and, where one exists, the
//! form to write instead. The lowering pass turns these into PIM004 and PIM005 findings.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeDelta};

use super::model::IsoDuration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{text}` is not an ISO 8601 duration")]
    Syntax { text: String },
    /// A decimal fraction (`PT1.5H`, `P0,5D`): valid ISO 8601, but Graph is sent whole units.
    #[error("`{text}` has a fraction; {}", fraction_advice(suggestion.as_deref()))]
    Fraction {
        text: String,
        suggestion: Option<String>,
    },
    #[error("`{text}` uses years or months, which have no fixed length")]
    YearsOrMonths { text: String, days: Option<String> },
    #[error("`{text}` is zero")]
    Zero { text: String },
    #[error("`{text}` is negative")]
    Negative { text: String },
    #[error("`{text}` is longer than 100 years")]
    Overflow { text: String },
}

impl DurationError {
    pub fn help(&self) -> String {
        match self {
            DurationError::YearsOrMonths {
                days: Some(days), ..
            } => {
                format!("write it in days: `{days}`")
            }
            DurationError::YearsOrMonths { days: None, .. } => {
                "write it in days, e.g. `P365D` for a year".to_owned()
            }
            DurationError::Zero { .. } | DurationError::Negative { .. } => {
                "give a positive duration, e.g. `PT8H` or `P90D`".to_owned()
            }
            DurationError::Overflow { .. } => format!(
                "at most `P{MAX_DURATION_DAYS}D` (100 years); for access without an end, write `permanent: true`"
            ),
            DurationError::Fraction { suggestion, .. } => match suggestion {
                Some(s) => format!("write `{s}`: the same length in whole units"),
                None => "write whole weeks, days, hours, minutes or seconds, e.g. `PT1H30M` for an hour and a half"
                    .to_owned(),
            },
            DurationError::Syntax { .. } => {
                "write weeks, days, hours, minutes or seconds, e.g. `P90D`, `PT8H`, `PT30M`, `P2W`"
                    .to_owned()
            }
        }
    }
}

fn fraction_advice(suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("pimplan takes no fractions: write `{s}`"),
        None => "pimplan takes no fractions: write whole units".to_owned(),
    }
}

/// Read a duration written with decimal fractions (`PT1.5H`, `P1,5D`, ISO 8601 allows either
/// mark) and give the same length in whole units, or `None` if it is no such duration. A year
/// counts as 365 days and a month as 30, as in the years-or-months suggestion; a length that
/// does not come to whole seconds (`PT0.5S`) has no suggestion.
fn fraction_suggestion(text: &str) -> Option<String> {
    let body = text.trim().strip_prefix('P')?;
    if body.is_empty() || body.ends_with('T') {
        return None;
    }
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, t),
        None => (body, ""),
    };
    // The total in nanoseconds, kept exact in an i128.
    let mut nanos: i128 = 0;
    for (units, part) in [("YMWD", date), ("HMS", time)] {
        let mut number = String::new();
        let mut last_unit_index = None;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let unit_index = units.find(c)?;
            if number.is_empty() || last_unit_index.is_some_and(|l| l >= unit_index) {
                return None;
            }
            last_unit_index = Some(unit_index);
            let factor: i128 = match (units, c) {
                ("YMWD", 'Y') => 365 * 86_400,
                ("YMWD", 'M') => 30 * 86_400,
                ("YMWD", 'W') => 7 * 86_400,
                ("YMWD", 'D') => 86_400,
                ("HMS", 'H') => 3_600,
                ("HMS", 'M') => 60,
                _ => 1,
            };
            let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
            if whole.is_empty() || fraction.contains('.') || fraction.len() > 9 {
                return None;
            }
            let whole: i128 = whole.parse().ok()?;
            let fraction_nanos: i128 = if fraction.is_empty() {
                0
            } else {
                let digits: i128 = fraction.parse().ok()?;
                digits * 10i128.pow(9 - fraction.len() as u32)
            };
            nanos = nanos.checked_add(
                whole
                    .checked_mul(factor)?
                    .checked_mul(1_000_000_000)?
                    .checked_add(fraction_nanos.checked_mul(factor)?)?,
            )?;
            number.clear();
        }
        if !number.is_empty() {
            return None;
        }
    }
    if nanos % 1_000_000_000 != 0 {
        return None;
    }
    let seconds = i64::try_from(nanos / 1_000_000_000).ok()?;
    if seconds == 0 || seconds > MAX_DURATION_DAYS * 86_400 {
        return None;
    }
    TimeDelta::try_seconds(seconds).map(|d| format_duration(IsoDuration(d)))
}

/// Parse `P[nY][nM][nW][nD][T[nH][nM][nS]]`; years and months are refused with the days form.
pub fn parse_duration(text: &str) -> Result<IsoDuration, DurationError> {
    if text.contains(['.', ',']) {
        let is_duration = {
            let t = text.trim();
            t.starts_with('P')
                && t.chars()
                    .all(|c| c.is_ascii_digit() || "PYMWDTHS.,".contains(c))
        };
        if is_duration {
            return Err(DurationError::Fraction {
                text: text.to_owned(),
                suggestion: fraction_suggestion(text),
            });
        }
    }
    let syntax = || DurationError::Syntax {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(DurationError::Negative {
            text: text.to_owned(),
        });
    }
    let body = trimmed.strip_prefix('P').ok_or_else(syntax)?;
    if body.is_empty() || body.ends_with('T') {
        return Err(syntax());
    }
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut seconds: i64 = 0;
    let (mut years, mut months) = (0i64, 0i64);
    let overflow = || DurationError::Overflow {
        text: text.to_owned(),
    };
    for (units, part) in [("YMWD", date), ("HMS", time.unwrap_or(""))] {
        let mut number = String::new();
        let mut last_unit_index = None;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let unit_index = units.find(c).ok_or_else(syntax)?;
            // Units must appear once each, in order (P1D2W is not ISO 8601).
            if number.is_empty() || last_unit_index.is_some_and(|l| l >= unit_index) {
                return Err(syntax());
            }
            last_unit_index = Some(unit_index);
            let n: i64 = number.parse().map_err(|_| overflow())?;
            number.clear();
            let factor = match (units, c) {
                ("YMWD", 'Y') => {
                    years = n;
                    0
                }
                ("YMWD", 'M') => {
                    months = n;
                    0
                }
                ("YMWD", 'W') => 7 * 86_400,
                ("YMWD", 'D') => 86_400,
                ("HMS", 'H') => 3_600,
                ("HMS", 'M') => 60,
                _ => 1,
            };
            seconds = n
                .checked_mul(factor)
                .and_then(|s| seconds.checked_add(s))
                .ok_or_else(overflow)?;
        }
        if !number.is_empty() {
            return Err(syntax());
        }
    }
    if years != 0 || months != 0 {
        // A year as 365 days and a month as 30, plus every other part as written: the
        // suggestion is exactly as long (`P1YT12H` -> `P365DT12H`), never cut to whole days.
        let days = years
            .checked_mul(365)
            .and_then(|d| months.checked_mul(30).and_then(|m| d.checked_add(m)))
            .and_then(|d| d.checked_mul(86_400))
            .and_then(|d| d.checked_add(seconds))
            .and_then(TimeDelta::try_seconds)
            .map(|d| format_duration(IsoDuration(d)));
        return Err(DurationError::YearsOrMonths {
            text: text.to_owned(),
            days,
        });
    }
    if seconds == 0 {
        return Err(DurationError::Zero {
            text: text.to_owned(),
        });
    }
    // A hundred years is as long as any grant can mean; longer ones overflow the dates they
    // are added to, and checks against a policy's maximum would pass them by.
    if seconds > MAX_DURATION_DAYS * 86_400 {
        return Err(overflow());
    }
    TimeDelta::try_seconds(seconds)
        .map(IsoDuration)
        .ok_or_else(overflow)
}

/// The longest duration accepted: 100 years, in days.
pub const MAX_DURATION_DAYS: i64 = 36_525;

/// The form Microsoft Graph is sent and returns for a policy's durations: days, hours and
/// minutes, seconds rounded up to the next minute.
pub fn format_minutes(d: IsoDuration) -> String {
    let minutes = (d.0.num_seconds() + 59) / 60;
    let (days, h, m) = (minutes / 1_440, (minutes % 1_440) / 60, minutes % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if h > 0 || m > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
    }
    out
}

/// The form pimplan writes (and sends to Graph): days, hours, minutes, seconds.
pub fn format_duration(d: IsoDuration) -> String {
    let mut s = d.0.num_seconds();
    let days = s / 86_400;
    s %= 86_400;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if h > 0 || m > 0 || sec > 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if sec > 0 {
            out.push_str(&format!("{sec}S"));
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    out
}

/// A length of time in words for messages, exactly as people write it: "4 minutes 59 seconds",
/// "30 days 1 minute", "1 hour". Never rounded, so a length just under a limit never reads as
/// the limit itself; a part of a second is left out ("less than 1 second" if that is all).
/// A duration as a message quotes it: what was written, then its length in words, for
/// example "`P2W` (14 days)". `written` is the source text of the value (quotes around a
/// quoted scalar are dropped); without it the normalised form is quoted.
pub fn quote_duration(written: Option<&str>, d: IsoDuration) -> String {
    let text = written
        .map(|w| w.trim().trim_matches(|c| c == '"' || c == '\'').trim())
        .filter(|w| !w.is_empty())
        .map_or_else(|| format_duration(d), str::to_owned);
    format!("`{text}` ({})", describe_length(d.0))
}

pub fn describe_length(d: chrono::TimeDelta) -> String {
    let negative = d < TimeDelta::zero();
    let secs = d.num_seconds().unsigned_abs();
    let parts: Vec<String> = [
        (secs / 86_400, "day"),
        ((secs % 86_400) / 3_600, "hour"),
        ((secs % 3_600) / 60, "minute"),
        (secs % 60, "second"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n} {unit}{}", if n == 1 { "" } else { "s" }))
    .collect();
    let words = if parts.is_empty() {
        if d.is_zero() {
            "0 seconds".to_owned()
        } else {
            "less than 1 second".to_owned()
        }
    } else {
        parts.join(" ")
    };
    if negative {
        format!("minus {words}")
    } else {
        words
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("`{text}` has no UTC offset")]
    NoOffset { text: String, suggestion: String },
    #[error("`{text}` is a date without a time")]
    DateOnly { text: String, suggestion: String },
    #[error("`{text}` is not an RFC 3339 timestamp")]
    Syntax { text: String },
}

impl TimestampError {
    pub fn help(&self) -> String {
        match self {
            TimestampError::NoOffset { suggestion, .. } => format!(
                "add the offset of the zone meant: `{suggestion}` for UTC, or e.g. `+02:00`; pimplan never guesses a zone"
            ),
            TimestampError::DateOnly { suggestion, .. } => {
                format!("give a time and an offset, e.g. `{suggestion}`")
            }
            TimestampError::Syntax { .. } => {
                "write e.g. `2026-12-01T08:00:00Z` or `2026-12-01T09:00:00+01:00`".to_owned()
            }
        }
    }
}

pub fn parse_timestamp(text: &str) -> Result<DateTime<FixedOffset>, TimestampError> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt);
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Err(TimestampError::NoOffset {
                text: text.to_owned(),
                suggestion: format!("{}Z", naive.format("%Y-%m-%dT%H:%M:%S")),
            });
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Err(TimestampError::DateOnly {
            text: text.to_owned(),
            suggestion: format!("{}T00:00:00Z", date.format("%Y-%m-%d")),
        });
    }
    Err(TimestampError::Syntax {
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Result<i64, DurationError> {
        parse_duration(text).map(|d| d.0.num_seconds())
    }

    #[test]
    fn durations() {
        assert_eq!(secs("P90D"), Ok(90 * 86_400));
        assert_eq!(secs("PT8H"), Ok(8 * 3600));
        assert_eq!(secs("PT30M"), Ok(1800));
        assert_eq!(secs("P2W"), Ok(14 * 86_400));
        assert_eq!(secs("P1DT2H3M4S"), Ok(86_400 + 7384));
        assert!(
            matches!(parse_duration("P1Y"), Err(DurationError::YearsOrMonths { days: Some(d), .. }) if d == "P365D")
        );
        assert!(
            matches!(parse_duration("P6M"), Err(DurationError::YearsOrMonths { days: Some(d), .. }) if d == "P180D")
        );
        assert!(matches!(
            parse_duration("PT0S"),
            Err(DurationError::Zero { .. })
        ));
        assert!(matches!(
            parse_duration("-P1D"),
            Err(DurationError::Negative { .. })
        ));
        for bad in [
            "",
            "P",
            "PT",
            "8H",
            "P1H",
            "PT1D",
            "P1D2W",
            "P1.5D",
            "P99999999999999999999D",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        // Longer than any date arithmetic can check against a policy: refused.
        assert_eq!(secs("P36525D"), Ok(36_525 * 86_400));
        for too_long in ["P36526D", "P99999999D", "P5218W"] {
            assert!(
                matches!(
                    parse_duration(too_long),
                    Err(DurationError::Overflow { .. })
                ),
                "{too_long}"
            );
        }
    }

    /// The suggested days form is exactly as long as what was written (a year taken as 365
    /// days, a month as 30): the parts below a day are kept, not cut.
    #[test]
    fn years_and_months_suggest_an_exact_days_form() {
        const DAY: i64 = 86_400;
        for (text, want, seconds) in [
            ("P1YT12H", "P365DT12H", 365 * DAY + 12 * 3_600),
            ("P1Y2M", "P425D", 425 * DAY),
            ("P1Y1W", "P372D", 372 * DAY),
            ("P6MT1H30M", "P180DT1H30M", 180 * DAY + 5_400),
            ("P1MT36H", "P31DT12H", 30 * DAY + 36 * 3_600),
            ("P1YT45S", "P365DT45S", 365 * DAY + 45),
        ] {
            let err = parse_duration(text).err();
            assert!(
                matches!(&err, Some(DurationError::YearsOrMonths { days: Some(d), .. }) if d == want),
                "{text}: {err:?}"
            );
            assert_eq!(
                err.map(|e| e.help()),
                Some(format!("write it in days: `{want}`")),
                "{text}"
            );
            assert_eq!(secs(want), Ok(seconds), "{want}");
        }
    }

    #[test]
    fn fractions_are_refused_with_the_whole_units() {
        for (text, want) in [
            ("PT1.5H", Some("PT1H30M")),
            ("PT1,5H", Some("PT1H30M")),
            ("P1.5D", Some("P1DT12H")),
            ("P0.5W", Some("P3DT12H")),
            ("PT0.25H", Some("PT15M")),
            ("P1DT0.5M", Some("P1DT30S")),
            ("PT0.5S", None),
            ("PT1.5.5H", None),
        ] {
            let err = parse_duration(text).err();
            assert_eq!(
                err,
                Some(DurationError::Fraction {
                    text: text.to_owned(),
                    suggestion: want.map(str::to_owned),
                }),
                "{text}"
            );
        }
        let message = parse_duration("PT1.5H").err().map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some("`PT1.5H` has a fraction; pimplan takes no fractions: write `PT1H30M`")
        );
        // Not a duration at all: still the syntax error.
        assert!(matches!(
            parse_duration("1.5 hours"),
            Err(DurationError::Syntax { .. })
        ));
    }

    #[test]
    fn duration_round_trip() {
        for text in ["P90D", "PT8H", "PT30M", "P1DT2H3M4S"] {
            let d = parse_duration(text).unwrap_or(IsoDuration(TimeDelta::zero()));
            assert_eq!(format_duration(d), text);
        }
        let two_weeks = parse_duration("P2W").unwrap_or(IsoDuration(TimeDelta::zero()));
        assert_eq!(format_duration(two_weeks), "P14D");
    }

    #[test]
    fn lengths_in_words() {
        assert_eq!(describe_length(TimeDelta::minutes(4)), "4 minutes");
        assert_eq!(
            describe_length(TimeDelta::seconds(150)),
            "2 minutes 30 seconds"
        );
        assert_eq!(
            describe_length(TimeDelta::seconds(299)),
            "4 minutes 59 seconds"
        );
        assert_eq!(
            describe_length(TimeDelta::milliseconds(299_900)),
            "4 minutes 59 seconds"
        );
        assert_eq!(
            describe_length(TimeDelta::minutes(210)),
            "3 hours 30 minutes"
        );
        assert_eq!(describe_length(TimeDelta::hours(224)), "9 days 8 hours");
        assert_eq!(
            describe_length(TimeDelta::days(30) + TimeDelta::minutes(1)),
            "30 days 1 minute"
        );
        assert_eq!(describe_length(TimeDelta::hours(1)), "1 hour");
        assert_eq!(
            describe_length(TimeDelta::milliseconds(500)),
            "less than 1 second"
        );
    }

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2026-12-01T08:00:00Z").is_ok());
        assert!(parse_timestamp("2026-12-01T08:00:00+02:00").is_ok());
        assert!(
            matches!(parse_timestamp("2026-12-01T08:00:00"), Err(TimestampError::NoOffset { suggestion, .. }) if suggestion == "2026-12-01T08:00:00Z")
        );
        assert!(matches!(
            parse_timestamp("2026-12-01"),
            Err(TimestampError::DateOnly { .. })
        ));
        assert!(matches!(
            parse_timestamp("tomorrow"),
            Err(TimestampError::Syntax { .. })
        ));
        assert!(matches!(
            parse_timestamp("2026-13-01T08:00:00Z"),
            Err(TimestampError::Syntax { .. })
        ));
    }
}
