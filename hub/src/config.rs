//! The deployment configuration: one TOML file (TOML 1.0).
//!
//! ```toml
//! [hub]
//! data_dir = "/var/lib/hub"                 # state database and state key live here
//! timezone = "Asia/Shanghai"                # IANA name: the zone people see times in
//!
//! [plugins.zhenfeng-registry]
//! path = "plugins/zhenfeng_registry.wasm"   # relative to this file
//! allow_hosts = ["http://10.1.2.3:8080"]    # origins the plugin may call
//! secrets.username = { env = "ZF_USER" }    # or { file = "..." } or { value = "..." }
//! secrets.password = { file = "/etc/hub/zf-password" }
//! config = { base_url = "http://10.1.2.3:8080" }   # handed to the plugin's open()
//! sha256 = "…"                              # optional pin of the component file
//! limits = { memory_mib = 256, cpu_ms_per_call = 30000 }   # see `Limits`
//! rate_limit = { requests_per_second = 20, burst = 1 }   # the system's budget: see `RateLimit`
//!
//! [syncs.workers]
//! schema = "worker"
//! a = { plugin = "zhenfeng-registry", stream = "workers", where = { "/workplace/countyCode" = "441303" } }
//! b = { plugin = "huiyang-esms", stream = "zhenfeng-workers" }
//! direction = "both"                        # a_to_b | b_to_a | both
//! schedule = "*/5 * * * *"                  # crontab(5), optional leading seconds field
//! timezone = "Asia/Shanghai"                # IANA name
//! overlap = "skip"                          # or "queue_one": fire times passing during a run
//! catch_up_window = "1h"                    # missed while down and newer than this: one run
//! jitter = "0s"                             # random delay after each fire time
//! # per field: a_wins (list `a`), b_wins (`b`), newest_wins (`newest`), park (`park`)
//! merge = { default = "newest_wins", a = ["/name"], b = ["/status"], newest = ["/phone"] }
//! # newest_wins with clocks up to 5 minutes apart: closer changes go to a person
//! # merge = { …, clock_skew = "5m", within_skew = "park" }   # or "a_wins" (default), "b_wins"
//! deletes = { a = { "/status" = "returned_home" }, b = { "/status" = "left" } }
//! ```
//!
//! `${NAME}` and `${NAME:-default}` are replaced by environment variables before parsing (`$$`
//! is a literal `$`); an unset variable without a default is an error naming its line. Errors
//! name the file, line and column (columns count in the text after substitution).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 if unknown.
    pub line: usize,
    /// 1-based column, 0 if unknown.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.message),
            _ => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            ),
        }
    }
}

/// Every problem found in a configuration file (all are reported, not only the first).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The whole deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Daemon-wide settings.
    pub hub: HubConfig,
    /// Connector plugins by name.
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Syncs by name.
    #[serde(default)]
    pub syncs: BTreeMap<String, SyncConfig>,
    /// The admin HTTP API and status page of `hub run`.
    #[serde(default)]
    pub admin: AdminConfig,
    /// OpenTelemetry traces (off unless `otlp_endpoint` is set).
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// The file this was read from.
    #[serde(skip)]
    pub file: PathBuf,
    /// Its text after `${...}` substitution (for locating later problems).
    #[serde(skip)]
    pub source: String,
}

/// `[hub]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// Directory for the state database and the generated state key (relative to the config
    /// file's directory).
    pub data_dir: PathBuf,
    /// State store URL: `sqlite://PATH` (default `sqlite://<data_dir>/state.db`) or
    /// `postgres://USER@HOST:PORT/DATABASE`, which several daemons can share (each run is
    /// claimed by one of them; see `lease_ttl`).
    #[serde(default)]
    pub store: Option<String>,
    /// How long a run's lease lasts unless renewed (renewed every quarter of it): a daemon that
    /// dies or is paused holds its run up for at most this long before another daemon on the
    /// same store takes it over. Humantime syntax (`"2m"`, `"30s"`); default 2 minutes; at
    /// least 4 seconds.
    #[serde(default = "default_lease_ttl", with = "humantime_serde")]
    pub lease_ttl: std::time::Duration,
    /// The 32-byte state key (64 hex digits) that keys hashes and seals snapshots. Default: the
    /// file `<data_dir>/state.key`, created with a random key on first start.
    #[serde(default)]
    pub state_key: Option<SecretSource>,
    /// IANA time zone in which people see times (status page, command line); default
    /// Asia/Shanghai. The admin API gives every time in RFC 3339, UTC (`Z`).
    #[serde(default = "default_timezone")]
    pub timezone: Spanned<String>,
    /// Load only plugins signed by one of `trusted_keys` (default false): each component
    /// `NAME.wasm` needs its detached minisign signature `NAME.wasm.minisig` beside it
    /// ([`crate::plugin_signature`]); `hub run` does not start while a plugin is refused.
    #[serde(default)]
    pub require_signed: bool,
    /// Minisign public keys (the base64 line of a `minisign.pub` file, `RW…`) whose
    /// signatures `require_signed` accepts. Unused unless `require_signed` is set.
    #[serde(default)]
    pub trusted_keys: Vec<Spanned<String>>,
    /// The audit witness ([`crate::audit_witness`]): an append-only file (relative to the
    /// config file's directory; keep it off the state store's disk) that gets the audit
    /// chain's head after every run, for `hub audit verify --witness FILE`. Default: none.
    #[serde(default)]
    pub audit_witness: Option<PathBuf>,
}

/// `[telemetry]`: OpenTelemetry traces of runs, batches and plugin calls ([`crate::telemetry`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Base URL of an OTLP/HTTP collector (`http://127.0.0.1:4318`; spans are posted as JSON
    /// to `<otlp_endpoint>/v1/traces`). Absent or empty: no spans are exported. Read at start;
    /// a SIGHUP reload keeps the exporter the daemon started with.
    #[serde(default)]
    pub otlp_endpoint: Option<Spanned<String>>,
    /// The spans' `service.name` (default `hub`).
    #[serde(default)]
    pub service_name: Option<String>,
}

impl TelemetryConfig {
    /// The collector's base URL, if spans are to be exported.
    pub fn endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_ref()
            .map(|e| e.get_ref().trim())
            .filter(|e| !e.is_empty())
    }

    /// The spans' `service.name`.
    pub fn service_name(&self) -> &str {
        self.service_name.as_deref().unwrap_or("hub")
    }
}

/// `[admin]`: the admin HTTP API and status page that `hub run` serves (see [`crate::admin`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve it at all (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Socket address to bind, `host:port` (default `127.0.0.1:8470`, this machine only; port
    /// 0 picks a free port, written to `<data_dir>/admin.url`).
    #[serde(default = "default_admin_listen")]
    pub listen: Spanned<String>,
    /// The bearer token. Default: the file `<data_dir>/admin.token`, created with a random
    /// token (32 bytes, hex) on first start, readable by the daemon's user only.
    #[serde(default)]
    pub token: Option<SecretSource>,
    /// Named tokens with a role (`[[admin.tokens]]`): `name`, `role` (`viewer` or
    /// `operator`) and `token` (a secret source, as `[admin] token`). Read again on SIGHUP,
    /// so a token is added, rotated or withdrawn without a restart (sessions signed in with a
    /// withdrawn token end). `[admin] token` stays an operator named `admin`; with named
    /// tokens and no `[admin] token`, no `admin.token` file is made or read.
    #[serde(default)]
    pub tokens: Vec<NamedToken>,
    /// HTTPS: the certificate chain (PEM, the server's certificate first, then the
    /// intermediates), relative to the config file's directory. Set with `tls_key`, or
    /// neither (plain HTTP, for this machine only). Both files are read again on SIGHUP; the
    /// new certificate serves new connections, and one that cannot be read leaves the old.
    #[serde(default)]
    pub tls_cert: Option<Spanned<PathBuf>>,
    /// HTTPS: the certificate's private key (PEM: PKCS #8, PKCS #1 RSA or SEC1 EC), relative
    /// to the config file's directory. Set with `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<Spanned<PathBuf>>,
}

