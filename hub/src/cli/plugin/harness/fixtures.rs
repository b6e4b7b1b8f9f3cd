//! The fixture directory's own files: `harness.toml` (the plugin's settings and the steps,
//! read step by step so a problem names its line and column) and the JSON files the steps
//! name (a read step's expected records, a write step's records and outcomes).

use crate::config::{ConfigError, Limits, SecretSource};
use anyhow::{Context as _, anyhow};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// `harness.toml` but its steps, which [`parse_harness`] reads one by one, each as its `call`
/// says (so a key the call does not take is reported where it is).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Harness {
    #[serde(default)]
    pub(super) plugin: HarnessPlugin,
    #[serde(default, rename = "step")]
    _step: Vec<IgnoredAny>,
}

/// The plugin's settings, as in a deployment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HarnessPlugin {
    #[serde(default)]
    pub(super) allow_hosts: Option<Vec<String>>,
    #[serde(default)]
    pub(super) secrets: BTreeMap<String, SecretSource>,
    #[serde(default)]
    pub(super) config: toml::Table,
    #[serde(default)]
    pub(super) limits: Limits,
    #[serde(default)]
    pub(super) link_all_wasi: bool,
}

/// One step.
#[derive(Debug)]
pub(super) enum Step {
    Check,
    /// Drop the instance and open a fresh one (the next sync run).
    Restart,
    Read(ReadStep),
    Write(WriteStep),
}

/// A step that takes no key but `call` (`check`, `restart`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CallOnly {
    #[serde(rename = "call")]
    _call: IgnoredAny,
}

/// `call = "read"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReadStep {
    #[serde(rename = "call")]
    _call: IgnoredAny,
    pub(super) stream: String,
    #[serde(default = "default_max")]
    pub(super) max: u32,
    /// The cursor the first `read` call gets, as the hub hands a run the cursor the last run
    /// ended at; none (a first run) by default.
    pub(super) cursor: Option<String>,
    /// Start from the cursor the last read step of the same stream ended at.
    pub(super) resume: Option<Spanned<bool>>,
    pub(super) records: Option<usize>,
    pub(super) expect: Option<PathBuf>,
    #[serde(default)]
    pub(super) unordered: bool,
    pub(super) cursor_after: Option<String>,
}

/// `call = "write"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WriteStep {
    #[serde(rename = "call")]
    _call: IgnoredAny,
    pub(super) stream: String,
    pub(super) records: PathBuf,
    pub(super) expect: Option<Spanned<WriteExpect>>,
}

/// A write step's expected outcomes: in `harness.toml`, or in a JSON file.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a list of outcomes (\"created\", \"rejected /phone\", ...) or the name of a JSON file holding one"
)]
pub(super) enum WriteExpect {
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
pub(super) fn parse_harness(path: &Path, text: &str) -> anyhow::Result<(Harness, Vec<Step>)> {
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
pub(super) struct ExpectedRecord {
    pub(super) remote_id: Option<String>,
    pub(super) data: Option<Value>,
    pub(super) deleted: Option<bool>,
    pub(super) version: Option<String>,
}

/// What a write step asks of a record (`op` of the contract's `target-record`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum InputOp {
    Upsert,
    Delete,
}

/// A record as `--write-expect` writes it into a read step's `expect` file (the fields of
/// [`ExpectedRecord`], in this order).
#[derive(serde::Serialize)]
pub(super) struct WrittenRecord<'a> {
    pub(super) remote_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<&'a str>,
    pub(super) deleted: bool,
    pub(super) data: &'a Value,
}

/// A record a write step sends (the `target-record` of the contract, `data` and `current` as
/// JSON values).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WriteInput {
    pub(super) data: Value,
    pub(super) remote_id: Option<String>,
    pub(super) version: Option<String>,
    pub(super) current: Option<Value>,
    /// `"delete"` for a native delete (contract 0.2); an upsert otherwise.
    #[serde(default)]
    pub(super) op: Option<InputOp>,
}

/// Reads the JSON file `file` of the fixture directory `dir`; a syntax error names its line and
/// column.
pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &Path,
) -> anyhow::Result<T> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
}
