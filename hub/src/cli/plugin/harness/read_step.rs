//! `call = "read"`: reads a stream until `more` is false, from no cursor, the cursor given or
//! (`resume`) the one the last read of the stream ended at; then checks every record against
//! the stream's schema, the count and the last cursor against what the step expects, and the
//! records against its `expect` file (which `--write-expect` writes first).

use super::fixtures::{ExpectedRecord, ReadStep, WrittenRecord, read_json};
use super::steps::StepRun;
use super::{HARNESS_FILE, report_call};
use crate::runtime::ReadRecord;
use crate::schema::Schema;
use anyhow::Context as _;
use serde_json::Value;
use std::path::Path;

/// What a read step got: every record of every batch, how many batches, the last cursor.
struct Read {
    got: Vec<ReadRecord>,
    batches: u32,
    cursor: Option<String>,
}

impl StepRun<'_> {
    /// Runs read step `n` against `schema`, the schema of its stream. Errors: an `expect` file
    /// that cannot be read or written.
    pub(super) async fn read(
        &mut self,
        n: usize,
        step: &ReadStep,
        schema: &Schema,
    ) -> anyhow::Result<()> {
        let ReadStep {
            stream,
            max,
            cursor,
            resume,
            expect,
            unordered,
            ..
        } = step;
        let mut cursor = cursor.clone();
        if resume.as_ref().is_some_and(|r| *r.get_ref()) {
            // parse_harness saw a read step of the stream before this one.
            let Some(last) = self.ended.get(stream) else {
                self.out.failures.push(format!(
                    "step {n}: read {stream}: resume: the last read of {stream} failed, \
                     so there is no cursor to resume from"
                ));
                return Ok(());
            };
            cursor = last.clone();
            self.out.lines.push(format!(
                "step {n}: read {stream}: resuming from cursor {}",
                cursor
                    .as_deref()
                    .map_or("none".into(), |c| format!("{c:?}"))
            ));
        }
        self.ended.remove(stream);
        let Some(read) = self.read_batches(n, stream, cursor, *max).await else {
            return Ok(());
        };
        self.ended.insert(stream.clone(), read.cursor.clone());
        self.check_read(n, step, schema, &read);
        if self.opts.write_expect {
            self.write_expected_records(n, stream, expect.as_deref(), &read.got)?;
        }
        if let Some(file) = expect {
            self.compare_expected(n, stream, file, *unordered, &read.got)?;
        }
        Ok(())
    }

    /// Calls `read` until `more` is false, `max` records at a time, from `cursor`; `None` (the
    /// failure reported) when a call fails or the stream gives more than 10,000 batches.
    async fn read_batches(
        &mut self,
        n: usize,
        stream: &str,
        mut cursor: Option<String>,
        max: u32,
    ) -> Option<Read> {
        let mut got = Vec::new();
        let mut batches = 0;
        loop {
            let at = format!("step {n}: read {stream}, batch {}", batches + 1);
            let batch = match self.session.read(stream, cursor.as_deref(), max).await {
                Ok(b) => b,
                Err(e) => {
                    report_call(&mut self.out, self.tape, &at, Some(&e));
                    return None;
                }
            };
            report_call(&mut self.out, self.tape, &at, None);
            batches += 1;
            got.extend(batch.records);
            if batch.cursor.is_some() {
                cursor = batch.cursor;
            }
            if !batch.more {
                break;
            }
            if batches > 10_000 {
                self.out
                    .failures
                    .push(format!("step {n}: read {stream}: more than 10,000 batches"));
                return None;
            }
        }
        Some(Read {
            got,
            batches,
            cursor,
        })
    }

    /// Checks every record read against `schema`, reports what was read, and checks the count
    /// (`records`) and the last cursor (`cursor_after`) the step expects.
    fn check_read(&mut self, n: usize, step: &ReadStep, schema: &Schema, read: &Read) {
        let ReadStep {
            stream,
            max,
            records,
            cursor_after,
            ..
        } = step;
        let Read {
            got,
            batches,
            cursor,
        } = read;
        for (i, r) in got.iter().enumerate() {
            for v in schema.validate(&r.data) {
                self.out.failures.push(format!(
                    "step {n}: read {stream}: record {} (remote id {}) breaks schema {}: {v}",
                    i + 1,
                    r.remote_id,
                    schema.name
                ));
            }
        }
        self.out.lines.push(format!(
            "step {n}: read {stream}: {} records in {batches} batches (max {max}), {} deleted; cursor {}",
            got.len(),
            got.iter().filter(|r| r.deleted).count(),
            cursor.as_deref().map_or("none".into(), |c| format!("{c:?}"))
        ));
        if let Some(want) = records
            && *want != got.len()
        {
            self.out.failures.push(format!(
                "step {n}: read {stream}: {} records, expected {want}",
                got.len()
            ));
        }
        if let Some(want) = cursor_after
            && cursor.as_deref() != Some(want.as_str())
        {
            self.out.failures.push(format!(
                "step {n}: read {stream}: cursor {cursor:?}, expected {want:?}"
            ));
        }
    }

    /// `--write-expect`: writes the records read into the step's `expect` file, or says there
    /// is none to write.
    fn write_expected_records(
        &mut self,
        n: usize,
        stream: &str,
        expect: Option<&Path>,
        got: &[ReadRecord],
    ) -> anyhow::Result<()> {
        match expect {
            Some(file) => {
                write_read_expect(&self.dir.join(file), got)?;
                self.out.lines.push(format!(
                    "step {n}: read {stream}: wrote {} records to {}",
                    got.len(),
                    file.display()
                ));
            }
            None => self.out.lines.push(format!(
                "step {n}: read {stream}: no `expect` file to write (name one in {HARNESS_FILE})"
            )),
        }
        Ok(())
    }

    /// Compares the records read with those of the `expect` file, in order or (`unordered`) by
    /// remote id; only the fields the file gives are compared.
    fn compare_expected(
        &mut self,
        n: usize,
        stream: &str,
        file: &Path,
        unordered: bool,
        got: &[ReadRecord],
    ) -> anyhow::Result<()> {
        let mut want: Vec<ExpectedRecord> = read_json(self.dir, file)?;
        let mut got = got.to_vec();
        if unordered {
            want.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
            got.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
        }
        if want.len() != got.len() {
            self.out.failures.push(format!(
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
            let failures = &mut self.out.failures;
            if let Some(id) = &w.remote_id
                && *id != r.remote_id
            {
                failures.push(format!("{at}: remote id expected {id}"));
            }
            if let Some(d) = &w.data
                && without_nulls(d) != without_nulls(&r.data)
            {
                failures.push(format!("{at}: data {} ≠ expected {d}", r.data));
            }
            if let Some(d) = w.deleted
                && d != r.deleted
            {
                failures.push(format!("{at}: deleted {}, expected {d}", r.deleted));
            }
            if w.version.is_some() && w.version != r.version {
                failures.push(format!(
                    "{at}: version {:?}, expected {:?}",
                    r.version, w.version
                ));
            }
        }
        Ok(())
    }
}

/// Writes a read step's `expect` file: the records as the step got them, in the format
/// [`ExpectedRecord`] reads (`remote_id`, `version` if any, `deleted`, `data`).
fn write_read_expect(path: &Path, got: &[ReadRecord]) -> anyhow::Result<()> {
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
