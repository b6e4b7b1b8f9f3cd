//! Incremental reads of an HY-ESMS collection (`jobs`, `secondments`), the same way the workers
//! stream reads: `updatedSince` (inclusive) as a keyset, each page asked for from the last
//! `updatedAt` seen, so records that move while the connector pages are never skipped; a page
//! whose records all share one second is followed by the next page number of that second, and
//! records already returned for that second in this run are not returned twice.

use hub_sdk::json::Record;
use hub_sdk::prelude::*;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::{get_page, item_id, updated_at};

/// Where one collection's incremental read stands.
#[derive(Default)]
struct Paging {
    /// The cursor the host passes to continue this read.
    expected: Option<String>,
    since: Option<String>,
    page: u32,
    /// Ids already returned whose `updatedAt` equals `since`.
    seen_at_since: HashSet<i64>,
}

thread_local! {
    static PAGING: RefCell<HashMap<&'static str, Paging>> = RefCell::new(HashMap::new());
}

/// Reads the next batch of `collection` from `cursor` (an `updatedAt`), mapping each item with
/// `map`. `deleted` is taken from the item's `deleted` field (false where there is none).
pub(crate) fn read(
    collection: &'static str,
    cursor: Option<String>,
    max: u32,
    map: impl Fn(&Value) -> Record,
) -> Result<Batch, ConnectorError> {
    let size = max.clamp(1, 500);
    let mut paging = PAGING
        .with_borrow_mut(|p| p.remove(collection))
        .filter(|p| p.expected == cursor)
        .unwrap_or_else(|| Paging { since: cursor.clone(), page: 1, ..Paging::default() });
    let items = get_page(collection, paging.since.as_deref(), paging.page, size)?;
    let more = items.len() as u32 == size;
    let mut records = Vec::with_capacity(items.len());
    for item in &items {
        let (Some(id), Some(at)) = (item_id(item), updated_at(item)) else {
            return Err(ConnectorError::Permanent(format!("{collection} item without id or updatedAt")));
        };
        if paging.since.as_deref() == Some(at.as_str()) && paging.seen_at_since.contains(&id) {
            continue;
        }
        records.push(SourceRecord {
            data: to_json(&map(item)),
            remote_id: id.to_string(),
            version: Some(at.clone()),
            updated_at: Some(at),
            deleted: item.get("deleted").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    let last = items.last().and_then(updated_at);
    if let Some(last) = &last {
        if paging.since.as_deref() == Some(last.as_str()) {
            paging.page += 1;
        } else {
            paging.since = Some(last.clone());
            paging.page = 1;
            paging.seen_at_since.clear();
        }
        let at_since = items.iter().filter(|i| updated_at(i).as_deref() == Some(last.as_str()));
        paging.seen_at_since.extend(at_since.filter_map(item_id));
    }
    let next = last.or(cursor);
    paging.expected = next.clone();
    if more {
        PAGING.with_borrow_mut(|p| p.insert(collection, paging));
    }
    Ok(Batch { records, cursor: next, more })
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
