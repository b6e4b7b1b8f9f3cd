//! The `jobs` stream: HY-ESMS's vacancy register (企业用工信息) as `job-posting` records, read
//! only (HY-ESMS's API does not write jobs).
//!
//! | HY-ESMS `jobs` | job-posting | notes |
//! |---|---|---|
//! | `id` | `identifier` `{propertyID: "HY-ESMS", value: "<id>"}` | the natural key; also the remote id |
//! | `enterpriseId` | `hiringOrganization` `{name, uscc}` | from HY's `enterprises` register; an id not in it is passed on without them, so validation refuses the record |
//! | `title` | `title` | |
//! | `headcount` | `totalJobOpenings` | |
//! | `salaryMin`, `salaryMax` | `baseSalary` `{currency: CNY, value: {minValue, maxValue, unitText: MONTH}}` | `null` when neither is given |
//! | `workLocation` | `jobLocation` `{address, countyCode}` | the county is the deployment's division code (441303) |
//! | `requirements` | `qualifications` | |
//! | `publishedAt`, `validUntil` | `datePosted`, `validThrough` | |
//! | `status` `open`/`closed` | `status` | |
//! | `updatedAt` | (version, cursor) | |

use hub_sdk::json::{Record, set_opt};
use hub_sdk::normalise::{date, text};
use hub_sdk::prelude::*;
use serde_json::{Value, json};

use crate::mapping::Context;

/// The stream's (and the collection's) name.
pub const JOBS: &str = "jobs";
/// `identifier.propertyID` of postings that originate in HY-ESMS.
pub const SYSTEM_ID: &str = "HY-ESMS";

fn item_str<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A `jobs` item as a `job-posting` record.
pub fn item_to_record(item: &Value, ctx: &Context) -> Record {
    let mut r = Record::new();
    let id = item.get("id").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    r.insert(
        "identifier".into(),
        json!({ "propertyID": SYSTEM_ID, "value": id }),
    );
    r.insert(
        "title".into(),
        Value::String(text::trim(item_str(item, "title")).to_string()),
    );
    let employer = item
        .get("enterpriseId")
        .and_then(Value::as_i64)
        .and_then(|id| ctx.enterprise_by_id.get(&id));
    r.insert(
        "hiringOrganization".into(),
        match employer {
            Some((name, uscc)) => json!({ "name": name, "uscc": uscc }),
            None => json!({}),
        },
    );
    let (min, max) = (
        item.get("salaryMin").filter(|v| !v.is_null()),
        item.get("salaryMax").filter(|v| !v.is_null()),
    );
    r.insert(
        "baseSalary".into(),
        if min.is_none() && max.is_none() {
            Value::Null
        } else {
            json!({ "currency": "CNY", "value": { "minValue": min, "maxValue": max, "unitText": "MONTH" } })
        },
    );
    r.insert(
        "jobLocation".into(),
        match text::non_empty(item_str(item, "workLocation")) {
            Some(address) => {
                json!({ "address": address, "countyCode": text::non_empty(&ctx.division_code) })
            }
            None => Value::Null,
        },
    );
    set_opt(
        &mut r,
        "datePosted",
        text::non_empty(item_str(item, "publishedAt")).map(|d| date::normalise(&d)),
    );
    r.insert(
        "validThrough".into(),
        Value::String(date::normalise(text::trim(item_str(item, "validUntil")))),
    );
    r.insert(
        "totalJobOpenings".into(),
        item.get("headcount").cloned().unwrap_or(Value::Null),
    );
    set_opt(
        &mut r,
        "qualifications",
        text::non_empty(item_str(item, "requirements")),
    );
    r.insert(
        "status".into(),
        Value::String(text::trim(item_str(item, "status")).to_string()),
    );
    r
}

/// Reads the next batch of postings (each with its enterprise).
pub(crate) fn read(cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> {
    crate::ensure_enterprises()?;
    let ctx = crate::ctx();
    crate::paging::read(JOBS, cursor, max, |item| item_to_record(item, &ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        let mut c = Context {
            province: "广东省".into(),
            division_code: "441303".into(),
            ..Context::default()
        };
        c.add_enterprise(
            &json!({"id": 1, "uscc": "91350100M000100Y43", "name": "伯恩光学(惠州)有限公司"}),
        );
        c
    }

    #[test]
    fn a_posting_carries_its_enterprise_and_its_pay_as_a_monthly_range_in_yuan() {
        let item = json!({
            "id": 42, "enterpriseId": 1, "title": "普工 ", "headcount": 120, "salaryMin": 4000, "salaryMax": 6000,
            "workLocation": "广东省惠州市惠阳区淡水街道开城大道1号", "requirements": "18-45周岁", "publishedAt": "2021-08-05",
            "validUntil": "2021-11-03", "status": "open", "updatedAt": "2021-08-05T09:30:00+08:00"
        });
        assert_eq!(
            Value::Object(item_to_record(&item, &ctx())),
            json!({
                "identifier": {"propertyID": "HY-ESMS", "value": "42"}, "title": "普工",
                "hiringOrganization": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"},
                "baseSalary": {"currency": "CNY", "value": {"minValue": 4000, "maxValue": 6000, "unitText": "MONTH"}},
                "jobLocation": {"address": "广东省惠州市惠阳区淡水街道开城大道1号", "countyCode": "441303"},
                "datePosted": "2021-08-05", "validThrough": "2021-11-03", "totalJobOpenings": 120,
                "qualifications": "18-45周岁", "status": "open"
            })
        );
    }

    #[test]
    fn no_pay_figure_is_no_base_salary_and_an_unknown_enterprise_has_no_name() {
        let item = json!({"id": 7, "enterpriseId": 99, "title": "厨师", "headcount": 1, "salaryMin": null,
                          "salaryMax": null, "validUntil": "2021/9/30", "status": "closed"});
        let r = item_to_record(&item, &ctx());
        assert_eq!(r["baseSalary"], Value::Null);
        assert_eq!(r["hiringOrganization"], json!({}));
        assert_eq!(r["validThrough"], "2021-09-30");
        assert_eq!(r["jobLocation"], Value::Null);
    }
}
