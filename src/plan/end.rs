//! The end a change gives a schedule: one answer for sending it, recording it, reading it
//! back and showing it in the plan.
//!
//! A `duration` counts from the first apply and is then an end like any other: a later
//! change that touches neither the start nor the duration keeps the recorded end.

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta, Utc};

use crate::config::model::IsoDuration;
use crate::config::values::{format_minutes, parse_duration};
use crate::plan::{Change, Subject};
use crate::state::{AssignmentRecord, AssignmentSpec};

/// When the schedule a change makes ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// `permanent: true`.
    Never,
    /// A fixed moment: the declared `end`, the declared `start` + `duration`, or the end a
    /// duration was given by an earlier apply (kept).
    At(DateTime<FixedOffset>),
    /// A duration without a declared start, counted by the service from when it processes
    /// the request.
    FromApply(IsoDuration),
    /// Nothing that reads (lint reports it): nothing is sent.
    Unknown,
}

fn time(t: Option<&str>) -> Option<DateTime<FixedOffset>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
}

fn length(d: Option<&str>) -> Option<IsoDuration> {
    d.and_then(|d| parse_duration(d).ok())
}

/// The end that `after` gives, when `before` is what the state records of it (for a change
/// of an assignment already applied) and the clock says `now`.
pub fn end_of(
    after: &AssignmentSpec,
    before: Option<&AssignmentRecord>,
    now: DateTime<FixedOffset>,
) -> End {
    if after.permanent {
        return End::Never;
    }
    if let Some(end) = time(after.end.as_deref()) {
        return End::At(end);
    }
    let Some(duration) = length(after.duration.as_deref()) else {
        return End::Unknown;
    };
    // The same duration from the same start: the end it was given stays, while it runs.
    if let Some(b) = before
        && !b.spec.permanent
        && b.spec.end.is_none()
        && length(b.spec.duration.as_deref()) == Some(duration)
        && time(b.spec.start.as_deref()) == time(after.start.as_deref())
        && let Some(kept) = b.ends_at.filter(|e| *e > now)
    {
        return End::At(kept);
    }
    match time(after.start.as_deref()) {
        Some(start) => start
            .checked_add_signed(duration.0)
            .map_or(End::Unknown, End::At),
        None => End::FromApply(duration),
    }
}

/// The end `change` gives the assignment it makes or changes, counted at `now` (`Unknown`
/// when it makes none).
pub fn change_end(change: &Change, now: DateTime<FixedOffset>) -> End {
    match &change.subject {
        Subject::Assignment {
            before,
            after: Some(after),
        } => end_of(after, before.as_ref(), now),
        _ => End::Unknown,
    }
}

impl End {
    /// The moment it ends when the request is processed at `at` (`None`: never, or unknown).
    pub fn at(self, at: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        match self {
            End::At(t) => Some(t),
            End::FromApply(d) => at.checked_add_signed(d.0),
            End::Never | End::Unknown => None,
        }
    }

    /// The duration as Graph takes it (days, hours, minutes), for `afterDuration`.
    pub fn graph_duration(self) -> Option<String> {
        match self {
            End::FromApply(d) => Some(format_minutes(d)),
            _ => None,
        }
    }

    /// For the plan: a moment, `never`, or a duration counted from the apply with the moment
    /// it gives at `now`.
    pub fn describe(self, now: DateTime<FixedOffset>) -> String {
        match self {
            End::Never => "never".to_owned(),
            End::At(t) => utc(t),
            End::FromApply(d) => format!(
                "{} from the apply (about {})",
                in_words(d),
                self.at(now).map_or_else(|| "?".to_owned(), utc)
            ),
            End::Unknown => "(unknown)".to_owned(),
        }
    }

    /// Whether it is another end than the recorded `ends_at` (a minute's rounding aside).
    pub fn moves(self, ends_at: Option<DateTime<FixedOffset>>) -> bool {
        match (self, ends_at) {
            (End::At(t), Some(e)) => (t - e).abs() >= TimeDelta::minutes(1),
            (End::Never, None) => false,
            _ => true,
        }
    }
}

/// A duration in days, hours and minutes, in words: `30 days`, `1 day 12 hours`.
fn in_words(d: IsoDuration) -> String {
    let minutes = (d.0.num_seconds() + 59) / 60;
    let parts = [
        (minutes / 1_440, "day"),
        ((minutes % 1_440) / 60, "hour"),
        (minutes % 60, "minute"),
    ];
    let words: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    if words.is_empty() {
        "0 minutes".to_owned()
    } else {
        words.join(" ")
    }
}

/// A recorded end for the plan: a moment, or `never`.
pub fn describe_recorded(ends_at: Option<DateTime<FixedOffset>>) -> String {
    ends_at.map_or_else(|| "never".to_owned(), utc)
}

fn utc(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}
