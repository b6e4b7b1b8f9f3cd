//! `hub plugin test FILE.wasm --fixtures DIR`: runs a connector's calls against recorded HTTP
//! exchanges, with no live system, and validates every record against its stream's schema.
//!
//! `DIR` holds `harness.toml` (the plugin's settings and the calls to make, below), the
//! exchanges (`NNN-NAME.request.http` + `NNN-NAME.response.http`, see
//! [`crate::runtime::tape`]) and the JSON files the steps name. `harness.toml`:
//!
//! ```toml
//! # As under [plugins.NAME] in a deployment, without `path` (the FILE given) and, by default,
//! # without `allow_hosts` (the origins the manifest asks for are granted).
//! [plugin]
//! config = { base_url = "http://esms.test" }
//! secrets = { api_key = { value = "test-key" } }   # stand-ins: fixtures keep placeholders
//!
//! [[step]]
//! call = "check"
//!
//! [[step]]
//! call = "read"                 # until `more` is false
//! stream = "zhenfeng-workers"
//! max = 2                       # records per `read` (default 100)
//! records = 3                   # expected number of records over every batch
//! expect = "read-workers.json"  # optional: [{"remote_id", "data", "deleted", "version"}, ...]
//!                               # (absent fields are not compared; a null member = absent)
//! unordered = true              # optional: compare with `expect` by remote id, in any order
//! cursor_after = "2024-05-01T10:00:00+08:00"   # optional: the last cursor returned
//!
//! [[step]]
//! call = "write"
//! stream = "zhenfeng-workers"
//! records = "write-workers.json"          # [{"data": {...}, "remote_id", "version", "current"}]
//! expect = ["created", "rejected /phone"] # one outcome per record, `rejected` with its pointer
//! ```
//!
//! Every step runs in one instance (as one sync run does): `open` with the config, then the
//! steps in order. The run fails if a call fails, a record read or written (and every `stored`
//! value) breaks its schema, an expectation is not met, a request has no recorded exchange, or
//! an exchange is left unused.
//!
//! `--record` runs the same steps against a live system and writes the exchanges instead
//! (existing `.http` files in `DIR` are removed first); `--live KEY=URL` sends to `URL` in
//! place of the URL in config field `KEY`, and writes the exchanges as if sent to the latter.

use crate::config::{Limits, PluginConfig, SecretSource};
use crate::runtime::tape::Tape;
use crate::runtime::{Runtime, TargetRecord, WriteResult};
use crate::schema::Catalogue;
use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

/// The harness file's name in the fixture directory.
pub const HARNESS_FILE: &str = "harness.toml";

/// `harness.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Harness {
    #[serde(default)]
    plugin: HarnessPlugin,
    #[serde(default)]
    step: Vec<Step>,
}

/// The plugin's settings, as in a deployment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HarnessPlugin {
    #[serde(default)]
    allow_hosts: Option<Vec<String>>,
    #[serde(default)]
    secrets: BTreeMap<String, SecretSource>,
    #[serde(default)]
    config: toml::Table,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    link_all_wasi: bool,
}

/// One call.
#[derive(Debug, Deserialize)]
#[serde(tag = "call", rename_all = "lowercase", deny_unknown_fields)]
enum Step {
    Check,
    Read {
        stream: String,
        #[serde(default = "default_max")]
        max: u32,
        cursor: Option<String>,
        records: Option<usize>,
        expect: Option<PathBuf>,
        #[serde(default)]
        unordered: bool,
        cursor_after: Option<String>,
    },
    Write {
        stream: String,
        records: PathBuf,
        expect: Option<Vec<String>>,
    },
}

fn default_max() -> u32 {
    100
}

/// A record a read step expects; absent fields are not compared.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedRecord {
    remote_id: Option<String>,
    data: Option<Value>,
    deleted: Option<bool>,
    version: Option<String>,
}

/// A record a write step sends (the `target-record` of the contract, `data` and `current` as
/// JSON values).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteInput {
    data: Value,
    remote_id: Option<String>,
    version: Option<String>,
    current: Option<Value>,
}

/// How `hub plugin test` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The component file.
    pub file: PathBuf,
    /// The fixture directory.
    pub fixtures: PathBuf,
    /// Record from a live system instead of replaying.
    pub record: bool,
    /// `(config field, live URL)` pairs for `--record`.
    pub live: Vec<(String, String)>,
    /// Link every WASI interface, granting nothing through them (as `link_all_wasi = true`
    /// under `[plugin]`): to run a non-Rust component on fixtures written for any connector.
    pub link_all_wasi: bool,
}

