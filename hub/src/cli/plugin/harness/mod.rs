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
//!
//! The parts: [`fixtures`] (`harness.toml` and the JSON files), [`load`] (the component, the
//! tape, the plugin's settings), [`steps`] (the run of the steps, `check` and `restart`),
//! [`read_step`] and [`write_step`]; this file runs them and reports.

mod fixtures;
mod load;
mod read_step;
mod steps;
mod write_step;

use crate::runtime::Runtime;
use crate::runtime::tape::Tape;
use crate::schema::Catalogue;
use anyhow::Context as _;
use fixtures::parse_harness;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use steps::StepRun;

/// The harness file's name in the fixture directory.
pub const HARNESS_FILE: &str = "harness.toml";

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

/// Reports the requests no exchange answered during a call (`at` names it) and how the call
/// ended: a failed call with a miss is reported as the miss (its cause), with the connector's
/// error after it.
pub(super) fn report_call(
    out: &mut Outcome,
    tape: &Tape,
    at: &str,
    error: Option<&dyn std::fmt::Display>,
) {
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
pub(super) fn origin_of(url: &str) -> Option<String> {
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
    let rewrite = load::live_rewrites(opts, &mut harness, &harness_path)?;
    let real = load::real_secrets(opts)?;

    let cache = tempfile::tempdir()?;
    let rt = Runtime::new(Some(cache.path().to_path_buf()))?;
    let manifest = load::manifest(&rt, &file, harness.plugin.link_all_wasi).await?;
    let notes = load::grant_secrets(opts, real, &manifest, &mut harness)?;
    let staging = dir.join(STAGING_DIR);
    let tape = Arc::new(load::open_tape(opts, dir, &staging, rewrite)?);
    let cfg = load::plugin_config(&harness, &manifest, &file);
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
    let session = match plugin.session().await {
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
    let mut run = StepRun {
        opts,
        dir,
        text: &text,
        plugin: &plugin,
        tape: &tape,
        catalogue: &catalogue,
        session,
        out,
        ended: BTreeMap::new(),
        edits: Vec::new(),
    };
    run.run(&steps).await?;
    let StepRun { mut out, edits, .. } = run;
    write_edits(&harness_path, &text, edits)?;
    finish(opts, &tape, &staging, &mut out)?;
    Ok(out)
}

/// `--write-expect` into `harness.toml`: each write step's list of outcomes replaced, in its
/// `text`, by what the step got (`edits`: the span of a list, its new text).
fn write_edits(
    harness_path: &Path,
    text: &str,
    mut edits: Vec<(Range<usize>, String)>,
) -> anyhow::Result<()> {
    if !edits.is_empty() {
        let mut edited = text.to_string();
        edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
        for (span, new) in edits {
            edited.replace_range(span, &new);
        }
        std::fs::write(harness_path, edited)
            .with_context(|| format!("{}", harness_path.display()))?;
    }
    Ok(())
}

/// The end of a run: the requests no exchange answered; then, replaying, the exchanges never
/// used, or, recording, the recording kept or dropped ([`finish_recording`]).
fn finish(opts: &Options, tape: &Tape, staging: &Path, out: &mut Outcome) -> anyhow::Result<()> {
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
        finish_recording(&opts.fixtures, staging, out)?;
    }
    Ok(())
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
