//! The progress of a long apply, on stderr (stdout keeps the plan and the result): a bar with
//! the count and the rate on a terminal (`indicatif`), plain lines without one (a CI log),
//! nothing with `-q`.

use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A bar redrawn in place: stderr is a terminal.
    Bar,
    /// A line now and then: at each tenth of a run of [`TENTHS_FROM`] changes or more, and
    /// at least every [`LINE_EVERY`].
    Lines,
    /// Nothing (`-q`).
    Off,
}

/// The longest stretch without a line, in [`Mode::Lines`].
pub const LINE_EVERY: Duration = Duration::from_secs(10);
/// From how many changes a run also prints a line at each tenth, in [`Mode::Lines`].
pub const TENTHS_FROM: usize = 50;

/// The bar on the terminal while one is shown, so that [`say`] prints above it.
static BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Print a line on stderr, above the progress bar when one is shown (a line printed past
/// the bar would be drawn over).
pub fn say(line: &str) {
    let bar = BAR.lock().ok().and_then(|b| b.clone());
    match bar {
        Some(bar) => bar.println(line),
        None => eprintln!("{line}"),
    }
}

enum Show {
    Bar(indicatif::ProgressBar),
    Lines { last: Instant, tenths_done: usize },
    Off,
}

/// The progress of one run of `total` changes.
pub struct Progress {
    total: usize,
    started: Instant,
    show: Show,
}

impl Progress {
    pub fn new(total: usize, mode: Mode) -> Progress {
        let show = match mode {
            Mode::Bar => {
                let bar = indicatif::ProgressBar::with_draw_target(
                    Some(u64::try_from(total).unwrap_or(u64::MAX)),
                    indicatif::ProgressDrawTarget::stderr(),
                );
                let style = indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} changes, {rate} changes/s, about {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .with_key(
                    "rate",
                    |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}", state.per_sec());
                    },
                );
                bar.set_style(style);
                if let Ok(mut shown) = BAR.lock() {
                    *shown = Some(bar.clone());
                }
                Show::Bar(bar)
            }
            Mode::Lines => Show::Lines {
                last: Instant::now(),
                tenths_done: 0,
            },
            Mode::Off => Show::Off,
        };
        Progress {
            total,
            started: Instant::now(),
            show,
        }
    }

    /// `done` changes of the run are made.
    pub fn step(&mut self, done: usize) {
        let (total, elapsed) = (self.total, self.started.elapsed());
        match &mut self.show {
            Show::Bar(bar) => bar.set_position(u64::try_from(done).unwrap_or(u64::MAX)),
            Show::Lines { last, tenths_done } => {
                let tenths = if total >= TENTHS_FROM {
                    done.saturating_mul(10) / total
                } else {
                    0
                };
                if tenths > *tenths_done || last.elapsed() >= LINE_EVERY {
                    *tenths_done = tenths;
                    *last = Instant::now();
                    eprintln!("{}", line(done, total, elapsed));
                }
            }
            Show::Off => {}
        }
    }

    /// The run ended (done or failed): the bar is taken off the terminal.
    pub fn finish(&mut self) {
        if let Show::Bar(bar) = &self.show {
            bar.finish_and_clear();
            if let Ok(mut shown) = BAR.lock() {
                *shown = None;
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `pimplan: applied 25 of 50 changes (50%), 12.5 changes/s, about 2 s left`.
pub fn line(done: usize, total: usize, elapsed: Duration) -> String {
    let percent = done.saturating_mul(100) / total.max(1);
    let seconds = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    let left = if done >= total {
        String::new()
    } else if rate > 0.0 {
        #[allow(clippy::cast_precision_loss)]
        let eta = (total - done) as f64 / rate;
        format!(", about {} s left", eta.ceil())
    } else {
        String::new()
    };
    format!("pimplan: applied {done} of {total} changes ({percent}%), {rate:.1} changes/s{left}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gives_the_count_the_rate_and_what_is_left() {
        assert_eq!(
            line(25, 50, Duration::from_secs(2)),
            "pimplan: applied 25 of 50 changes (50%), 12.5 changes/s, about 2 s left"
        );
        assert_eq!(
            line(50, 50, Duration::from_secs(4)),
            "pimplan: applied 50 of 50 changes (100%), 12.5 changes/s"
        );
        assert_eq!(
            line(0, 50, Duration::ZERO),
            "pimplan: applied 0 of 50 changes (0%), 0.0 changes/s"
        );
    }
}
