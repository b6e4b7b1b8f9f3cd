//! Incremental reads of an HY-ESMS collection: one pager for every stream (`zhenfeng-workers`,
//! `jobs`, `secondments`).
//!
//! `updatedSince` (inclusive) is the keyset: each page is asked for from the last `updatedAt`
//! seen, so records that move while the connector pages are never skipped. A page whose records
//! all share one second is followed by the next page number of that second; page numbers are
//! offsets within the second, and a record of that second updated meanwhile moves out of it and
//! shifts the others down, so one could fall between two pages. Whenever a second took more than
//! one page, it is read again from its first page before the cursor moves past it (the overlap
//! pass), until a pass finds nothing it had not returned. The same version of a record (id and
//! `updatedAt`) is never returned twice in one read.
//!
//! [`Pager`] is the state machine, with no I/O (tested natively below); [`read`] drives it over
//! HTTP, one pager per collection kept in the instance between the `read` calls of one run.

use hub_sdk::json::Record;
use hub_sdk::prelude::*;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::{get_page, get_page_counted, item_id, updated_at};

/// Where one collection's incremental read stands.
#[derive(Debug, Default)]
pub(crate) struct Pager {
    /// The cursor the host passes to continue this read.
    expected: Option<String>,
    /// The `updatedSince` of the next request.
    since: Option<String>,
    /// The page number (from 1) of the next request.
    page: u32,
    /// Versions (id, `updatedAt`) returned in this read, at or after `since`.
    seen: HashSet<(i64, String)>,
    /// `since` took more than one page in the current pass.
    paged_within: bool,
    /// The current pass re-reads `since` from its first page.
    verifying: bool,
    /// This verifying pass found records at `since` that earlier passes had missed.
    found_missed: bool,
}

/// What one page gave: the items not returned before in this read, in page order, each with its
/// id and `updatedAt`; the cursor to hand to the host; and whether more are waiting.
#[derive(Debug, PartialEq)]
pub(crate) struct Step<'a> {
    pub new: Vec<(i64, String, &'a Value)>,
    pub cursor: Option<String>,
    pub more: bool,
}

impl Pager {
    /// A read that starts at `cursor` (an `updatedAt`; `None`: from the beginning).
    pub(crate) fn start(cursor: Option<String>) -> Pager {
        Pager {
            since: cursor,
            page: 1,
            ..Pager::default()
        }
    }

    /// The request for the next page: `updatedSince` and page number.
    pub(crate) fn request(&self) -> (Option<&str>, u32) {
        (self.since.as_deref(), self.page)
    }

    /// Takes the page of `size` asked for with [`Pager::request`], in the read whose `read` call
    /// had `cursor`; moves to the next request.
    ///
    /// # Errors
    /// An item without an integer `id` or a string `updatedAt` (`collection` names it).
    pub(crate) fn take<'a>(
        &mut self,
        collection: &str,
        items: &'a [Value],
        size: u32,
        cursor: Option<String>,
    ) -> Result<Step<'a>, ConnectorError> {
        let full = items.len() as u32 >= size;
        let mut new = Vec::with_capacity(items.len());
        for item in items {
            let (Some(id), Some(at)) = (item_id(item), updated_at(item)) else {
                return Err(ConnectorError::Permanent(format!(
                    "{collection} item without id or updatedAt"
                )));
            };
            if !self.seen.insert((id, at.clone())) {
                continue;
            }
            if self.verifying && self.since.as_deref() == Some(at.as_str()) {
                self.found_missed = true;
            }
            new.push((id, at, item));
        }
        let last = items.last().and_then(updated_at);
        let (cursor, more) = if full && last.is_some() && last == self.since {
            // The whole page is one second: its next page.
            self.page += 1;
            self.paged_within = true;
            (self.since.clone(), true)
        } else if self.paged_within && (!self.verifying || self.found_missed) {
            // Leaving a second that took several pages: read it again from its first page
            // before the cursor moves past it.
            self.page = 1;
            self.paged_within = false;
            self.verifying = true;
            self.found_missed = false;
            (self.since.clone().or(cursor), true)
        } else {
            self.verifying = false;
            self.paged_within = false;
            self.found_missed = false;
            if let Some(last) = &last
                && self.since.as_deref() != Some(last.as_str())
            {
                self.since = Some(last.clone());
                self.page = 1;
                // `updatedAt` is RFC 3339 at +08:00 throughout, so text order is time order.
                self.seen.retain(|(_, at)| at >= last);
            }
            (last.or(cursor), full)
        };
        Ok(Step { new, cursor, more })
    }
}

thread_local! {
    /// The read in progress of each collection, kept between the `read` calls of one run.
    static PAGERS: RefCell<HashMap<String, Pager>> = RefCell::new(HashMap::new());
}

