//! What a connector answers, checked against the contract and the plugin's limits before the
//! sync engine sees it: a `read`'s batch, a `write`'s results, a `normal-form`'s records, and
//! every message cut to [`MAX_MESSAGE`]. Used for components and native connectors alike.

use crate::config::Limits;
use crate::runtime::{Batch, PluginError, Rejection, WriteResult, Written};
use serde_json::Value;

/// A record a `read` returned, checked and parsed.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// The record (a JSON object).
    pub data: Value,
    /// The system's id for it.
    pub remote_id: String,
    /// The system's version token.
    pub version: Option<String>,
    /// When the system last changed it (RFC 3339).
    pub updated_at: Option<String>,
    /// Soft-deleted in the system.
    pub deleted: bool,
}

/// A batch a `read` returned, checked against the contract and the plugin's limits.
#[derive(Debug, Clone)]
pub struct ReadBatch {
    /// Its records.
    pub records: Vec<ReadRecord>,
    /// Where to resume.
    pub cursor: Option<String>,
    /// More records are waiting.
    pub more: bool,
    /// How many records wait after this batch, if the connector said (contract 0.2).
    pub remaining: Option<crate::runtime::Remaining>,
}

/// Most bytes of a remote id or a version token (read or written), or of a rejection's
/// JSON pointer.
pub const MAX_TOKEN: usize = 1024;

/// Checks a `normal-form` answer: one JSON object per record, each within the record size limit.
pub(in crate::runtime) fn check_normal_form(
    plugin: &str,
    limits: &Limits,
    out: Vec<String>,
    expected: usize,
) -> Result<Vec<String>, PluginError> {
    if out.len() != expected {
        return Err(contract(
            plugin,
            "normal-form",
            format!("returned {} records for {expected}", out.len()),
        ));
    }
    let max = limits.max_record_kib as usize * 1024;
    for (i, r) in out.iter().enumerate() {
        if r.len() > max {
            return Err(contract(
                plugin,
                "normal-form",
                format!(
                    "record {i} is larger than {} KiB (limits.max_record_kib)",
                    limits.max_record_kib
                ),
            ));
        }
        if !matches!(serde_json::from_str::<Value>(r), Ok(Value::Object(_))) {
            return Err(contract(
                plugin,
                "normal-form",
                format!("record {i} is not a JSON object"),
            ));
        }
    }
    Ok(out)
}

fn contract(plugin: &str, call: &'static str, message: String) -> PluginError {
    PluginError::Connector {
        plugin: plugin.to_string(),
        call,
        kind: "contract",
        message,
    }
}

/// Checks a write's results: one per record sent (`sent` records), or the whole call breaks
/// the contract. Each result is then held to the bounds a `read` is held to: a written
/// record's remote id and version at most [`MAX_TOKEN`] bytes, its `stored` record a JSON
/// object within `limits.max_record_kib`; a result that breaks them becomes `rejected`, with
/// the plugin and the bound named (the record goes to dead letters and nothing of the result
/// reaches the links or the audit log). Messages (of `conflict`, `retry`, `rejected`) longer
/// than [`MAX_MESSAGE`] bytes are cut.
pub(in crate::runtime) fn check_write(
    plugin: &str,
    limits: &Limits,
    results: Vec<WriteResult>,
    sent: usize,
) -> Result<Vec<WriteResult>, PluginError> {
    if results.len() != sent {
        return Err(contract(
            plugin,
            "write",
            format!("returned {} results for {sent} records", results.len()),
        ));
    }
    let max_record = usize::try_from(limits.max_record_kib << 10).unwrap_or(usize::MAX);
    let refused = |why: String| {
        WriteResult::Rejected(Rejection {
            reason: format!(
                "plugin {plugin} broke the contract in the write's result: {why}; the result is refused"
            ),
            pointer: None,
        })
    };
    let checked = |w: &Written| -> Result<(), String> {
        if w.remote_id.len() > MAX_TOKEN {
            return Err(format!(
                "a remote id of {} bytes, over the limit of {MAX_TOKEN}",
                w.remote_id.len()
            ));
        }
        if let Some(v) = w.version.as_ref().filter(|v| v.len() > MAX_TOKEN) {
            return Err(format!(
                "a version of {} bytes, over the limit of {MAX_TOKEN}",
                v.len()
            ));
        }
        if let Some(stored) = &w.stored {
            if stored.len() > max_record {
                return Err(format!(
                    "a stored record of {} bytes, over the limit of {max_record} (limits.max_record_kib)",
                    stored.len()
                ));
            }
            if !matches!(serde_json::from_str::<Value>(stored), Ok(Value::Object(_))) {
                return Err("a stored record that is not a JSON object".into());
            }
        }
        Ok(())
    };
    Ok(results
        .into_iter()
        .map(|r| match r {
            WriteResult::Created(ref w)
            | WriteResult::Updated(ref w)
            | WriteResult::Unchanged(ref w)
            | WriteResult::Deleted(ref w) => match checked(w) {
                Ok(()) => r,
                Err(why) => refused(why),
            },
            WriteResult::Duplicate(ref e) => {
                let as_written = Written {
                    remote_id: e.remote_id.clone(),
                    version: e.version.clone(),
                    stored: e.data.clone(),
                };
                match checked(&as_written) {
                    Ok(()) => r,
                    Err(why) => refused(why),
                }
            }
            WriteResult::Conflict(m) => WriteResult::Conflict(cut(m)),
            WriteResult::Retry(m) => WriteResult::Retry(cut(m)),
            WriteResult::Rejected(r) => WriteResult::Rejected(Rejection {
                reason: cut(r.reason),
                pointer: r.pointer.filter(|p| p.len() <= MAX_TOKEN),
            }),
        })
        .collect())
}