impl Default for AdminConfig {
    fn default() -> AdminConfig {
        AdminConfig {
            enabled: true,
            listen: default_admin_listen(),
            token: None,
            tokens: Vec::new(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// What a token of the admin API may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the API and the pages; personal values are shown masked.
    Viewer,
    /// Also triggers, pauses and resumes syncs, replays dead letters and settles conflicts,
    /// seeing the conflicting values in clear (each such view is audited).
    Operator,
}

impl Role {
    /// `viewer` or `operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

/// One `[[admin.tokens]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedToken {
    /// Who holds it, as the audit log and the daemon's log name them (letters, digits, `.`,
    /// `_`, `-`; unique).
    pub name: Spanned<String>,
    /// Its role.
    pub role: Spanned<Role>,
    /// The secret (at least 16 characters once read).
    pub token: SecretSource,
}

fn yes() -> bool {
    true
}

fn default_admin_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8470".to_string())
}

/// Where a secret comes from. Exactly one of the four keys.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretSource {
    /// `{ env = "NAME" }`: an environment variable of the daemon.
    Env {
        /// Variable name.
        env: String,
    },
    /// `{ file = "/path" }`: a file's content, trailing newline removed.
    File {
        /// Path (relative to the config file's directory).
        file: PathBuf,
    },
    /// `{ value = "..." }`: inline (for demos and tests; prefer env or file in production).
    Value {
        /// The secret itself.
        value: String,
    },
    /// `{ credential = "NAME" }`: a systemd credential (`LoadCredential=NAME:PATH` in the
    /// unit, systemd.exec(5)): the file `$CREDENTIALS_DIRECTORY/NAME`, trailing newline removed.
    Credential {
        /// The credential's name (a file name: no `/`).
        credential: String,
    },
}

impl SecretSource {
    /// Reads the secret. Errors name the variable or file, never the value.
    pub fn resolve(&self, config_dir: &Path) -> Result<String, String> {
        let creds = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        self.resolve_with(config_dir, creds.as_deref())
    }

    /// [`SecretSource::resolve`] with the credentials directory given (`None`: unset).
    pub fn resolve_with(
        &self,
        config_dir: &Path,
        credentials_dir: Option<&Path>,
    ) -> Result<String, String> {
        match self {
            SecretSource::Credential { credential } => {
                if credential.is_empty()
                    || credential.contains('/')
                    || credential == "."
                    || credential == ".."
                {
                    return Err(format!(
                        "credential {credential:?}: not a credential name (a file name, no '/')"
                    ));
                }
                let dir = credentials_dir.ok_or_else(|| {
                    format!(
                        "credential {credential}: CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit with LoadCredential={credential}:PATH; outside systemd use {{ file = \"PATH\" }})"
                    )
                })?;
                let p = dir.join(credential);
                std::fs::read_to_string(&p)
                    .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                    .map_err(|e| {
                        format!("credential {credential}: cannot read {}: {e}", p.display())
                    })
            }
            SecretSource::Env { env } => {
                std::env::var(env).map_err(|_| format!("environment variable {env} is not set"))
            }
            SecretSource::File { file } => {
                let p = config_dir.join(file);
                std::fs::read_to_string(&p)
                    .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                    .map_err(|e| format!("cannot read secret file {}: {e}", p.display()))
            }
            SecretSource::Value { value } => Ok(value.clone()),
        }
    }
}

/// `[plugins.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The component file (`.wasm`), relative to the config file's directory.
    pub path: Spanned<PathBuf>,
    /// Origins (`scheme://host[:port]`) the plugin may send HTTP requests to. Nothing else is
    /// reachable.
    #[serde(default)]
    pub allow_hosts: Vec<Spanned<String>>,
    /// Secrets the plugin may name in `{{secret:NAME}}` placeholders.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Settings handed to the plugin's `open` as a JSON object.
    #[serde(default)]
    pub config: toml::Table,
    /// Resource limits for each call into the plugin.
    #[serde(default)]
    pub limits: Limits,
    /// Expected SHA-256 of the component file (64 hex digits); a different file is refused.
    #[serde(default)]
    pub sha256: Option<Spanned<String>>,
    /// Link every WASI 0.2 interface (files and sockets too) with nothing granted through them:
    /// no preopened directory, every socket refused, an empty environment. For components
    /// whose language runtime imports interfaces it does not use (a Python component made by
    /// componentize-py imports `wasi:filesystem` and `wasi:sockets`). Default `false`: a
    /// component importing them is refused at load.
    #[serde(default)]
    pub link_all_wasi: bool,
    /// The system's request budget, shared by every sync and run using this plugin (one
    /// plugin, one system) and divided among the daemons using it on the state store. `None`
    /// (the default): no limit.
    #[serde(default)]
    pub rate_limit: Option<Spanned<RateLimit>>,
}

/// `[plugins.NAME] rate_limit = { requests_per_second = 20, burst = 1 }`: how fast the hub may
/// send requests to the plugin's system, all syncs and daemons together. Requests over it wait
/// their turn in the host (in arrival order), so a long run slows the others instead of making
/// the system answer 429. Over any t seconds at most `burst + requests_per_second · t`
/// requests go: a system that counts requests in each one-second window, as HY-ESMS does
/// (20/s), sees at most `burst + requests_per_second - 1`. Time a request waits for its slot
/// counts toward its call's wall-clock limit (`limits.call_timeout_secs`), not its CPU time.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per second, all the daemons on the store together (a number greater than 0,
    /// fractions allowed); each of n daemons using the plugin takes 1/n of it.
    pub requests_per_second: f64,
    /// Requests that may go at once after a quiet spell (at least 1; default 1: evenly
    /// spaced).
    #[serde(default = "RateLimit::default_burst")]
    pub burst: u32,
}

impl RateLimit {
    const fn default_burst() -> u32 {
        1
    }
}

/// Per-plugin limits. Defaults suit the connectors shipped here. An exhausted limit ends that
/// call with an error naming the plugin, the call and the limit; the run records it.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Linear memory per instance, MiB.
    #[serde(default = "Limits::default_memory_mib")]
    pub memory_mib: u64,
    /// Time one call may spend running guest code, milliseconds (time waiting in the host for
    /// HTTP does not count).
    #[serde(default = "Limits::default_cpu_ms_per_call")]
    pub cpu_ms_per_call: u64,
    /// Wall-clock time one call (`read`, `write`, …) may take, seconds.
    #[serde(default = "Limits::default_call_timeout_secs")]
    pub call_timeout_secs: u64,
    /// Tables per instance (a component's core modules each have some).
    #[serde(default = "Limits::default_tables")]
    pub tables: u32,
    /// Elements per table.
    #[serde(default = "Limits::default_table_elements")]
    pub table_elements: u32,
    /// Core instances per store.
    #[serde(default = "Limits::default_instances")]
    pub instances: u32,
    /// Largest record (its JSON text) a `read` may return, KiB.
    #[serde(default = "Limits::default_max_record_kib")]
    pub max_record_kib: u64,
    /// Largest cursor a `read` may return, KiB.
    #[serde(default = "Limits::default_max_cursor_kib")]
    pub max_cursor_kib: u64,
    /// Time one HTTP request may take, seconds: for the answer's head, then for its whole body
    /// when the host reads it for the plugin (`send`); a body the plugin streams
    /// (`send-streaming`) may take this long between two chunks, with no limit in all.
    #[serde(default = "Limits::default_http_timeout_secs")]
    pub http_timeout_secs: u64,
    /// Largest HTTP response body handed to the plugin, MiB.
    #[serde(default = "Limits::default_max_response_mib")]
    pub max_response_mib: u64,
    /// HTTP retries (after 429, 503, a timeout or a dropped connection) the host makes for the
    /// plugin in one sync run, all requests together; once spent, failures go to the plugin
    /// as they come, and the records concerned wait for the next run.
    #[serde(default = "Limits::default_retries_per_run")]
    pub retries_per_run: u32,
    /// Response bodies a plugin may hold open at once (`send-streaming` bodies not yet
    /// dropped) in one instance. Each holds a connection, hence a file descriptor of the
    /// daemon; a request past the cap fails that call alone (`invalid`), nothing is sent.
    #[serde(default = "Limits::default_max_open_bodies")]
    pub max_open_bodies: u32,
}

