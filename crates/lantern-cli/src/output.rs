//! Terminal output shared by the commands: the progress spinner and the printing of a report
//! to standard output or a file.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use lantern_core::output::{render, Format, RenderOptions};
use lantern_core::Report;
use std::io::{IsTerminal, Write};
use std::path::Path;

/// The progress spinner on standard error.
pub struct Spinner(ProgressBar);

impl Spinner {
    /// Removes the spinner.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl lantern_scan::Progress for Spinner {
    fn blob(&self, bytes: u64, path: &str) {
        self.0.inc(bytes);
        self.0.set_message(path.to_string());
    }
}

/// A spinner when `wanted` and standard error is a terminal.
pub fn spinner(wanted: bool) -> Option<Spinner> {
    (wanted && std::io::stderr().is_terminal()).then(|| {
        let p = ProgressBar::new_spinner();
        p.set_style(
            ProgressStyle::with_template("{spinner} {bytes} scanned ({bytes_per_sec}) {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        p.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(p)
    })
}

/// Renders `report` in `format` to `output` (standard output when `None`); `color` is
/// `always`, `never` or `auto` (a terminal on standard output without `NO_COLOR`).
pub fn print_report(
    report: &Report,
    format: Format,
    output: Option<&Path>,
    color: &str,
    show_secrets: bool,
) -> Result<()> {
    let color = match color {
        "always" => true,
        "never" => false,
        _ => {
            output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let text = render(
        report,
        format,
        RenderOptions {
            show_secrets,
            color,
        },
    );
    match output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}
