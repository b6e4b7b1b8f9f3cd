//! Conflicts (table `conflicts`): writes a system refused as conflicting, and merges parked for
//! a person; what a person decided.

use super::*;

/// The insert of one audit entry `$e` ([`AuditEntry`]), written once for either backend.
macro_rules! insert_audit {
    ($e:ident) => {
        sqlx::query(
            "INSERT INTO audit (id, at, sync, run_id, system, side, key_hash, action, result, remote_id, hash, actor, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind($e.id)
        .bind($e.at.clone())
        .bind($e.sync.clone())
        .bind($e.run_id)
        .bind($e.system.clone())
        .bind($e.side.as_str())
        .bind(hash_bytes::to_bytes(&$e.key_hash))
        .bind($e.action.clone())
        .bind($e.result.clone())
        .bind($e.remote_id.clone())
        .bind(hash_bytes::to_bytes(&$e.hash))
        .bind($e.actor.clone())
        .bind($e.detail.clone())
    };
}

column_values! {
    /// What kind of conflict.
    pub enum ConflictKind ("a conflict's kind") {
        /// A write the system refused because its record changed since it was read (optimistic
        /// concurrency); the next run merges again under the sync's policy.
        Write = "write",
        /// Both sides changed a field whose policy is `park`: nothing is written for the key
        /// until a person takes a side or the two sides come to agree.
        Park = "park",
    }
}

column_values! {
    /// Whether a conflict waits (column `status` of `conflicts`).
    pub enum ConflictStatus ("a conflict's status") {
        /// Met and not yet settled: the key's writes wait or are retried.
        Open = "open",
        /// The two sides came to agree, by the sync's rules or a person's decision.
        Resolved = "resolved",
    }
}

column_values! {
    /// How a conflict was resolved (column `resolution` of `conflicts`).
    pub enum ConflictResolution ("a conflict's resolution") {
        /// The sides came to agree under the sync's merge policy, no person deciding.
        MergePolicy = "merge policy",
        /// A person took side `a`'s record.
        TookA = "took a",
        /// A person took side `b`'s record.
        TookB = "took b",
        /// A person chose field by field.
        TookFields = "took fields",
    }
}

/// A conflict met by a run: a refused write, or a parked merge.
#[derive(Debug, Clone)]
pub struct NewConflict {
    /// The run that met it.
    pub run_id: i64,
    /// Its kind.
    pub kind: ConflictKind,
    /// HMAC of the record's key.
    pub key_hash: String,
    /// The key for people, masked.
    pub key_masked: Option<String>,
    /// The side whose write was refused (`write`), or whose write waits (`park`: `a`).
    pub side: Side,
    /// The system's words, or the parked fields' pointers (no personal data).
    pub reason: String,
}

/// A conflict, as the store keeps it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Conflict {
    /// Its id.
    pub id: i64,
    /// Sync name.
    pub sync: String,
    /// HMAC of the record's key, as the links are keyed (not in the API's answers).
    #[serde(skip)]
    #[schema(ignore)]
    pub key_hash: String,
    /// Masked key.
    pub key_masked: Option<String>,
    /// `write` (a refused write) or `park` (conflicting changes waiting for a person).
    pub kind: ConflictKind,
    /// The side whose write was refused.
    pub side: Side,
    /// The system's words.
    pub reason: String,
    /// First run that met it.
    pub first_run_id: Option<i64>,
    /// Latest run that met it.
    pub last_run_id: Option<i64>,
    /// Writes refused so far.
    pub attempts: i64,
    /// `open` or `resolved`.
    pub status: ConflictStatus,
    /// The side a person chose to take whole, waiting for the next run (or taken).
    pub take: Option<Side>,
    /// A person's choice field by field (JSON pointer to the side whose value is taken),
    /// waiting for the next run (or taken); fields not named follow the sync's rules.
    #[schema(value_type = Option<std::collections::BTreeMap<String, Side>>)]
    pub take_fields: Option<std::collections::BTreeMap<String, Side>>,
    /// Who decided: the admin token's name, or `cli:` and the login name for `hub conflicts
    /// resolve`; `None` for a decision recorded before migration 0012.
    pub decided_by: Option<String>,
    /// When (RFC 3339).
    pub decided_at: Option<String>,
    /// Why, in the decider's words (masked as logs are).
    pub decision_reason: Option<String>,
    /// How it was resolved: `merge policy`, `took a` / `took b`, or `took fields`.
    pub resolution: Option<ConflictResolution>,
    /// First met (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
    /// Resolved (RFC 3339).
    pub resolved_at: Option<String>,
}

