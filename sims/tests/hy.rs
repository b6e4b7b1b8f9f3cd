//! HY-ESMS against `huiyang-esms.md`: the API key, paging, writes with their status codes,
//! preconditions, the rate limit, faults and counters.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::DateTime;
use common::{client, get_json, hy, unlimited};
use hub_sims::SimOptions;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "demo-hy-key";

/// An authorised GET.
async fn get(c: &reqwest::Client, url: String) -> reqwest::Response {
    c.get(url).header("X-Api-Key", KEY).send().await.unwrap()
}

/// Every item of a collection, page by page.
async fn all_items(
    c: &reqwest::Client,
    base: &str,
    collection: &str,
    size: u32,
    since: Option<&str>,
) -> Vec<Value> {
    let since = since
        .map(|s| format!("&updatedSince={}", s.replace('+', "%2B")))
        .unwrap_or_default();
    let mut items = Vec::new();
    for page in 1.. {
        let body: Value = get(
            c,
            format!("{base}/api/v1/{collection}?page={page}&size={size}{since}"),
        )
        .await
        .json()
        .await
        .unwrap();
        let got = body["items"].as_array().unwrap();
        if got.is_empty() {
            break;
        }
        items.extend(got.iter().cloned());
    }
    items
}

fn worker(id_no: &str) -> Value {
    json!({
        "name": "王芳", "idNo": id_no, "gender": "F", "phone": "13800138000",
        "hometownTownship": "珉谷街道", "employerUscc": null, "position": "普工",
        "hiredOn": "2021-08-05", "status": "employed", "remark": null
    })
}

