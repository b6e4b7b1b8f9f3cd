//! The command line: `hub`'s clap types (every command, flag and help text) and each command's
//! code, one file per command group. It parses, loads what a command needs, calls the library
//! and prints; it holds no sync, store or scheduling logic of its own (that is
//! [`crate::sync`], [`crate::store`] and [`crate::daemon`], which `hub run` hands over to).
//!
//! Exit codes (the README's table): 0 success (a sync run that ended `ok` or `partial`: records
//! that failed are in dead letters); 1 a run or command failed, or `hub audit verify` found the
//! audit log broken; 2 the configuration is invalid or describes a deployment that cannot run
//! what was asked (every problem is printed with its file, line and column): a plugin that
//! does not load, a sync that does not resolve, or a state store or state key that cannot be
//! used as configured ([`crate::store::StoreConfigError`]), whichever command meets it; 3
//! (`hub check` only) everything loads but a live check failed: a system or the state store
//! is unreachable, or a system refused the credentials.
//!
//! **Owns** arguments, what a command prints and its exit code. **May not touch** SQL or
//! wasmtime directly: a command calls `daemon`, `sync`, `store` or `runtime` and prints what
//! they return; no other module prints or exits.

mod audit;
mod check;
mod conflicts;
mod dead_letters;
mod demo;
mod load;
pub mod plugin;
mod print;
mod reconcile;
mod runs;
mod schedule;
pub mod schema;
mod stats;
mod sync;

use crate::config::ConfigErrors;
use crate::daemon::lifecycle::DaemonError;
use crate::logging::{self, LogFormat};
use crate::say_err;
use audit::AuditAction;
use clap::{Parser, Subcommand};
use conflicts::ConflictAction;
use dead_letters::DeadLetterAction;
use plugin::PluginAction;
use schedule::Control;
use schema::SchemaAction;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes, shown by `--help`.
const EXIT_CODES: &str = "Exit codes: 0 success; 1 failure (a run failed, or `hub audit verify` found the log broken); \
2 invalid configuration, a plugin or sync that cannot load (printed as file:line:column: message), \
or a state store or state key that cannot be used as configured; \
3 `hub check`: a live check failed (system or state store unreachable, credentials refused).";

