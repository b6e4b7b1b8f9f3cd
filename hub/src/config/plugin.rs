//! `[plugins.NAME]`: a connector plugin's component file, the origins it may call, its
//! secrets and where they come from ([`SecretSource`]), its per-call [`Limits`] and the
//! request budget of its system ([`RateLimit`]).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

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