/// Most bytes of a message a plugin returns (an error, a rejection's reason); longer ones are
/// cut at a character boundary, saying how much was cut.
pub const MAX_MESSAGE: usize = 4096;

/// `m` cut to [`MAX_MESSAGE`] bytes (see there).
pub(in crate::runtime) fn cut(m: String) -> String {
    if m.len() <= MAX_MESSAGE {
        return m;
    }
    let end = (0..=MAX_MESSAGE)
        .rev()
        .find(|i| m.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} bytes cut)", &m[..end], m.len() - end)
}

/// Most bytes of a record's `updated-at`: an RFC 3339 date-time with an offset and a
/// fraction of nanoseconds takes 35; the rest is room for a longer fraction.
const MAX_UPDATED_AT: usize = 64;

/// Checks a batch a `read` asked for at most `max` records returned, and parses its records:
/// every record a JSON object no larger than `limits.max_record_kib`, a cursor no larger than
/// `limits.max_cursor_kib`, remote ids and versions no larger than [`MAX_TOKEN`], an
/// `updated-at` an RFC 3339 date-time with offset (as the contract says) of at most 64 bytes.
/// A batch that breaks the contract is refused whole.
pub(in crate::runtime) fn check_batch(
    plugin: &str,
    limits: &Limits,
    batch: Batch,
    max: u32,
) -> Result<ReadBatch, PluginError> {
    let contract = |message: String| contract(plugin, "read", message);
    let max_record = usize::try_from(limits.max_record_kib << 10).unwrap_or(usize::MAX);
    let max_cursor = usize::try_from(limits.max_cursor_kib << 10).unwrap_or(usize::MAX);
    if let Some(c) = &batch.cursor
        && c.len() > max_cursor
    {
        return Err(contract(format!(
            "returned a cursor of {} bytes, over the limit of {max_cursor} (limits.max_cursor_kib)",
            c.len()
        )));
    }
    if batch.records.len() > max as usize {
        return Err(contract(format!(
            "returned {} records when asked for at most {max}",
            batch.records.len()
        )));
    }
    let mut records = Vec::with_capacity(batch.records.len());
    for (i, r) in batch.records.into_iter().enumerate() {
        if r.data.len() > max_record {
            return Err(contract(format!(
                "record {i} of the batch is {} bytes, over the limit of {max_record} (limits.max_record_kib)",
                r.data.len()
            )));
        }
        if r.remote_id.len() > MAX_TOKEN || r.version.as_ref().is_some_and(|v| v.len() > MAX_TOKEN)
        {
            return Err(contract(format!(
                "record {i} of the batch has a remote id or version over {MAX_TOKEN} bytes"
            )));
        }
        if let Some(at) = &r.updated_at
            && (at.len() > MAX_UPDATED_AT || chrono::DateTime::parse_from_rfc3339(at).is_err())
        {
            return Err(contract(format!(
                "record {i} of the batch has an updated-at that is not an RFC 3339 date-time with offset ({} bytes: {:?})",
                at.len(),
                crate::control_chars::escape(&at.chars().take(40).collect::<String>())
            )));
        }
        let data = match serde_json::from_str::<Value>(&r.data) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Err(contract(format!(
                    "record {i} of the batch is JSON but not an object"
                )));
            }
            Err(e) => {
                return Err(contract(format!(
                    "record {i} of the batch is not JSON: {e}"
                )));
            }
        };
        records.push(ReadRecord {
            data,
            remote_id: r.remote_id,
            version: r.version,
            updated_at: r.updated_at,
            deleted: r.deleted,
        });
    }
    Ok(ReadBatch {
        records,
        cursor: batch.cursor,
        more: batch.more,
        remaining: batch.remaining,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_normal_form_answer_must_be_one_json_object_per_record_within_the_size_limit() {
        let limits = Limits {
            max_record_kib: 1,
            ..Limits::default()
        };
        let ok = vec![r#"{"status":"left"}"#.to_string()];
        assert_eq!(check_normal_form("hy", &limits, ok.clone(), 1).unwrap(), ok);
        let e = check_normal_form("hy", &limits, ok, 2)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "plugin hy: normal-form failed (contract): returned 1 records for 2"
        );
        let e = check_normal_form("hy", &limits, vec!["[1]".into()], 1)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("record 0 is not a JSON object"), "{e}");
        // 1 KiB is 1,024 bytes: a record of 1,025 is refused.
        let big = format!(r#"{{"remark":"{}"}}"#, "x".repeat(1025 - 13));
        assert_eq!(big.len(), 1025);
        let e = check_normal_form("hy", &limits, vec![big], 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("record 0 is larger than 1 KiB (limits.max_record_kib)"),
            "{e}"
        );
    }
}
