//! `hub`: the integration hub's daemon and command line.
//!
//! Exit codes (the README's table): 0 success (a sync run that ended `ok` or `partial`: records
//! that failed are in dead letters); 1 a run or command failed, or `hub audit verify` found the
//! audit log broken; 2 the configuration is invalid or describes a deployment that cannot run
//! what was asked (every problem is printed with its file, line and column): a plugin that
//! does not load, a sync that does not resolve, or a state store or state key that cannot be
//! used as configured ([`hub::store::StoreConfigError`]), whichever command meets it; 3
//! (`hub check` only) everything loads but a live check failed: a system or the state store
//! is unreachable, or a system refused the credentials.

use clap::{Parser, Subcommand};
use hub::config::{self, ConfigErrors};
use hub::daemon::Hub;
use hub::logging::{self, LogFormat};
use hub::report;
use hub::sync::RunStatus;
use hub::{say, say_err};
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
        #[arg(value_parser = hub::statistics::Section::parse)]
        section: Option<hub::statistics::Section>,
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
        #[arg(long, requires = "csv", value_parser = hub::statistics::CsvEncoding::parse, default_value = "utf-8")]
        encoding: hub::statistics::CsvEncoding,
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

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Recompute the whole hash chain with the state key: prints `audit log intact: N entries,
    /// head HASH-PREFIX` (exit 0), or the first entry out of place by id and how (hash mismatch,
    /// broken link, gap in ids; exit 1). Keep the head it prints somewhere else: removing the
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

#[derive(Debug, Subcommand)]
enum SchemaAction {
    /// Each schema's name, version, key and $id.
    List,
    /// Validate records: one line per error, `FILE: /json/pointer: message`; exit 1 if any
    /// record is invalid, 2 for an unknown schema.
    Validate {
        /// The schema (e.g. `worker`; `hub schema list` shows them).
        name: String,
        /// Files of one JSON record, a JSON array of records, or JSON Lines (`.jsonl`,
        /// `.ndjson`); `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PluginAction {
    /// Show a component's contract version, manifest (streams, schemas, hosts and secrets it
    /// asks for), imports and exports, granting it nothing. Exit 1 if this hub cannot load it.
    Inspect {
        /// The component file (.wasm).
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run a connector's calls against recorded HTTP exchanges (no live system): the steps of
    /// DIR/harness.toml, every record validated against its stream's schema. Exit 1 if a step
    /// fails, an expectation is not met, or an exchange is missing or unused.
    /// See docs/plugin-guide.md for the fixture format.
    Test {
        /// The component file (.wasm).
        file: PathBuf,
        /// The fixture directory (harness.toml and the NNN-NAME.request/response.http files).
        #[arg(long)]
        fixtures: PathBuf,
        /// Record the exchanges from a live system instead (replaces DIR's .http files).
        #[arg(long)]
        record: bool,
        /// With --record: send to URL instead of the URL in config field KEY (KEY=URL), and
        /// write the exchanges as if sent to the config's URL.
        #[arg(long, value_name = "KEY=URL", requires = "record")]
        live: Vec<String>,
        /// With --record: grant secret NAME the value of environment variable ENV (NAME=ENV)
        /// instead of the stand-in in harness.toml. The fixtures keep the {{secret:NAME}}
        /// placeholder and the value is scrubbed from the recorded responses. Repeatable.
        #[arg(long = "secret", value_name = "NAME=ENV", requires = "record")]
        secrets: Vec<String>,
        /// With --record: write what each step got into its `expect` (a read step's records
        /// into its file, a write step's outcomes into its list in harness.toml or its file),
        /// then check against it.
        #[arg(long, requires = "record")]
        write_expect: bool,
        /// Link every WASI interface, granting nothing through them, as `link_all_wasi = true`
        /// in a deployment (for components made by componentize-py and the like).
        #[arg(long)]
        link_all_wasi: bool,
    },
    /// Sign a component: write FILE.minisig (minisign format, Ed25519) with a minisign secret
    /// key (an encrypted one asks for its password). Deployments with `require_signed = true`
    /// load it if they list the key's public half in `hub.trusted_keys`.
    Sign {
        /// The minisign secret key file (`hub plugin keygen` or `minisign -G` make one).
        #[arg(long)]
        key: PathBuf,
        /// The component file (.wasm).
        file: PathBuf,
    },
    /// Check FILE.minisig against a public key. Exit 0 if it was made by that key over FILE's
    /// bytes; exit 2 naming the reason otherwise (missing, another key, bytes changed).
    Verify {
        /// The public key: its base64 line (`RW…`) or a minisign.pub file.
        #[arg(long)]
        pubkey: String,
        /// The component file (.wasm).
        file: PathBuf,
    },
    /// Make a new, unencrypted signing key pair: OUT.key (secret, created 0600; keep it off
    /// the servers) and OUT.pub; prints the public key line for `hub.trusted_keys`.
    Keygen {
        /// Path prefix of the two files.
        out: PathBuf,
    },
    /// Scaffold a connector crate DIR/NAME that builds for wasm32-wasip2 and passes its own
    /// tests (cargo test; hub plugin test on its fixtures).
    New {
        /// Connector name: lower-case letters, digits and '-'.
        name: String,
        /// Where to create it.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// A hub repository checkout whose plugins/sdk the crate depends on (default: the one
        /// holding DIR, else the one this hub was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum DeadLetterAction {
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

#[derive(Debug, Subcommand)]
enum ConflictAction {
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
        Some(n) => format!("cli:{}", hub::logging::mask_personal(n.trim())),
        None => {
            use std::os::unix::fs::MetadataExt as _;
            match std::fs::metadata("/proc/self") {
                Ok(m) => format!("cli:uid-{}", m.uid()),
                Err(_) => "cli:unknown".to_string(),
            }
        }
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
    /// ([`hub::store::StoreConfigError`]): exit 2, as a configuration error.
    StoreConfig(anyhow::Error),
    /// Anything else (exit 1).
    Other(anyhow::Error),
    /// The command printed its own report and ends with this exit code.
    Exit(u8),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        if hub::store::StoreConfigError::is_cause_of(&e) {
            Failure::StoreConfig(e)
        } else {
            Failure::Other(e)
        }
    }
}

fn load(path: &std::path::Path) -> Result<config::Config, Failure> {
    config::load(path).map_err(Failure::Config)
}

/// Opens only the state store of a deployment (for read-only commands).
async fn store_of(path: &std::path::Path) -> Result<hub::store::Store, Failure> {
    store_for(path, None).await
}

/// Opens only the state store of a deployment, for a command about `sync` if given: a sync
/// the configuration does not name is an error listing the ones it does (a typo is never an
/// empty list).
async fn store_for(
    path: &std::path::Path,
    sync: Option<&str>,
) -> Result<hub::store::Store, Failure> {
    let c = load(path)?;
    if let Some(name) = sync {
        known_sync(&c, path, name)?;
    }
    Ok(hub::store::Store::open(&c.store_url()).await?)
}

/// Opens only the state store of a deployment, for a list of what it keeps about `sync` if
/// given: a sync of the configuration, or one removed from it whose runs are in the store's
/// history ([`hub::store::Store::history_sync`]); any other name is an error naming both.
async fn store_for_history(
    path: &std::path::Path,
    sync: Option<&str>,
) -> Result<hub::store::Store, Failure> {
    let c = load(path)?;
    let store = hub::store::Store::open(&c.store_url()).await?;
    if let Some(name) = sync {
        let configured: Vec<&str> = c.syncs.keys().map(String::as_str).collect();
        let place = path.display().to_string();
        if let Err(message) = store.history_sync(name, &configured, &place).await? {
            store.close().await;
            return Err(anyhow::anyhow!(message).into());
        }
    }
    Ok(store)
}

/// `Ok` if `[syncs]` of the configuration at `path` has `name`; else an error naming the
/// syncs it has.
fn known_sync(c: &config::Config, path: &std::path::Path, name: &str) -> Result<(), Failure> {
    if c.syncs.contains_key(name) {
        return Ok(());
    }
    let known: Vec<&str> = c.syncs.keys().map(String::as_str).collect();
    Err(anyhow::anyhow!(
        "no sync {name:?} in {}; the configured syncs are: {}",
        path.display(),
        if known.is_empty() {
            "(none)".to_string()
        } else {
            known.join(", ")
        }
    )
    .into())
}

/// With `[hub] require_signed`, sync `name`'s plugins that are unsigned, signed by another key
/// or changed since signing stop a command before anything runs (exit 2, one line each), as
/// they stop `hub run`. `name` must be a sync of `c`.
fn refuse_unsigned_of(c: &config::Config, name: &str) -> Result<(), Failure> {
    let s = &c.syncs[name];
    let plugins = [s.a.plugin.get_ref(), s.b.plugin.get_ref()];
    let unsigned = hub::plugin_signature::refusals_among(c, |p| plugins.iter().any(|q| *q == p));
    if unsigned.is_empty() {
        Ok(())
    } else {
        Err(Failure::Deployment(unsigned))
    }
}

/// `n` and `noun`, with an `s` unless `n` is 1: `1 dead letter`, `2 dead letters`.
fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Prints the heading of a text list: `title: N` and, if it is empty, `无 / nothing open`.
fn heading(title: &str, n: usize, json: bool) {
    if json {
        return;
    }
    say!("{title}: {n}");
    if n == 0 {
        say!("无 / nothing open");
    }
}

/// Whether a daemon on this machine holds `<data_dir>/daemon.lock` (see `lock_data_dir`).
fn daemon_running(dir: &std::path::Path) -> bool {
    match std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("daemon.lock"))
    {
        Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// What the daemon is told by signals.
enum Signal {
    /// SIGTERM or Ctrl-C: finish the runs in flight and exit.
    Stop,
    /// SIGHUP: load the configuration and plugins again and switch between runs.
    Reload,
}

fn signals() -> tokio::sync::mpsc::UnboundedReceiver<Signal> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                let _ = tokio::signal::ctrl_c().await;
                let _ = tx.send(Signal::Stop);
                return;
            };
            loop {
                let s = tokio::select! {
                    _ = tokio::signal::ctrl_c() => Signal::Stop,
                    _ = term.recv() => Signal::Stop,
                    _ = hup.recv() => Signal::Reload,
                };
                let stop = matches!(s, Signal::Stop);
                if tx.send(s).is_err() || stop {
                    return;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            let _ = tx.send(Signal::Stop);
        }
    });
    rx
}

/// Prints listed rows: one JSON object per line with `json` (serde_json escapes control
/// characters), else each as `text` prints it (with [`say!`], which escapes them).
fn print_rows<T: serde::Serialize>(
    rows: &[T],
    json: bool,
    text: impl Fn(&T),
) -> Result<(), Failure> {
    for r in rows {
        if json {
            println!("{}", serde_json::to_string(r).map_err(anyhow::Error::from)?);
        } else {
            text(r);
        }
    }
    Ok(())
}

/// Takes `<data_dir>/daemon.lock` for this process, or fails naming the directory.
fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File, Failure> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let path = dir.join("daemon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow::anyhow!(
            "another hub daemon is running on the data directory {} (it holds daemon.lock); stop it first",
            dir.display()
        )
        .into()),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow::Error::new(e).context(format!("failed to lock {}", path.display())).into()),
    }
}