/// Integration hub: WebAssembly connectors, shared JSON Schemas, scheduled bidirectional syncs.
#[derive(Debug, Parser)]
#[command(name = "hub", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: every enabled sync on its schedule, until SIGTERM or Ctrl-C. SIGHUP
    /// reloads the configuration and the plugins, switching between runs.
    Run {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run one sync now, print its summary, and exit; or, with --plan, print what a run would
    /// do now without doing it.
    Sync {
        /// The sync's name (a key of [syncs]).
        name: String,
        /// Run once and exit (scheduled runs are `hub run`).
        #[arg(long, required_unless_present = "plan", conflicts_with = "plan")]
        once: bool,
        /// The plan (a dry run): read both systems from their cursors and reconcile them as a
        /// run would, then print per direction the records to create, update, leave unchanged,
        /// the echoes, dead letters, conflicts and parks, and per record (masked key) the fields
        /// that would change and the rule that decided each (values masked). Writes nothing to
        /// any system or to the state store (no run, no cursor move, no audit entry, no dead
        /// letter) and takes no lease: it can run beside the daemon.
        #[arg(long)]
        plan: bool,
        /// With --plan: print one JSON object instead of text.
        #[arg(long, requires = "plan")]
        json: bool,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Resync: read one side of a sync again from the beginning (or only the records changed
    /// since a time) and sync what differs. Records are matched by natural key, so none is
    /// created twice; the other side's cursor and the other syncs are not touched. A run with
    /// trigger `resync SIDE`: it takes the sync's lease (waiting up to a minute for a run in
    /// progress), shows in the run history and on the status page, and if it is killed, the
    /// same resync run again goes on from the batches it committed.
    Resync {
        /// The sync's name (a key of [syncs]).
        name: String,
        /// The side to read again (default: every side the sync reads from).
        #[arg(long, value_parser = ["a", "b"])]
        side: Option<String>,
        /// Only look at the records the system changed at or after this time: RFC 3339
        /// (2026-12-01T08:00:00+08:00) or a local time in the deployment's zone
        /// (2026-12-01 08:00; a date alone is its midnight). The side is still read whole.
        #[arg(long)]
        since: Option<String>,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Reconciliation report: read both systems of a sync whole (from the beginning, within
    /// the sync's `where`) and compare them record by record under each system's coding. Prints
    /// the counts first (in both and equal, in both and different, only in a, only in b,
    /// invalid, ended, open dead letters, parked), then each record that differs: its masked key,
    /// each system's own id and the names of the fields that differ (never their values).
    /// Writes nothing to any system or to the state store, takes no lease: it can run beside
    /// the daemon. Exit 0 when the report was made, whatever it found.
    Reconcile {
        /// The sync's name (a key of [syncs]).
        name: String,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV instead of text (UTF-8 with a byte order mark, a header row, one row per
        /// record that differs, is only on one side, or is invalid).
        #[arg(long)]
        csv: bool,
    },
    /// Statistics (数据统计) both bureaus report from: Zhenfeng workers in Huiyang (by
    /// employment status, employer, hometown township, new and returned per month), clinicians
    /// seconded (by host facility and batch), job postings (open and closed by enterprise, with
    /// headcount) and referrals (by outcome and enterprise). Counted from the settled records in
    /// the state store; referrals are read now from the connectors that carry them. No personal
    /// data. Writes nothing; can run beside the daemon.
    Stats {
        /// Only this section: workers, secondments, job-postings or referrals.
        #[arg(value_parser = crate::statistics::Section::parse)]
        section: Option<crate::statistics::Section>,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV for Excel and WPS instead of text: a header in Chinese with English, one
        /// figure per row (section, dimension, item, measure, count).
        #[arg(long)]
        csv: bool,
        /// The CSV's encoding: utf-8 (with a byte order mark) or gb18030 (for older tools).
        #[arg(long, requires = "csv", value_parser = crate::statistics::CsvEncoding::parse, default_value = "utf-8")]
        encoding: crate::statistics::CsvEncoding,
    },
    /// The demo: simulators of HY-ESMS, ZF-REG and MED-ROSTER, the daemon on SQLite, a few
    /// scheduled runs of each sync.
    ///
    /// Runs `hub-demo` from this binary's folder (built with the `demo` feature, as
    /// `scripts/demo` does; production builds have none): `hub demo --help` lists its options.
    #[command(disable_help_flag = true)]
    Demo {
        /// The demo's arguments (`--config`, `--runs`, `--data-dir`, `--hy-rate-limit`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Connector components.
    Plugin {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Records that could not be synced.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
    /// Writes a system refused because its record changed since it was read.
    Conflicts {
        #[command(subcommand)]
        action: ConflictAction,
    },
    /// Run history, newest first.
    Runs {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Only this sync.
        #[arg(long)]
        sync: Option<String>,
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Ask the running daemon to run a sync now (within a second; after a run in progress).
    Trigger {
        /// The sync's name.
        name: String,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Pause a sync's schedule: fire times are skipped until `hub resume` (manual triggers run).
    Pause {
        /// The sync's name.
        name: String,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Resume a paused schedule (fire times skipped while paused are not caught up).
    Resume {
        /// The sync's name.
        name: String,
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Each sync's next fire times, in its time zone.
    Schedule {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
        /// How many fire times per sync.
        #[arg(long, default_value_t = 5)]
        next: usize,
    },
    /// The shared JSON Schemas: list them, or validate record files against one.
    Schema {
        #[command(subcommand)]
        action: SchemaAction,
    },
    /// Check a deployment before starting it: parse the configuration, load every plugin
    /// (capabilities are checked at load), resolve every sync, then open a session on each
    /// plugin and call its `check` against the live system; last, open the state store
    /// read-only (reachable, migrations pending, state key matching). One line per plugin and
    /// sync, and one for the store. Writes no state (the store is neither created nor
    /// migrated; only the compiled-plugin cache may be filled).
    ///
    /// Exit 0 if all is well; 2 if the configuration is invalid, a plugin or sync cannot load
    /// (located as file:line:column), or the state store or state key cannot be used as
    /// configured (as `hub run` would refuse them); 3 if everything loads but a live check
    /// failed (system unreachable, credentials refused) or the store cannot be reached.
    Check {
        /// Deployment configuration (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// The audit log of every write the hub made to a system (hash-chained, append-only).
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

/// Parses the command line, starts logging, runs the command and returns its exit code (the
/// table above); the reasons of a failure go to standard error.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    exit_code(run(cli).await)
}

/// Runs the command: `Ok(true)` exit 0, `Ok(false)` exit 1 (the command printed why).
async fn run(cli: Cli) -> Result<bool, Failure> {
    match cli.command {
        Command::Run { config } => {
            crate::daemon::lifecycle::run(&config).await?;
            Ok(true)
        }
        Command::Sync {
            name,
            plan: true,
            json,
            config,
            ..
        } => sync::print_plan(name, json, config).await,
        Command::Resync {
            name,
            side,
            since,
            config,
        } => sync::resync(&name, side.as_deref(), since.as_deref(), &config).await,
        Command::Sync {
            name,
            once: _,
            config,
            ..
        } => sync::once(name, config).await,
        Command::Reconcile {
            name,
            config,
            json,
            csv,
        } => reconcile::run(name, config, json, csv).await,
        Command::Stats {
            section,
            config,
            json,
            csv,
            encoding,
        } => stats::run(section, config, json, csv, encoding).await,
        Command::Demo { args } => Err(demo::demo(cli.log_format, args)),
        Command::Plugin { action } => plugin::run(action).await,
        Command::DeadLetters { action } => dead_letters::run(action).await,
        Command::Conflicts { action } => conflicts::run(action).await,
        Command::Runs {
            config,
            sync,
            limit,
            json,
        } => runs::list(config, sync, limit, json).await,
        Command::Trigger { name, config } => {
            schedule::control(&name, &config, Control::Trigger).await
        }
        Command::Pause { name, config } => schedule::control(&name, &config, Control::Pause).await,
        Command::Resume { name, config } => {
            schedule::control(&name, &config, Control::Resume).await
        }
        Command::Schedule { config, next } => schedule::upcoming(config, next).await,
        Command::Check { config } => check::run(config).await,
        Command::Audit { action } => audit::run(action).await,
        Command::Schema { action } => schema::run(action),
    }
}

/// A command's failure, mapped to an exit code.
enum Failure {
    /// The configuration file is invalid (exit 2).
    Config(ConfigErrors),
    /// The deployment it describes cannot run what was asked: a plugin that does not load, a
    /// stream or field that does not exist (exit 2), one located problem per line.
    Deployment(Vec<String>),
    /// The state store or its state key cannot be used as configured
    /// ([`crate::store::StoreConfigError`]): exit 2, as a configuration error.
    StoreConfig(anyhow::Error),
    /// Anything else (exit 1).
    Other(anyhow::Error),
    /// The command printed its own report and ends with this exit code.
    Exit(u8),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        if crate::store::StoreConfigError::is_cause_of(&e) {
            Failure::StoreConfig(e)
        } else {
            Failure::Other(e)
        }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        match e {
            crate::store::StoreError::Config(_) => Failure::StoreConfig(e.into()),
            e => Failure::Other(e.into()),
        }
    }
}

impl From<DaemonError> for Failure {
    fn from(e: DaemonError) -> Failure {
        match e {
            DaemonError::Config(e) => Failure::Config(e),
            DaemonError::Deployment(problems) => Failure::Deployment(problems),
            DaemonError::Other(e) => Failure::from(e),
        }
    }
}

/// The exit code of a command's result, its failure's reasons printed on standard error.
fn exit_code(result: Result<bool, Failure>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Failure::Config(e)) => {
            // One problem a line, each line's control characters escaped; the line breaks a
            // message has of its own (from the operator's file) are kept.
            for line in e.to_string().split('\n') {
                say_err!("{line}");
            }
            ExitCode::from(2)
        }
        Err(Failure::Deployment(problems)) => {
            for p in problems {
                say_err!("{p}");
            }
            ExitCode::from(2)
        }
        Err(Failure::StoreConfig(e)) => {
            say_err!("error: {}", crate::report::error_chain(&e));
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            say_err!("error: {}", crate::report::error_chain(&e));
            ExitCode::from(1)
        }
        Err(Failure::Exit(code)) => ExitCode::from(code),
    }
}
