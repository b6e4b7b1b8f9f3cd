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
//!
//! **Owns** the configuration's text: parsing, environment substitution, and checks that need
//! nothing but the files. **May not touch** the network, the state store or a plugin's code:
//! whatever must be reached or loaded is checked later (`hub check`, the daemon's start).

mod check;
mod error;
mod interpolate;
mod plugin;
mod sync;

pub(crate) use error::line_col;
pub use error::{ConfigError, ConfigErrors};
pub use plugin::{Limits, PluginConfig, RateLimit, SecretSource};
pub use sync::{
    Concurrent, DeletesConfig, Direction, Endpoint, FieldPolicy, MergeConfig, Overlap, SyncConfig,
};

use check::check;
use error::duplicate_key;
use interpolate::interpolate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

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

const fn default_lease_ttl() -> std::time::Duration {
    std::time::Duration::from_secs(120)
}

/// `[hub] timezone` and a sync's `timezone` when not given.
fn default_timezone() -> Spanned<String> {
    Spanned::new(0..0, "Asia/Shanghai".to_string())
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

#[cfg(test)]
mod tests;
