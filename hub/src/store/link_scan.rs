//! Every link of a sync, page by page in key-hash order, for reports that visit a whole sync
//! (the statistics, [`crate::statistics`]); a run reads only the links of the keys it holds
//! ([`Store::links`]) and the pending ones ([`Store::pending`]).

use super::*;

impl Store {
    /// Up to `limit` links of `sync` (pending or not) with key hash after `after` (`None`: from
    /// the first), in key-hash order; the next page starts after the last key hash of this one.
    /// The links are as stored: their records sealed ([`Link::sealed`]; the engine's
    /// `sync::link_seal::unseal` opens them).
    pub async fn links_after(
        &self,
        sync: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Link>> {
        on_pool!(self, p => {
            let rows = sqlx::query(
                "SELECT * FROM links WHERE sync = $1 AND key_hash > $2 ORDER BY key_hash LIMIT $3",
            )
            .bind(sync)
            .bind(hash_bytes::to_bytes(after.unwrap_or("")))
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?;
            Ok(rows.iter().map(links::link_from_row).collect())
        })
    }
}
