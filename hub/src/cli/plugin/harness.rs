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
//! call = "restart"              # a fresh instance, opened again: the next sync run
//!
//! [[step]]
//! call = "read"
//! stream = "zhenfeng-workers"
//! resume = true                 # start from the cursor the last read of the stream ended at
//! # cursor = "..."              # or: the cursor the first `read` call gets (default: none)
//!
//! [[step]]
//! call = "write"
//! stream = "zhenfeng-workers"
//! records = "write-workers.json"          # [{"data": {...}, "remote_id", "version", "current"}]
//! expect = ["created", "rejected /phone"] # one outcome per record, `rejected` with its pointer
//!                                         # (or a JSON file holding that list)
//! ```
//!
//! The steps run in one instance (as one sync run does): `open` with the config, then the
//! steps in order; a `restart` step drops it and opens a fresh one, as the next sync run
//! gets. The run fails if a call fails, a record read or written (and every `stored` value)
//! breaks its schema, an expectation is not met, a request has no recorded exchange (a
//! fixture mismatch: the report names the nearest exchange and how it differs), or an
//! exchange is left unused. Problems in `harness.toml` name its line and column.
//!
//! `--record` runs the same steps against a live system and writes the exchanges instead,
//! into `DIR/.recording`; they replace the `.http` files of `DIR` only if every step passed
//! (a live system that is down leaves the fixtures as they were); `--live KEY=URL` sends to `URL` in
//! place of the URL in config field `KEY`, and writes the exchanges as if sent to the latter;
//! `--secret NAME=ENV` grants the real value of secret `NAME`, from environment variable
//! `ENV`, in place of the stand-in (the fixtures keep `{{secret:NAME}}`). `--write-expect`
//! writes what each step got into its `expect` (a read step's file, a write step's list or
//! file) and then checks against it.

use crate::config::{ConfigError, Limits, PluginConfig, SecretSource};
use crate::runtime::tape::Tape;
use crate::runtime::{Runtime, TargetRecord, WriteResult};
use crate::schema::Catalogue;
use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// The harness file's name in the fixture directory.
pub const HARNESS_FILE: &str = "harness.toml";

/// `harness.toml` but its steps, which [`parse_harness`] reads one by one, each as its `call`
/// says (so a key the call does not take is reported where it is).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Harness {
    #[serde(default)]
    plugin: HarnessPlugin,
    #[serde(default, rename = "step")]
    _step: Vec<IgnoredAny>,
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

/// One step.
#[derive(Debug)]
enum Step {
    Check,
    /// Drop the instance and open a fresh one (the next sync run).
    Restart,
    Read(ReadStep),
    Write(WriteStep),
}

/// A step that takes no key but `call` (`check`, `restart`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallOnly {
    #[serde(rename = "call")]
    _call: IgnoredAny,
}

/// `call = "read"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadStep {
    #[serde(rename = "call")]
    _call: IgnoredAny,
    stream: String,
    #[serde(default = "default_max")]
    max: u32,
    /// The cursor the first `read` call gets, as the hub hands a run the cursor the last run
    /// ended at; none (a first run) by default.
    cursor: Option<String>,
    /// Start from the cursor the last read step of the same stream ended at.
    resume: Option<Spanned<bool>>,
    records: Option<usize>,
    expect: Option<PathBuf>,
    #[serde(default)]
    unordered: bool,
    cursor_after: Option<String>,
}

/// `call = "write"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteStep {
    #[serde(rename = "call")]
    _call: IgnoredAny,
    stream: String,
    records: PathBuf,
    expect: Option<Spanned<WriteExpect>>,
}

/// A write step's expected outcomes: in `harness.toml`, or in a JSON file.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a list of outcomes (\"created\", \"rejected /phone\", ...) or the name of a JSON file holding one"
)]
enum WriteExpect {
    Outcomes(Vec<String>),
    File(PathBuf),
}

fn default_max() -> u32 {
    100
}

/// The calls a step may make.
const CALLS: &str = "`check`, `read`, `write`, `restart`";

