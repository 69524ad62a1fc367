//! `pimplan drift`: the state against Microsoft Graph, what changed outside pimplan.

use std::io::Write;

use super::RunContext;
use super::output::{fail, write_out};
use super::workspace::with_workspace;
use crate::drift::DriftItem;
use crate::exit::ExitStatus;
use crate::graph::refresh::refresh;
use crate::graph::session::executor;
use crate::render::drift::drift_text;
use crate::state;

pub fn run(cx: &RunContext, verbose: bool, out: &mut dyn Write) -> miette::Result<ExitStatus> {
    let now = cx.now();
    with_workspace(&cx.root(), verbose, |ws, _, backend| {
        let st = match state::read_from(backend) {
            Ok(s) if !s.exists() => {
                return Ok(fail(format!(
                    "no state at {}; run `pimplan import`",
                    backend.describe()
                )));
            }
            Ok(s) => s,
            Err(e) => return Ok(fail(e)),
        };
        let mut c = match executor(ws, verbose, now) {
            Ok(c) => c,
            Err(e) => return Ok(fail(e)),
        };
        // The service is compared with what it is known to hold: what an apply to the
        // state alone recorded is not drift.
        match refresh(&mut c, ws, &st.state.service_view(), now) {
            Ok((_, items)) => {
                write_out(out, &drift_text(&items))?;
                Ok(if items.iter().any(DriftItem::is_drift) {
                    ExitStatus::Changes
                } else {
                    ExitStatus::Success
                })
            }
            Err(e) => Ok(fail(e)),
        }
    })
}
