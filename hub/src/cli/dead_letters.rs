//! `hub dead-letters list|show|replay`: the records that could not be synced, read from the
//! state store, and requests to replay them on their sync's next run. The replay itself is the
//! engine's; this module loads, writes the request and prints.

use super::Failure;
use super::load::{load, store_for, store_for_history, store_of};
use super::print::{count, heading, print_rows};
use crate::say;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum DeadLetterAction {
    /// List open dead letters (keys masked).
    List {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Only this sync.
        #[arg(long)]
        sync: Option<String>,
        /// Print JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// One dead letter (open or replayed) with its replay history; keys masked.
    Show {
        /// Its id (`hub dead-letters list` shows them).
        id: i64,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Replay dead letters after a fix, on their sync's next run: a record a system refused is
    /// written again; a record that was invalid is validated again and, valid now, synced.
    Replay {
        /// The dead letter's id; or `--all`.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every open dead letter (of `--sync` if given).
        #[arg(long)]
        all: bool,
        /// Only this sync (with `--all`).
        #[arg(long, requires = "all")]
        sync: Option<String>,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

/// `hub dead-letters ACTION`.
pub(super) async fn run(action: DeadLetterAction) -> Result<bool, Failure> {
    match action {
        DeadLetterAction::List { config, sync, json } => list(config, sync, json).await,
        DeadLetterAction::Show { id, config, json } => show(id, config, json).await,
        DeadLetterAction::Replay {
            id,
            all: _,
            sync,
            config,
        } => replay(id, sync, config).await,
    }
}

/// `hub dead-letters list`: the open dead letters (keys masked).
async fn list(config: PathBuf, sync: Option<String>, json: bool) -> Result<bool, Failure> {
    let store = store_for_history(&config, sync.as_deref()).await?;
    let zone = load(&config)?.zone();
    let rows = store.dead_letters(sync.as_deref()).await?;
    heading(
        &format!(
            "open dead letters in the state store (id sync side stage system-id key; times in {zone})"
        ),
        rows.len(),
        json,
    );
    print_rows(&rows, json, |d| {
        say!(
            "#{} {} {} {} {} key {} (seen {}×, first {})",
            d.id,
            d.sync,
            d.side.as_str(),
            d.stage,
            d.remote_id.as_deref().unwrap_or("-"),
            d.key_masked.as_deref().unwrap_or("(none)"),
            d.occurrences,
            crate::local_time::for_people(&d.created_at, zone)
        );
        for e in &d.errors {
            say!("    {}", crate::dead_letter_reasons::for_people(e));
        }
    })?;
    Ok(true)
}

/// `hub dead-letters show ID`: one dead letter with its replay history.
async fn show(id: i64, config: PathBuf, json: bool) -> Result<bool, Failure> {
    let store = store_of(&config).await?;
    let Some(d) = store.dead_letter(id).await? else {
        return Err(anyhow::anyhow!(
            "no dead letter {id} in the state store of {}",
            config.display()
        )
        .into());
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&d).map_err(anyhow::Error::from)?
        );
        return Ok(true);
    }
    say!("dead letter {} of sync {} ({})", d.id, d.sync, d.status);
    say!(
        "  side {} at {}, system id {}",
        d.side.as_str(),
        d.stage,
        d.remote_id.as_deref().unwrap_or("-")
    );
    say!("  key {}", d.key_masked.as_deref().unwrap_or("(none)"));
    say!(
        "  seen {}× from {} to {} (first in run {})",
        d.occurrences,
        d.created_at,
        d.last_seen_at,
        d.run_id.map_or("-".into(), |r| r.to_string())
    );
    for e in &d.errors {
        say!("  {}", crate::dead_letter_reasons::for_people(e));
    }
    if let Some(t) = &d.replay_requested_at {
        say!("  replay requested at {t}: the sync's next run replays it");
    }
    for r in &d.replays {
        say!(
            "  replayed by run {} at {} (asked {}): {}",
            r.run_id,
            r.at,
            r.requested_at,
            r.result
        );
    }
    Ok(true)
}

/// `hub dead-letters replay ID|--all [--sync NAME]`: asks the syncs' next runs to replay them.
async fn replay(id: Option<i64>, sync: Option<String>, config: PathBuf) -> Result<bool, Failure> {
    let store = store_for(&config, sync.as_deref()).await?;
    let n = store.request_replay(id, sync.as_deref()).await?;
    match id {
        Some(id) if n == 0 => {
            return Err(anyhow::anyhow!(
                "dead letter {id} is not open in the state store of {} (see hub dead-letters show {id})",
                config.display()
            )
            .into());
        }
        _ if n == 0 => say!(
            "无 / nothing open: no open dead letters{} in the state store to replay",
            sync.as_deref()
                .map(|s| format!(" of {s}"))
                .unwrap_or_default()
        ),
        _ => say!(
            "{} will be replayed by {} next run (`hub trigger SYNC` runs it now)",
            count(n, "dead letter"),
            if n == 1 { "its sync's" } else { "their syncs'" }
        ),
    }
    Ok(true)
}
