//! The `referrals` stream: HY-ESMS's person-to-post introductions (职业介绍, 人岗匹配) as
//! `referral` records, read only: the hub reports what became of them (statistics) and never
//! writes them, so the stream declares `can-write` and `can-delete` false and a write is
//! refused as unsupported.
//!
//! | HY-ESMS `referrals` | referral | notes |
//! |---|---|---|
//! | `workerIdNo` | `worker.idNumber` | GB 11643-1999, normalised as the `zhenfeng-workers` stream's `idNo` (canonical 18 characters) |
//! | `jobId` | `jobPosting.identifier` `{propertyID: "HY-ESMS", value: "<jobId>"}` | the key of the `jobs` stream's posting |
//! | `status` | `status` | `recommended`, `interviewed`, `hired`, `rejected`, `withdrawn` |
//! | `note` | `note` | trimmed; empty is `null` |
//! | `id`, `deleted`, `updatedAt` | remote id, deleted flag, version and cursor | not fields |

use hub_sdk::json::{Record, set_opt};
use hub_sdk::normalise::{id_number, text};
use hub_sdk::prelude::*;
use serde_json::{Value, json};

use crate::jobs::SYSTEM_ID;

/// The stream's (and the collection's) name.
pub const REFERRALS: &str = "referrals";

fn item_str<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A `referrals` item as a `referral` record.
pub fn item_to_record(item: &Value) -> Record {
    let mut r = Record::new();
    r.insert(
        "worker".into(),
        json!({ "idNumber": id_number::normalise(item_str(item, "workerIdNo")) }),
    );
    let job = item.get("jobId").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    r.insert(
        "jobPosting".into(),
        json!({ "identifier": { "propertyID": SYSTEM_ID, "value": job } }),
    );
    r.insert(
        "status".into(),
        Value::String(text::trim(item_str(item, "status")).to_string()),
    );
    set_opt(&mut r, "note", text::non_empty(item_str(item, "note")));
    r
}

/// Reads the next batch of referrals.
pub(crate) fn read(cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
    crate::paging::read(REFERRALS, cursor, max, item_to_record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_referral_names_its_worker_and_posting_by_their_keys() {
        let item = json!({
            "id": 5, "workerIdNo": "52232519900101002x", "jobId": 42, "status": "hired",
            "note": " 已入职 ", "deleted": false, "updatedAt": "2021-08-20T10:00:00+08:00"
        });
        assert_eq!(
            Value::Object(item_to_record(&item)),
            json!({
                "worker": {"idNumber": "52232519900101002X"},
                "jobPosting": {"identifier": {"propertyID": "HY-ESMS", "value": "42"}},
                "status": "hired", "note": "已入职"
            })
        );
        let bare = json!({"id": 6, "workerIdNo": "522325199001010011", "jobId": 7, "status": "withdrawn", "note": ""});
        assert_eq!(item_to_record(&bare)["note"], Value::Null);
    }
}