async fn post(
    c: &reqwest::Client,
    base: &str,
    collection: &str,
    body: &Value,
) -> reqwest::Response {
    c.post(format!("{base}/api/v1/{collection}"))
        .header("X-Api-Key", KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn put(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    body: &Value,
    since: Option<&str>,
) -> reqwest::Response {
    let mut req = c
        .put(format!("{base}/api/v1/{path}"))
        .header("X-Api-Key", KEY)
        .json(body);
    if let Some(s) = since {
        req = req.header("If-Unmodified-Since", s);
    }
    req.send().await.unwrap()
}

fn instant(v: &Value) -> i64 {
    DateTime::parse_from_rfc3339(v["updatedAt"].as_str().unwrap())
        .unwrap()
        .timestamp()
}

#[tokio::test]
async fn requests_without_the_right_api_key_are_unauthorized_but_the_side_door_is_open() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    for req in [
        c.get(format!("{url}/api/v1/jobs")),
        c.get(format!("{url}/api/v1/jobs"))
            .header("X-Api-Key", "wrong"),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"error": "unauthorized"})
        );
    }
    let resp = c
        .post(format!("{url}/api/v1/zhenfeng-workers"))
        .json(&worker("52232519900101002X"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.get(format!("{url}/_admin/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pages_hold_every_record_once_in_updated_at_then_id_order() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let first: Value = get(&c, format!("{url}/api/v1/jobs"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            first["total"].clone(),
            first["page"].clone(),
            first["size"].clone()
        ),
        (json!(60), json!(1), json!(100))
    );
    assert_eq!(first["items"].as_array().unwrap().len(), 60);

    // 60 jobs in pages of 7: eight full pages and a ninth of 4.
    let mut items = Vec::new();
    for page in 1..=10 {
        let body: Value = get(&c, format!("{url}/api/v1/jobs?page={page}&size=7"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(body["total"], 60);
        assert_eq!(body["page"], page);
        assert_eq!(body["size"], 7);
        let n = body["items"].as_array().unwrap().len();
        assert_eq!(
            n,
            match page {
                1..=8 => 7,
                9 => 4,
                _ => 0,
            },
            "page {page}"
        );
        items.extend(body["items"].as_array().unwrap().iter().cloned());
    }
    let mut ids: Vec<u64> = items.iter().map(|i| i["id"].as_u64().unwrap()).collect();
    let keys: Vec<(i64, u64)> = items
        .iter()
        .map(|i| (instant(i), i["id"].as_u64().unwrap()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "sorted by updatedAt, then id"
    );
    ids.sort_unstable();
    assert_eq!(ids, (1..=60).collect::<Vec<_>>());

    // Fields in the contract's order.
    let text = get(&c, format!("{url}/api/v1/jobs?size=1"))
        .await
        .text()
        .await
        .unwrap();
    let order = [
        "\"total\"",
        "\"page\"",
        "\"size\"",
        "\"items\"",
        "\"id\"",
        "\"enterpriseId\"",
        "\"title\"",
        "\"headcount\"",
        "\"salaryMin\"",
        "\"salaryMax\"",
        "\"workLocation\"",
        "\"requirements\"",
        "\"publishedAt\"",
        "\"validUntil\"",
        "\"status\"",
        "\"updatedAt\"",
    ];
    let positions: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");

    let job = &items[0];
    let fields: Vec<&str> = job
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "id",
        "enterpriseId",
        "title",
        "headcount",
        "salaryMin",
        "salaryMax",
        "workLocation",
        "requirements",
        "publishedAt",
        "validUntil",
        "status",
        "updatedAt",
    ];
    expected.sort_unstable();
    let mut fields = fields;
    fields.sort_unstable();
    assert_eq!(fields, expected);
    let updated = job["updatedAt"].as_str().unwrap();
    assert!(
        updated.ends_with("+08:00") && updated.len() == 25,
        "{updated}"
    );
    assert!(job["salaryMin"].is_u64() && job["headcount"].is_u64());

    let enterprises: Value = get(&c, format!("{url}/api/v1/enterprises?size=500"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(enterprises["total"], 40);
    for e in enterprises["items"].as_array().unwrap() {
        assert_eq!(
            hub_schemas::uscc::validate(e["uscc"].as_str().unwrap()),
            Ok(())
        );
    }
    let empty: Value = get(&c, format!("{url}/api/v1/zhenfeng-workers"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        empty,
        json!({"total": 0, "page": 1, "size": 100, "items": []})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn updated_since_is_inclusive_in_any_offset() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let all = all_items(&c, &url, "jobs", 500, None).await;
    // A second several postings share.
    let shared = all
        .windows(2)
        .find(|w| instant(&w[0]) == instant(&w[1]))
        .map(|w| w[0]["updatedAt"].as_str().unwrap().to_string())
        .expect("a shared second");
    let t = DateTime::parse_from_rfc3339(&shared).unwrap();
    let expected: Vec<&Value> = all.iter().filter(|i| instant(i) >= t.timestamp()).collect();
    assert!(expected.len() >= 2);

    let utc = t
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let minus5 = t
        .with_timezone(&chrono::FixedOffset::west_opt(5 * 3600).unwrap())
        .to_rfc3339();
    for since in [shared.as_str(), &utc, &minus5] {
        let got = all_items(&c, &url, "jobs", 3, Some(since)).await;
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{since}");
        assert_eq!(got[0]["updatedAt"], shared.as_str());
    }
    let later = (t + chrono::Duration::seconds(1)).to_rfc3339();
    let got = all_items(&c, &url, "jobs", 500, Some(&later)).await;
    assert!(got.iter().all(|i| instant(i) > t.timestamp()));
    let with_fraction = (t + chrono::Duration::milliseconds(500)).to_rfc3339();
    assert_eq!(
        all_items(&c, &url, "jobs", 500, Some(&with_fraction)).await,
        got
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_paging_parameters_are_422_naming_the_field() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    for (query, field) in [
        ("size=0", "size"),
        ("size=501", "size"),
        ("size=ten", "size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("updatedSince=yesterday", "updatedSince"),
        ("updatedSince=2021-09-02", "updatedSince"),
        // An unescaped + arrives as a space.
        ("updatedSince=2021-09-02T10:00:00+08:00", "updatedSince"),
    ] {
        let resp = get(&c, format!("{url}/api/v1/jobs?{query}")).await;
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["field"],
            field,
            "{query}"
        );
    }
    assert_eq!(
        get(&c, format!("{url}/api/v1/jobs?size=500"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&c, format!("{url}/api/v1/vacancies")).await.status(),
        StatusCode::NOT_FOUND
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn workers_are_created_replaced_and_soft_deleted_and_idno_stays_unique() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let created = post(&c, &url, "zhenfeng-workers", &worker("52232519900101002X")).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["deleted"], false);
    assert_eq!(created["idNo"], "52232519900101002X");
    assert_eq!(created["hiredOn"], "2021-08-05");
    assert_eq!(created["employerUscc"], Value::Null);
    assert!(created["updatedAt"].as_str().unwrap().ends_with("+08:00"));

    let mut changed = worker("52232519900101002X");
    changed["status"] = json!("left");
    changed["hiredOn"] = Value::Null;
    let replaced = put(&c, &url, &format!("zhenfeng-workers/{id}"), &changed, None).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(
        (
            replaced["id"].as_u64(),
            replaced["status"].as_str(),
            &replaced["hiredOn"]
        ),
        (Some(id), Some("left"), &Value::Null)
    );
    assert!(instant(&replaced) >= instant(&created));

    let deleted = c
        .delete(format!("{url}/api/v1/zhenfeng-workers/{id}"))
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let listed = all_items(&c, &url, "zhenfeng-workers", 100, None).await;
    assert_eq!(listed.len(), 1, "a soft-deleted record stays readable");
    assert_eq!(listed[0]["deleted"], true);
    assert_eq!(listed[0]["status"], "left");

    // The same idNo again, even though deleted: 409 with the existing id.
    let again = post(&c, &url, "zhenfeng-workers", &worker("52232519900101002X")).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"error": "duplicate idNo", "id": id})
    );

    // Changing another worker's idNo to the first one's: 409 too.
    let other: Value = post(&c, &url, "zhenfeng-workers", &worker("522325199002020021"))
        .await
        .json()
        .await
        .unwrap();
    let other_id = other["id"].as_u64().unwrap();
    assert_ne!(other_id, id);
    let clash = put(
        &c,
        &url,
        &format!("zhenfeng-workers/{other_id}"),
        &worker("52232519900101002X"),
        None,
    )
    .await;
    assert_eq!(clash.status(), StatusCode::CONFLICT);
    assert_eq!(clash.json::<Value>().await.unwrap()["id"], id);

    let missing = put(
        &c,
        &url,
        "zhenfeng-workers/999",
        &worker("522325199003030031"),
        None,
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.json::<Value>().await.unwrap(),
        json!({"error": "not found"})
    );
    let missing = c
        .delete(format!("{url}/api/v1/zhenfeng-workers/999"))
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // The contract has no read by id.
    assert_eq!(
        get(&c, format!("{url}/api/v1/zhenfeng-workers/{id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(
        counters["collections"]["zhenfeng-workers"],
        json!({"created": 2, "updated": 1, "deleted": 1, "duplicates_refused": 2, "conflicts": 0, "rejected": 0, "not_found": 2})
    );
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_stale_if_unmodified_since_is_refused_with_412() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let created: Value = post(&c, &url, "zhenfeng-workers", &worker("52232519900101002X"))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("zhenfeng-workers/{}", created["id"]);
    // Pin the stored time so that "one second earlier" is exact.
    let pinned: Value = c
        .patch(format!("{url}/_admin/{path}"))
        .json(&json!({"updatedAt": "2021-09-02T10:00:00+08:00"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pinned["updatedAt"], "2021-09-02T10:00:00+08:00");

    let body = worker("52232519900101002X");
    for stale in [
        "2021-09-02T09:59:59+08:00",
        "2021-09-02T01:59:59Z",
        "Thu, 02 Sep 2021 01:59:59 GMT",
    ] {
        let resp = put(&c, &url, &path, &body, Some(stale)).await;
        assert_eq!(resp.status(), StatusCode::PRECONDITION_FAILED, "{stale}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"error": "precondition failed"})
        );
    }
    let resp = put(&c, &url, &path, &body, Some("not a date")).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The time the client read (here as an HTTP-date) is current: the write goes through.
    let resp = put(
        &c,
        &url,
        &path,
        &body,
        Some("Thu, 02 Sep 2021 02:00:00 GMT"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Now the stored time is later than 2021-09-02: the old value is stale, for DELETE too.
    assert_eq!(
        put(&c, &url, &path, &body, Some("2021-09-02T10:00:00+08:00"))
            .await
            .status(),
        StatusCode::PRECONDITION_FAILED
    );
    let del = c
        .delete(format!("{url}/api/v1/{path}"))
        .header("X-Api-Key", KEY)
        .header("If-Unmodified-Since", "2021-09-02T10:00:00+08:00")
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::PRECONDITION_FAILED);

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["zhenfeng-workers"]["conflicts"], 5);
    assert_eq!(counters["collections"]["zhenfeng-workers"]["updated"], 1);
    assert_eq!(counters["collections"]["zhenfeng-workers"]["rejected"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_writes_are_422_naming_the_field() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let cases = [
        ("name", json!("")),
        ("idNo", json!("52232519900101002x")),
        ("idNo", json!("522325900101002")),
        ("gender", json!("female")),
        ("status", json!("returned_home")),
        ("hiredOn", json!("2021/8/5")),
        ("hiredOn", json!("2021-02-30")),
        ("employerUscc", json!("91441303")),
        ("nickname", json!("芳芳")),
        ("id", json!(5)),
    ];
    for (field, value) in cases {
        let mut body = worker("52232519900101002X");
        body[field] = value.clone();
        let resp = post(&c, &url, "zhenfeng-workers", &body).await;
        assert_eq!(
            resp.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}"
        );
        assert_eq!(
            resp.json::<Value>().await.unwrap()["field"],
            field,
            "{field} = {value}"
        );
    }
    let mut missing = worker("52232519900101002X");
    missing.as_object_mut().unwrap().remove("gender");
    let resp = post(&c, &url, "zhenfeng-workers", &missing).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["field"], "gender");
    // enterprises and jobs are read-only.
    let resp = post(&c, &url, "jobs", &json!({"title": "普工"})).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["zhenfeng-workers"]["rejected"], 11);
    assert_eq!(counters["collections"]["zhenfeng-workers"]["created"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn referrals_point_at_jobs_and_secondments_at_host_facilities() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let referral = json!({"workerIdNo": "52232519900101002X", "jobId": 7, "status": "recommended", "note": null});
    let resp = post(&c, &url, "referrals", &referral).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let stored: Value = resp.json().await.unwrap();
    assert_eq!(
        (stored["jobId"].clone(), stored["deleted"].clone()),
        (json!(7), json!(false))
    );
    let mut no_job = referral.clone();
    no_job["jobId"] = json!(61);
    let resp = post(&c, &url, "referrals", &no_job).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(resp.json::<Value>().await.unwrap()["field"], "jobId");
    // The contract has no uniqueness rule for referrals: a second one is created, and the
    // counters show the key created twice.
    assert_eq!(
        post(&c, &url, "referrals", &referral).await.status(),
        StatusCode::CREATED
    );

    let secondment = json!({
        "name": "陈医生", "idNo": "441303198001010011", "gender": "M", "phone": "13900139000",
        "profession": "中医师", "sendingOrg": "惠阳区中医院", "hostFacility": "贞丰县民族中医院",
        "batch": 2, "startDate": "2021-06-01", "endDate": "2021-12-01", "actualEndDate": null,
        "status": "serving", "department": "针灸科", "honours": ["锦旗"]
    });
    let resp = post(&c, &url, "secondments", &secondment).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["honours"],
        json!(["锦旗"])
    );
    let mut bad = secondment.clone();
    bad["batch"] = json!(5);
    assert_eq!(
        post(&c, &url, "secondments", &bad)
            .await
            .json::<Value>()
            .await
            .unwrap()["field"],
        "batch"
    );
    bad = secondment.clone();
    bad["hostFacility"] = json!("惠阳区中医院");
    assert_eq!(
        post(&c, &url, "secondments", &bad)
            .await
            .json::<Value>()
            .await
            .unwrap()["field"],
        "hostFacility"
    );

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(
        counters["keys_created_more_than_once"],
        json!([{"collection": "referrals", "key": "52232519900101002X/7", "created": 2}])
    );
    assert_eq!(counters["collections"]["secondments"]["created"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn more_than_the_rate_limit_in_one_second_gets_429_with_retry_after() {
    let sim = hy(&SimOptions {
        rate_limit: Some(5),
        ..SimOptions::default()
    })
    .await;
    let c = client();
    let url = sim.url();
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(
            get(&c, format!("{url}/api/v1/enterprises?size=1"))
                .await
                .status(),
            StatusCode::OK
        );
    }
    // The side-door is never limited.
    for _ in 0..10 {
        assert_eq!(
            c.get(format!("{url}/_admin/faults"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let refused = get(&c, format!("{url}/api/v1/enterprises?size=1")).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the test must send its requests within a second"
    );
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"error": "too many requests"})
    );
    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(
        (&counters["requests"], &counters["rate_limited"]),
        (&json!(6), &json!(1)),
        "{counters}"
    );
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(
        get(&c, format!("{url}/api/v1/enterprises?size=1"))
            .await
            .status(),
        StatusCode::OK
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_burst_drop_and_slow_down_api_requests_then_clear() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let set = c
        .post(format!("{url}/_admin/faults"))
        .json(&json!({"burst_503": 2, "burst_429": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        set.json::<Value>().await.unwrap(),
        json!({"slow_ms": 0, "burst_429": 1, "retry_after": 1, "burst_503": 2, "drop": 0, "reject_writes": 0})
    );
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = get(&c, format!("{url}/api/v1/jobs?size=1")).await;
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(resp.headers()["retry-after"], "1");
        }
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [503, 503, 429, 200]);

    c.post(format!("{url}/_admin/faults"))
        .json(&json!({"drop": 1}))
        .send()
        .await
        .unwrap();
    let dropped = c
        .get(format!("{url}/api/v1/jobs?size=1"))
        .header("X-Api-Key", KEY)
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection closes without a response: {dropped:?}"
    );
    assert_eq!(
        get(&c, format!("{url}/api/v1/jobs?size=1")).await.status(),
        StatusCode::OK
    );

    c.post(format!("{url}/_admin/faults"))
        .json(&json!({"slow_ms": 200}))
        .send()
        .await
        .unwrap();
    let start = Instant::now();
    assert_eq!(
        get(&c, format!("{url}/api/v1/jobs?size=1")).await.status(),
        StatusCode::OK
    );
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        get_json(&c, format!("{url}/_admin/faults")).await["slow_ms"],
        200
    );
    assert_eq!(
        c.delete(format!("{url}/_admin/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get_json(&c, format!("{url}/_admin/faults")).await,
        json!({"slow_ms": 0, "burst_429": 0, "retry_after": 1, "burst_503": 0, "drop": 0, "reject_writes": 0})
    );

    let refused = c
        .post(format!("{url}/_admin/faults"))
        .json(&json!({"expire_sessions_after": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = c
        .post(format!("{url}/_admin/faults"))
        .json(&json!({"explode": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // 4 in bursts, 1 dropped, 1 after it, 1 slowed down.
    assert_eq!(
        get_json(&c, format!("{url}/_admin/counters")).await["requests"],
        7
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_side_door_plants_records_that_break_the_schema_without_counting() {
    let sim = hy(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let created = c
        .post(format!("{url}/_admin/zhenfeng-workers"))
        .json(&json!({"name": "李四", "idNo": "522325199001010011"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(
        (created["deleted"].clone(), created["gender"].clone()),
        (json!(false), Value::Null)
    );
    let id = created["id"].as_u64().unwrap();

    let patched: Value = c
        .patch(format!("{url}/_admin/zhenfeng-workers/{id}"))
        .json(&json!({"gender": "X", "hiredOn": 20210805, "extra": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["gender"], "X");
    assert_eq!(patched["hiredOn"], 20210805);
    assert!(instant(&patched) >= instant(&created));
    let listed = all_items(&c, &url, "zhenfeng-workers", 100, None).await;
    assert_eq!(listed, std::slice::from_ref(&patched));
    assert_eq!(
        get_json(&c, format!("{url}/_admin/zhenfeng-workers/{id}")).await,
        patched
    );

    // The API refuses a second worker with the planted idNo.
    let dup = post(&c, &url, "zhenfeng-workers", &worker("522325199001010011")).await;
    assert_eq!(
        dup.json::<Value>().await.unwrap(),
        json!({"error": "duplicate idNo", "id": id})
    );

    assert_eq!(
        c.delete(format!("{url}/_admin/zhenfeng-workers/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get_json(&c, format!("{url}/_admin/zhenfeng-workers")).await[0]["deleted"],
        true
    );
    assert_eq!(
        c.delete(format!("{url}/_admin/jobs/60"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&c, format!("{url}/api/v1/jobs"))
            .await
            .json::<Value>()
            .await
            .unwrap()["total"],
        59
    );

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["zhenfeng-workers"]["created"], 0);
    assert_eq!(
        counters["collections"]["zhenfeng-workers"]["duplicates_refused"],
        1
    );
    sim.shutdown().await;
}