impl Limits {
    const fn default_memory_mib() -> u64 {
        256
    }
    const fn default_call_timeout_secs() -> u64 {
        300
    }
    const fn default_cpu_ms_per_call() -> u64 {
        30_000
    }
    const fn default_tables() -> u32 {
        32
    }
    const fn default_table_elements() -> u32 {
        1 << 20
    }
    const fn default_instances() -> u32 {
        32
    }
    const fn default_max_record_kib() -> u64 {
        1024
    }
    const fn default_max_cursor_kib() -> u64 {
        64
    }
    const fn default_http_timeout_secs() -> u64 {
        30
    }
    const fn default_max_response_mib() -> u64 {
        128
    }
    const fn default_retries_per_run() -> u32 {
        100
    }
    const fn default_max_open_bodies() -> u32 {
        16
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_mib: Limits::default_memory_mib(),
            cpu_ms_per_call: Limits::default_cpu_ms_per_call(),
            call_timeout_secs: Limits::default_call_timeout_secs(),
            tables: Limits::default_tables(),
            table_elements: Limits::default_table_elements(),
            instances: Limits::default_instances(),
            max_record_kib: Limits::default_max_record_kib(),
            retries_per_run: Limits::default_retries_per_run(),
            max_cursor_kib: Limits::default_max_cursor_kib(),
            http_timeout_secs: Limits::default_http_timeout_secs(),
            max_response_mib: Limits::default_max_response_mib(),
            max_open_bodies: Limits::default_max_open_bodies(),
        }
    }
}

/// Which way records flow.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From `a` to `b` only.
    AToB,
    /// From `b` to `a` only.
    BToA,
    /// Both ways, merged field by field.
    #[default]
    Both,
}

impl Direction {
    /// The config's spelling: `a_to_b`, `b_to_a` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::AToB => "a_to_b",
            Direction::BToA => "b_to_a",
            Direction::Both => "both",
        }
    }
}

/// `[syncs.NAME]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// The shared schema both endpoints speak (e.g. `worker`).
    pub schema: Spanned<String>,
    /// First endpoint.
    pub a: Endpoint,
    /// Second endpoint.
    pub b: Endpoint,
    /// Which way records flow.
    #[serde(default)]
    pub direction: Direction,
    /// When to run: crontab(5) with an optional leading seconds field.
    pub schedule: Spanned<String>,
    /// IANA time zone of the schedule.
    #[serde(default = "default_timezone")]
    pub timezone: Spanned<String>,
    /// Natural key as JSON pointers; default: the schema's `x-key`.
    #[serde(default)]
    pub key: Option<Spanned<Vec<String>>>,
    /// Field-level merge policy for `both`.
    #[serde(default = "default_merge")]
    pub merge: Spanned<MergeConfig>,
    /// How each side shows an ended record (see [`DeletesConfig`]).
    #[serde(default = "default_deletes")]
    pub deletes: Spanned<DeletesConfig>,
    /// Records per `read`/`write` call.
    #[serde(default = "default_batch_size")]
    pub batch_size: Spanned<u32>,
    /// A disabled sync is loaded and checked but never scheduled.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Fire times that pass while a run is still going: `skip` them, or `queue_one` run after.
    #[serde(default)]
    pub overlap: Overlap,
    /// Fire times missed while the daemon was down are caught up (with one run) if the latest
    /// is at most this old; a duration such as `"1h"` or `"90s"` (humantime syntax).
    #[serde(default = "default_catch_up_window", with = "humantime_serde")]
    pub catch_up_window: std::time::Duration,
    /// Largest random delay after each fire time (never reaching the next), e.g. `"30s"`.
    #[serde(default, with = "humantime_serde")]
    pub jitter: std::time::Duration,
}

/// What happens to fire times that pass while a run of the same sync is still going.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// They are skipped.
    #[default]
    Skip,
    /// They collapse into one run right after.
    QueueOne,
}

const fn default_lease_ttl() -> std::time::Duration {
    std::time::Duration::from_secs(120)
}

const fn default_catch_up_window() -> std::time::Duration {
    std::time::Duration::from_secs(3600)
}

fn default_timezone() -> Spanned<String> {
    Spanned::new(0..0, "Asia/Shanghai".to_string())
}

fn default_merge() -> Spanned<MergeConfig> {
    Spanned::new(0..0, MergeConfig::default())
}

fn default_deletes() -> Spanned<DeletesConfig> {
    Spanned::new(0..0, DeletesConfig::default())
}

fn default_batch_size() -> Spanned<u32> {
    Spanned::new(0..0, 200)
}

const fn default_true() -> bool {
    true
}

/// One end of a sync.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Plugin name (a key of `[plugins]`).
    pub plugin: Spanned<String>,
    /// Stream of that plugin.
    pub stream: String,
    /// Only records whose value at each JSON pointer equals the given value take part.
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, toml::Value>,
}

/// Who decides a field's value when both sides hold the record and it changed since the key
/// last settled. The names with `_wins` are the usual names of these policies; the short
/// names are kept as aliases.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum FieldPolicy {
    /// System `a` is the system of record: its change wins, a change made on `b` is
    /// overwritten (`a_wins`, or `a`).
    #[serde(rename = "a_wins", alias = "a")]
    A,
    /// System `b` is the system of record (`b_wins`, or `b`).
    #[serde(rename = "b_wins", alias = "b")]
    B,
    /// The side that changed it since the last sync; if both did, the later of the two
    /// systems' own update times (`updated-at` of the records read); equal times, or a time
    /// missing on either side, go to `a` (`newest_wins`, or `newest`).
    #[default]
    #[serde(rename = "newest_wins", alias = "newest")]
    Newest,
    /// The side that changed it, if only one did; if both changed it to different values, the
    /// whole record is parked: nothing is written for its key until a person decides
    /// (`hub conflicts resolve ID --take a|b`) or the two sides come to agree (`park`).
    #[serde(rename = "park")]
    Park,
}