/// Starts exporting spans if `[telemetry] otlp_endpoint` is set ([`hub::telemetry`]); a
/// failure to start is logged and the command goes on without.
fn start_telemetry(config: &hub::config::Config) -> Option<hub::telemetry::Telemetry> {
    let endpoint = config.telemetry.endpoint()?;
    match hub::telemetry::Telemetry::start(endpoint, config.telemetry.service_name()) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::error!("telemetry: spans are not exported: {e:#}");
            None
        }
    }
}

/// Loads and builds a deployment for the daemon: at least one sync must be able to run.
async fn build_for_daemon(config: &std::path::Path) -> Result<Hub, Failure> {
    let config = load(config)?;
    // With require_signed, one refused plugin stops the start (or the reload) as a whole.
    let unsigned = hub::plugin_signature::refusals(&config);
    if !unsigned.is_empty() {
        return Err(Failure::Deployment(unsigned));
    }
    let hub = Hub::build(config).await?;
    if hub.syncs.is_empty() {
        return Err(Failure::Deployment(hub.problems.clone()));
    }
    for p in &hub.problems {
        say_err!("warning: {p}");
    }
    Ok(hub)
}

/// `hub reconcile NAME`: the sync's reconciliation report ([`hub::sync::compare`]). Loads
/// only what the report needs (the configuration, the plugins, the sync; the state store to
/// count its open dead letters and parked conflicts) and records nothing: unlike `hub sync`,
/// no interrupted run is closed and no state key is recorded. Natural keys are hashed (in
/// memory only) under a key of this invocation, so the state key is not read.
async fn reconcile(
    name: &str,
    path: &std::path::Path,
) -> Result<hub::sync::compare::Reconciliation, Failure> {
    let (c, spec) = sync_alone(name, path).await?;
    let store = hub::store::Store::open(&c.store_url()).await?;
    let keys = hub::keys::Keys::from_hex(&hex::encode(rand::random::<[u8; 32]>()))?;
    let engine = hub::sync::Engine::new(store.clone(), keys);
    let report = engine.reconciliation(&spec).await;
    store.close().await;
    Ok(report?)
}

