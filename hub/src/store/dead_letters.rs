//! Dead letters (table `dead_letters`): records refused by the schema on read or by a system
//! on write, sealed for replay; replay requests and their attempts.

use super::*;

column_values! {
    /// Where a dead letter was met (column `stage` of `dead_letters`).
    pub enum DeadLetterStage ("a dead letter's stage") {
        /// Read from its system and refused by the sync's schema (an invalid record).
        Read = "read",
        /// Refused for good by the system it was written to.
        Write = "write",
    }
}

column_values! {
    /// What became of a dead letter (column `status` of `dead_letters`).
    pub enum DeadLetterStatus ("a dead letter's status") {
        /// Waiting: met and not yet replayed or fixed.
        Open = "open",
        /// A replay took it through (a record that fails again opens a new dead letter).
        Replayed = "replayed",
        /// A valid copy of the record was read from its system since.
        Fixed = "fixed",
    }
}

/// A dead letter to record.
#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    /// Run that found it.
    pub run_id: i64,
    /// The system it came from (`read`) or was going to (`write`).
    pub side: Side,
    /// `read` (invalid record) or `write` (refused by the system).
    pub stage: DeadLetterStage,
    /// HMAC of its key, if the key could be read.
    pub key_hash: Option<String>,
    /// The key for people, masked.
    pub key_masked: Option<String>,
    /// The system's id for it.
    pub remote_id: Option<String>,
    /// Keyed content hash (the same record is recorded once while open).
    pub record_hash: String,
    /// What is wrong, by JSON pointer.
    pub errors: Vec<Violation>,
    /// The record, sealed, for replay.
    pub record: Option<Vec<u8>>,
}

/// A recorded dead letter.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    /// Its id.
    pub id: i64,
    /// Sync name.
    pub sync: String,
    /// First run that found it.
    pub run_id: Option<i64>,
    /// Side.
    pub side: Side,
    /// `read` or `write`.
    pub stage: DeadLetterStage,
    /// Masked key.
    pub key_masked: Option<String>,
    /// The system's id.
    pub remote_id: Option<String>,
    /// What is wrong.
    pub errors: Vec<Violation>,
    /// How many times it was met while open.
    pub occurrences: i64,
    /// `open`; `replayed` once a replay took it through (a record that fails again opens a
    /// new dead letter); `fixed` once a valid copy of the record was read from its system.
    pub status: DeadLetterStatus,
    /// First seen (RFC 3339).
    pub created_at: String,
    /// Last seen (RFC 3339).
    pub last_seen_at: String,
    /// A replay waits for the sync's next run (requested at, RFC 3339).
    pub replay_requested_at: Option<String>,
    /// Every replay so far, oldest first.
    pub replays: Vec<ReplayAttempt>,
}

/// One replay of a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReplayAttempt {
    /// When it was asked for (RFC 3339).
    pub requested_at: String,
    /// The run that replayed it.
    pub run_id: i64,
    /// When it was replayed (RFC 3339).
    pub at: String,
    /// What happened, for people (no personal data).
    pub result: String,
}

/// A dead letter whose replay was asked for, with what the engine needs to replay it.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// Its id.
    pub id: i64,
    /// The side it came from (`read`) or was going to (`write`).
    pub side: Side,
    /// `read` or `write`.
    pub stage: DeadLetterStage,
    /// HMAC of its key, if the key could be read.
    pub key_hash: Option<String>,
    /// The system's id.
    pub remote_id: Option<String>,
    /// Keyed content hash (part of the seal's context).
    pub record_hash: String,
    /// The record, sealed.
    pub record: Option<Vec<u8>>,
    /// When the replay was asked for.
    pub requested_at: String,
}

/// Which hash [`open_dead_letters_by`] looks dead letters up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ByHash {
    /// `record_hash`, through `dead_letters_once` (sync, side, stage, record_hash).
    Record,
    /// `key_hash`, through `dead_letters_open_key` (sync, side, key_hash).
    Key,
}

