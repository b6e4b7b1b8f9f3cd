//! ZF-REG against `zhenfeng-registry.md`: sessions, the GB18030 export, saves with their codes,
//! the job board, faults and counters.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

mod common;

use common::{client, get_json, unlimited, zf, zf_login};
use hub_sims::SimOptions;
use serde_json::{Value, json};
use std::time::Duration;

const HEADER: &str = "登记编号,姓名,身份证号,性别,联系电话,户籍乡镇,务工省份,务工县区代码,务工单位,单位信用代码,工种,务工状态,登记日期,更新时间";

async fn export(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    since: Option<&str>,
) -> reqwest::Response {
    // The only character of a `since` that needs escaping in a query is the space.
    let since = since
        .map(|s| format!("&since={}", s.replace(' ', "%20")))
        .unwrap_or_default();
    c.get(format!("{url}/export/workers.csv?token={token}{since}"))
        .send()
        .await
        .unwrap()
}

/// Decodes an export and splits it into rows of fields (no field in the seed contains a comma,
/// quote or line break, so splitting on commas is exact).
fn rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    assert!(!had_errors);
    assert!(text.ends_with("\r\n"));
    text.strip_suffix("\r\n")
        .unwrap()
        .split("\r\n")
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

async fn save(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Value {
    c.post(format!("{url}/api/worker/save"))
        .form(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A complete save form for a new resident.
fn new_resident<'a>(token: &'a str, sfzh: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("token", token),
        ("djbh", ""),
        ("xm", "王芳"),
        ("sfzh", sfzh),
        ("xb", "2"),
        ("lxdh", "13800138000"),
        ("hjxz", "珉谷街道"),
        ("wgsf", "广东省"),
        ("wgxq", "441303"),
        ("wgdw", "伯恩光学(惠州)有限公司"),
        ("dwxydm", ""),
        ("gz", "普工"),
        ("wgzt", "1"),
        ("gxsj", ""),
    ]
}

#[tokio::test]
async fn login_gives_a_token_and_every_other_call_needs_one() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let ok: Value = c
        .post(format!("{url}/login"))
        .form(&[("username", "hub-sync"), ("password", "demo-zf-password")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["code"], 0);
    assert_eq!(ok["msg"], "成功");
    assert_eq!(ok["data"]["expiresIn"], 1800);
    assert!(ok["data"]["token"].as_str().unwrap().len() >= 16);

    let wrong = c
        .post(format!("{url}/login"))
        .form(&[("username", "hub-sync"), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 200);
    assert_eq!(
        wrong.json::<Value>().await.unwrap(),
        json!({"code": 40100, "msg": "用户名或密码错误"})
    );

    let expired = json!({"code": 40101, "msg": "登录已过期"});
    for resp in [
        c.get(format!("{url}/export/workers.csv"))
            .send()
            .await
            .unwrap(),
        c.get(format!("{url}/export/workers.csv?token=not-a-token"))
            .send()
            .await
            .unwrap(),
        c.get(format!("{url}/api/job/list?token="))
            .send()
            .await
            .unwrap(),
        c.post(format!("{url}/api/worker/save"))
            .form(&new_resident("bogus", "52232519900101002X"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.json::<Value>().await.unwrap(), expired);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_expire_after_the_session_ttl() {
    let sim = zf(&SimOptions {
        session_ttl: Duration::from_millis(300),
        ..unlimited()
    })
    .await;
    let c = client();
    let token = zf_login(&c, &sim).await;
    assert_eq!(
        export(&c, &sim.url(), &token, None).await.headers()["content-type"],
        "text/csv; charset=GB18030"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let resp: Value = export(&c, &sim.url(), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resp["code"], 40101);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_export_is_gb18030_csv_with_the_chinese_header_crlf_and_every_resident_in_order() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let token = zf_login(&c, &sim).await;
    let resp = export(&c, &sim.url(), &token, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=GB18030");
    let bytes = resp.bytes().await.unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "GB18030, not UTF-8");
    // "登记编号" in GB18030 (GBK range): B5C7 BCC7 B1E0 BAC5.
    assert_eq!(
        &bytes[..8],
        &[0xB5, 0xC7, 0xBC, 0xC7, 0xB1, 0xE0, 0xBA, 0xC5]
    );
    let (text, _, _) = encoding_rs::GB18030.decode(&bytes);
    assert_eq!(
        text.matches("\r\n").count(),
        text.matches('\n').count(),
        "every line ends CRLF"
    );

    let rows = rows(&bytes);
    assert_eq!(rows[0].join(","), HEADER);
    let data = &rows[1..];
    assert_eq!(data.len(), 3000);
    assert!(data.iter().all(|r| r.len() == 14));
    assert!(
        data.windows(2)
            .all(|w| (&w[0][13], &w[0][0]) < (&w[1][13], &w[1][0])),
        "by 更新时间 then 登记编号"
    );
    assert!(
        data.iter().any(|r| r[7] != "441303"),
        "every resident, not only Huiyang's"
    );
    // Values as stored, quirks included.
    assert!(data.iter().any(|r| r[2].ends_with('x')));
    assert!(data.iter().any(|r| r[2].len() == 15));
    assert!(data.iter().any(|r| r[4].starts_with('１')));
    assert!(data.iter().any(|r| r[12].contains('年')) && data.iter().any(|r| r[12].contains('/')));

    // The same as the side-door shows.
    let workers = get_json(&c, format!("{}/_admin/workers", sim.url())).await;
    let first = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["登记编号"] == data[0][0].as_str())
        .unwrap();
    let header: Vec<&str> = HEADER.split(',').collect();
    for (i, name) in header.iter().enumerate() {
        assert_eq!(first[*name], data[0][i].as_str());
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_same_seed_exports_the_same_bytes_and_another_seed_does_not() {
    let (a, b, other) = (
        zf(&unlimited()).await,
        zf(&unlimited()).await,
        zf(&SimOptions {
            seed: 1,
            ..unlimited()
        })
        .await,
    );
    let c = client();
    let mut bodies = Vec::new();
    for sim in [&a, &b, &other] {
        let token = zf_login(&c, sim).await;
        bodies.push(
            export(&c, &sim.url(), &token, None)
                .await
                .bytes()
                .await
                .unwrap(),
        );
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_ne!(bodies[0], bodies[2]);
    for sim in [a, b, other] {
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn since_is_inclusive_and_a_malformed_since_is_a_bad_parameter() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let token = zf_login(&c, &sim).await;
    let all = rows(
        &export(&c, &sim.url(), &token, None)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    // A second shared by several records, past the middle of the export.
    let i = (1500..all.len() - 1)
        .find(|i| all[*i - 1][13] < all[*i][13] && all[*i][13] == all[*i + 1][13])
        .expect("a shared second");
    let mid = &all[i][13];
    let expected: Vec<_> = all[1..].iter().filter(|r| &r[13] >= mid).cloned().collect();
    assert_eq!(expected.len(), all.len() - i);
    let delta = rows(
        &export(&c, &sim.url(), &token, Some(mid))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(delta[0].join(","), HEADER);
    assert_eq!(delta[1..], expected[..]);
    assert_eq!(
        (&delta[1][13], &delta[2][13]),
        (mid, mid),
        "the records changed at `since` itself are included"
    );

    let none = rows(
        &export(&c, &sim.url(), &token, Some("2030-01-01 00:00:00"))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(none.len(), 1, "only the header");

    for bad in [
        "2021-09-02",
        "2021-09-02T10:00:00",
        "2021/9/2 10:00:00",
        "yesterday",
    ] {
        let resp: Value = export(&c, &sim.url(), &token, Some(bad))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(resp["code"], 40001, "{bad}");
        assert!(resp["msg"].as_str().unwrap().contains("since"));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_new_resident_gets_the_next_registry_number_and_appears_in_the_export() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let token = zf_login(&c, &sim).await;
    let before = chrono_now_cst();
    let resp = save(&c, &url, &new_resident(&token, "52232519900101002X")).await;
    assert_eq!(resp["code"], 0, "{resp}");
    assert_eq!(resp["msg"], "成功");
    let djbh = resp["data"]["djbh"].as_str().unwrap();
    // 3,000 seeded residents: the next sequence number is 3001, under this year.
    let after = chrono_now_cst();
    // (Either side of midnight, should the save straddle it.)
    assert!(
        [&before, &after]
            .iter()
            .any(|t| djbh == format!("ZF{}003001", &t[..4])),
        "{djbh}"
    );

    let stored = get_json(&c, format!("{url}/_admin/workers/{djbh}")).await;
    assert_eq!(stored["性别"], "女");
    assert_eq!(stored["身份证号"], "52232519900101002X");
    let registered = stored["登记日期"].as_str().unwrap();
    assert!(
        registered == &before[..10] || registered == &after[..10],
        "{registered}"
    );
    let updated = stored["更新时间"].as_str().unwrap();
    assert!(
        (&before[..]..=&after[..]).contains(&updated),
        "{updated} not within {before}..{after}"
    );

    let delta = rows(
        &export(&c, &url, &token, Some(updated))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(delta.len(), 2);
    assert_eq!(delta[1][0], djbh);
    sim.shutdown().await;
}

/// Now in China Standard Time, `yyyy-MM-dd HH:mm:ss`.
fn chrono_now_cst() -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    chrono::Utc::now()
        .with_timezone(&cst)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[tokio::test]
async fn a_registered_identity_number_is_refused_with_its_registry_number_even_in_another_form() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let token = zf_login(&c, &sim).await;
    let workers = get_json(&c, format!("{url}/_admin/workers")).await;
    let workers = workers.as_array().unwrap();

    // A legacy 15-digit resident, matched by the 18-digit form of the number.
    let legacy = workers
        .iter()
        .find(|w| w["身份证号"].as_str().unwrap().len() == 15)
        .unwrap();
    let upgraded =
        hub_schemas::id_number::upgrade_15(legacy["身份证号"].as_str().unwrap()).unwrap();
    let resp = save(&c, &url, &new_resident(&token, &upgraded)).await;
    assert_eq!(
        resp,
        json!({"code": 40902, "msg": "身份证号已登记", "data": {"djbh": legacy["登记编号"]}})
    );

    // A resident stored with a lower-case x, matched by the upper-case form.
    let lower = workers
        .iter()
        .find(|w| w["身份证号"].as_str().unwrap().ends_with('x'))
        .unwrap();
    let upper = lower["身份证号"].as_str().unwrap().to_uppercase();
    let resp = save(&c, &url, &new_resident(&token, &upper)).await;
    assert_eq!(resp["code"], 40902);
    assert_eq!(resp["data"]["djbh"], lower["登记编号"]);

    // Saving the same new resident twice creates one record.
    let first = save(&c, &url, &new_resident(&token, "52232519900101002X")).await;
    let second = save(&c, &url, &new_resident(&token, "52232519900101002X")).await;
    assert_eq!(second["code"], 40902);
    assert_eq!(second["data"]["djbh"], first["data"]["djbh"]);

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["workers"]["created"], 1);
    assert_eq!(counters["collections"]["workers"]["duplicates_refused"], 3);
    assert_eq!(counters["keys_created_more_than_once"], json!([]));
    sim.shutdown().await;
}

#[tokio::test]
async fn an_update_with_a_stale_gxsj_is_refused_and_a_current_one_replaces_the_fields() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let token = zf_login(&c, &sim).await;
    let workers = get_json(&c, format!("{url}/_admin/workers")).await;
    let w = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["务工县区代码"] == "441303" && w["身份证号"].as_str().unwrap().len() == 18)
        .unwrap()
        .clone();
    let djbh = w["登记编号"].as_str().unwrap();
    // Pin the stored time through the side-door so that "one second earlier" is exact.
    let seen = "2021-09-02 10:00:00";
    let pinned = c
        .patch(format!("{url}/_admin/workers/{djbh}"))
        .json(&json!({"更新时间": seen}))
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.status(), 200);
    let sfzh = w["身份证号"].as_str().unwrap();
    let mut form = new_resident(&token, sfzh);
    form.retain(|(k, _)| !matches!(*k, "djbh" | "gxsj" | "wgzt"));
    form.extend([("djbh", djbh), ("wgzt", "3")]);

    // One second before the stored time: someone changed it since the client read it.
    let mut stale = form.clone();
    stale.push(("gxsj", "2021-09-02 09:59:59"));
    assert_eq!(
        save(&c, &url, &stale).await,
        json!({"code": 40901, "msg": "数据已被修改"})
    );

    let mut current = form.clone();
    current.push(("gxsj", seen));
    let resp = save(&c, &url, &current).await;
    assert_eq!(
        resp,
        json!({"code": 0, "msg": "成功", "data": {"djbh": djbh}})
    );
    let stored = get_json(&c, format!("{url}/_admin/workers/{djbh}")).await;
    assert_eq!(stored["务工状态"], "3");
    assert_eq!(stored["姓名"], "王芳");
    assert_eq!(stored["性别"], "女");
    assert_eq!(
        stored["登记日期"], w["登记日期"],
        "the registration date is kept"
    );
    assert!(stored["更新时间"].as_str().unwrap() > seen);

    // The time the client saw is now older than the stored one.
    assert_eq!(save(&c, &url, &current).await["code"], 40901);
    // Without gxsj the save is unconditional.
    assert_eq!(save(&c, &url, &form).await["code"], 0);

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    let workers = &counters["collections"]["workers"];
    assert_eq!(workers["updated"], 2);
    assert_eq!(workers["conflicts"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn invalid_saves_are_bad_parameters_naming_the_field() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let token = zf_login(&c, &sim).await;
    let cases = [
        ("xm", " "),
        ("sfzh", "5223251990010100"),
        ("xb", "男"),
        ("wgzt", "4"),
        ("wgxq", "44130"),
        ("gxsj", "2021-09-02"),
    ];
    for (field, value) in cases {
        let mut form = new_resident(&token, "52232519900101002X");
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let resp = save(&c, &url, &form).await;
        assert_eq!(resp["code"], 40001, "{field}: {resp}");
        assert!(
            resp["msg"]
                .as_str()
                .unwrap()
                .contains(&format!("({field})")),
            "{field}: {resp}"
        );
    }
    let mut form = new_resident(&token, "52232519900101002X");
    form.retain(|(k, _)| *k != "djbh");
    form.push(("djbh", "ZF2099999999"));
    assert_eq!(save(&c, &url, &form).await["code"], 40001);
    // A 15-character number is accepted as the registry accepts legacy numbers.
    assert_eq!(
        save(&c, &url, &new_resident(&token, "522325900101002")).await["code"],
        0
    );

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["workers"]["rejected"], 6);
    assert_eq!(counters["collections"]["workers"]["not_found"], 1);
    assert_eq!(counters["collections"]["workers"]["created"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn expire_sessions_after_lets_n_requests_pass_then_ends_every_session_once() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let token = zf_login(&c, &sim).await;
    let other = zf_login(&c, &sim).await;
    let set: Value = c
        .post(format!("{url}/_admin/faults"))
        .json(&json!({"expire_sessions_after": 2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["expire_sessions_after"], 2);
    let list = |t: String| {
        let c = c.clone();
        let url = url.clone();
        async move { get_json(&c, format!("{url}/api/job/list?token={t}")).await["code"].clone() }
    };
    assert_eq!(list(token.clone()).await, 0);
    assert_eq!(list(other.clone()).await, 0);
    assert_eq!(list(token.clone()).await, 40101);
    assert_eq!(
        list(other.clone()).await,
        40101,
        "every token was invalidated"
    );
    let fresh = zf_login(&c, &sim).await;
    assert_eq!(list(fresh.clone()).await, 0);
    assert_eq!(list(fresh).await, 0, "only once");
    let faults = get_json(&c, format!("{url}/_admin/faults")).await;
    assert_eq!(faults["expire_sessions_after"], Value::Null);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_job_board_starts_empty_and_saves_by_wbbh() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let token = zf_login(&c, &sim).await;
    let list = get_json(
        &c,
        format!("{url}/api/job/list?token={token}&page=1&rows=100"),
    )
    .await;
    assert_eq!(
        list,
        json!({"code": 0, "msg": "成功", "data": {"total": 0, "rows": []}})
    );

    let posting = |title: &'static str, zt: &'static str| {
        vec![
            ("token", token.clone()),
            ("wbbh", "HY-JOB-7".to_string()),
            ("qymc", "伯恩光学(惠州)有限公司".to_string()),
            ("xydm", "91441303MA4UJ8U63W".to_string()),
            ("gwmc", title.to_string()),
            ("zprs", "120".to_string()),
            ("xzfw", "4000-6000元/月".to_string()),
            ("gzdd", "广东省惠州市惠阳区".to_string()),
            ("jzrq", "2021-10-05".to_string()),
            ("zt", zt.to_string()),
        ]
    };
    let save_job = |form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = url.clone();
        async move {
            c.post(format!("{url}/api/job/save"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let created = save_job(posting("普工", "1")).await;
    assert_eq!(
        created,
        json!({"code": 0, "msg": "成功", "data": {"id": 1}})
    );
    let updated = save_job(posting("电子装配工", "0")).await;
    assert_eq!(updated["data"]["id"], 1, "the same wbbh updates");
    let mut bad = posting("普工", "1");
    bad.retain(|(k, _)| *k != "zprs");
    bad.push(("zprs", "很多".into()));
    assert_eq!(save_job(bad).await["code"], 40001);

    let list = get_json(
        &c,
        format!("{url}/api/job/list?token={token}&page=1&rows=100"),
    )
    .await;
    assert_eq!(list["data"]["total"], 1);
    let row = &list["data"]["rows"][0];
    assert_eq!(row["gwmc"], "电子装配工");
    assert_eq!(row["zt"], "0");
    assert_eq!(row["zprs"], 120);
    assert_eq!(row["xzfw"], "4000-6000元/月");
    assert_eq!(row["gxsj"].as_str().unwrap().len(), 19);
    let page2 = get_json(
        &c,
        format!("{url}/api/job/list?token={token}&page=2&rows=100"),
    )
    .await;
    assert_eq!(page2["data"]["rows"], json!([]));
    assert_eq!(
        get_json(&c, format!("{url}/api/job/list?token={token}&rows=0")).await["code"],
        40001
    );

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["jobs"]["created"], 1);
    assert_eq!(counters["collections"]["jobs"]["updated"], 1);
    assert_eq!(counters["collections"]["jobs"]["rejected"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_side_door_patches_without_counting_and_counters_reset() {
    let sim = zf(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let token = zf_login(&c, &sim).await;
    let facts = get_json(&c, format!("{url}/_admin/seed")).await;
    let djbh = facts["broken"][0]["djbh"].as_str().unwrap().to_string();

    let patched: Value = c
        .patch(format!("{url}/_admin/workers/{djbh}"))
        .json(&json!({"联系电话": "not a phone", "更新时间": "2030-01-01 08:00:00"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["联系电话"], "not a phone");
    assert_eq!(patched["更新时间"], "2030-01-01 08:00:00");
    let delta = rows(
        &export(&c, &url, &token, Some("2030-01-01 08:00:00"))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(delta.len(), 2);
    assert_eq!(delta[1][4], "not a phone");

    let created = c
        .post(format!("{url}/_admin/workers"))
        .json(&json!({"姓名": "测试", "身份证号": "522325199001010001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["登记编号"].as_str().unwrap().len(), 12);
    assert_eq!(created["务工状态"], "");
    let refused = c
        .patch(format!("{url}/_admin/workers/{djbh}"))
        .json(&json!({"登记编号": "ZF1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    assert_eq!(
        c.delete(format!(
            "{url}/_admin/workers/{}",
            created["登记编号"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .status(),
        204
    );

    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["workers"]["created"], 0);
    assert_eq!(counters["collections"]["workers"]["updated"], 0);
    assert!(counters["requests"].as_u64().unwrap() >= 2);
    assert_eq!(
        c.delete(format!("{url}/_admin/counters"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        get_json(&c, format!("{url}/_admin/counters")).await["requests"],
        0
    );
    sim.shutdown().await;
}