/// `merge = { default = "newest_wins", a = [...], b = [...], newest = [...], park = [...] }`:
/// JSON pointers per policy; fields not listed follow `default`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MergeConfig {
    /// Policy for fields not listed.
    #[serde(default)]
    pub default: FieldPolicy,
    /// Fields whose system of record is `a`.
    #[serde(default)]
    pub a: Vec<String>,
    /// Fields whose system of record is `b`.
    #[serde(default)]
    pub b: Vec<String>,
    /// Fields the newer change wins.
    #[serde(default)]
    pub newest: Vec<String>,
    /// Fields whose conflicting changes wait for a person.
    #[serde(default)]
    pub park: Vec<String>,
    /// How far apart the two systems' clocks may be (humantime, `"5m"`; default `0s`): two
    /// changes of a `newest_wins` field whose update times are this close or closer cannot be
    /// ordered by the clocks, and `within_skew` decides them. Set it to the largest difference
    /// between the systems' clocks you expect (ZF-REG's local 更新时间 against HY-ESMS's
    /// `updatedAt`).
    #[serde(default, with = "humantime_serde")]
    pub clock_skew: std::time::Duration,
    /// Who decides two changes within `clock_skew` of each other, or a change without an update
    /// time: `a_wins` (the default), `b_wins`, or `park` (a person decides).
    #[serde(default)]
    pub within_skew: Concurrent,
}

/// The fallback of `newest_wins` for changes its clocks cannot order (see
/// [`MergeConfig::clock_skew`]).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum Concurrent {
    /// System `a`'s change stands.
    #[default]
    #[serde(rename = "a_wins", alias = "a")]
    A,
    /// System `b`'s change stands.
    #[serde(rename = "b_wins", alias = "b")]
    B,
    /// The record waits for a person.
    #[serde(rename = "park")]
    Park,
}

impl MergeConfig {
    /// The policy of every listed pointer.
    pub fn rules(&self) -> Vec<(String, FieldPolicy)> {
        let a = self.a.iter().map(|p| (p.clone(), FieldPolicy::A));
        let b = self.b.iter().map(|p| (p.clone(), FieldPolicy::B));
        let n = self.newest.iter().map(|p| (p.clone(), FieldPolicy::Newest));
        let k = self.park.iter().map(|p| (p.clone(), FieldPolicy::Park));
        a.chain(b).chain(n).chain(k).collect()
    }
}

/// `[syncs.NAME.deletes]`: how each side shows that a record has ended, besides its connector's
/// own delete flag (`source-record.deleted`, e.g. HY-ESMS's soft delete), as values at JSON
/// pointers of the shared schema, e.g. `a = { "/status" = "returned_home" }` for ZF-REG, which
/// has no deletes (务工状态 3, 返乡).
///
/// When one side newly shows an end (its connector reports a delete, or its record comes to
/// hold all of its values here), the other side's record is given the *other* side's values
/// here, whatever the field policies say, so the end reaches it in the form that system
/// knows. A side with no values here is never told: the end stays on the side that made it. A
/// record its connector reports deleted is a tombstone: the hub never writes it again, and a
/// copy read later with an older update time is ignored as stale.
///
/// `native = ["b"]` tells side `b` of an end natively instead (contract 0.2's native delete:
/// its connector deletes the record, or marks it ended as its system does, e.g. HY-ESMS's soft
/// delete); the side's stream must say `can-delete`. A native side's values here, if any, still
/// show an end it makes itself. A record ended natively is a tombstone like any record its
/// connector reports deleted: if the other side's record comes back (a resident who leaves home
/// again), the ended record is not revived. Choose `native` where an end is final; the field
/// form follows a record back.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeletesConfig {
    /// Values that show an ended record on `a`.
    #[serde(default)]
    pub a: BTreeMap<String, toml::Value>,
    /// Values that show an ended record on `b`.
    #[serde(default)]
    pub b: BTreeMap<String, toml::Value>,
    /// Sides told of an end natively (`"a"`, `"b"`), not in field form.
    #[serde(default)]
    pub native: Vec<String>,
}

impl DeletesConfig {
    /// Whether `side` (`"a"` or `"b"`) is told of an end natively.
    pub fn is_native(&self, side: &str) -> bool {
        self.native.iter().any(|s| s == side)
    }
}

impl Config {
    /// `file:line:column` of a span of the file (just `file` for an empty span).
    pub fn location(&self, span: std::ops::Range<usize>) -> String {
        if span.is_empty() && span.start == 0 {
            return self.file.display().to_string();
        }
        let (line, column) = line_col(&self.source, span.start);
        format!("{}:{line}:{column}", self.file.display())
    }

    /// The directory relative paths are resolved against.
    pub fn dir(&self) -> PathBuf {
        self.file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// `data_dir`, resolved.
    pub fn data_dir(&self) -> PathBuf {
        self.dir().join(&self.hub.data_dir)
    }

    /// `[admin] tls_cert` and `tls_key`, resolved, when both are set (`load` refuses one
    /// without the other).
    pub fn admin_tls_files(&self) -> Option<(PathBuf, PathBuf)> {
        let (cert, key) = (self.admin.tls_cert.as_ref()?, self.admin.tls_key.as_ref()?);
        Some((
            self.dir().join(cert.get_ref()),
            self.dir().join(key.get_ref()),
        ))
    }

    /// A plugin's component path, resolved.
    pub fn plugin_path(&self, plugin: &PluginConfig) -> PathBuf {
        self.dir().join(plugin.path.get_ref())
    }

    /// `[hub] timezone`: the zone people see times in (`load` refuses a name that is not one).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.hub
            .timezone
            .get_ref()
            .parse()
            .unwrap_or(chrono_tz::Asia::Shanghai)
    }

    /// The state store URL.
    pub fn store_url(&self) -> String {
        match self.hub.store.as_deref().filter(|s| !s.is_empty()) {
            Some(s) if s.starts_with("postgres") => {
                crate::store::pg_tls::resolve_files(s, &self.dir())
            }
            Some(s) => s.to_string(),
            None => format!("sqlite://{}", self.data_dir().join("state.db").display()),
        }
    }
}

/// Reads a configuration file, substituting `${...}` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with(path, &|name| std::env::var(name).ok())
}

/// Reads a configuration file, substituting `${...}` from `vars`.
pub fn load_with(
    path: &Path,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let err = |message: String| {
        ConfigErrors(vec![ConfigError {
            file: path.into(),
            line: 0,
            column: 0,
            message,
        }])
    };
    let raw = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    parse(path, &raw, vars)
}