/// `hub sync NAME --plan`: the plan of a run of the sync now ([`hub::sync::plan`]). Loads only
/// what the plan needs (the configuration, the sync's plugins, the state store and state key),
/// and records nothing: no interrupted run is closed, no state key recorded, no lease taken.
/// A deployment that never ran (no state key file yet, so nothing sealed in its store) is
/// planned under a key of this invocation. Returns the plan and the deployment's time zone.
async fn plan(
    name: &str,
    path: &std::path::Path,
) -> Result<(hub::sync::plan::Plan, chrono_tz::Tz), Failure> {
    let (c, spec) = sync_alone(name, path).await?;
    let never_ran = c.hub.state_key.is_none() && !c.data_dir().join("state.key").exists();
    let keys = if never_ran {
        hub::keys::Keys::from_hex(&hex::encode(rand::random::<[u8; 32]>()))?
    } else {
        hub::daemon::state_keys(&c, false)?
    };
    let store = hub::store::Store::open(&c.store_url()).await?;
    let engine = hub::sync::Engine::new(store.clone(), keys);
    let plan = engine.plan(&spec).await;
    store.close().await;
    Ok((plan?, c.zone()))
}

/// The configuration at `path` and sync `name` resolved from it, loading only that sync's
/// plugins. Errors: as [`load_syncs`].
async fn sync_alone(
    name: &str,
    path: &std::path::Path,
) -> Result<(config::Config, hub::sync::SyncSpec), Failure> {
    let mut l = load_syncs(path, Some(name)).await?;
    let spec = l.specs.remove(name).expect("load_syncs resolved the sync");
    Ok((l.config, spec))
}

