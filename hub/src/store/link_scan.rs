//! Every link of a sync, page by page in key-hash order, for reports that visit a whole sync
//! (the statistics, [`crate::statistics`]); a run reads only the links of the keys it holds
//! ([`Store::links`]) and the pending ones ([`Store::pending`]).

use super::*;

/// A page of each links table of a sync in key-hash order (`$1` the sync, `$2` the key hash
/// the page starts after, `$3` the page's size), on the table's primary key.
const PAGE_OF: [&str; 2] = [
    "SELECT * FROM links_pending WHERE sync = $1 AND key_hash > $2 ORDER BY key_hash LIMIT $3",
    "SELECT * FROM links_at_rest WHERE sync = $1 AND key_hash > $2 ORDER BY key_hash LIMIT $3",
];

impl Store {
    /// Up to `limit` links of `sync` (pending or not) with key hash after `after` (`None`: from
    /// the first), in key-hash order; the next page starts after the last key hash of this one.
    /// The links are as stored: their records sealed ([`Link::sealed`]; the engine's
    /// `sync::link_seal::unseal` opens them).
    ///
    /// Reads a page of each table, `links_pending` and `links_at_rest`, in one read
    /// transaction (one snapshot: PostgreSQL's `REPEATABLE READ`), and merges them as the view
    /// `links` would ([`merge_pages`]). Through the view, PostgreSQL sorted every link of the
    /// sync after `after` for each page (200,000 links: 159 ms a page, the whole visit
    /// quadratic); each table's page is a range of its primary key.
    pub async fn links_after(
        &self,
        sync: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Link>> {
        let after = hash_bytes::to_bytes(after.unwrap_or(""));
        let [pending, at_rest] = on_pool!(self, p => {
            let mut tx = p.begin().await?;
            if self.backend() == "postgres" {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
            }
            let mut pages: [Vec<Link>; 2] = Default::default();
            for (sql, page) in PAGE_OF.into_iter().zip(&mut pages) {
                *page = sqlx::query(sql)
                    .bind(sync)
                    .bind(&after)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(links::link_from_row)
                    .collect();
            }
            tx.commit().await?;
            pages
        });
        Ok(merge_pages(pending, at_rest, limit as usize))
    }
}

/// The first `limit` links of two pages in key-hash order, as the view `links` shows them: a key
/// in both is its pending row (the one at rest is the link before the change). Keys compare
/// as the store orders them, by their bytes ([`hash_bytes::to_bytes`]).
fn merge_pages(pending: Vec<Link>, at_rest: Vec<Link>, limit: usize) -> Vec<Link> {
    use std::cmp::Ordering;
    let mut out = Vec::with_capacity(limit.min(pending.len() + at_rest.len()));
    let (mut p, mut r) = (
        pending.into_iter().peekable(),
        at_rest.into_iter().peekable(),
    );
    while out.len() < limit {
        let order = match (p.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                hash_bytes::to_bytes(&a.key_hash).cmp(&hash_bytes::to_bytes(&b.key_hash))
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        let next = match order {
            Ordering::Less => p.next(),
            Ordering::Equal => {
                r.next();
                p.next()
            }
            Ordering::Greater => r.next(),
        };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(k: &str, pending: bool) -> Link {
        Link {
            pending,
            ..Link::new(k.into())
        }
    }

    #[test]
    fn two_pages_merge_in_key_order_a_pending_row_standing_for_its_key() {
        let pending = vec![at("b", true), at("d", true)];
        let at_rest = vec![
            at("a", false),
            at("b", false),
            at("c", false),
            at("e", false),
        ];
        let keys = |links: Vec<Link>| -> Vec<(String, bool)> {
            links.into_iter().map(|l| (l.key_hash, l.pending)).collect()
        };
        let all = [
            ("a".to_string(), false),
            ("b".to_string(), true),
            ("c".to_string(), false),
            ("d".to_string(), true),
            ("e".to_string(), false),
        ];
        assert_eq!(keys(merge_pages(pending.clone(), at_rest.clone(), 10)), all);
        assert_eq!(
            keys(merge_pages(pending.clone(), at_rest.clone(), 3)),
            all[..3]
        );
        assert_eq!(keys(merge_pages(pending, Vec::new(), 1)), all[1..2]);
        assert_eq!(keys(merge_pages(Vec::new(), at_rest, 0)), []);
        // By the stored bytes: a hash 0xff… after the short key "k2" (0x6b 0x32), though its
        // hex text "ff…" sorts before "k2".
        let high = "ff".repeat(32);
        assert_eq!(
            keys(merge_pages(vec![at(&high, true)], vec![at("k2", false)], 2)),
            [("k2".to_string(), false), (high, true)]
        );
    }
}