/// Parses configuration text (`file` is used for messages and relative paths).
pub fn parse(
    file: &Path,
    raw: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let text = interpolate(file, raw, vars)?;
    let at = |span: Option<std::ops::Range<usize>>, message: String| {
        let (line, column) = span.map(|s| line_col(&text, s.start)).unwrap_or((0, 0));
        ConfigError {
            file: file.into(),
            line,
            column,
            message,
        }
    };
    let mut config: Config = toml::from_str(&text).map_err(|e| {
        let mut message = e.message().trim().to_string();
        if message == "duplicate key"
            && let Some(better) = e.span().and_then(|s| duplicate_key(&text, s))
        {
            message = better;
        }
        ConfigErrors(vec![at(e.span(), message)])
    })?;
    config.file = file.into();
    config.source = text.clone();
    let errors: Vec<ConfigError> = check(&config)
        .into_iter()
        .map(|(span, msg)| at(span, msg))
        .collect();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// For toml's bare "duplicate key" at `span`: the key (or table header) and the line where
/// it was first defined, in the same table: ``duplicate key `lease_ttl` in [hub]: first
/// defined at line 21``. `None` when the first definition cannot be found (dotted keys,
/// inline tables): the caller keeps toml's message.
fn duplicate_key(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_no = text[..line_start].matches('\n').count() + 1;
    let line = text[line_start..].lines().next()?.trim();
    let earlier: Vec<(usize, &str)> = text[..line_start]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .collect();
    if line.starts_with('[') {
        // A table defined twice.
        let first = earlier.iter().find(|(_, l)| *l == line)?.0;
        return Some(format!(
            "duplicate table {line}: first defined at line {first}"
        ));
    }
    let key_of = |l: &str| -> Option<String> {
        let (k, _) = l.split_once('=')?;
        Some(k.trim().trim_matches('"').to_string())
    };
    let key = key_of(line)?;
    // The table the duplicate is in: the last header above it (none: the top level).
    let header = earlier.iter().rposition(|(_, l)| l.starts_with('['));
    let table = header.map_or("the top level".to_string(), |i| earlier[i].1.to_string());
    let from = header.map_or(0, |i| i + 1);
    let first = earlier[from..]
        .iter()
        .find(|(_, l)| !l.starts_with('#') && key_of(l).as_deref() == Some(key.as_str()))?
        .0;
    debug_assert!(first < line_no);
    Some(format!(
        "duplicate key `{key}` in {table}: first defined at line {first}"
    ))
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Replaces `${NAME}` / `${NAME:-default}`; `$$` is a literal `$`.
fn interpolate(
    file: &Path,
    raw: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigErrors> {
    let mut out = String::with_capacity(raw.len());
    let mut errors = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                let (line, column) = line_col(raw, raw.len() - tail.len());
                errors.push(ConfigError {
                    file: file.into(),
                    line,
                    column,
                    message: "unclosed ${".into(),
                });
                break;
            };
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            match vars(name)
                .filter(|v| !v.is_empty())
                .or(default.map(str::to_string))
            {
                Some(v) => out.push_str(&v),
                None => {
                    let (line, column) = line_col(raw, raw.len() - tail.len());
                    errors.push(ConfigError {
                        file: file.into(),
                        line,
                        column,
                        message: format!("environment variable {name} is not set and has no default (${{{name}:-default}})"),
                    });
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn is_pointer(p: &str) -> bool {
    p.starts_with('/') && p.len() > 1
}

/// Cross-checks that serde cannot do. Each problem comes with the span it concerns.
fn check(config: &Config) -> Vec<(Option<std::ops::Range<usize>>, String)> {
    let mut errs = Vec::new();
    let zone = &config.hub.timezone;
    if zone.get_ref().parse::<chrono_tz::Tz>().is_err() {
        errs.push((
            Some(zone.span()),
            format!(
                "hub.timezone: {:?} is not an IANA time zone name such as Asia/Shanghai",
                zone.get_ref()
            ),
        ));
    }
    for (i, k) in config.hub.trusted_keys.iter().enumerate() {
        if let Err(e) = crate::plugin_signature::TrustedKey::parse(k.get_ref()) {
            errs.push((Some(k.span()), format!("hub.trusted_keys[{i}]: {e}")));
        }
    }
    if config.hub.require_signed && config.hub.trusted_keys.is_empty() {
        errs.push((None, crate::plugin_signature::NO_TRUSTED_KEYS.to_string()));
    }
    for (name, p) in &config.plugins {
        for h in &p.allow_hosts {
            if let Err(e) = crate::runtime::http::Origin::parse(h.get_ref()) {
                errs.push((Some(h.span()), format!("plugins.{name}.allow_hosts: {e}")));
            }
        }
        let l = &p.limits;
        let sizes = [
            l.memory_mib,
            l.cpu_ms_per_call,
            l.call_timeout_secs,
            l.http_timeout_secs,
            l.max_response_mib,
            l.max_record_kib,
            l.max_cursor_kib,
        ];
        let counts = [l.tables, l.table_elements, l.instances, l.max_open_bodies];
        if sizes.contains(&0) || counts.contains(&0) {
            errs.push((
                Some(p.path.span()),
                format!("plugins.{name}.limits: every limit must be greater than 0"),
            ));
        }
        if let Some(rate) = &p.rate_limit {
            let r = rate.get_ref();
            if !(r.requests_per_second.is_finite() && r.requests_per_second > 0.0) {
                errs.push((
                    Some(rate.span()),
                    format!(
                        "plugins.{name}.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not {}",
                        r.requests_per_second
                    ),
                ));
            }
            if r.burst == 0 {
                errs.push((
                    Some(rate.span()),
                    format!(
                        "plugins.{name}.rate_limit.burst: must be at least 1 (requests that may go at once)"
                    ),
                ));
            }
        }
        if let Some(pin) = &p.sha256
            && (pin.get_ref().len() != 64 || !pin.get_ref().bytes().all(|b| b.is_ascii_hexdigit()))
        {
            errs.push((
                Some(pin.span()),
                format!("plugins.{name}.sha256: must be 64 hex digits"),
            ));
        }
    }
    for (name, s) in &config.syncs {
        for (side, ep) in [("a", &s.a), ("b", &s.b)] {
            if !config.plugins.contains_key(ep.plugin.get_ref()) {
                errs.push((
                    Some(ep.plugin.span()),
                    format!(
                        "syncs.{name}.{side}.plugin: no plugin {:?} in [plugins]",
                        ep.plugin.get_ref()
                    ),
                ));
            }
            for (ptr, v) in &ep.filter {
                if !is_pointer(ptr) {
                    errs.push((
                        Some(ep.plugin.span()),
                        format!(
                            "syncs.{name}.{side}.where: {ptr:?} is not a JSON pointer (RFC 6901)"
                        ),
                    ));
                }
                if matches!(
                    v,
                    toml::Value::Table(_) | toml::Value::Array(_) | toml::Value::Datetime(_)
                ) {
                    errs.push((
                        Some(ep.plugin.span()),
                        format!(
                            "syncs.{name}.{side}.where.{ptr}: must be a string, number or boolean"
                        ),
                    ));
                }
            }
        }
        if let Err(e) = crate::schedule::Schedule::parse(s.schedule.get_ref(), s.timezone.get_ref())
        {
            let span = if s.timezone.span().is_empty()
                || s.timezone.get_ref().parse::<chrono_tz::Tz>().is_ok()
            {
                s.schedule.span()
            } else {
                s.timezone.span()
            };
            errs.push((Some(span), format!("syncs.{name}: {e}")));
        }
        let mut seen = BTreeMap::new();
        for (ptr, policy) in s.merge.get_ref().rules() {
            if !is_pointer(&ptr) {
                errs.push((
                    Some(s.merge.span()),
                    format!("syncs.{name}.merge: {ptr:?} is not a JSON pointer (RFC 6901)"),
                ));
            }
            if let Some(prev) = seen.insert(ptr.clone(), policy) {
                errs.push((
                    Some(s.merge.span()),
                    format!(
                        "syncs.{name}.merge: {ptr} is listed under both {prev:?} and {policy:?}"
                    ),
                ));
            }
        }
        for side in &s.deletes.get_ref().native {
            if side != "a" && side != "b" {
                errs.push((
                    Some(s.deletes.span()),
                    format!("syncs.{name}.deletes.native: {side:?} is not a side (\"a\" or \"b\")"),
                ));
            }
        }
        for (side, form) in [("a", &s.deletes.get_ref().a), ("b", &s.deletes.get_ref().b)] {
            for (ptr, v) in form {
                if !is_pointer(ptr) {
                    errs.push((
                        Some(s.deletes.span()),
                        format!(
                            "syncs.{name}.deletes.{side}: {ptr:?} is not a JSON pointer (RFC 6901)"
                        ),
                    ));
                }
                if matches!(
                    v,
                    toml::Value::Table(_) | toml::Value::Array(_) | toml::Value::Datetime(_)
                ) {
                    errs.push((
                        Some(s.deletes.span()),
                        format!(
                            "syncs.{name}.deletes.{side}.{ptr}: must be a string, number or boolean"
                        ),
                    ));
                }
            }
        }
        if let Some(key) = &s.key {
            for k in key.get_ref() {
                if !is_pointer(k) {
                    errs.push((
                        Some(key.span()),
                        format!("syncs.{name}.key: {k:?} is not a JSON pointer (RFC 6901)"),
                    ));
                }
            }
        }
        if *s.batch_size.get_ref() == 0 || *s.batch_size.get_ref() > 10_000 {
            errs.push((
                Some(s.batch_size.span()),
                format!("syncs.{name}.batch_size: must be 1..=10000"),
            ));
        }
    }
    if let Err(e) = config
        .admin
        .listen
        .get_ref()
        .parse::<std::net::SocketAddr>()
    {
        let span = Some(config.admin.listen.span()).filter(|s| !s.is_empty());
        errs.push((
            span,
            format!(
                "admin.listen: {:?} is not host:port with an IP address ({e})",
                config.admin.listen.get_ref()
            ),
        ));
    }
    let mut token_names: BTreeMap<&str, std::ops::Range<usize>> = BTreeMap::new();
    for t in &config.admin.tokens {
        let name = t.name.get_ref().as_str();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            errs.push((
                Some(t.name.span()),
                format!("admin.tokens: name {name:?} must be letters, digits, '.', '_' or '-'"),
            ));
        } else if name == "admin" && config.admin.token.is_some() {
            errs.push((
                Some(t.name.span()),
                "admin.tokens: name \"admin\" is taken by [admin] token (an operator named admin); choose another".into(),
            ));
        } else if let Some(first) = token_names.insert(name, t.name.span()) {
            let (line, _) = line_col(&config.source, first.start);
            errs.push((
                Some(t.name.span()),
                format!("admin.tokens: name {name:?} is given twice (first at line {line})"),
            ));
        }
    }
    match (&config.admin.tls_cert, &config.admin.tls_key) {
        (Some(cert), None) => errs.push((
            Some(cert.span()),
            "admin.tls_key: missing: admin.tls_cert is set, and HTTPS needs the certificate's private key too (PEM file)".into(),
        )),
        (None, Some(key)) => errs.push((
            Some(key.span()),
            "admin.tls_cert: missing: admin.tls_key is set, and HTTPS needs the certificate chain too (PEM file)".into(),
        )),
        _ => {}
    }
    if let Some(url) = config.hub.store.as_deref().filter(|u| !u.is_empty())
        && !["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
    {
        // The scheme only: the rest may carry a password.
        let scheme = url.split("://").next().unwrap_or(url);
        errs.push((
            None,
            format!(
                "hub.store: the scheme {scheme:?} is not a state store: sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"
            ),
        ));
    }
    if let (Some(e), Some(endpoint)) =
        (&config.telemetry.otlp_endpoint, config.telemetry.endpoint())
        && !url::Url::parse(endpoint)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    {
        errs.push((
            Some(e.span()).filter(|s| !s.is_empty()),
            format!("telemetry.otlp_endpoint: {endpoint:?} is not an http:// or https:// URL of a collector (e.g. http://127.0.0.1:4318)"),
        ));
    }
    if let Some(url) = config
        .hub
        .store
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
        && let Err(e) = crate::store::pg_tls::check_url(url, false)
    {
        errs.push((None, format!("hub.store: {e}")));
    }
    if config.hub.lease_ttl < std::time::Duration::from_secs(4) {
        errs.push((
            None,
            format!(
                "hub.lease_ttl: {:?} is too short (at least 4s: it is renewed every quarter of it)",
                config.hub.lease_ttl
            ),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_duplicate_key_or_table_names_itself_and_where_it_was_first_defined() {
        let text = "[hub]\ndata_dir = \"d\"\nlease_ttl = \"2m\"\n# lease_ttl = \"9m\"\nlease_ttl = \"3m\"\n";
        let e = parse(Path::new("hub.toml"), text, &|_| None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "hub.toml:5:1: duplicate key `lease_ttl` in [hub]: first defined at line 3"
        );
        let text = "[hub]\ndata_dir = \"d\"\n\n[hub]\nlease_ttl = \"3m\"\n";
        let e = parse(Path::new("hub.toml"), text, &|_| None).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("duplicate table [hub]: first defined at line 1"),
            "{e}"
        );
    }
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "ZF_URL" => Some("http://127.0.0.1:9002".into()),
            _ => None,
        }
    }

    const GOOD: &str = r#"
[hub]
data_dir = "data"

[plugins.zf]
path = "zf.wasm"
allow_hosts = ["${ZF_URL}"]
secrets.password = { env = "ZF_PASSWORD" }
config = { base_url = "${ZF_URL}" }

[plugins.hy]
path = "hy.wasm"
allow_hosts = ["${HY_URL:-http://127.0.0.1:9001}"]
secrets.api_key = { value = "k" }
config = { base_url = "${HY_URL:-http://127.0.0.1:9001}" }

[syncs.workers]
schema = "worker"
a = { plugin = "zf", stream = "workers", where = { "/workplace/countyCode" = "441303" } }
b = { plugin = "hy", stream = "zhenfeng-workers" }
schedule = "*/10 * * * * *"
merge = { a = ["/name"], b = ["/status"], newest = ["/phone"] }
"#;

    #[test]
    fn a_cap_of_no_open_bodies_is_refused_like_every_zero_limit() {
        let bad = GOOD.replace(
            "[plugins.zf]\n",
            "[plugins.zf]\nlimits = { max_open_bodies = 0 }\n",
        );
        let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
        assert!(
            e.0.iter()
                .any(|e| e.message == "plugins.zf.limits: every limit must be greater than 0"),
            "{e}"
        );
        let ok = GOOD.replace(
            "[plugins.zf]\n",
            "[plugins.zf]\nlimits = { max_open_bodies = 1 }\n",
        );
        assert_eq!(
            parse(Path::new("hub.toml"), &ok, &vars).unwrap().plugins["zf"]
                .limits
                .max_open_bodies,
            1
        );
    }

    #[test]
    fn a_rate_limit_is_read_with_its_default_burst_and_bad_ones_are_refused_at_their_place() {
        let c = parse(Path::new("hub.toml"), GOOD, &vars).unwrap();
        assert_eq!(c.plugins["hy"].rate_limit, None, "no limit unless set");
        let with = |line: &str| GOOD.replace("[plugins.hy]\n", &format!("[plugins.hy]\n{line}\n"));
        let c = parse(
            Path::new("hub.toml"),
            &with("rate_limit = { requests_per_second = 20 }"),
            &vars,
        )
        .unwrap();
        assert_eq!(
            *c.plugins["hy"].rate_limit.as_ref().unwrap().get_ref(),
            RateLimit {
                requests_per_second: 20.0,
                burst: 1
            }
        );
        let c = parse(
            Path::new("hub.toml"),
            &with("rate_limit = { requests_per_second = 2.5, burst = 5 }"),
            &vars,
        )
        .unwrap();
        assert_eq!(
            *c.plugins["hy"].rate_limit.as_ref().unwrap().get_ref(),
            RateLimit {
                requests_per_second: 2.5,
                burst: 5
            }
        );
        // [plugins.hy] is on line 11 of GOOD; the setting goes on line 12, its value at column 14.
        for (line, message) in [
            (
                "rate_limit = { requests_per_second = 0 }",
                "plugins.hy.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not 0",
            ),
            (
                "rate_limit = { requests_per_second = -3 }",
                "plugins.hy.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not -3",
            ),
            (
                "rate_limit = { requests_per_second = nan }",
                "plugins.hy.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not NaN",
            ),
            (
                "rate_limit = { requests_per_second = 20, burst = 0 }",
                "plugins.hy.rate_limit.burst: must be at least 1 (requests that may go at once)",
            ),
        ] {
            let e = parse(Path::new("hub.toml"), &with(line), &vars).unwrap_err();
            assert_eq!(
                e.0.iter()
                    .map(|e| (e.line, e.column, e.message.as_str()))
                    .collect::<Vec<_>>(),
                [(12, 14, message)],
                "{line}"
            );
        }
        // A misspelt key or a missing rate is serde's error, at its place.
        let e = parse(
            Path::new("hub.toml"),
            &with("rate_limit = { requests_per_second = 20, brust = 5 }"),
            &vars,
        )
        .unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].column), (12, 42), "{e}");
        assert!(e.0[0].message.contains("unknown field `brust`"), "{e}");
        let e = parse(
            Path::new("hub.toml"),
            &with("rate_limit = { burst = 5 }"),
            &vars,
        )
        .unwrap_err();
        assert_eq!(e.0[0].line, 12, "{e}");
        assert!(
            e.0[0]
                .message
                .contains("missing field `requests_per_second`"),
            "{e}"
        );
        let e = parse(Path::new("hub.toml"), &with("rate_limt = 20"), &vars).unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].column), (12, 1), "{e}");
        assert!(e.0[0].message.contains("unknown field `rate_limt`"), "{e}");
    }

    #[test]
    fn a_good_file_parses_with_defaults_and_substitutions() {
        let c = parse(Path::new("/etc/hub/hub.toml"), GOOD, &vars).unwrap();
        assert_eq!(
            c.plugins["zf"].config["base_url"].as_str(),
            Some("http://127.0.0.1:9002")
        );
        assert_eq!(
            c.plugins["hy"].allow_hosts[0].get_ref(),
            "http://127.0.0.1:9001"
        );
        assert_eq!(
            c.plugins["zf"].secrets["password"],
            SecretSource::Env {
                env: "ZF_PASSWORD".into()
            }
        );
        let w = &c.syncs["workers"];
        assert_eq!(w.direction, Direction::Both);
        assert_eq!(w.timezone.get_ref(), "Asia/Shanghai");
        assert_eq!(*w.batch_size.get_ref(), 200);
        assert_eq!(w.a.filter["/workplace/countyCode"].as_str(), Some("441303"));
        assert_eq!(c.data_dir(), Path::new("/etc/hub/data"));
        assert_eq!(
            c.plugin_path(&c.plugins["zf"]),
            Path::new("/etc/hub/zf.wasm")
        );
        assert_eq!(c.store_url(), "sqlite:///etc/hub/data/state.db");
        assert_eq!(c.plugins["zf"].limits, Limits::default());
        assert_eq!(
            (w.overlap, w.catch_up_window, w.jitter),
            (
                Overlap::Skip,
                std::time::Duration::from_secs(3600),
                std::time::Duration::ZERO
            )
        );
        let tuned = GOOD.replace("schedule = ", "overlap = \"queue_one\"\ncatch_up_window = \"15m\"\njitter = \"2s 500ms\"\nschedule = ");
        let c = parse(Path::new("hub.toml"), &tuned, &vars).unwrap();
        let w = &c.syncs["workers"];
        assert_eq!(
            (w.overlap, w.catch_up_window, w.jitter),
            (
                Overlap::QueueOne,
                std::time::Duration::from_secs(900),
                std::time::Duration::from_millis(2500)
            )
        );
        let bad = GOOD.replace("schedule = ", "jitter = \"soon\"\nschedule = ");
        let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
        assert_eq!(e.0[0].line, 21, "{e}");
    }

    #[test]
    fn policies_take_their_standard_names_and_the_short_ones_and_deletes_are_checked() {
        let named = GOOD.replace(
            "merge = { a = [\"/name\"], b = [\"/status\"], newest = [\"/phone\"] }",
            "merge = { default = \"b_wins\", park = [\"/hometownTownship\"] }\n\
             deletes = { a = { \"/status\" = \"returned_home\" } }",
        );
        let c = parse(Path::new("hub.toml"), &named, &vars).unwrap();
        let w = &c.syncs["workers"];
        assert_eq!(w.merge.get_ref().default, FieldPolicy::B);
        assert_eq!(
            w.merge.get_ref().rules(),
            vec![("/hometownTownship".to_string(), FieldPolicy::Park)]
        );
        assert_eq!(
            w.deletes.get_ref().a["/status"].as_str(),
            Some("returned_home")
        );
        assert!(w.deletes.get_ref().b.is_empty());
        for (text, policy) in [
            ("a", FieldPolicy::A),
            ("a_wins", FieldPolicy::A),
            ("b", FieldPolicy::B),
            ("newest", FieldPolicy::Newest),
            ("newest_wins", FieldPolicy::Newest),
            ("park", FieldPolicy::Park),
        ] {
            let m: MergeConfig = toml::from_str(&format!("default = \"{text}\"")).unwrap();
            assert_eq!(m.default, policy, "{text}");
        }
        assert!(toml::from_str::<MergeConfig>("default = \"c_wins\"").is_err());
        let bad = GOOD.replace(
            "merge = {",
            "deletes = { b = { \"status\" = \"left\", \"/x\" = [1] } }\nmerge = {",
        );
        let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
        let msgs: Vec<String> = e.0.iter().map(|e| e.message.clone()).collect();
        assert_eq!(
            msgs,
            [
                "syncs.workers.deletes.b./x: must be a string, number or boolean",
                "syncs.workers.deletes.b: \"status\" is not a JSON pointer (RFC 6901)",
            ]
        );
        assert_eq!(e.0[0].line, 22, "{e}");
    }

    #[test]
    fn an_unset_variable_is_named_with_its_line() {
        let e = parse(
            Path::new("hub.toml"),
            "[hub]\ndata_dir = \"${NOPE}\"\n",
            &vars,
        )
        .unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!((e.0[0].line, e.0[0].column), (2, 13));
        assert!(e.0[0].message.contains("NOPE"), "{}", e.0[0].message);
        assert_eq!(
            interpolate(Path::new("x"), "a$$b ${ZF_URL} $x", &vars).unwrap(),
            "a$b http://127.0.0.1:9002 $x"
        );
    }

    #[test]
    fn toml_syntax_errors_point_at_the_line() {
        let e = parse(
            Path::new("hub.toml"),
            "[hub]\ndata_dir = \"x\"\nbogus = \n",
            &vars,
        )
        .unwrap_err();
        assert_eq!(e.0[0].line, 3);
        assert!(e.to_string().starts_with("hub.toml:3:"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = parse(
            Path::new("hub.toml"),
            "[hub]\ndata_dir = \"x\"\ndatadir = \"y\"\n",
            &vars,
        )
        .unwrap_err();
        assert_eq!(e.0[0].line, 3);
        assert!(e.0[0].message.contains("datadir"), "{}", e.0[0].message);
    }

    #[test]
    fn a_store_of_another_kind_and_a_lease_too_short_to_renew_are_refused() {
        let shared = GOOD.replace(
            "data_dir = \"data\"",
            "data_dir = \"data\"\nstore = \"postgres://hub@db:5432/hub\"\nlease_ttl = \"30s\"",
        );
        let c = parse(Path::new("hub.toml"), &shared, &vars).unwrap();
        assert_eq!(c.store_url(), "postgres://hub@db:5432/hub");
        assert_eq!(c.hub.lease_ttl, std::time::Duration::from_secs(30));
        // An empty store (the demo's `${HUB_STORE:-}`) is the default SQLite file.
        let empty = GOOD.replace("data_dir = \"data\"", "data_dir = \"data\"\nstore = \"\"");
        let c = parse(Path::new("/etc/hub/hub.toml"), &empty, &vars).unwrap();
        assert_eq!(c.store_url(), "sqlite:///etc/hub/data/state.db");
        let bad = GOOD.replace(
            "data_dir = \"data\"",
            "data_dir = \"data\"\nstore = \"mysql://hub:secret@db/hub\"\nlease_ttl = \"3s\"",
        );
        let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
        let msgs: Vec<&str> = e.0.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "hub.store: the scheme \"mysql\" is not a state store: sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
                "hub.lease_ttl: 3s is too short (at least 4s: it is renewed every quarter of it)",
            ]
        );
        assert!(!format!("{e:?}").contains("secret"));
    }

    #[test]
    fn every_semantic_problem_is_reported_with_its_place() {
        let bad = GOOD
            .replace(r#"plugin = "hy""#, r#"plugin = "hyy""#)
            .replace(
                r#"schedule = "*/10 * * * * *""#,
                r#"schedule = "0 0 30 2 *""#,
            )
            .replace(r#"newest = ["/phone"]"#, r#"newest = ["/status"]"#);
        let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
        let msgs: Vec<String> =
            e.0.iter()
                .map(|e| format!("{}: {}", e.line, e.message))
                .collect();
        assert_eq!(e.0.len(), 3, "{msgs:#?}");
        // GOOD starts with an empty line: `b = ` is line 20, `schedule` 21, `merge` 22.
        assert!(
            msgs[0].starts_with("20: syncs.workers.b.plugin: no plugin \"hyy\""),
            "{msgs:#?}"
        );
        assert!(
            msgs[1].starts_with(
                "21: syncs.workers: day-of-month field \"30\" with month field \"2\" can never fire"
            ),
            "{msgs:#?}"
        );
        assert_eq!(
            msgs[2], "22: syncs.workers.merge: /status is listed under both B and Newest",
            "{msgs:#?}"
        );
    }

    #[test]
    fn named_tokens_take_a_known_role_and_a_unique_name_or_are_refused_at_their_place() {
        // GOOD ends with line 22; `[[admin.tokens]]` is line 23, `name` 24, `role` 25.
        let token = |name: &str, role: &str| {
            format!(
                "[[admin.tokens]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken = {{ value = \"viewer-token-0123456789\" }}\n"
            )
        };
        let ok = format!(
            "{GOOD}{}{}",
            token("li.na", "viewer"),
            token("wang", "operator")
        );
        let c = parse(Path::new("/etc/hub/hub.toml"), &ok, &vars).unwrap();
        assert_eq!(
            c.admin
                .tokens
                .iter()
                .map(|t| (t.name.get_ref().as_str(), *t.role.get_ref()))
                .collect::<Vec<_>>(),
            [("li.na", Role::Viewer), ("wang", Role::Operator)]
        );
        let typo = format!("{GOOD}{}", token("li.na", "admn"));
        let e = parse(Path::new("/etc/hub/hub.toml"), &typo, &vars).unwrap_err();
        eprintln!("{e}");
        assert_eq!(
            e.to_string(),
            "/etc/hub/hub.toml:25:8: unknown variant `admn`, expected `viewer` or `operator`"
        );
        // The same name twice: the second is named, with the line of the first (24).
        let twice = format!(
            "{GOOD}{}{}",
            token("li.na", "viewer"),
            token("li.na", "operator")
        );
        let e = parse(Path::new("/etc/hub/hub.toml"), &twice, &vars).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/hub/hub.toml:28:8: admin.tokens: name \"li.na\" is given twice (first at line 24)"
        );
    }

    #[test]
    fn a_tls_certificate_without_its_key_is_refused_at_its_place_and_both_resolve_beside_the_file()
    {
        // GOOD ends with line 22; `[admin]` is line 23, the first key line 24, its value at
        // column 12 (after `tls_cert = `).
        let half = format!("{GOOD}[admin]\ntls_cert = \"tls/admin.crt\"\n");
        let e = parse(Path::new("/etc/hub/hub.toml"), &half, &vars).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/hub/hub.toml:24:12: admin.tls_key: missing: admin.tls_cert is set, and HTTPS needs the certificate's private key too (PEM file)"
        );
        let half = format!("{GOOD}[admin]\ntls_key = \"tls/admin.key\"\n");
        let e = parse(Path::new("/etc/hub/hub.toml"), &half, &vars).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/hub/hub.toml:24:11: admin.tls_cert: missing: admin.tls_key is set, and HTTPS needs the certificate chain too (PEM file)"
        );
        let both =
            format!("{GOOD}[admin]\ntls_cert = \"tls/admin.crt\"\ntls_key = \"/srv/admin.key\"\n");
        let c = parse(Path::new("/etc/hub/hub.toml"), &both, &vars).unwrap();
        assert_eq!(
            c.admin_tls_files(),
            Some((
                PathBuf::from("/etc/hub/tls/admin.crt"),
                PathBuf::from("/srv/admin.key")
            ))
        );
        let c = parse(Path::new("/etc/hub/hub.toml"), GOOD, &vars).unwrap();
        assert_eq!(c.admin_tls_files(), None);
    }

    #[test]
    fn secrets_resolve_from_files_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let s = SecretSource::File { file: "pw".into() };
        assert_eq!(s.resolve(dir.path()).unwrap(), "s3cret");
        let missing = SecretSource::Env {
            env: "HUB_TEST_SURELY_UNSET".into(),
        };
        assert_eq!(
            missing.resolve(dir.path()).unwrap_err(),
            "environment variable HUB_TEST_SURELY_UNSET is not set"
        );
    }

    #[test]
    fn a_systemd_credential_is_read_from_the_credentials_directory_and_each_failure_named() {
        let creds = tempfile::tempdir().unwrap();
        std::fs::write(creds.path().join("zf-reg-password"), "s3cret-zf\n").unwrap();
        let vars = |_: &str| None;
        let text = "[hub]\ndata_dir = \"d\"\n[plugins.zf]\npath = \"zf.wasm\"\nsecrets.password = { credential = \"zf-reg-password\" }\n";
        let c = parse(Path::new("hub.toml"), text, &vars).unwrap();
        let src = &c.plugins["zf"].secrets["password"];
        assert_eq!(
            src,
            &SecretSource::Credential {
                credential: "zf-reg-password".into()
            }
        );
        let here = Path::new(".");
        assert_eq!(
            src.resolve_with(here, Some(creds.path())).unwrap(),
            "s3cret-zf"
        );
        assert_eq!(
            src.resolve_with(here, None).unwrap_err(),
            "credential zf-reg-password: CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit with LoadCredential=zf-reg-password:PATH; outside systemd use { file = \"PATH\" })"
        );
        let absent = SecretSource::Credential {
            credential: "hy-api-key".into(),
        };
        let e = absent.resolve_with(here, Some(creds.path())).unwrap_err();
        assert!(
            e.starts_with(&format!(
                "credential hy-api-key: cannot read {}: ",
                creds.path().join("hy-api-key").display()
            )),
            "{e}"
        );
        let escape = SecretSource::Credential {
            credential: "../zf-reg-password".into(),
        };
        assert_eq!(
            escape.resolve_with(here, Some(creds.path())).unwrap_err(),
            "credential \"../zf-reg-password\": not a credential name (a file name, no '/')"
        );
    }
}