/// What a person decided for a conflicting record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take this side's record: at a key the systems never agreed on, its record whole; at a
    /// settled one, its value of each field a side changed since they last agreed (the other
    /// fields follow the sync's rules, so what only the other system holds stays). The result
    /// is written to the other side.
    Take(Side),
    /// Take each named field (JSON pointer) from the side given; the other fields are merged
    /// under the sync's rules. The merged record goes to each side it differs from.
    Fields(std::collections::BTreeMap<String, Side>),
}

impl std::fmt::Display for Decision {
    /// `take side a`, or `fields /phone from b, /employer from a`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Take(s) => write!(f, "take side {}", s.as_str()),
            Decision::Fields(fields) => {
                f.write_str("fields ")?;
                for (i, (p, s)) in fields.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{p} from {}", s.as_str())?;
                }
                Ok(())
            }
        }
    }
}

impl Conflict {
    /// The decision waiting for the next run, if any.
    pub fn decision(&self) -> Option<Decision> {
        match (&self.take_fields, self.take) {
            (Some(f), _) => Some(Decision::Fields(f.clone())),
            (None, Some(s)) => Some(Decision::Take(s)),
            (None, None) => None,
        }
    }
}

/// A decision as the next run applies it: which conflict, what, and who decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// The conflict's id.
    pub conflict_id: i64,
    /// What was decided.
    pub decision: Decision,
    /// Who decided (an admin token's name), if known.
    pub by: Option<String>,
}

/// A conflict as stored; [`StoreError::Corrupt`] if its row is corrupt (a side or a side taken
/// other than `a` or `b`, a kind, a status or a resolution the store never writes).
pub(super) fn conflict(r: &impl Cols) -> Result<Conflict> {
    let id = r.int("id");
    let row = format!("conflict {id}");
    Ok(Conflict {
        id,
        sync: r.text("sync"),
        key_hash: r.text("key_hash"),
        key_masked: r.opt_text("key_masked"),
        kind: ConflictKind::stored(&r.text("kind"), &row, "kind")?,
        side: Side::stored(&r.text("side"), &row, "side")?,
        reason: r.text("reason"),
        first_run_id: r.opt_int("first_run_id"),
        last_run_id: r.opt_int("last_run_id"),
        attempts: r.int("attempts"),
        status: ConflictStatus::stored(&r.text("status"), &row, "status")?,
        take: r
            .opt_text("take")
            .map(|t| Side::stored(&t, &row, "take"))
            .transpose()?,
        take_fields: r
            .opt_text("take_fields")
            .and_then(|t| serde_json::from_str(&t).ok()),
        decided_by: r.opt_text("decided_by"),
        decided_at: r.opt_text("decided_at"),
        decision_reason: r.opt_text("decision_reason"),
        resolution: r
            .opt_text("resolution")
            .map(|t| ConflictResolution::stored(&t, &row, "resolution"))
            .transpose()?,
        created_at: r.text("created_at"),
        updated_at: r.text("updated_at"),
        resolved_at: r.opt_text("resolved_at"),
    })
}

