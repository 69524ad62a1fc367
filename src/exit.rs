//! Exit statuses, mapped to numbers in one place (cli.md).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: clean (warnings allowed), or the command did what was asked.
    Success,
    /// 1: an error-level finding (or a warning with `--deny-warnings`).
    Findings,
    /// 2: usage error, I/O failure, unknown rule code.
    Failure,
    /// 2 with `plan --detailed-exitcode`: the plan has changes.
    Changes,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Findings => 1,
            ExitStatus::Failure | ExitStatus::Changes => 2,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}
