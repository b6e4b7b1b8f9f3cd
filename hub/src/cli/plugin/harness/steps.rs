//! The steps of a harness run, in one instance as one sync run has it: each step's stream and
//! schema looked up, then `check`, `restart` (a fresh instance, the next sync run), `read`
//! ([`super::read_step`]) and `write` ([`super::write_step`]). Every call's misses and errors
//! go into the [`Outcome`].

use super::fixtures::{ReadStep, Step, WriteStep};
use super::{Options, Outcome, report_call};
use crate::runtime::tape::Tape;
use crate::runtime::{Plugin, Session};
use crate::schema::{Catalogue, Schema};
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// A run of the steps: what they share, and what they leave for the end of the run.
pub(super) struct StepRun<'a> {
    /// How the harness runs.
    pub(super) opts: &'a Options,
    /// The fixture directory.
    pub(super) dir: &'a Path,
    /// The text of `harness.toml` (for the line of a write step's outcomes).
    pub(super) text: &'a str,
    /// The plugin, loaded on the tape.
    pub(super) plugin: &'a Plugin,
    /// The recorded exchanges (or the recording).
    pub(super) tape: &'a Tape,
    /// The schemas of the streams.
    pub(super) catalogue: &'a Catalogue,
    /// The open instance.
    pub(super) session: Session,
    /// What the run found so far.
    pub(super) out: Outcome,
    /// The cursor each stream's last read step ended at (for `resume`).
    pub(super) ended: BTreeMap<String, Option<String>>,
    /// `--write-expect` into harness.toml: (the span of a write step's list, its new text).
    pub(super) edits: Vec<(Range<usize>, String)>,
}

impl StepRun<'_> {
    /// Runs `steps` in order, step `n` counted from 1. A step whose stream cannot be used fails
    /// and the next runs; a `restart` that cannot open ends the steps. Errors: a fixture file
    /// that cannot be read or written.
    pub(super) async fn run(&mut self, steps: &[Step]) -> anyhow::Result<()> {
        for (n, step) in steps.iter().enumerate() {
            let n = n + 1;
            let schema = match step {
                Step::Check | Step::Restart => None,
                Step::Read(ReadStep { stream, .. }) | Step::Write(WriteStep { stream, .. }) => {
                    match self.stream_schema(stream) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            self.out.failures.push(format!("step {n}: {stream}: {e}"));
                            continue;
                        }
                    }
                }
            };
            match step {
                Step::Check => self.check(n).await,
                Step::Restart => {
                    if !self.restart(n).await {
                        break;
                    }
                }
                Step::Read(read) => {
                    let schema = schema.expect("found above for a read or write step");
                    self.read(n, read, &schema).await?;
                }
                Step::Write(write) => {
                    let schema = schema.expect("found above for a read or write step");
                    self.write(n, write, &schema).await?;
                }
            }
        }
        Ok(())
    }

    /// The schema of `stream`, at the version the connector declares. Errors: a stream the
    /// connector does not offer, a schema unknown or of another version.
    fn stream_schema(&self, stream: &str) -> anyhow::Result<Arc<Schema>> {
        let info = self
            .plugin
            .stream(stream)
            .ok_or_else(|| anyhow!("the connector offers no stream {stream:?}"))?;
        let schema = self.catalogue.get(&info.schema)?;
        schema.check_version(&info.schema_version).map_err(|e| {
            anyhow!(
                "stream {stream}: schema {} {}: {e}",
                info.schema,
                info.schema_version
            )
        })?;
        Ok(schema)
    }

    /// `call = "check"`: the connector's own check of its settings and system.
    async fn check(&mut self, n: usize) {
        let at = format!("step {n}: check");
        match self.session.check().await {
            Ok(()) => {
                self.out.lines.push(format!("{at}: ok"));
                report_call(&mut self.out, self.tape, &at, None);
            }
            Err(e) => report_call(&mut self.out, self.tape, &at, Some(&e)),
        }
    }

    /// `call = "restart"`: a fresh instance, opened with the config (the next sync run).
    /// Returns whether it opened (the steps go on).
    async fn restart(&mut self, n: usize) -> bool {
        let at = format!("step {n}: restart");
        match self.plugin.session().await {
            Ok(s) => {
                self.session = s;
                self.out.lines.push(format!(
                    "{at}: a fresh instance, opened with the config (the next sync run)"
                ));
                report_call(&mut self.out, self.tape, &at, None);
                true
            }
            Err(e) => {
                report_call(&mut self.out, self.tape, &format!("{at}: open"), Some(&e));
                false
            }
        }
    }
}
