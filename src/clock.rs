//! The one clock every rule and plan reads. `--now` / `PIMPLAN_NOW` fix it; otherwise it
//! is read from the system once per run, here and nowhere else.

use chrono::{DateTime, FixedOffset, Utc};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    now: DateTime<FixedOffset>,
}

#[derive(Debug, thiserror::Error)]
#[error("`{value}` is not an RFC 3339 timestamp with an offset (e.g. `2026-12-01T00:00:00Z`)")]
pub struct ClockError {
    pub value: String,
}

impl Clock {
    pub fn fixed(now: DateTime<FixedOffset>) -> Self {
        Clock { now }
    }

    /// The system clock, read once.
    pub fn system() -> Self {
        Clock {
            now: Utc::now().fixed_offset(),
        }
    }

    /// `--now` when given, else the system clock.
    pub fn from_flag(value: Option<&str>) -> Result<Self, ClockError> {
        match value {
            None => Ok(Self::system()),
            Some(v) => DateTime::parse_from_rfc3339(v.trim())
                .map(Self::fixed)
                .map_err(|_| ClockError {
                    value: v.to_owned(),
                }),
        }
    }

    pub fn now(&self) -> DateTime<FixedOffset> {
        self.now
    }
}
