//! `hub check`: prints the deployment check's lines and summary and exits with its code. The
//! checks are [`crate::check`]'s; this module loads the configuration and prints.

use super::Failure;
use super::load::load;
use crate::say;
use std::path::PathBuf;

/// `hub check --config FILE`: exit 0, 2 or 3 as the report says.
pub(super) async fn run(config: PathBuf) -> Result<bool, Failure> {
    let c = load(&config)?;
    let report = crate::check::check(&c).await?;
    for line in &report.lines {
        say!("{line}");
    }
    say!("{}", report.summary());
    match report.exit_code() {
        0 => Ok(true),
        code => Err(Failure::Exit(code)),
    }
}