/// Reads `harness.toml` (`text`, from `path`). Each step is read as its `call` says; every
/// problem names the file, line and column of the key or value at fault.
fn parse_harness(path: &Path, text: &str) -> anyhow::Result<(Harness, Vec<Step>)> {
    let at = |span: Option<Range<usize>>, message: &str| {
        let (line, column) = span.map_or((0, 0), |s| crate::config::line_col(text, s.start));
        anyhow!(
            "{}",
            ConfigError {
                file: path.to_path_buf(),
                line,
                column,
                message: message.trim().to_string(),
            }
        )
    };
    let toml_err = |e: toml::de::Error| at(e.span(), e.message());
    let doc = DeTable::parse(text).map_err(toml_err)?;
    let steps: Vec<Spanned<DeValue>> = match doc.get_ref().get("step").map(Spanned::get_ref) {
        Some(DeValue::Array(a)) => a.iter().cloned().collect(),
        _ => Vec::new(),
    };
    let harness = Harness::deserialize(toml::de::Deserializer::from(doc)).map_err(toml_err)?;
    let mut out = Vec::new();
    let mut read_streams = Vec::new();
    for step in steps {
        let call = match step.get_ref() {
            DeValue::Table(t) => t.get("call").cloned(),
            _ => None,
        };
        let Some(call) = call else {
            return Err(at(Some(step.span()), "missing field `call`"));
        };
        let de = ValueDeserializer::from(step);
        let step = match call.get_ref().as_str() {
            Some("check") => CallOnly::deserialize(de).map(|_| Step::Check),
            Some("restart") => CallOnly::deserialize(de).map(|_| Step::Restart),
            Some("read") => ReadStep::deserialize(de).map(Step::Read),
            Some("write") => WriteStep::deserialize(de).map(Step::Write),
            Some(other) => {
                return Err(at(
                    Some(call.span()),
                    &format!("unknown call `{other}`, expected one of {CALLS}"),
                ));
            }
            None => {
                return Err(at(
                    Some(call.span()),
                    &format!("`call` is a string, one of {CALLS}"),
                ));
            }
        }
        .map_err(toml_err)?;
        if let Step::Read(r) = &step {
            if let Some(resume) = r.resume.as_ref().filter(|r| *r.get_ref()) {
                if r.cursor.is_some() {
                    return Err(at(
                        Some(resume.span()),
                        "`resume = true` and `cursor` both say where the read starts: keep one",
                    ));
                }
                if !read_streams.contains(&r.stream) {
                    return Err(at(
                        Some(resume.span()),
                        &format!(
                            "`resume = true`, but no step before reads stream {:?}",
                            r.stream
                        ),
                    ));
                }
            }
            read_streams.push(r.stream.clone());
        }
        out.push(step);
    }
    Ok((harness, out))
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

/// What a write step asks of a record (`op` of the contract's `target-record`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum InputOp {
    Upsert,
    Delete,
}

/// A record as `--write-expect` writes it into a read step's `expect` file (the fields of
/// [`ExpectedRecord`], in this order).
#[derive(serde::Serialize)]
struct WrittenRecord<'a> {
    remote_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    deleted: bool,
    data: &'a Value,
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
    /// `"delete"` for a native delete (contract 0.2); an upsert otherwise.
    #[serde(default)]
    op: Option<InputOp>,
}

/// How `hub plugin test` runs.
#[derive(Debug, Clone, Default)]
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
    /// `(secret name, environment variable)` pairs for `--record`: the secret's real value,
    /// granted in place of the stand-in in `harness.toml`.
    pub secrets: Vec<(String, String)>,
    /// Write what each step got into its `expect` (a read step's file; a write step's list in
    /// `harness.toml`, or its file), then check against it.
    pub write_expect: bool,
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

/// Reports the requests no exchange answered during a call (`at` names it) and how the call
/// ended: a failed call with a miss is reported as the miss (its cause), with the connector's
/// error after it.
fn report_call(out: &mut Outcome, tape: &Tape, at: &str, error: Option<&dyn std::fmt::Display>) {
    let mut misses = tape.take_misses().into_iter();
    match (misses.next(), error) {
        (Some(miss), Some(e)) => out
            .failures
            .push(format!("{at}: {miss} (the connector then failed: {e})")),
        (Some(miss), None) => out.failures.push(format!("{at}: {miss}")),
        (None, Some(e)) => out.failures.push(format!("{at}: {e}")),
        (None, None) => {}
    }
    for miss in misses {
        out.failures.push(format!("{at}: {miss}"));
    }
}