/// The query of the open dead letters of a sync's side whose `by` hash is one of `n` values
/// (`$3`…): (key hash, record hash, stage). The caller keeps the `read` ones. By key, the text
/// leaves the stage out: with `stage = 'read'` in it, SQLite's planner (no statistics) took
/// `dead_letters_once` for its three equal columns and walked every open read dead letter of
/// the side for each batch, 1 s a query at 412,488 of them (`bench/scale --scale 1000`).
pub(super) fn open_dead_letters_by(by: ByHash, n: usize) -> String {
    // Only `$N` placeholders and these fixed column names are in the text.
    let marks = placeholders(3, n);
    match by {
        ByHash::Record => format!(
            "SELECT key_hash, record_hash, stage FROM dead_letters WHERE sync = $1 AND side = $2 \
             AND stage = 'read' AND status = 'open' AND record_hash IN ({marks})"
        ),
        ByHash::Key => format!(
            "SELECT key_hash, record_hash, stage FROM dead_letters WHERE sync = $1 AND side = $2 \
             AND status = 'open' AND key_hash IN ({marks})"
        ),
    }
}

/// A dead letter as stored; [`StoreError::Corrupt`] if its row is corrupt (a side other than
/// `a` or `b`, a stage or a status the store never writes).
pub(super) fn dead_letter(r: &impl Cols) -> Result<DeadLetter> {
    let id = r.int("id");
    let row = format!("dead letter {id}");
    Ok(DeadLetter {
        id,
        sync: r.text("sync"),
        run_id: r.opt_int("run_id"),
        side: Side::stored(&r.text("side"), &row, "side")?,
        stage: DeadLetterStage::stored(&r.text("stage"), &row, "stage")?,
        key_masked: r.opt_text("key_masked"),
        remote_id: r.opt_text("remote_id"),
        errors: serde_json::from_str(&r.text("errors")).unwrap_or_default(),
        occurrences: r.int("occurrences"),
        status: DeadLetterStatus::stored(&r.text("status"), &row, "status")?,
        created_at: r.text("created_at"),
        last_seen_at: r.text("last_seen_at"),
        replay_requested_at: r.opt_text("replay_requested_at"),
        replays: serde_json::from_str(&r.text("replays")).unwrap_or_default(),
    })
}

