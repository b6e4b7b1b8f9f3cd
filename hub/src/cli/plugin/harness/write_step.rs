//! `call = "write"`: sends the records of the step's JSON file (each checked against the
//! stream's schema first), checks every `stored` value the connector returns against it, and
//! compares the outcomes with what the step expects (which `--write-expect` writes first: the
//! list in `harness.toml`, rewritten at the end of the run, or the JSON file).

use super::fixtures::{InputOp, WriteExpect, WriteInput, WriteStep, read_json};
use super::steps::StepRun;
use super::{HARNESS_FILE, report_call};
use crate::runtime::{TargetRecord, WriteResult};
use crate::schema::Schema;
use anyhow::{Context as _, bail};
use serde_json::Value;
use std::path::Path;
use toml::Spanned;

impl StepRun<'_> {
    /// Runs write step `n` against `schema`, the schema of its stream. Errors: a records file
    /// that cannot be read or breaks the schema, an `expect` file that cannot be read or
    /// written.
    pub(super) async fn write(
        &mut self,
        n: usize,
        step: &WriteStep,
        schema: &Schema,
    ) -> anyhow::Result<()> {
        let WriteStep {
            stream,
            records,
            expect,
            ..
        } = step;
        let targets = targets(self.dir, records, schema)?;
        let at = format!("step {n}: write {stream}");
        let results = match self.session.write(stream, &targets).await {
            Ok(r) => r,
            Err(e) => {
                report_call(&mut self.out, self.tape, &at, Some(&e));
                return Ok(());
            }
        };
        report_call(&mut self.out, self.tape, &at, None);
        let outcomes: Vec<String> = results.iter().map(outcome).collect();
        self.check_stored(&at, &results, schema);
        self.out
            .lines
            .push(format!("{at}: {}", outcomes.join(", ")));
        if self.opts.write_expect {
            self.write_expected_outcomes(&at, expect.as_ref(), &outcomes)?;
        }
        let want: Option<Vec<String>> = match expect.as_ref().map(Spanned::get_ref) {
            None => None,
            // Rewritten in harness.toml at the end of the run.
            Some(WriteExpect::Outcomes(_)) if self.opts.write_expect => Some(outcomes.clone()),
            Some(WriteExpect::Outcomes(list)) => Some(list.clone()),
            Some(WriteExpect::File(file)) => Some(read_json(self.dir, file)?),
        };
        if let Some(want) = want
            && want != outcomes
        {
            self.out.failures.push(format!(
                "{at}: outcomes [{}], expected [{}]",
                outcomes.join(", "),
                want.join(", ")
            ));
        }
        Ok(())
    }

    /// Checks every `stored` value of the results (`at` names the step) against `schema`.
    fn check_stored(&mut self, at: &str, results: &[WriteResult], schema: &Schema) {
        for (i, r) in results.iter().enumerate() {
            let stored = match r {
                WriteResult::Created(w) | WriteResult::Updated(w) | WriteResult::Unchanged(w) => {
                    w.stored.as_deref()
                }
                _ => None,
            };
            let Some(stored) = stored else { continue };
            let at = format!("{at}: record {} stored", i + 1);
            match serde_json::from_str::<Value>(stored) {
                Ok(v) => {
                    for v in schema.validate(&v) {
                        self.out
                            .failures
                            .push(format!("{at} breaks schema {}: {v}", schema.name));
                    }
                }
                Err(e) => self.out.failures.push(format!("{at} is not JSON: {e}")),
            }
        }
    }

    /// `--write-expect`: the outcomes into the step's list in `harness.toml` (an edit made at
    /// the end of the run) or into its JSON file, or says there is no `expect` to write.
    fn write_expected_outcomes(
        &mut self,
        at: &str,
        expect: Option<&Spanned<WriteExpect>>,
        outcomes: &[String],
    ) -> anyhow::Result<()> {
        match expect.map(|e| (e.span(), e.get_ref())) {
            Some((span, WriteExpect::Outcomes(_))) => {
                let (line, _) = crate::config::line_col(self.text, span.start);
                let list =
                    toml::Value::Array(outcomes.iter().cloned().map(toml::Value::String).collect());
                self.edits.push((span, list.to_string()));
                self.out.lines.push(format!(
                    "{at}: wrote the outcomes to {HARNESS_FILE} line {line}"
                ));
            }
            Some((_, WriteExpect::File(file))) => {
                let path = self.dir.join(file);
                std::fs::write(&path, serde_json::to_string(&outcomes)? + "\n")
                    .with_context(|| format!("{}", path.display()))?;
                self.out
                    .lines
                    .push(format!("{at}: wrote the outcomes to {}", file.display()));
            }
            None => self.out.lines.push(format!(
                "{at}: no `expect` to write (add `expect = []` in {HARNESS_FILE})"
            )),
        }
        Ok(())
    }
}

/// The records of the step's file `records` (in `dir`) as the contract's target records.
/// Errors: a file that cannot be read, a record that breaks `schema`.
fn targets(dir: &Path, records: &Path, schema: &Schema) -> anyhow::Result<Vec<TargetRecord>> {
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
    Ok(inputs
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
        .collect())
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