/// What a harness run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// One line per step and per check, for people.
    pub lines: Vec<String>,
    /// What failed; empty if the run passed.
    pub failures: Vec<String>,
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, file: &Path) -> anyhow::Result<T> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
}

/// The origin (`scheme://host[:port]`) of a URL, as written.
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// Runs the harness in `opts.fixtures` against `opts.file`. `Err` for a harness that cannot
/// run (a bad `harness.toml`, a file missing, a component that does not load); failures of the
/// connector are in [`Outcome::failures`].
pub async fn run(opts: &Options) -> anyhow::Result<Outcome> {
    let dir = &opts.fixtures;
    let harness_path = dir.join(HARNESS_FILE);
    let text = std::fs::read_to_string(&harness_path)
        .with_context(|| format!("{}", harness_path.display()))?;
    let mut harness: Harness = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| {
            let line = text[..s.start].matches('\n').count() + 1;
            format!(":{line}")
        });
        anyhow!(
            "{}{}: {}",
            harness_path.display(),
            at.unwrap_or_default(),
            e.message()
        )
    })?;
    harness.plugin.link_all_wasi |= opts.link_all_wasi;
    let file =
        std::fs::canonicalize(&opts.file).with_context(|| format!("{}", opts.file.display()))?;

    let mut rewrite = Vec::new();
    for (key, live) in &opts.live {
        let fixed = harness
            .plugin
            .config
            .get(key)
            .and_then(toml::Value::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "--live {key}=...: {} has no string [plugin.config].{key}",
                    harness_path.display()
                )
            })?;
        let (Some(live_origin), Some(fixed_origin)) = (origin_of(live), origin_of(fixed)) else {
            bail!("--live {key}: {live:?} and {fixed:?} must both be http(s) URLs");
        };
        rewrite.push((live_origin, fixed_origin));
        harness
            .plugin
            .config
            .insert(key.clone(), toml::Value::String(live.clone()));
    }
    let tape = if opts.record {
        for entry in std::fs::read_dir(dir)? {
            let p = entry?.path();
            if p.to_string_lossy().ends_with(".http") {
                std::fs::remove_file(&p)?;
            }
        }
        Tape::record(dir, rewrite)
    } else {
        Tape::replay(dir)?
    };
    let tape = Arc::new(tape);

    let cache = tempfile::tempdir()?;
    let rt = Runtime::new(Some(cache.path().to_path_buf()))?;
    let bytes = std::fs::read(&file).with_context(|| format!("{}", file.display()))?;
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let component = rt
        .compile(&bytes, &sha256)
        .map_err(|e| anyhow!("{} is not a valid component: {e:#}", file.display()))?;
    let manifest = rt
        .manifest_of("harness", &component, harness.plugin.link_all_wasi)
        .await
        .map_err(|e| anyhow!("{} cannot be loaded: {e}", file.display()))?;
    let allow_hosts = match harness.plugin.allow_hosts.clone() {
        Some(h) => h,
        None => manifest
            .hosts
            .iter()
            .filter_map(
                |h| match h.strip_prefix("${").and_then(|k| k.strip_suffix('}')) {
                    Some(key) => harness
                        .plugin
                        .config
                        .get(key)
                        .and_then(toml::Value::as_str)
                        .and_then(origin_of),
                    None => Some(h.clone()),
                },
            )
            .collect(),
    };
    let cfg = PluginConfig {
        path: Spanned::new(0..0, file.clone()),
        allow_hosts: allow_hosts
            .into_iter()
            .map(|h| Spanned::new(0..0, h))
            .collect(),
        secrets: harness.plugin.secrets.clone(),
        config: harness.plugin.config.clone(),
        limits: harness.plugin.limits,
        sha256: None,
        link_all_wasi: harness.plugin.link_all_wasi,
    };
    let plugin = rt
        .load_with_tape(&manifest.name, &cfg, dir, Some(tape.clone()))
        .await?;
    let catalogue = Catalogue::builtin()?;
    let mut out = Outcome::default();
    out.lines.push(format!(
        "{} {} ({}) {} {}",
        manifest.name,
        manifest.version,
        file.display(),
        if opts.record {
            "recording into"
        } else {
            "against the exchanges in"
        },
        dir.display()
    ));
    let mut session = match plugin.session().await {
        Ok(s) => s,
        Err(e) => {
            out.failures.push(format!("open: {e}"));
            return Ok(out);
        }
    };
    for (n, step) in harness.step.iter().enumerate() {
        let n = n + 1;
        let stream_schema = |stream: &str| -> anyhow::Result<Arc<crate::schema::Schema>> {
            let info = plugin
                .stream(stream)
                .ok_or_else(|| anyhow!("the connector offers no stream {stream:?}"))?;
            let schema = catalogue.get(&info.schema)?;
            schema.check_version(&info.schema_version).map_err(|e| {
                anyhow!(
                    "stream {stream}: schema {} {}: {e}",
                    info.schema,
                    info.schema_version
                )
            })?;
            Ok(schema)
        };
        let schema = match step {
            Step::Check => None,
            Step::Read { stream, .. } | Step::Write { stream, .. } => match stream_schema(stream) {
                Ok(s) => Some(s),
                Err(e) => {
                    out.failures.push(format!("step {n}: {stream}: {e}"));
                    continue;
                }
            },
        };
        match step {
            Step::Check => match session.check().await {
                Ok(()) => out.lines.push(format!("step {n}: check: ok")),
                Err(e) => out.failures.push(format!("step {n}: check: {e}")),
            },
            Step::Read {
                stream,
                max,
                cursor,
                records,
                expect,
                unordered,
                cursor_after,
            } => {
                let schema = schema.expect("found above for a read or write step");
                let mut got = Vec::new();
                let mut cursor = cursor.clone();
                let mut batches = 0;
                let mut failed = false;
                loop {
                    let batch = match session.read(stream, cursor.as_deref(), *max).await {
                        Ok(b) => b,
                        Err(e) => {
                            out.failures.push(format!(
                                "step {n}: read {stream}, batch {}: {e}",
                                batches + 1
                            ));
                            failed = true;
                            break;
                        }
                    };
                    batches += 1;
                    got.extend(batch.records);
                    if batch.cursor.is_some() {
                        cursor = batch.cursor;
                    }
                    if !batch.more {
                        break;
                    }
                    if batches > 10_000 {
                        out.failures
                            .push(format!("step {n}: read {stream}: more than 10,000 batches"));
                        failed = true;
                        break;
                    }
                }
                if failed {
                    continue;
                }
                for (i, r) in got.iter().enumerate() {
                    for v in schema.validate(&r.data) {
                        out.failures.push(format!(
                            "step {n}: read {stream}: record {} (remote id {}) breaks schema {}: {v}",
                            i + 1,
                            r.remote_id,
                            schema.name
                        ));
                    }
                }
                out.lines.push(format!(
                    "step {n}: read {stream}: {} records in {batches} batches (max {max}), {} deleted; cursor {}",
                    got.len(),
                    got.iter().filter(|r| r.deleted).count(),
                    cursor.as_deref().map_or("none".into(), |c| format!("{c:?}"))
                ));
                if let Some(want) = records
                    && *want != got.len()
                {
                    out.failures.push(format!(
                        "step {n}: read {stream}: {} records, expected {want}",
                        got.len()
                    ));
                }
                if let Some(want) = cursor_after
                    && cursor.as_deref() != Some(want.as_str())
                {
                    out.failures.push(format!(
                        "step {n}: read {stream}: cursor {cursor:?}, expected {want:?}"
                    ));
                }
                if let Some(file) = expect {
                    let mut want: Vec<ExpectedRecord> = read_json(dir, file)?;
                    let mut got = got.clone();
                    if *unordered {
                        want.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
                        got.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
                    }
                    if want.len() != got.len() {
                        out.failures.push(format!(
                            "step {n}: read {stream}: {} records, {} lists {}",
                            got.len(),
                            file.display(),
                            want.len()
                        ));
                    }
                    for (i, (w, r)) in want.iter().zip(&got).enumerate() {
                        let at = format!(
                            "step {n}: read {stream}: record {} (remote id {})",
                            i + 1,
                            r.remote_id
                        );
                        if let Some(id) = &w.remote_id
                            && *id != r.remote_id
                        {
                            out.failures.push(format!("{at}: remote id expected {id}"));
                        }
                        if let Some(d) = &w.data
                            && without_nulls(d) != without_nulls(&r.data)
                        {
                            out.failures
                                .push(format!("{at}: data {} ≠ expected {d}", r.data));
                        }
                        if let Some(d) = w.deleted
                            && d != r.deleted
                        {
                            out.failures
                                .push(format!("{at}: deleted {}, expected {d}", r.deleted));
                        }
                        if w.version.is_some() && w.version != r.version {
                            out.failures.push(format!(
                                "{at}: version {:?}, expected {:?}",
                                r.version, w.version
                            ));
                        }
                    }
                }
            }
            Step::Write {
                stream,
                records,
                expect,
            } => {
                let schema = schema.expect("found above for a read or write step");
                let inputs: Vec<WriteInput> = read_json(dir, records)?;
                for (i, r) in inputs.iter().enumerate() {
                    let violations = schema.validate(&r.data);
                    if !violations.is_empty() {
                        let list: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
                        bail!(
                            "{}: record {} breaks schema {}: {}",
                            dir.join(records).display(),
                            i + 1,
                            schema.name,
                            list.join("; ")
                        );
                    }
                }
                let targets: Vec<TargetRecord> = inputs
                    .iter()
                    .map(|r| TargetRecord {
                        data: r.data.to_string(),
                        remote_id: r.remote_id.clone(),
                        version: r.version.clone(),
                        current: r.current.as_ref().map(Value::to_string),
                    })
                    .collect();
                let results = match session.write(stream, &targets).await {
                    Ok(r) => r,
                    Err(e) => {
                        out.failures.push(format!("step {n}: write {stream}: {e}"));
                        continue;
                    }
                };
                let outcomes: Vec<String> = results.iter().map(outcome).collect();
                for (i, r) in results.iter().enumerate() {
                    let stored = match r {
                        WriteResult::Created(w)
                        | WriteResult::Updated(w)
                        | WriteResult::Unchanged(w) => w.stored.as_deref(),
                        _ => None,
                    };
                    let Some(stored) = stored else { continue };
                    let at = format!("step {n}: write {stream}: record {} stored", i + 1);
                    match serde_json::from_str::<Value>(stored) {
                        Ok(v) => {
                            for v in schema.validate(&v) {
                                out.failures
                                    .push(format!("{at} breaks schema {}: {v}", schema.name));
                            }
                        }
                        Err(e) => out.failures.push(format!("{at} is not JSON: {e}")),
                    }
                }
                out.lines
                    .push(format!("step {n}: write {stream}: {}", outcomes.join(", ")));
                if let Some(want) = expect
                    && *want != outcomes
                {
                    out.failures.push(format!(
                        "step {n}: write {stream}: outcomes [{}], expected [{}]",
                        outcomes.join(", "),
                        want.join(", ")
                    ));
                }
            }
        }
    }
    for m in tape.misses() {
        out.failures.push(m);
    }
    if !opts.record {
        let unused = tape.unused();
        if !unused.is_empty() {
            out.failures
                .push(format!("exchanges never used: {}", unused.join(", ")));
        }
    }
    Ok(out)
}

/// A JSON value with its `null` object members dropped, recursively: the hub counts a member
/// that is `null` as absent.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// A write result as a harness expectation writes it: the variant's name, and for `rejected`
/// the JSON pointer when there is one (`rejected /phone`).
fn outcome(r: &WriteResult) -> String {
    match r {
        WriteResult::Created(_) => "created".into(),
        WriteResult::Updated(_) => "updated".into(),
        WriteResult::Unchanged(_) => "unchanged".into(),
        WriteResult::Conflict(_) => "conflict".into(),
        WriteResult::Retry(_) => "retry".into(),
        WriteResult::Rejected(r) => match &r.pointer {
            Some(p) => format!("rejected {p}"),
            None => "rejected".into(),
        },
    }
}

/// Runs the harness and prints its outcome; returns whether it passed.
pub async fn run_and_print(opts: &Options) -> anyhow::Result<bool> {
    let out = run(opts).await?;
    for l in &out.lines {
        crate::say!("{l}");
    }
    for f in &out.failures {
        crate::say!("FAIL {f}");
    }
    crate::say!(
        "{}",
        if out.failures.is_empty() {
            "PASS"
        } else {
            "FAILED"
        }
    );
    Ok(out.failures.is_empty())
}
