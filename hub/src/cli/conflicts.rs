//! `hub conflicts list|show|resolve`: the writes a system refused because its record changed
//! since it was read (and the records parked), read from the state store, and an operator's
//! decision recorded for the sync's next run to apply. The decision's effect is the engine's
//! ([`crate::sync::decide`]); this module loads, records and prints.

use super::Failure;
use super::load::{load, store_for_history, store_of};
use super::print::{heading, print_rows};
use crate::say;
use crate::store::{ConflictResolution, ConflictStatus};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum ConflictAction {
    /// Open conflicts (with `--all`, resolved ones too), newest first; keys masked.
    List {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Only this sync.
        #[arg(long)]
        sync: Option<String>,
        /// Resolved conflicts too.
        #[arg(long)]
        all: bool,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One conflict.
    Show {
        /// Its id.
        id: i64,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Decide a conflict: the sync's next run takes this side's record and writes it to the
    /// other side (at a record the systems had agreed on, this side's value of each field a
    /// system changed since; the other fields follow the sync's rules).
    Resolve {
        /// Its id.
        id: i64,
        /// `a` or `b` (the sync's endpoints).
        #[arg(long, value_parser = ["a", "b"])]
        take: String,
        /// Replace a decision taken earlier that no run has applied yet (without it, a second
        /// decision is refused).
        #[arg(long)]
        replace: bool,
        /// Why, in your words (kept with the decision and in the audit log, masked as logs
        /// are).
        #[arg(long)]
        reason: Option<String>,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

/// Who decides with `hub conflicts resolve`: `cli:` and the login name (`$USER`, else
/// `$LOGNAME`), as the audit log and the conflict record it; control characters are dropped and
/// personal data masked as in logs. Without either variable, `cli:uid-N` with the process's
/// user id (the owner of `/proc/self`), else `cli:unknown`.
fn cli_actor() -> String {
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .map(|n| n.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|n| !n.trim().is_empty());
    match name {
        Some(n) => format!("cli:{}", crate::logging::mask_personal(n.trim())),
        None => {
            use std::os::unix::fs::MetadataExt as _;
            match std::fs::metadata("/proc/self") {
                Ok(m) => format!("cli:uid-{}", m.uid()),
                Err(_) => "cli:unknown".to_string(),
            }
        }
    }
}

/// `hub conflicts ACTION`.
pub(super) async fn run(action: ConflictAction) -> Result<bool, Failure> {
    match action {
        ConflictAction::List {
            config,
            sync,
            all,
            json,
        } => list(config, sync, all, json).await?,
        ConflictAction::Show { id, config } => show(id, config).await?,
        ConflictAction::Resolve {
            id,
            take,
            replace,
            reason,
            config,
        } => resolve(id, take, replace, reason, config).await?,
    }
    Ok(true)
}

/// One conflict on one line: id, sync, masked key, what happened, attempts, runs, reason,
/// status, and the decision waiting or taken (by whom, why).
fn print(c: &crate::store::Conflict) {
    let what = match c.kind {
        crate::store::ConflictKind::Write => format!("refused by {}", c.side.as_str()),
        crate::store::ConflictKind::Park => "parked".to_string(),
    };
    // Who decided and why, beside the decision waiting or taken.
    let by = c
        .decided_by
        .as_deref()
        .map(|b| format!(", decided by {b}"))
        .unwrap_or_default();
    let why = c
        .decision_reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let state = match (&c.resolution, c.decision()) {
        (Some(r), _) => format!(" ({r}{by}{why})"),
        (None, Some(crate::store::Decision::Take(t))) => {
            format!(" (taking {} on the next run{by}{why})", t.as_str())
        }
        (None, Some(d)) => format!(" ({d} on the next run{by}{why})"),
        (None, None) => String::new(),
    };
    say!(
        "#{} {} key {} {what} {}× (runs {}–{}): {}; {}{state}",
        c.id,
        c.sync,
        c.key_masked.as_deref().unwrap_or("(none)"),
        c.attempts,
        c.first_run_id.unwrap_or(0),
        c.last_run_id.unwrap_or(0),
        c.reason,
        c.status,
    )
}

/// `hub conflicts list [--all]`.
async fn list(config: PathBuf, sync: Option<String>, all: bool, json: bool) -> Result<(), Failure> {
    let store = store_for_history(&config, sync.as_deref()).await?;
    let rows = store.conflicts(sync.as_deref(), all).await?;
    heading(
        if all {
            "conflicts in the state store, open and resolved (id sync key what attempts runs reason status)"
        } else {
            "open conflicts in the state store (id sync key what attempts runs reason status)"
        },
        rows.len(),
        json,
    );
    print_rows(&rows, json, print)?;
    Ok(())
}

/// `hub conflicts show ID`.
async fn show(id: i64, config: PathBuf) -> Result<(), Failure> {
    let store = store_of(&config).await?;
    let c = store
        .conflict(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no conflict {id} in {}", config.display()))?;
    print(&c);
    Ok(())
}

/// `hub conflicts resolve ID --take a|b`: records the decision for the sync's next run.
async fn resolve(
    id: i64,
    take: String,
    replace: bool,
    reason: Option<String>,
    config: PathBuf,
) -> Result<(), Failure> {
    let c = load(&config)?;
    let keys = crate::daemon::state_keys(&c, false)?;
    let store = crate::store::Store::open(&c.store_url())
        .await?
        .with_audit_key(keys.audit_key());
    let side = if take == "a" {
        crate::store::Side::A
    } else {
        crate::store::Side::B
    };
    let conflict = store.conflict(id).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "no conflict {id} in the state store of {}",
            config.display()
        )
    })?;
    if conflict.status != ConflictStatus::Open {
        return Err(anyhow::anyhow!(
            "conflict {id} is {} ({}); there is nothing left to decide",
            conflict.status,
            conflict
                .resolution
                .map_or("no resolution recorded", ConflictResolution::as_str)
        )
        .into());
    }
    if let (Some(earlier), false) = (conflict.decision(), replace) {
        let by = conflict.decided_by.as_deref().unwrap_or("someone");
        return Err(anyhow::anyhow!(
            "conflict {id} already has a decision ({earlier} by {by}), which the next run applies; add --replace to take side {take} instead"
        )
        .into());
    }
    let actor = cli_actor();
    let decision = crate::store::Decision::Take(side);
    let plugins = c
        .syncs
        .get(&conflict.sync)
        .map(|s| [s.a.plugin.get_ref().as_str(), s.b.plugin.get_ref().as_str()]);
    let (_, decided) = crate::sync::decide::record_decision(
        &store,
        plugins,
        &conflict,
        &decision,
        &actor,
        reason.as_deref(),
    )
    .await?;
    if !decided {
        return Err(anyhow::anyhow!(
            "conflict {id} is not open in {} (hub conflicts show {id})",
            config.display()
        )
        .into());
    }
    say!(
        "conflict {id}: the sync's next run takes side {take}'s record and writes it to the other side"
    );
    Ok(())
}