/// A deployment as the commands that read its systems without the daemon load it.
struct LoadedSyncs {
    config: config::Config,
    /// The plugins loaded, by name.
    plugins: std::collections::BTreeMap<String, std::sync::Arc<hub::runtime::Plugin>>,
    /// The syncs resolved, by name.
    specs: std::collections::BTreeMap<String, hub::sync::SyncSpec>,
}

/// Loads the configuration at `path`, then the plugins of sync `only` (every plugin when
/// `None`), signatures checked as the daemon checks them, and resolves the syncs. Errors: a
/// sync the configuration does not name (naming those it does); an unsigned or refused
/// plugin, a plugin that does not load or a sync that does not resolve, among those asked
/// for (all of them, one per line).
async fn load_syncs(path: &std::path::Path, only: Option<&str>) -> Result<LoadedSyncs, Failure> {
    let c = load(path)?;
    let wanted: Option<[String; 2]> = match only {
        Some(name) => {
            known_sync(&c, path, name)?;
            refuse_unsigned_of(&c, name)?;
            let s = &c.syncs[name];
            Some([s.a.plugin.get_ref().clone(), s.b.plugin.get_ref().clone()])
        }
        None => {
            let unsigned = hub::plugin_signature::refusals(&c);
            if !unsigned.is_empty() {
                return Err(Failure::Deployment(unsigned));
            }
            None
        }
    };
    let asked = |p: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|q| q == p));
    let runtime = hub::runtime::Runtime::new(Some(c.data_dir().join("cache")))?.require_signatures(
        hub::plugin_signature::SignaturePolicy::of(&c.hub).map_err(anyhow::Error::msg)?,
    );
    let mut plugins = std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    for (p, l) in hub::daemon::load_plugins(&c, &runtime).await {
        match l {
            Ok(plugin) => {
                plugins.insert(p, plugin);
            }
            Err(problem) if asked(&p) => problems.push(problem),
            Err(_) => {}
        }
    }
    let mut specs = std::collections::BTreeMap::new();
    for (name, s) in hub::daemon::resolve_syncs(&c, &plugins)? {
        match s {
            Ok(s) if only.is_none_or(|o| o == name) => {
                specs.insert(name, s.spec);
            }
            Err(problem) if only.is_none_or(|o| o == name) => problems.push(problem),
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Deployment(problems));
    }
    Ok(LoadedSyncs {
        config: c,
        plugins,
        specs,
    })
}

