//! `hub audit verify` and `hub audit list`: the audit log checked against its hash chain (and
//! a witness file), and its latest entries. The chain is the store's
//! ([`crate::store::Store::verify_audit`]); this module loads and prints.

use super::Failure;
use super::load::{load, store_for_history};
use super::print::print_rows;
use crate::say;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum AuditAction {
    /// Recompute the whole hash chain with the state key: prints `audit log intact: N entries,
    /// head HASH-PREFIX` (exit 0), or the first entry out of place by id and how (hash mismatch,
    /// broken link, gap in ids, a row that cannot be read as an entry; exit 1). Keep the head it prints somewhere else: removing the
    /// newest entries leaves a shorter chain that is still intact. With --witness, also checks
    /// every head the witness file saw (`hub.audit_witness`) against the chain: exit 1, naming
    /// the last entry the witness saw, if entries were removed from the end or the store was
    /// restored from an older backup, or if the witness is missing, empty or unreadable.
    Verify {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The audit witness file the daemon appends the chain's head to.
        #[arg(long)]
        witness: Option<PathBuf>,
    },
    /// The latest entries, newest first: time, sync, run, system (plugin and side), action,
    /// result, the system's id and the record's key hash (never the key itself).
    List {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Only this sync.
        #[arg(long)]
        sync: Option<String>,
        /// How many entries.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `hub audit ACTION`.
pub(super) async fn run(action: AuditAction) -> Result<bool, Failure> {
    match action {
        AuditAction::Verify { config, witness } => verify(config, witness).await,
        AuditAction::List {
            config,
            sync,
            limit,
            json,
        } => list(config, sync, limit, json).await,
    }
}

/// `hub audit verify`: exit 0 if the chain (and the witness, if given) is intact, else 1.
async fn verify(config: PathBuf, witness: Option<PathBuf>) -> Result<bool, Failure> {
    let c = load(&config)?;
    let keys = crate::daemon::state_keys(&c, false)?;
    let seen = match witness.as_deref().map(crate::audit_witness::read) {
        Some(Err(e)) => {
            say!("{e}");
            return Ok(false);
        }
        Some(Ok(seen)) => Some(seen),
        None => None,
    };
    let store = crate::store::Store::open(&c.store_url()).await?;
    let verdict = store.verify_audit(&keys.audit_key()).await?;
    let witnessed = match (&verdict, &seen) {
        (Ok(_), Some(seen)) => Some(crate::audit_witness::check(&store, seen).await?),
        _ => None,
    };
    store.close().await;
    if let Some(w) = witnessed {
        if let (Ok(intact), false) = (&verdict, w.agrees()) {
            say!(
                "audit log chain intact ({} entries), but {w}",
                intact.entries
            );
            return Ok(false);
        }
        say!("{w}");
    }
    match verdict {
        Ok(intact) => {
            let head = intact
                .head
                .as_deref()
                .map_or("(none: the log is empty)".to_string(), |h| {
                    h[..16].to_string()
                });
            say!("audit log intact: {} entries, head {head}", intact.entries);
            Ok(true)
        }
        Err(broken) => {
            say!("audit log broken at {broken}");
            Ok(false)
        }
    }
}

/// `hub audit list`: the latest entries, newest first.
async fn list(
    config: PathBuf,
    sync: Option<String>,
    limit: u32,
    json: bool,
) -> Result<bool, Failure> {
    let store = store_for_history(&config, sync.as_deref()).await?;
    print_rows(
        &store.audit_entries(sync.as_deref(), limit).await?,
        json,
        |e| {
            say!(
                "{:>7}  {}  {:<12} run {:<5} {}({})  {:<6} {:<9} {:<14} key {}…",
                e.id,
                e.at,
                e.sync,
                e.run_id,
                e.system,
                e.side.as_str(),
                e.action,
                e.result,
                e.remote_id.as_deref().unwrap_or("-"),
                e.key_hash.chars().take(16).collect::<String>()
            );
        },
    )?;
    store.close().await;
    Ok(true)
}