impl Store {
    /// How many conflicts are open (all syncs if `sync` is `None`).
    pub async fn open_conflict_count(&self, sync: Option<&str>) -> Result<i64> {
        on_pool!(self, p => {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM conflicts WHERE ($1 IS NULL OR sync = $1) AND status = 'open'",
            )
            .bind(sync)
            .fetch_one(p)
            .await?)
        })
    }

    /// Conflicts, newest first: open ones only unless `all` (all syncs if `sync` is `None`).
    pub async fn conflicts(&self, sync: Option<&str>, all: bool) -> Result<Vec<Conflict>> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM conflicts WHERE ($1 IS NULL OR sync = $1) AND ($2 OR status = 'open') ORDER BY id DESC LIMIT 1000",
            )
            .bind(sync)
            .bind(all)
            .fetch_all(p)
            .await?;
            rows.iter().map(conflict).collect()
        })
    }

    /// One conflict, if it exists.
    pub async fn conflict(&self, id: i64) -> Result<Option<Conflict>> {
        on_pool!(self, p => {
            let row = sqlx::query("SELECT * FROM conflicts WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?;
            row.as_ref().map(conflict).transpose()
        })
    }

    /// A person's decision on an open conflict ([`Decision`]), by `by` (an admin token's
    /// name) for `reason`, replacing any decision not yet applied; the key is marked pending
    /// and `audit` appended to the audit chain (needs [`Store::with_audit_key`] when not
    /// empty), all in one transaction. Returns false if the conflict is not open (nothing is
    /// recorded then).
    pub async fn decide_conflict(
        &self,
        id: i64,
        decision: &Decision,
        by: Option<&str>,
        reason: Option<&str>,
        audit: &[NewAuditEntry],
    ) -> Result<bool> {
        let (take, fields) = match decision {
            Decision::Take(s) => (Some(s.as_str()), None),
            Decision::Fields(f) => (None, Some(serde_json::to_string(f)?)),
        };
        let key =
            match (audit.is_empty(), &self.audit_key) {
                (true, _) => None,
                (false, Some(k)) => Some(k.clone()),
                (false, None) => return Err(anyhow::anyhow!(
                    "state store: audit entries to append but no audit key (Store::with_audit_key)"
                )
                .into()),
            };
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            let now = now();
            let row = sqlx::query("UPDATE conflicts SET take = $1, take_fields = $2, decided_by = $3, decision_reason = $4, decided_at = $5, updated_at = $5 WHERE id = $6 AND status = 'open' RETURNING sync, key_hash")
                .bind(take)
                .bind(&fields)
                .bind(by)
                .bind(reason)
                .bind(&now)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else { return Ok(false) };
            let (sync, key_hash): (String, String) = (row.get(0), row.get(1));
            for sql in MARK_PENDING {
                sqlx::query(sql)
                    .bind(&now)
                    .bind(&sync)
                    .bind(hash_bytes::to_bytes(&key_hash))
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(key) = key {
                if let Some(lock) = audit_lock(p) {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let head = sqlx::query(audit_log::SELECT_HEAD)
                    .fetch_optional(&mut *tx)
                    .await?;
                let head = head.as_ref().map(audit_log::head_from_row);
                for e in super::commit::chain(&sync, audit, &key, head, &now) {
                    insert_audit!(e).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Appends `entries` (not a run's writes: a person's view of values in clear) to the
    /// audit chain of `sync`, in a transaction of their own.
    pub async fn append_audit(&self, sync: &str, entries: &[NewAuditEntry]) -> Result<()> {
        let Some(key) = self.audit_key.clone() else {
            return Err(anyhow::anyhow!(
                "state store: audit entries to append but no audit key (Store::with_audit_key)"
            )
            .into());
        };
        on_pool!(self, p => {
            let mut tx = p.begin_write().await?;
            if let Some(lock) = audit_lock(p) {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let head = sqlx::query(audit_log::SELECT_HEAD)
                .fetch_optional(&mut *tx)
                .await?;
            let head = head.as_ref().map(audit_log::head_from_row);
            for e in super::commit::chain(sync, entries, &key, head, &now()) {
                insert_audit!(e).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The decisions people took for `sync`'s open conflicts, by key hash.
    pub async fn conflict_decisions(
        &self,
        sync: &str,
    ) -> Result<std::collections::HashMap<String, Decided>> {
        on_pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM conflicts WHERE sync = $1 AND status = 'open' AND (take IS NOT NULL OR take_fields IS NOT NULL)")
                .bind(sync)
                .fetch_all(p)
                .await?;
            let mut decided = std::collections::HashMap::new();
            for r in &rows {
                let key_hash = r.text("key_hash");
                let c = conflict(r)?;
                if let Some(decision) = c.decision() {
                    decided.insert(key_hash, Decided { conflict_id: c.id, decision, by: c.decided_by });
                }
            }
            Ok(decided)
        })
    }

    /// The sides people chose to take whole for `sync`'s open conflicts, by key hash.
    pub async fn conflict_takes(
        &self,
        sync: &str,
    ) -> Result<std::collections::HashMap<String, Side>> {
        Ok(self
            .conflict_decisions(sync)
            .await?
            .into_iter()
            .filter_map(|(k, d)| match d.decision {
                Decision::Take(s) => Some((k, s)),
                Decision::Fields(_) => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::texts_round_trip;

    #[test]
    fn a_conflicts_kind_status_and_resolution_are_stored_as_their_texts() {
        texts_round_trip(ConflictKind::ALL, &["write", "park"]);
        texts_round_trip(ConflictStatus::ALL, &["open", "resolved"]);
        texts_round_trip(
            ConflictResolution::ALL,
            &["merge policy", "took a", "took b", "took fields"],
        );
        assert_eq!(
            "took c"
                .parse::<ConflictResolution>()
                .unwrap_err()
                .to_string(),
            r#""took c" is not a conflict's resolution (merge policy, took a, took b, took fields)"#
        );
    }
}