/// Reads the next batch of `collection` from `cursor` (an `updatedAt`), at most `max` records
/// (pages of `max`, 1 to 500), mapping each item with `map`. `remaining` is what the last page
/// fetched leaves of its `total` (exact as HY-ESMS counts it: the items at or after
/// `updatedSince`, of which an overlap pass re-reads some). `deleted` is taken from the item's
/// `deleted` field (false where there is none). Pages that hold nothing new (an overlap pass)
/// are passed over, so that a batch has records or is the last.
///
/// # Errors
/// A failed request ([`get_page`]) or an item without `id` or `updatedAt`.
pub(crate) fn read(
    collection: &str,
    cursor: Option<String>,
    max: u32,
    map: impl Fn(&Value) -> Record,
) -> Result<Batch, ConnectorError> {
    let size = max.clamp(1, 500);
    let mut pager = PAGERS
        .with_borrow_mut(|p| p.remove(collection))
        .filter(|p| p.expected == cursor)
        .unwrap_or_else(|| Pager::start(cursor.clone()));
    let (records, next, more, remaining) = loop {
        let (since, page) = pager.request();
        let (items, remaining) = get_page_counted(collection, since, page, size)?;
        let step = pager.take(collection, &items, size, cursor.clone())?;
        let records: Vec<SourceRecord> = step
            .new
            .iter()
            .map(|(id, at, item)| SourceRecord {
                data: to_json(&map(item)),
                remote_id: id.to_string(),
                version: Some(at.clone()),
                updated_at: Some(at.clone()),
                deleted: item
                    .get("deleted")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
            .collect();
        if !records.is_empty() || !step.more {
            break (records, step.cursor, step.more, remaining);
        }
    };
    pager.expected = next.clone();
    if more {
        PAGERS.with_borrow_mut(|p| p.insert(collection.to_string(), pager));
    }
    Ok(Batch {
        records,
        cursor: next,
        more,
        remaining,
    })
}

/// Every item of a collection (all pages), for the few lookups a write needs (a collection
/// without a uniqueness rule, searched by natural key).
pub(crate) fn all(collection: &str) -> Result<Vec<Value>, ConnectorError> {
    let mut out = Vec::new();
    for page in 1.. {
        let items = get_page(collection, None, page, 500)?;
        let n = items.len();
        out.extend(items);
        if n < 500 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// HY-ESMS's list as the contract has it: items at or after `updatedSince`, sorted by
    /// `updatedAt` then `id`, `size` a page from page 1.
    struct Collection(Vec<(i64, u32)>);

    fn at(sec: u32) -> String {
        format!("2024-05-01T10:00:{sec:02}+08:00")
    }

    impl Collection {
        fn page(&self, since: Option<&str>, page: u32, size: u32) -> Vec<Value> {
            let mut rows: Vec<_> = self
                .0
                .iter()
                .filter(|(_, s)| since.is_none_or(|since| at(*s).as_str() >= since))
                .collect();
            rows.sort_by_key(|(id, s)| (*s, *id));
            rows.iter()
                .skip(((page - 1) * size) as usize)
                .take(size as usize)
                .map(|(id, s)| json!({"id": id, "updatedAt": at(*s)}))
                .collect()
        }

        /// One read, as the host makes it (a `read` call per page with something new), with
        /// `between(k, self)` run after the k-th page request. The (id, second) of each version
        /// returned, in order, and the cursor left.
        fn read(
            &mut self,
            cursor: Option<String>,
            size: u32,
            between: impl Fn(u32, &mut Collection),
        ) -> (Vec<(i64, u32)>, Option<String>) {
            let mut pager = Pager::start(cursor.clone());
            let mut cursor = cursor;
            let mut got = Vec::new();
            for k in 1..50 {
                let (since, page) = pager.request();
                let items = self.page(since, page, size);
                let step = pager.take("test", &items, size, cursor.clone()).unwrap();
                got.extend(
                    step.new
                        .iter()
                        .map(|(id, at, _)| (*id, at[17..19].parse().unwrap())),
                );
                between(k, self);
                cursor = step.cursor;
                if !step.more {
                    return (got, cursor);
                }
            }
            panic!("a read that does not end: {got:?}");
        }
    }

    #[test]
    fn a_record_that_moves_out_of_a_second_between_pages_does_not_hide_another() {
        // Five records at second 1, read from that second in pages of two: [1 2] [3 4] [5].
        let mut c = Collection((1..=5).map(|id| (id, 1)).collect());
        // After the first page, record 1 is changed at second 2: the second's rows are then
        // [2 3] [4 5], page 2 gives [4 5] and 3 falls between, page 3 gives 1's new version.
        // The overlap pass reads second 1 again ([2 3]: 3 is new; [4 5]; [1@2]), then once
        // more, finding nothing, and only then moves the cursor to second 2.
        let requests = std::cell::Cell::new(0);
        let (got, cursor) = c.read(Some(at(1)), 2, |k, c| {
            requests.set(k);
            if k == 1 {
                c.0[0].1 = 2;
            }
        });
        assert_eq!(got, [(1, 1), (2, 1), (4, 1), (5, 1), (1, 2), (3, 1)]);
        assert_eq!(cursor.as_deref(), Some(at(2).as_str()));
        assert_eq!(requests.get(), 9);
    }

    #[test]
    fn a_second_of_one_page_is_not_read_again() {
        let mut c = Collection(vec![(1, 1), (2, 1), (3, 2)]);
        let requests = std::cell::Cell::new(0);
        let (got, cursor) = c.read(None, 5, |k, _| requests.set(k));
        assert_eq!((got, requests.get()), (vec![(1, 1), (2, 1), (3, 2)], 1));
        assert_eq!(cursor.as_deref(), Some(at(2).as_str()));
        // From that cursor: record 3 again (the cursor is inclusive, and a new read does not know
        // what the last one returned), then nothing new.
        let (got, _) = c.read(cursor, 5, |_, _| {});
        assert_eq!(got, [(3, 2)]);
    }

    #[test]
    fn an_item_without_updated_at_is_an_error_naming_the_collection() {
        let mut pager = Pager::start(None);
        let err = pager
            .take("jobs", &[json!({"id": 1})], 2, None)
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Permanent(m) if m == "jobs item without id or updatedAt")
        );
    }
}
