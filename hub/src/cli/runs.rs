//! `hub runs`: the run history, newest first, as a table or JSON lines. Reads the state
//! store only.

use super::Failure;
use super::load::{load, store_for_history};
use super::print::print_rows;
use crate::say;
use std::path::PathBuf;

/// `hub runs [--sync NAME] [--limit N] [--json]`.
pub(super) async fn list(
    config: PathBuf,
    sync: Option<String>,
    limit: u32,
    json: bool,
) -> Result<bool, Failure> {
    let store = store_for_history(&config, sync.as_deref()).await?;
    let zone = load(&config)?.zone();
    let rows = store.runs(sync.as_deref(), limit).await?;
    if !json {
        if rows.is_empty() {
            say!("无 / nothing: no runs in the state store");
        } else {
            say!(
                "{:>5}  {:<12} {:<9} {:<11} {:<19}  error",
                "id",
                "sync",
                "trigger",
                "status",
                format!("started ({})", zone.name())
            );
        }
    }
    print_rows(&rows, json, |r| {
        say!(
            "{:>5}  {:<12} {:<9} {:<11} {}  {}",
            r.id,
            r.sync,
            r.trigger,
            r.status,
            crate::local_time::for_people(&r.started_at, zone),
            r.error.as_deref().unwrap_or("")
        );
    })?;
    Ok(true)
}