impl Store {
    /// Open dead letters, oldest first (all syncs if `sync` is `None`).
    pub async fn dead_letters(&self, sync: Option<&str>) -> Result<Vec<DeadLetter>> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM dead_letters WHERE ($1 IS NULL OR sync = $1) AND status = 'open' ORDER BY id")
                .bind(sync)
                .fetch_all(p)
                .await?;
            rows.iter().map(dead_letter).collect()
        })
    }

    /// One dead letter (open or not), if it exists.
    pub async fn dead_letter(&self, id: i64) -> Result<Option<DeadLetter>> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM dead_letters WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(dead_letter).transpose()
        })
    }

    /// How many dead letters are open (all syncs if `sync` is `None`).
    pub async fn open_dead_letter_count(&self, sync: Option<&str>) -> Result<i64> {
        on_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM dead_letters WHERE ($1 IS NULL OR sync = $1) AND status = 'open'",
            )
            .bind(sync)
            .fetch_one(p)
            .await?)
        })
    }

    /// Asks for open dead letters to be replayed by their sync's next run: one by `id`, or every
    /// open one of `sync` (all syncs if `None`). Returns how many were asked for (0 for an id
    /// that is not an open dead letter).
    pub async fn request_replay(&self, id: Option<i64>, sync: Option<&str>) -> Result<u64> {
        on_pool!(self, p => {
            let r = sqlx::query(
                "UPDATE dead_letters SET replay_requested_at = $1 \
                 WHERE status = 'open' AND ($2 IS NULL OR id = $2) AND ($3 IS NULL OR sync = $3)",
            )
            .bind(now())
            .bind(id)
            .bind(sync)
            .execute(p)
            .await?;
            Ok(r.rows_affected())
        })
    }

    /// The replays `sync` was asked for, oldest dead letter first.
    pub async fn replay_requests(&self, sync: &str) -> Result<Vec<ReplayRequest>> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT id, side, stage, key_hash, remote_id, record_hash, record, replay_requested_at \
                 FROM dead_letters WHERE sync = $1 AND status = 'open' AND replay_requested_at IS NOT NULL ORDER BY id",
            )
            .bind(sync)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| -> Result<ReplayRequest> {
                    let id: i64 = r.get("id");
                    let row = format!("dead letter {id}");
                    Ok(ReplayRequest {
                        id,
                        side: Side::stored(r.get("side"), &row, "side")?,
                        stage: DeadLetterStage::stored(r.get("stage"), &row, "stage")?,
                        key_hash: r.get("key_hash"),
                        remote_id: r.get("remote_id"),
                        record_hash: r.get("record_hash"),
                        record: r.get("record"),
                        requested_at: r.get("replay_requested_at"),
                    })
                })
                .collect()
        })
    }

    /// Records a replay of dead letter `id` by run `run_id`: appends it to the history, clears
    /// the request, and with `closed` marks the dead letter `replayed`. With `pending_key`, in
    /// the same transaction, marks that link pending so the run writes it again.
    pub async fn finish_replay(
        &self,
        id: i64,
        run_id: i64,
        result: &str,
        closed: bool,
        pending_key: Option<(&str, &str)>,
    ) -> Result<()> {
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            check_fence!(self, p, tx);
            // The history is appended here rather than with the backends' different JSON functions.
            let sql = format!(
                "SELECT replays, replay_requested_at FROM dead_letters WHERE id = $1{}",
                for_update(p)
            );
            let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(());
            };
            let (replays, requested_at): (String, Option<String>) = (row.get(0), row.get(1));
            let mut replays: Vec<serde_json::Value> =
                serde_json::from_str(&replays).unwrap_or_default();
            replays.push(serde_json::json!({
                "requested_at": requested_at, "run_id": run_id, "at": now(), "result": result,
            }));
            sqlx::query(
                "UPDATE dead_letters SET replays = $1, replay_requested_at = NULL, \
                   status = CASE WHEN $2 THEN 'replayed' ELSE status END \
                 WHERE id = $3",
            )
            .bind(serde_json::Value::Array(replays).to_string())
            .bind(closed)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some((sync, key_hash)) = pending_key {
                let now = now();
                for sql in MARK_PENDING {
                    sqlx::query(sql)
                        .bind(&now)
                        .bind(sync)
                        .bind(hash_bytes::to_bytes(key_hash))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The open dead letters of records read from `side` of `sync` whose record hash is one
    /// of `record_hashes` or whose key hash is one of `key_hashes`: (key hash, record hash).
    /// Looked up through indexes, 500 values a query, so a batch's cost does not grow with the
    /// number of dead letters ([`open_dead_letters_by`]).
    pub async fn open_read_dead_letters(
        &self,
        sync: &str,
        side: Side,
        record_hashes: &[String],
        key_hashes: &[String],
    ) -> Result<Vec<(Option<String>, String)>> {
        let mut out = Vec::new();
        for (column, values) in [(ByHash::Record, record_hashes), (ByHash::Key, key_hashes)] {
            for chunk in values.chunks(500) {
                let sql = open_dead_letters_by(column, chunk.len());
                let rows: Vec<(Option<String>, String, String)> = on_pool!(self, p => {
                    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(sync).bind(side.as_str());
                    for v in chunk {
                        q = q.bind(v);
                    }
                    q.fetch_all(p).await?
                });
                out.extend(
                    rows.into_iter()
                        .filter(|(_, _, stage)| stage == DeadLetterStage::Read.as_str())
                        .map(|(k, r, _)| (k, r)),
                );
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Closes the open `read` dead letters of these keys on `side` as `fixed`: a valid copy of
    /// the record was read since (the source system corrected it). Returns how many.
    pub async fn close_fixed_dead_letters(
        &self,
        sync: &str,
        side: Side,
        key_hashes: &[String],
    ) -> Result<u64> {
        on_pool!(self, p => {
            let mut closed = 0;
            for k in key_hashes {
                closed += sqlx::query(
                    "UPDATE dead_letters SET status = 'fixed', replay_requested_at = NULL \
                     WHERE sync = $1 AND side = $2 AND stage = 'read' AND status = 'open' AND key_hash = $3",
                )
                .bind(sync)
                .bind(side.as_str())
                .bind(k)
                .execute(p)
                .await?
                .rows_affected();
            }
            Ok(closed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::texts_round_trip;

    #[test]
    fn a_dead_letters_stage_and_status_are_stored_as_their_texts() {
        texts_round_trip(DeadLetterStage::ALL, &["read", "write"]);
        texts_round_trip(DeadLetterStatus::ALL, &["open", "replayed", "fixed"]);
        assert_eq!(
            "Read".parse::<DeadLetterStage>().unwrap_err().to_string(),
            r#""Read" is not a dead letter's stage (read, write)"#
        );
        assert_eq!(
            "closed"
                .parse::<DeadLetterStatus>()
                .unwrap_err()
                .to_string(),
            r#""closed" is not a dead letter's status (open, replayed, fixed)"#
        );
    }
}
