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

/// The status of an error that stops `command` before it could do its work (a bad flag, a
/// bad `--now`, output that cannot be written). Where 2 means something else — changes in
/// a plan, drift — an error must not read as that, so those commands fail with 1.
pub fn for_error(command: Option<&str>) -> ExitStatus {
    match command {
        Some(
            "plan" | "apply" | "show" | "drift" | "import" | "state" | "force-unlock" | "paths",
        ) => ExitStatus::Findings,
        _ => ExitStatus::Failure,
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}