/// `hub resync NAME`: builds the deployment as `hub sync` does, runs the resync (waiting up to
/// a minute for a run of the sync in progress elsewhere to end) and prints its summary.
async fn resync(
    name: &str,
    side: Option<&str>,
    since: Option<&str>,
    config: &std::path::Path,
) -> Result<bool, Failure> {
    let c = load(config)?;
    known_sync(&c, config, name)?;
    refuse_unsigned_of(&c, name)?;
    let zone = c.zone();
    let hub = Hub::build(c).await?;
    let Some(s) = hub.syncs.get(name) else {
        return Err(Failure::Deployment(hub.problems.clone()));
    };
    let r =
        hub::sync::resync::Resync::of(&s.spec, side, since, zone).map_err(anyhow::Error::msg)?;
    let telemetry = start_telemetry(&hub.config);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut waited = false;
    let outcome = loop {
        match hub.engine.resync(&s.spec, r.clone()).await {
            Err(e)
                if e.to_string().contains("is running in another process")
                    && std::time::Instant::now() < deadline =>
            {
                if !waited {
                    say_err!("{e}; waiting for it to end (up to a minute)");
                    waited = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            other => break other,
        }
    };
    if let Some(t) = telemetry {
        t.shutdown().await;
    }
    let outcome = outcome?;
    let rows = report::directions(
        &outcome.stats,
        &s.spec.a.plugin.name,
        &s.spec.b.plugin.name,
        s.spec.direction,
    );
    say!("{} ({})", r.trigger(), name);
    print!("{}", report::table(&outcome, &rows));
    if let Some(old) = outcome.resumed_from {
        say!(
            "  run {old} of {name} was interrupted before it finished; this resync went on from the batches it had committed"
        );
    }
    for side in &r.sides {
        let st = match side {
            hub::store::Side::A => &outcome.stats.a,
            hub::store::Side::B => &outcome.stats.b,
        };
        if r.since.is_some() {
            say!(
                "  side {}: {} records last changed before --since were read past",
                side.as_str(),
                st.before_since
            );
        }
    }
    hub.engine.store().close().await;
    Ok(outcome.status != RunStatus::Failed)
}

/// `hub stats`: the statistics ([`hub::statistics`]). Loads the configuration, its plugins and
/// syncs (a plugin or sync that does not load is an error, as for `hub reconcile`), the state
/// store and the state key (which must exist: the daemon made it), and writes nothing.
async fn stats(
    path: &std::path::Path,
    section: Option<hub::statistics::Section>,
) -> Result<hub::statistics::Statistics, Failure> {
    let LoadedSyncs {
        config: c,
        plugins,
        specs,
    } = load_syncs(path, None).await?;
    let keys = hub::daemon::state_keys(&c, false)?;
    let store = hub::store::Store::open(&c.store_url()).await?;
    let st = hub::statistics::Statistician {
        store: store.clone(),
        keys,
        specs,
        plugins: plugins.into_values().collect(),
        zone: c.zone(),
    };
    let out = st.statistics(section.as_slice()).await;
    store.close().await;
    Ok(out?)
}

enum Control {
    Trigger,
    Pause,
    Resume,
}

/// `hub trigger|pause|resume NAME`: a request in the state store, which every daemon on it reads.
async fn control(name: &str, config: &std::path::Path, action: Control) -> Result<bool, Failure> {
    let c = load(config)?;
    known_sync(&c, config, name)?;
    let store = hub::store::Store::open(&c.store_url()).await?;
    let paused = store.schedule_state(name).await?.paused;
    match action {
        Control::Trigger => {
            store.request_trigger(name).await?;
            if daemon_running(&c.data_dir()) {
                say!(
                    "run of {name} requested: the daemon starts it within a second (after a run in progress)"
                );
            } else {
                say!(
                    "run of {name} requested, but no hub daemon is running on {} (its daemon.lock is free): the run starts when `hub run --config {}` starts, or a daemon elsewhere on the same state store takes it; `hub sync {name} --once --config {}` runs it now",
                    c.data_dir().display(),
                    config.display(),
                    config.display()
                );
            }
        }
        Control::Pause if paused => {
            say!("{name} is already paused; nothing changed (`hub resume {name}` resumes it)");
        }
        Control::Pause => {
            store.set_paused(name, true).await?;
            say!("{name} paused: scheduled runs are skipped until `hub resume {name}`");
        }
        Control::Resume if !paused => {
            say!("{name} is not paused; nothing changed");
        }
        Control::Resume => {
            store.set_paused(name, false).await?;
            say!("{name} resumed");
        }
    }
    store.close().await;
    Ok(true)
}

/// `hub demo`: replaces this process with `hub-demo` from this binary's folder, passing the log
/// format and `args`. Returns only on failure: exit 2 with how to build it when this build has
/// none (production builds leave the simulators out), 1 when it cannot be started.
fn demo(log_format: LogFormat, args: Vec<std::ffi::OsString>) -> Failure {
    use std::os::unix::process::CommandExt as _;
    let path = std::env::current_exe()
        .map(|exe| exe.with_file_name("hub-demo"))
        .unwrap_or_else(|_| PathBuf::from("hub-demo"));
    if !path.is_file() {
        say_err!(
            "error: this build of hub has no demo ({} not found): build it with `cargo build --release -p hub --features demo`, or run scripts/demo",
            path.display()
        );
        return Failure::Exit(2);
    }
    let mut command = std::process::Command::new(&path);
    if let LogFormat::Json = log_format {
        command.args(["--log-format", "json"]);
    }
    let e = command.args(args).exec();
    Failure::Other(anyhow::anyhow!("cannot start {}: {e}", path.display()))
}

async fn run(cli: Cli) -> Result<bool, Failure> {
    match cli.command {
        Command::Run { config } => {
            // One daemon per data directory: a second one would run the same syncs' schedules
            // and overwrite admin.url (the lock goes with the process, however it ends).
            let data_dir = load(&config)?.data_dir();
            let _daemon_lock = lock_data_dir(&data_dir)?;
            let mut hub = build_for_daemon(&config).await?;
            let telemetry = start_telemetry(&hub.config);
            let mut signals = signals();
            hub::metrics::install()?;
            hub::metrics::config_reload(true);
            hub.record_loaded();
            hub.start_live_checks();
            let admin = match hub.config.admin.enabled {
                true => Some(hub::admin::Server::start(&hub.config, hub.admin_view()).await?),
                false => None,
            };
            tracing::info!(syncs = hub.syncs.len(), "daemon started");
            'daemon: loop {
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let reloaded;
                {
                    let scheduled = hub.run_scheduled(stopped, None);
                    tokio::pin!(scheduled);
                    loop {
                        tokio::select! {
                            () = &mut scheduled => break 'daemon,
                            signal = signals.recv() => match signal {
                                Some(Signal::Reload) => {
                                    tracing::info!("SIGHUP: reloading the configuration and the plugins");
                                    // The admin tokens are read with the configuration:
                                    // a token that cannot be read refuses the reload.
                                    let built = match build_for_daemon(&config).await {
                                        Ok(new) if admin.is_some() => hub::admin::tokens(&new.config)
                                            .map(|t| (new, Some(t)))
                                            .map_err(Failure::Other),
                                        Ok(new) => Ok((new, None)),
                                        Err(f) => Err(f),
                                    };
                                    match built {
                                        Ok(new) => {
                                            tracing::info!("new configuration loaded; the runs in flight finish first");
                                            hub::metrics::config_reload(true);
                                            let _ = stop.send(true);
                                            (&mut scheduled).await;
                                            reloaded = Some(new);
                                            break;
                                        }
                                        Err(f) => {
                                            let why = match f {
                                                Failure::Config(e) => e.to_string(),
                                                Failure::Deployment(p) => p.join("\n"),
                                                Failure::Other(e) | Failure::StoreConfig(e) => {
                                                    hub::report::error_chain(&e)
                                                }
                                                Failure::Exit(code) => format!("exit code {code}"),
                                            };
                                            tracing::error!("reload refused, the running configuration stays: {}", why.replace('\n', "; "));
                                            hub::metrics::config_reload(false);
                                            if let Some(a) = &admin {
                                                a.update(hub::admin::View {
                                                    reload_refused: Some(why.replace('\n', "; ")),
                                                    ..hub.admin_view()
                                                });
                                            }
                                        }
                                    }
                                }
                                Some(Signal::Stop) | None => {
                                    tracing::info!("shutting down: the runs in flight finish first");
                                    let _ = stop.send(true);
                                    (&mut scheduled).await;
                                    break 'daemon;
                                }
                            },
                        }
                    }
                }
                let (mut new, tokens) = reloaded.expect("set before leaving the inner loop");
                new.record_loaded();
                new.start_live_checks();
                if let Some(a) = &admin {
                    a.update(new.admin_view());
                    if let Some(t) = tokens {
                        a.update_tokens(t);
                    }
                }
                hub.engine.store().close().await;
                hub = new;
                tracing::info!(
                    syncs = hub.syncs.len(),
                    "daemon running the new configuration"
                );
            }
            if let Some(a) = admin {
                a.stop();
            }
            hub.engine.store().close().await;
            if let Some(t) = telemetry {
                t.shutdown().await;
            }
            tracing::info!("daemon stopped");
            Ok(true)
        }
        Command::Sync {
            name,
            plan: true,
            json,
            config,
            ..
        } => {
            let (plan, zone) = plan(&name, &config).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&plan).map_err(anyhow::Error::from)?
                );
            } else {
                print!("{}", plan.text(zone));
            }
            Ok(true)
        }
        Command::Resync {
            name,
            side,
            since,
            config,
        } => resync(&name, side.as_deref(), since.as_deref(), &config).await,
        Command::Sync {
            name,
            once: _,
            config,
            ..
        } => {
            let c = load(&config)?;
            if !c.syncs.contains_key(&name) {
                let known: Vec<&str> = c.syncs.keys().map(String::as_str).collect();
                return Err(Failure::Deployment(vec![format!(
                    "{}: no sync {name:?} (known: {})",
                    config.display(),
                    known.join(", ")
                )]));
            }
            refuse_unsigned_of(&c, &name)?;
            let hub = Hub::build(c).await?;
            if !hub.syncs.contains_key(&name) {
                return Err(Failure::Deployment(hub.problems.clone()));
            }
            for p in &hub.problems {
                say_err!("warning: {p}");
            }
            let telemetry = start_telemetry(&hub.config);
            let outcome = hub.run_once(&name, "manual").await;
            if let Some(t) = telemetry {
                t.shutdown().await;
            }
            let outcome = outcome?;
            let s = &hub.syncs[&name];
            let rows = report::directions(
                &outcome.stats,
                &s.spec.a.plugin.name,
                &s.spec.b.plugin.name,
                s.spec.direction,
            );
            print!("{}", report::table(&outcome, &rows));
            if let Some(old) = outcome.resumed_from {
                say!(
                    "  run {old} of {name} was interrupted before it finished (its process stopped); \
                     this run went on from the batches it had committed"
                );
            }
            let recovered = outcome.stats.a.recovered + outcome.stats.b.recovered;
            if recovered > 0 {
                say!(
                    "  {recovered} writes an interrupted run made but did not record were found in the systems \
                     and recorded now (audit: recovered)"
                );
            }
            hub.engine.store().close().await;
            Ok(outcome.status != RunStatus::Failed)
        }
        Command::Reconcile {
            name,
            config,
            json,
            csv,
        } => {
            let report = reconcile(&name, &config).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&report).map_err(anyhow::Error::from)?
                );
            } else if csv {
                use std::io::Write as _;
                std::io::stdout()
                    .write_all(&report.csv()?)
                    .map_err(anyhow::Error::from)?;
            } else {
                print!("{}", report.text());
            }
            Ok(true)
        }
        Command::Stats {
            section,
            config,
            json,
            csv,
            encoding,
        } => {
            let st = stats(&config, section).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&st).map_err(anyhow::Error::from)?
                );
            } else if csv {
                use std::io::Write as _;
                std::io::stdout()
                    .write_all(&st.csv(encoding)?)
                    .map_err(anyhow::Error::from)?;
            } else {
                print!("{}", st.text());
            }
            Ok(true)
        }
        Command::Demo { args } => Err(demo(cli.log_format, args)),
        Command::Plugin {
            action: PluginAction::Inspect { file, json },
        } => Ok(hub::plugin_cli::inspect(&file, json).await?),
        Command::Plugin {
            action:
                PluginAction::Test {
                    file,
                    fixtures,
                    record,
                    live,
                    link_all_wasi,
                    secrets,
                    write_expect,
                },
        } => {
            let pairs = |option: &str, what: &str, list: &[String]| {
                list.iter()
                    .map(|kv| {
                        kv.split_once('=')
                            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .ok_or_else(|| anyhow::anyhow!("{option} {kv:?}: expected {what}"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            };
            let opts = hub::plugin_test::Options {
                file,
                fixtures,
                record,
                live: pairs("--live", "KEY=URL", &live)?,
                link_all_wasi,
                secrets: pairs("--secret", "NAME=ENV", &secrets)?,
                write_expect,
            };
            Ok(hub::plugin_test::run_and_print(&opts).await?)
        }
        Command::Plugin {
            action: PluginAction::Sign { key, file },
        } => {
            let (sig, id) = hub::plugin_signature::sign_file(&key, &file)?;
            say!("{}: signed by key {id}", sig.display());
            Ok(true)
        }
        Command::Plugin {
            action: PluginAction::Verify { pubkey, file },
        } => match hub::plugin_signature::verify_file(&pubkey, &file) {
            Ok(id) => {
                say!("{}: good signature by key {id}", file.display());
                Ok(true)
            }
            Err(why) => Err(Failure::Deployment(vec![format!(
                "{}: {why}",
                file.display()
            )])),
        },
        Command::Plugin {
            action: PluginAction::Keygen { out },
        } => {
            let (line, id) = hub::plugin_signature::keygen(&out)?;
            say!("key {id}; for hub.trusted_keys:");
            say!("{line}");
            Ok(true)
        }
        Command::Plugin {
            action: PluginAction::New { name, dir, sdk },
        } => {
            let made = hub::plugin_new::scaffold(&name, &dir, sdk.as_deref())?;
            say!("created {}", made.display());
            say!(
                "  cd {} && cargo test && cargo build --profile plugin --target wasm32-wasip2",
                made.display()
            );
            say!(
                "  hub plugin test target/wasm32-wasip2/plugin/{}.wasm --fixtures fixtures",
                name.replace('-', "_")
            );
            Ok(true)
        }
        Command::DeadLetters {
            action: DeadLetterAction::List { config, sync, json },
        } => {
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
                    hub::local_time::for_people(&d.created_at, zone)
                );
                for e in &d.errors {
                    say!("    {}", hub::dead_letter_reasons::for_people(e));
                }
            })?;
            Ok(true)
        }
        Command::DeadLetters {
            action: DeadLetterAction::Show { id, config, json },
        } => {
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
                say!("  {}", hub::dead_letter_reasons::for_people(e));
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
        Command::DeadLetters {
            action:
                DeadLetterAction::Replay {
                    id,
                    all: _,
                    sync,
                    config,
                },
        } => {
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
        Command::Conflicts { action } => {
            let print = |c: &hub::store::Conflict| {
                let what = match c.kind {
                    hub::store::ConflictKind::Write => format!("refused by {}", c.side.as_str()),
                    hub::store::ConflictKind::Park => "parked".to_string(),
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
                    (None, Some(hub::store::Decision::Take(t))) => {
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
            };
            match action {
                ConflictAction::List {
                    config,
                    sync,
                    all,
                    json,
                } => {
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
                }
                ConflictAction::Show { id, config } => {
                    let store = store_of(&config).await?;
                    let c = store.conflict(id).await?.ok_or_else(|| {
                        anyhow::anyhow!("no conflict {id} in {}", config.display())
                    })?;
                    print(&c);
                }
                ConflictAction::Resolve {
                    id,
                    take,
                    replace,
                    reason,
                    config,
                } => {
                    let c = load(&config)?;
                    let keys = hub::daemon::state_keys(&c, false)?;
                    let store = hub::store::Store::open(&c.store_url())
                        .await?
                        .with_audit_key(keys.audit_key());
                    let side = if take == "a" {
                        hub::store::Side::A
                    } else {
                        hub::store::Side::B
                    };
                    let conflict = store.conflict(id).await?.ok_or_else(|| {
                        anyhow::anyhow!(
                            "no conflict {id} in the state store of {}",
                            config.display()
                        )
                    })?;
                    if conflict.status != "open" {
                        return Err(anyhow::anyhow!(
                            "conflict {id} is {} ({}); there is nothing left to decide",
                            conflict.status,
                            conflict
                                .resolution
                                .as_deref()
                                .unwrap_or("no resolution recorded")
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
                    let decision = hub::store::Decision::Take(side);
                    let plugins = c
                        .syncs
                        .get(&conflict.sync)
                        .map(|s| [s.a.plugin.get_ref().as_str(), s.b.plugin.get_ref().as_str()]);
                    let (_, decided) = hub::sync::decide::record_decision(
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
                }
            }
            Ok(true)
        }
        Command::Runs {
            config,
            sync,
            limit,
            json,
        } => {
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
                    hub::local_time::for_people(&r.started_at, zone),
                    r.error.as_deref().unwrap_or("")
                );
            })?;
            Ok(true)
        }
        Command::Trigger { name, config } => control(&name, &config, Control::Trigger).await,
        Command::Pause { name, config } => control(&name, &config, Control::Pause).await,
        Command::Resume { name, config } => control(&name, &config, Control::Resume).await,
        Command::Schedule { config, next } => {
            let c = load(&config)?;
            let store = hub::store::Store::open(&c.store_url()).await?;
            let now = chrono::Utc::now();
            for (name, s) in &c.syncs {
                let sched =
                    hub::schedule::Schedule::parse(s.schedule.get_ref(), s.timezone.get_ref())
                        .map_err(anyhow::Error::from)?;
                let state = store.schedule_state(name).await?;
                let flags = [
                    (!s.enabled).then_some("disabled"),
                    state.paused.then_some("paused"),
                    state.trigger_requested.then_some("run requested"),
                ];
                let flags: Vec<&str> = flags.into_iter().flatten().collect();
                say!(
                    "{name}: {sched}{}",
                    if flags.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", flags.join(", "))
                    }
                );
                if let Some(h) = state.handled_through {
                    say!(
                        "  handled through {}",
                        h.with_timezone(&sched.timezone()).to_rfc3339()
                    );
                }
                for t in sched.upcoming(now, next) {
                    say!("  {}", t.to_rfc3339());
                }
            }
            store.close().await;
            Ok(true)
        }
        Command::Check { config } => {
            let c = load(&config)?;
            let report = hub::check::check(&c).await?;
            for line in &report.lines {
                say!("{line}");
            }
            say!("{}", report.summary());
            match report.exit_code() {
                0 => Ok(true),
                code => Err(Failure::Exit(code)),
            }
        }
        Command::Audit {
            action: AuditAction::Verify { config, witness },
        } => {
            let c = load(&config)?;
            let keys = hub::daemon::state_keys(&c, false)?;
            let seen = match witness.as_deref().map(hub::audit_witness::read) {
                Some(Err(e)) => {
                    say!("{e}");
                    return Ok(false);
                }
                Some(Ok(seen)) => Some(seen),
                None => None,
            };
            let store = hub::store::Store::open(&c.store_url()).await?;
            let verdict = store.verify_audit(&keys.audit_key()).await?;
            let witnessed = match (&verdict, &seen) {
                (Ok(_), Some(seen)) => Some(hub::audit_witness::check(&store, seen).await?),
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
        Command::Audit {
            action:
                AuditAction::List {
                    config,
                    sync,
                    limit,
                    json,
                },
        } => {
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
        Command::Schema { action } => std::process::exit(i32::from(match action {
            SchemaAction::List => hub::schema_cli::list_main(),
            SchemaAction::Validate { name, files } => hub::schema_cli::validate_main(&name, &files),
        })),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match run(cli).await {
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
            say_err!("error: {}", hub::report::error_chain(&e));
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            say_err!("error: {}", hub::report::error_chain(&e));
            ExitCode::from(1)
        }
        Err(Failure::Exit(code)) => ExitCode::from(code),
    }
}