/// The origin (`scheme://host[:port]`) of a URL, as written.
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.origin().ascii_serialization()).filter(|o| o != "null")
}

/// Runs the harness in `opts.fixtures` against `opts.file`. `Err` for a harness that cannot
/// run (a bad `harness.toml`, a file missing, a component that does not load, a `--secret`
/// whose variable is not set); failures of the connector are in [`Outcome::failures`].
pub async fn run(opts: &Options) -> anyhow::Result<Outcome> {
    let dir = &opts.fixtures;
    let harness_path = dir.join(HARNESS_FILE);
    let text = std::fs::read_to_string(&harness_path)
        .with_context(|| format!("{}", harness_path.display()))?;
    let (mut harness, steps) = parse_harness(&harness_path, &text)?;
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
    // The real secrets, read before anything in DIR is removed; never written anywhere.
    let mut real = BTreeMap::new();
    for (name, env) in &opts.secrets {
        let value = std::env::var(env)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                anyhow!("--secret {name}={env}: environment variable {env} is not set")
            })?;
        // A value this short is not scrubbed from responses: it could reach a fixture.
        if value.len() < crate::runtime::http::MIN_SCRUBBED_SECRET {
            bail!(
                "--secret {name}={env}: the value is shorter than {} bytes, too short to be \
                 scrubbed from the recorded responses",
                crate::runtime::http::MIN_SCRUBBED_SECRET
            );
        }
        real.insert(name.clone(), (env.clone(), value));
    }

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
    let mut notes = Vec::new();
    for (name, (env, value)) in real {
        if !manifest.secrets.contains(&name) {
            bail!(
                "--secret {name}={env}: {} asks for no secret {name:?} (it asks for: {})",
                manifest.name,
                if manifest.secrets.is_empty() {
                    "none".to_string()
                } else {
                    manifest.secrets.join(", ")
                }
            );
        }
        notes.push(format!(
            "secret {name}: the value of ${env} (the fixtures keep {{{{secret:{name}}}}})"
        ));
        harness
            .plugin
            .secrets
            .insert(name, SecretSource::Value { value });
    }
    if opts.record {
        for name in &manifest.secrets {
            if !opts.secrets.iter().any(|(n, _)| n == name)
                && matches!(
                    harness.plugin.secrets.get(name),
                    Some(SecretSource::Value { .. })
                )
            {
                notes.push(format!(
                    "secret {name}: the stand-in in {HARNESS_FILE} is sent to the live system \
                     (give the real value with --secret {name}=ENV)"
                ));
            }
        }
    }
    let staging = dir.join(STAGING_DIR);
    let tape = if opts.record {
        // Recorded beside the fixtures, which it replaces only if the whole run passes.
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir(&staging).with_context(|| format!("{}", staging.display()))?;
        Tape::record(&staging, rewrite)
    } else {
        Tape::replay(dir)?
    };
    let tape = Arc::new(tape);

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
        // Recorded answers come at once: no system to spare.
        rate_limit: None,
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
    out.lines.extend(notes);
    let mut session = match plugin.session().await {
        Ok(s) => s,
        Err(e) => {
            report_call(&mut out, &tape, "open", Some(&e));
            if opts.record {
                finish_recording(dir, &staging, &mut out)?;
            }
            return Ok(out);
        }
    };
    report_call(&mut out, &tape, "open", None);
    // The cursor each stream's last read step ended at (for `resume`).
    let mut ended: BTreeMap<String, Option<String>> = BTreeMap::new();
    // `--write-expect` into harness.toml: (the span of a write step's list, its new text).
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for (n, step) in steps.iter().enumerate() {
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
            Step::Check | Step::Restart => None,
            Step::Read(ReadStep { stream, .. }) | Step::Write(WriteStep { stream, .. }) => {
                match stream_schema(stream) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        out.failures.push(format!("step {n}: {stream}: {e}"));
                        continue;
                    }
                }
            }
        };
        match step {
            Step::Check => {
                let at = format!("step {n}: check");
                match session.check().await {
                    Ok(()) => {
                        out.lines.push(format!("{at}: ok"));
                        report_call(&mut out, &tape, &at, None);
                    }
                    Err(e) => report_call(&mut out, &tape, &at, Some(&e)),
                }
            }
            Step::Restart => {
                let at = format!("step {n}: restart");
                match plugin.session().await {
                    Ok(s) => {
                        session = s;
                        out.lines.push(format!(
                            "{at}: a fresh instance, opened with the config (the next sync run)"
                        ));
                        report_call(&mut out, &tape, &at, None);
                    }
                    Err(e) => {
                        report_call(&mut out, &tape, &format!("{at}: open"), Some(&e));
                        break;
                    }
                }
            }
            Step::Read(ReadStep {
                _call: _,
                stream,
                max,
                cursor,
                resume,
                records,
                expect,
                unordered,
                cursor_after,
            }) => {
                let schema = schema.expect("found above for a read or write step");
                let mut cursor = cursor.clone();
                if resume.as_ref().is_some_and(|r| *r.get_ref()) {
                    // parse_harness saw a read step of the stream before this one.
                    let Some(last) = ended.get(stream) else {
                        out.failures.push(format!(
                            "step {n}: read {stream}: resume: the last read of {stream} failed, \
                             so there is no cursor to resume from"
                        ));
                        continue;
                    };
                    cursor = last.clone();
                    out.lines.push(format!(
                        "step {n}: read {stream}: resuming from cursor {}",
                        cursor
                            .as_deref()
                            .map_or("none".into(), |c| format!("{c:?}"))
                    ));
                }
                ended.remove(stream);
                let mut got = Vec::new();
                let mut batches = 0;
                let mut failed = false;
                loop {
                    let at = format!("step {n}: read {stream}, batch {}", batches + 1);
                    let batch = match session.read(stream, cursor.as_deref(), *max).await {
                        Ok(b) => b,
                        Err(e) => {
                            report_call(&mut out, &tape, &at, Some(&e));
                            failed = true;
                            break;
                        }
                    };
                    report_call(&mut out, &tape, &at, None);
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
                ended.insert(stream.clone(), cursor.clone());
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
                if opts.write_expect {
                    match expect {
                        Some(file) => {
                            write_read_expect(&dir.join(file), &got)?;
                            out.lines.push(format!(
                                "step {n}: read {stream}: wrote {} records to {}",
                                got.len(),
                                file.display()
                            ));
                        }
                        None => out.lines.push(format!(
                            "step {n}: read {stream}: no `expect` file to write (name one in {HARNESS_FILE})"
                        )),
                    }
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
            Step::Write(WriteStep {
                _call: _,
                stream,
                records,
                expect,
            }) => {
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
                        op: match r.op {
                            Some(InputOp::Delete) => crate::runtime::WriteOp::Delete,
                            Some(InputOp::Upsert) | None => crate::runtime::WriteOp::Upsert,
                        },
                        data: r.data.to_string(),
                        remote_id: r.remote_id.clone(),
                        version: r.version.clone(),
                        current: r.current.as_ref().map(Value::to_string),
                    })
                    .collect();
                let at = format!("step {n}: write {stream}");
                let results = match session.write(stream, &targets).await {
                    Ok(r) => r,
                    Err(e) => {
                        report_call(&mut out, &tape, &at, Some(&e));
                        continue;
                    }
                };
                report_call(&mut out, &tape, &at, None);
                let outcomes: Vec<String> = results.iter().map(outcome).collect();
                for (i, r) in results.iter().enumerate() {
                    let stored = match r {
                        WriteResult::Created(w)
                        | WriteResult::Updated(w)
                        | WriteResult::Unchanged(w) => w.stored.as_deref(),
                        _ => None,
                    };
                    let Some(stored) = stored else { continue };
                    let at = format!("{at}: record {} stored", i + 1);
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
                out.lines.push(format!("{at}: {}", outcomes.join(", ")));
                if opts.write_expect {
                    match expect.as_ref().map(|e| (e.span(), e.get_ref())) {
                        Some((span, WriteExpect::Outcomes(_))) => {
                            let (line, _) = crate::config::line_col(&text, span.start);
                            let list = toml::Value::Array(
                                outcomes.iter().cloned().map(toml::Value::String).collect(),
                            );
                            edits.push((span, list.to_string()));
                            out.lines.push(format!(
                                "{at}: wrote the outcomes to {HARNESS_FILE} line {line}"
                            ));
                        }
                        Some((_, WriteExpect::File(file))) => {
                            let path = dir.join(file);
                            std::fs::write(&path, serde_json::to_string(&outcomes)? + "\n")
                                .with_context(|| format!("{}", path.display()))?;
                            out.lines
                                .push(format!("{at}: wrote the outcomes to {}", file.display()));
                        }
                        None => out.lines.push(format!(
                            "{at}: no `expect` to write (add `expect = []` in {HARNESS_FILE})"
                        )),
                    }
                }
                let want: Option<Vec<String>> = match expect.as_ref().map(Spanned::get_ref) {
                    None => None,
                    // Rewritten in harness.toml at the end of the run.
                    Some(WriteExpect::Outcomes(_)) if opts.write_expect => Some(outcomes.clone()),
                    Some(WriteExpect::Outcomes(list)) => Some(list.clone()),
                    Some(WriteExpect::File(file)) => Some(read_json(dir, file)?),
                };
                if let Some(want) = want
                    && want != outcomes
                {
                    out.failures.push(format!(
                        "{at}: outcomes [{}], expected [{}]",
                        outcomes.join(", "),
                        want.join(", ")
                    ));
                }
            }
        }
    }
    if !edits.is_empty() {
        let mut edited = text.clone();
        edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
        for (span, new) in edits {
            edited.replace_range(span, &new);
        }
        std::fs::write(&harness_path, edited)
            .with_context(|| format!("{}", harness_path.display()))?;
    }
    for m in tape.take_misses() {
        out.failures.push(m);
    }
    if !opts.record {
        let unused = tape.unused();
        if !unused.is_empty() {
            out.failures
                .push(format!("exchanges never used: {}", unused.join(", ")));
        }
    } else {
        finish_recording(dir, &staging, &mut out)?;
    }
    Ok(out)
}

/// Where `--record` writes the exchanges of a run, inside the fixtures directory, until the
/// run has passed.
pub const STAGING_DIR: &str = ".recording";

/// Ends a recording: when every step passed, the recorded exchanges replace the `.http` files
/// of `dir`; otherwise (the live system down, a step failing) the fixtures are left as they
/// were and the recording stays in `staging`, for a person to look at.
fn finish_recording(dir: &Path, staging: &Path, out: &mut Outcome) -> anyhow::Result<()> {
    if !out.failures.is_empty() {
        out.lines.push(format!(
            "the recording failed: the fixtures in {} are unchanged; what was recorded is in {}",
            dir.display(),
            staging.display()
        ));
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.to_string_lossy().ends_with(".http") {
            std::fs::remove_file(&p)?;
        }
    }
    for entry in std::fs::read_dir(staging)? {
        let p = entry?.path();
        if let Some(name) = p.file_name() {
            std::fs::rename(&p, dir.join(name))?;
        }
    }
    std::fs::remove_dir(staging)?;
    Ok(())
}

/// Writes a read step's `expect` file: the records as the step got them, in the format
/// [`ExpectedRecord`] reads (`remote_id`, `version` if any, `deleted`, `data`).
fn write_read_expect(path: &Path, got: &[crate::runtime::ReadRecord]) -> anyhow::Result<()> {
    let records: Vec<WrittenRecord> = got
        .iter()
        .map(|r| WrittenRecord {
            remote_id: &r.remote_id,
            version: r.version.as_deref(),
            deleted: r.deleted,
            data: &r.data,
        })
        .collect();
    std::fs::write(path, serde_json::to_string_pretty(&records)? + "\n")
        .with_context(|| format!("{}", path.display()))
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
        WriteResult::Deleted(_) => "deleted".into(),
        WriteResult::Duplicate(_) => "duplicate".into(),
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
