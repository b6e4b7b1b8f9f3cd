//! MED-ROSTER against `medical-roster.md` and FHIR R4 REST: bearer auth, searchset Bundles with
//! `next` links and `_include`/`_revinclude`, `_lastUpdated`, conditional create, versioned
//! update with 412, `OperationOutcome` errors, faults and counters.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

mod common;

use common::{client, get_json, med, unlimited};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "demo-med-token";
const RESIDENT_ID: &str = "urn:cn:resident-id";
const BATCH: &str = "http://example.org/fhir/StructureDefinition/secondment-batch";

fn get(c: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    c.get(url).bearer_auth(TOKEN)
}

async fn send(req: reqwest::RequestBuilder, body: &Value) -> reqwest::Response {
    req.bearer_auth(TOKEN)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn practitioner(id_no: &str, name: &str) -> Value {
    json!({
        "resourceType": "Practitioner",
        "identifier": [{"system": RESIDENT_ID, "value": id_no}],
        "name": [{"use": "official", "text": name}],
        "gender": "female",
        "telecom": [{"system": "phone", "value": "13612345678", "use": "mobile"}],
        "qualification": [{"code": {"text": "康复治疗师"}}]
    })
}

fn role(practitioner: &str, organization: &str, batch: u32) -> Value {
    json!({
        "resourceType": "PractitionerRole",
        "active": true,
        "period": {"start": "2021-09-01"},
        "practitioner": {"reference": practitioner},
        "organization": {"reference": organization},
        "specialty": [{"text": "康复科"}],
        "extension": [{"url": BATCH, "valueInteger": batch}]
    })
}

/// The id of the seeded host facility `name`.
async fn org_id(c: &reqwest::Client, url: &str, name: &str) -> String {
    let seed = get_json(c, format!("{url}/_admin/seed")).await;
    let o = seed["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap();
    o["id"].as_str().unwrap().to_string()
}

async fn create(c: &reqwest::Client, url: &str, kind: &str, body: &Value) -> Value {
    let resp = send(c.post(format!("{url}/fhir/{kind}")), body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

fn outcome_code(v: &Value) -> &str {
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    v["issue"][0]["code"].as_str().unwrap()
}

#[tokio::test]
async fn a_wrong_or_missing_token_gets_401_while_the_capability_statement_is_open() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let none = c
        .get(format!("{url}/fhir/Organization"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(outcome_code(&none.json().await.unwrap()), "login");
    let wrong = c
        .get(format!("{url}/fhir/Organization"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let lower = c
        .get(format!("{url}/fhir/Organization"))
        .header("authorization", format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lower.status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );
    assert!(
        lower.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/fhir+json")
    );
    let bundle: Value = lower.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(
        bundle["total"], 6,
        "five host facilities and the sending hospital"
    );
    let cap = get_json(&c, format!("{url}/fhir/metadata")).await;
    assert_eq!(cap["resourceType"], "CapabilityStatement");
    assert_eq!(cap["fhirVersion"], "4.0.1");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_seed_holds_the_five_host_facilities_and_the_sending_hospital_with_their_codes() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let orgs = get_json(&c, format!("{url}/_admin/Organization")).await;
    let names: Vec<&str> = orgs
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "贞丰县人民医院",
            "贞丰县民族中医院",
            "贞丰县妇幼保健院",
            "永丰街道社区卫生服务中心",
            "珉谷街道社区卫生服务中心",
            "惠阳区中医院"
        ]
    );
    for o in orgs.as_array().unwrap() {
        let code = o["identifier"][0]["value"].as_str().unwrap();
        assert_eq!(o["identifier"][0]["system"], "urn:cn:uscc");
        assert!(
            hub_schemas::uscc::validate(code).is_ok() && code.starts_with("12"),
            "{code}: a public institution's valid code"
        );
        assert_eq!(o["meta"]["versionId"], "1");
    }
    assert!(
        get_json(&c, format!("{url}/_admin/Practitioner"))
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_conditional_create_finds_the_person_instead_of_making_a_second() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let body = practitioner("44130319921120004X", "刘丽");
    let cond = format!("identifier={RESIDENT_ID}|44130319921120004X");
    let first = send(
        c.post(format!("{url}/fhir/Practitioner"))
            .header("if-none-exist", &cond),
        &body,
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.headers()["etag"], "W/\"1\"");
    let location = first.headers()["location"].to_str().unwrap().to_string();
    let created: Value = first.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("{url}/fhir/Practitioner/{id}/_history/1"));
    let ms = created["meta"]["lastUpdated"].as_str().unwrap();
    assert!(
        ms.ends_with("+08:00") && ms.len() == 29,
        "millisecond precision: {ms}"
    );

    let again = send(
        c.post(format!("{url}/fhir/Practitioner"))
            .header("if-none-exist", &cond),
        &body,
    )
    .await;
    assert_eq!(again.status(), StatusCode::OK, "found, not created");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], json!(id));
    // The Location given resolves (vread).
    let v1 = get(&c, &location).send().await.unwrap();
    assert_eq!(v1.status(), StatusCode::OK);

    // A plain POST does create a second one: the server has no uniqueness rule of its own.
    create(&c, &url, "Practitioner", &body).await;
    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["Practitioner"]["created"], 2);
    assert_eq!(
        counters["collections"]["Practitioner"]["duplicates_refused"],
        1
    );
    assert_eq!(
        counters["keys_created_more_than_once"],
        json!([{"collection": "Practitioner", "key": "44130319921120004X", "created": 2}])
    );
    // Two now match: the criteria no longer select one.
    let two = send(
        c.post(format!("{url}/fhir/Practitioner"))
            .header("if-none-exist", &cond),
        &body,
    )
    .await;
    assert_eq!(two.status(), StatusCode::PRECONDITION_FAILED);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_update_with_a_stale_if_match_is_refused_with_412_and_an_operation_outcome() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    let mut changed = p.clone();
    changed["telecom"][0]["value"] = json!("13900000001");
    let put = |body: &Value, etag: &str| {
        let req = c
            .put(format!("{url}/fhir/Practitioner/{id}"))
            .header("if-match", etag);
        let body = body.clone();
        async move { send(req, &body).await }
    };
    let ok = put(&changed, "W/\"1\"").await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["etag"], "W/\"2\"");
    let stale = put(&changed, "W/\"1\"").await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(outcome_code(&stale.json().await.unwrap()), "conflict");
    // The same content again keeps the version (no new version for nothing).
    let same = put(&changed, "W/\"2\"").await;
    assert_eq!(same.headers()["etag"], "W/\"2\"");
    // The id in the body must be the URL's.
    let mut other = changed.clone();
    other["id"] = json!("999");
    assert_eq!(
        put(&other, "W/\"2\"").await.status(),
        StatusCode::BAD_REQUEST
    );
    let unknown = send(
        c.put(format!("{url}/fhir/Practitioner/999")),
        &json!({"resourceType": "Practitioner", "id": "999"}),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["Practitioner"]["conflicts"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn searches_page_with_next_links_and_include_each_page_s_practitioners() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县民族中医院").await;
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let pref = format!("Practitioner/{}", p["id"].as_str().unwrap());
    for batch in 1..=3 {
        create(
            &c,
            &url,
            "PractitionerRole",
            &role(&pref, &format!("Organization/{host}"), batch),
        )
        .await;
    }
    let mut next = Some(format!(
        "{url}/fhir/PractitionerRole?_count=2&_include=PractitionerRole:practitioner"
    ));
    let (mut roles, mut pages) = (Vec::new(), 0);
    while let Some(u) = next {
        let b: Value = get(&c, &u).send().await.unwrap().json().await.unwrap();
        assert_eq!(b["total"], 3);
        pages += 1;
        let entries = b["entry"].as_array().unwrap();
        let included: Vec<&Value> = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "include")
            .collect();
        assert_eq!(included.len(), 1, "the page's practitioner, once");
        assert_eq!(included[0]["resource"]["resourceType"], "Practitioner");
        roles.extend(
            entries
                .iter()
                .filter(|e| e["search"]["mode"] == "match")
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string()),
        );
        next = b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_string());
    }
    assert_eq!((pages, roles.len()), (2, 3));

    // _revinclude: a person's stays beside the person.
    let b: Value = get(
        &c,
        &format!("{url}/fhir/Practitioner?_revinclude=PractitionerRole:practitioner"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(b["entry"].as_array().unwrap().len(), 4);
    // Search by reference.
    let b: Value = get(
        &c,
        &format!("{url}/fhir/PractitionerRole?practitioner={pref}"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(b["total"], 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_resource_changed_while_a_client_pages_does_not_move_between_pages() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县人民医院").await;
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let pref = format!("Practitioner/{}", p["id"].as_str().unwrap());
    let mut ids = Vec::new();
    for batch in 1..=4 {
        let r = create(
            &c,
            &url,
            "PractitionerRole",
            &role(&pref, &format!("Organization/{host}"), batch),
        )
        .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    let first: Value = get(&c, &format!("{url}/fhir/PractitionerRole?_count=2"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The first role changes now: a client paging by offset would skip a role.
    c.patch(format!("{url}/_admin/PractitionerRole/{}", ids[0]))
        .header("content-type", "application/json")
        .body(json!({"specialty": [{"text": "内科"}]}).to_string())
        .send()
        .await
        .unwrap();
    let next = first["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let second: Value = get(&c, &next).send().await.unwrap().json().await.unwrap();
    let seen: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|b| b["entry"].as_array().unwrap().iter())
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, ids);
    sim.shutdown().await;
}

#[tokio::test]
async fn last_updated_compares_at_the_precision_given_and_bad_parameters_get_400() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let a = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let b = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("441303198808081216", "周杰"),
    )
    .await;
    let at = a["meta"]["lastUpdated"]
        .as_str()
        .unwrap()
        .replace('+', "%2B");
    let ids = |v: Value| -> Vec<String> {
        v["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let search = |q: String| {
        let c = c.clone();
        let url = url.clone();
        async move {
            get(&c, &format!("{url}/fhir/Practitioner?{q}"))
                .send()
                .await
                .unwrap()
        }
    };
    let ge = search(format!("_lastUpdated=ge{at}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        ids(ge),
        [a["id"].as_str().unwrap(), b["id"].as_str().unwrap()]
    );
    let gt = search(format!("_lastUpdated=gt{at}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(gt), [b["id"].as_str().unwrap()]);
    let unencoded = search(format!(
        "_lastUpdated=gt{}",
        a["meta"]["lastUpdated"].as_str().unwrap()
    ))
    .await;
    assert_eq!(unencoded.status(), StatusCode::BAD_REQUEST);
    let why: Value = unencoded.json().await.unwrap();
    assert!(
        why["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("%2B"),
        "{why}"
    );
    let unknown = search("nmae=x".into()).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert_eq!(outcome_code(&unknown.json().await.unwrap()), "invalid");
    sim.shutdown().await;
}

#[tokio::test]
async fn resources_breaking_the_rules_are_refused_with_an_operation_outcome_naming_the_element() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县人民医院").await;
    let post = |kind: &'static str, body: Value| {
        let c = c.clone();
        let url = url.clone();
        async move { send(c.post(format!("{url}/fhir/{kind}")), &body).await }
    };
    let nobody = post(
        "PractitionerRole",
        role("Practitioner/999", &format!("Organization/{host}"), 1),
    )
    .await;
    assert_eq!(nobody.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let o: Value = nobody.json().await.unwrap();
    assert_eq!(
        o["issue"][0]["expression"][0],
        "PractitionerRole.practitioner"
    );
    let mut misspelt = practitioner("44130319921120004X", "刘丽");
    misspelt["genders"] = json!("female");
    assert_eq!(
        post("Practitioner", misspelt).await.status(),
        StatusCode::BAD_REQUEST
    );
    let mut lower_x = practitioner("44130319921120004x", "刘丽");
    lower_x["gender"] = json!("female");
    assert_eq!(
        post("Practitioner", lower_x).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let mut no_batch = role(
        &format!("Practitioner/{}", p["id"].as_str().unwrap()),
        &format!("Organization/{host}"),
        1,
    );
    no_batch["extension"] = json!([{"url": BATCH, "valueInteger": 0}]);
    assert_eq!(
        post("PractitionerRole", no_batch).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let xml = c
        .post(format!("{url}/fhir/Practitioner"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/fhir+xml")
        .body("<Practitioner/>")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(counters["collections"]["PractitionerRole"]["rejected"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_concurrent_edit_makes_the_next_update_meet_412_and_keeps_the_edit() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县人民医院").await;
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let r = create(
        &c,
        &url,
        "PractitionerRole",
        &role(
            &format!("Practitioner/{}", p["id"].as_str().unwrap()),
            &format!("Organization/{host}"),
            1,
        ),
    )
    .await;
    let rid = r["id"].as_str().unwrap();
    let faults: Value = c
        .post(format!("{url}/_admin/faults"))
        .header("content-type", "application/json")
        .body(json!({"concurrent_edit": 1}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["concurrent_edit"], 1);
    let mut ended = r.clone();
    ended["period"]["end"] = json!("2021-11-30");
    let put = send(
        c.put(format!("{url}/fhir/PractitionerRole/{rid}"))
            .header("if-match", "W/\"1\""),
        &ended,
    )
    .await;
    assert_eq!(put.status(), StatusCode::PRECONDITION_FAILED);
    let now = get_json(&c, format!("{url}/_admin/PractitionerRole/{rid}")).await;
    assert_eq!(now["meta"]["versionId"], "2");
    assert_eq!(now["specialty"], json!([{"text": "急诊科"}]));
    assert!(
        now["period"].get("end").is_none(),
        "the stale write did not land"
    );
    // HY-ESMS's and ZF-REG's faults are refused here.
    let refused = c
        .post(format!("{url}/_admin/faults"))
        .header("content-type", "application/json")
        .body(json!({"reject_writes": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_side_door_saves_new_versions_and_a_deleted_resource_is_gone() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    let patched: Value = c
        .patch(format!("{url}/_admin/Practitioner/{id}"))
        .header("content-type", "application/json")
        .body(
            json!({"gender": null, "meta": {"lastUpdated": "2021-12-01T10:00:00.000+08:00"}})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["meta"]["versionId"], "2");
    assert_eq!(
        patched["meta"]["lastUpdated"],
        "2021-12-01T10:00:00.000+08:00"
    );
    assert!(patched.get("gender").is_none());
    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(
        counters["collections"]["Practitioner"]["updated"], 0,
        "side-door writes are not counted"
    );
    c.delete(format!("{url}/_admin/Practitioner/{id}"))
        .send()
        .await
        .unwrap();
    let gone = get(&c, &format!("{url}/fhir/Practitioner/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Bundles: batch and transaction (FHIR R4 http.html#transaction)

async fn post_bundle(c: &reqwest::Client, url: &str, bundle: &Value) -> (StatusCode, Value) {
    let resp = send(c.post(format!("{url}/fhir")), bundle).await;
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

fn post_entry(kind: &str, resource: Value, if_none_exist: Option<&str>) -> Value {
    let mut request = json!({"method": "POST", "url": kind});
    if let Some(c) = if_none_exist {
        request["ifNoneExist"] = json!(c);
    }
    json!({"resource": resource, "request": request})
}

fn put_entry(kind: &str, resource: Value, if_match: &str) -> Value {
    let id = resource["id"].as_str().unwrap().to_string();
    json!({"resource": resource, "request": {"method": "PUT", "url": format!("{kind}/{id}"), "ifMatch": if_match}})
}

async fn all(c: &reqwest::Client, url: &str, kind: &str) -> Vec<Value> {
    get_json(c, format!("{url}/_admin/{kind}"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_batch_applies_each_entry_on_its_own_and_answers_one_outcome_per_entry_in_order() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县人民医院").await;
    // 刘丽 is in the roster, and a clerk has saved her since: version 2 is current.
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let pid = p["id"].as_str().unwrap().to_string();
    let mut v2 = p.clone();
    v2["telecom"][0]["value"] = json!("13900000001");
    let put = send(
        c.put(format!("{url}/fhir/Practitioner/{pid}"))
            .header("if-match", "W/\"1\""),
        &v2,
    )
    .await;
    assert_eq!(put.status(), StatusCode::OK);
    let before = get_json(&c, format!("{url}/_admin/counters")).await;

    let mut stale = p.clone();
    stale["telecom"][0]["value"] = json!("13700000002");
    let cond = format!("identifier={RESIDENT_ID}|44130319921120004X");
    let (status, answer) = post_bundle(
        &c,
        &url,
        &bundle(
            "batch",
            vec![
                post_entry(
                    "Practitioner",
                    practitioner("441303198808081216", "周杰"),
                    Some(&format!("identifier={RESIDENT_ID}|441303198808081216")),
                ),
                // Written against version 1: stale.
                put_entry("Practitioner", stale, "W/\"1\""),
                post_entry(
                    "PractitionerRole",
                    role(
                        &format!("Practitioner/{pid}"),
                        &format!("Organization/{host}"),
                        2,
                    ),
                    None,
                ),
                // Conditional create of 刘丽 again: found, not made twice.
                post_entry(
                    "Practitioner",
                    practitioner("44130319921120004X", "刘丽"),
                    Some(&cond),
                ),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["type"], "batch-response");
    let entries = answer["entry"].as_array().unwrap();
    let statuses: Vec<&str> = entries
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "201 Created",
            "412 Precondition Failed",
            "201 Created",
            "200 OK"
        ]
    );
    let zhou = &entries[0];
    let zid = zhou["resource"]["id"].as_str().unwrap();
    assert_eq!(
        zhou["response"]["location"],
        json!(format!("Practitioner/{zid}/_history/1"))
    );
    assert_eq!(zhou["response"]["etag"], "W/\"1\"");
    assert_eq!(
        zhou["response"]["lastModified"],
        zhou["resource"]["meta"]["lastUpdated"]
    );
    assert_eq!(
        zhou["fullUrl"],
        json!(format!("{url}/fhir/Practitioner/{zid}"))
    );
    assert_eq!(outcome_code(&entries[1]["response"]["outcome"]), "conflict");
    assert!(entries[1].get("resource").is_none());
    assert_eq!(
        entries[2]["resource"]["practitioner"]["reference"],
        json!(format!("Practitioner/{pid}"))
    );
    // The found one is version 2, the clerk's: the stale write did not land.
    assert_eq!(entries[3]["resource"]["id"], json!(pid));
    assert_eq!(
        entries[3]["response"]["location"],
        json!(format!("Practitioner/{pid}/_history/2"))
    );
    let now = get_json(&c, format!("{url}/_admin/Practitioner/{pid}")).await;
    assert_eq!(now["telecom"][0]["value"], "13900000001");
    assert_eq!(now["meta"]["versionId"], "2");
    assert_eq!(all(&c, &url, "Practitioner").await.len(), 2);
    assert_eq!(all(&c, &url, "PractitionerRole").await.len(), 1);

    // One request, one batch of four entries, each entry counted as a single write is.
    let after = get_json(&c, format!("{url}/_admin/counters")).await;
    let delta = |p: &str| {
        after.pointer(p).unwrap().as_u64().unwrap() - before.pointer(p).unwrap().as_u64().unwrap()
    };
    assert_eq!(delta("/requests"), 1);
    assert_eq!(delta("/bundles/batch"), 1);
    assert_eq!(delta("/bundles/transaction"), 0);
    assert_eq!(delta("/bundles/entries"), 4);
    assert_eq!(delta("/collections/Practitioner/created"), 1);
    assert_eq!(delta("/collections/Practitioner/conflicts"), 1);
    assert_eq!(delta("/collections/Practitioner/duplicates_refused"), 1);
    assert_eq!(delta("/collections/Practitioner/updated"), 0);
    assert_eq!(delta("/collections/PractitionerRole/created"), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_batch_does_not_resolve_references_between_its_entries() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县人民医院").await;
    let mut person = post_entry(
        "Practitioner",
        practitioner("441303198808081216", "周杰"),
        None,
    );
    person["fullUrl"] = json!("urn:uuid:3f1c1a44-0b5e-4d7c-9a55-2a4f3f1e0001");
    let stay = post_entry(
        "PractitionerRole",
        role(
            "urn:uuid:3f1c1a44-0b5e-4d7c-9a55-2a4f3f1e0001",
            &format!("Organization/{host}"),
            1,
        ),
        None,
    );
    let (status, answer) = post_bundle(&c, &url, &bundle("batch", vec![person, stay])).await;
    assert_eq!(status, StatusCode::OK);
    let e = answer["entry"].as_array().unwrap();
    assert_eq!(e[0]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["status"], "422 Unprocessable Entity");
    assert_eq!(
        e[1]["response"]["outcome"]["issue"][0]["expression"],
        json!(["PractitionerRole.practitioner"])
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_transaction_resolves_urn_uuid_placeholders_and_honours_if_none_exist() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县人民医院").await;
    let org = format!("Organization/{host}");
    const P: &str = "urn:uuid:6a0e2b8e-3c1d-4f9a-8b7e-000000000001";
    let cond = format!("identifier={RESIDENT_ID}|441303198808081216");
    // The stay comes first in the Bundle and refers to the person created after it: R4
    // processes the POSTs so that the reference resolves.
    let mut person = post_entry(
        "Practitioner",
        practitioner("441303198808081216", "周杰"),
        Some(&cond),
    );
    person["fullUrl"] = json!(P);
    let mut stay = role(P, &org, 1);
    stay["extension"].as_array_mut().unwrap().push(
        json!({"url": "http://example.org/fhir/StructureDefinition/sending-organization",
                      "valueReference": {"reference": org}}),
    );
    let (status, answer) = post_bundle(
        &c,
        &url,
        &bundle(
            "transaction",
            vec![post_entry("PractitionerRole", stay, None), person.clone()],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["type"], "transaction-response");
    let e = answer["entry"].as_array().unwrap();
    assert_eq!(e[0]["resource"]["resourceType"], "PractitionerRole");
    assert_eq!(e[1]["resource"]["resourceType"], "Practitioner");
    let pid = e[1]["resource"]["id"].as_str().unwrap().to_string();
    assert_eq!(e[1]["response"]["status"], "201 Created");
    assert_eq!(
        e[0]["resource"]["practitioner"]["reference"],
        json!(format!("Practitioner/{pid}"))
    );
    // References to resources outside the Bundle are left as they are.
    assert_eq!(e[0]["resource"]["organization"]["reference"], json!(org));
    let rid = e[0]["resource"]["id"].as_str().unwrap();
    let stored = get_json(&c, format!("{url}/_admin/PractitionerRole/{rid}")).await;
    assert_eq!(
        stored["practitioner"]["reference"],
        json!(format!("Practitioner/{pid}"))
    );

    // Again for a second stay: the conditional create finds 周杰 and the placeholder resolves
    // to the Practitioner found.
    let (status, answer) = post_bundle(
        &c,
        &url,
        &bundle(
            "transaction",
            vec![
                person,
                post_entry("PractitionerRole", role(P, &org, 2), None),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let e = answer["entry"].as_array().unwrap();
    assert_eq!(e[0]["response"]["status"], "200 OK");
    assert_eq!(e[0]["resource"]["id"], json!(pid));
    assert_eq!(
        e[1]["resource"]["practitioner"]["reference"],
        json!(format!("Practitioner/{pid}"))
    );
    assert_eq!(all(&c, &url, "Practitioner").await.len(), 1);
    assert_eq!(all(&c, &url, "PractitionerRole").await.len(), 2);
    let counters = get_json(&c, format!("{url}/_admin/counters")).await;
    assert_eq!(
        counters["bundles"],
        json!({"batch": 0, "transaction": 2, "entries": 4})
    );
    // Two requests to the API (the side-door is not counted).
    assert_eq!(counters["requests"], 2);
    assert_eq!(counters["collections"]["Practitioner"]["created"], 1);
    assert_eq!(
        counters["collections"]["Practitioner"]["duplicates_refused"],
        1
    );
    assert_eq!(counters["collections"]["PractitionerRole"]["created"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_transaction_with_one_entry_refused_changes_nothing_and_names_the_entry() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let host = org_id(&c, &url, "贞丰县人民医院").await;
    let org = format!("Organization/{host}");
    let p = create(
        &c,
        &url,
        "Practitioner",
        &practitioner("44130319921120004X", "刘丽"),
    )
    .await;
    let pid = p["id"].as_str().unwrap().to_string();
    let people = all(&c, &url, "Practitioner").await;
    let roles = all(&c, &url, "PractitionerRole").await;
    let before = get_json(&c, format!("{url}/_admin/counters")).await;

    // A stay that ends before it starts: the roster's rule (422) refuses entry 2.
    let mut backwards = role(&format!("Practitioner/{pid}"), &org, 2);
    backwards["period"]["end"] = json!("2021-08-31");
    let mut changed = p.clone();
    changed["gender"] = json!("male");
    let (status, answer) = post_bundle(
        &c,
        &url,
        &bundle(
            "transaction",
            vec![
                post_entry(
                    "Practitioner",
                    practitioner("441303198808081216", "周杰"),
                    None,
                ),
                put_entry("Practitioner", changed.clone(), "W/\"1\""),
                post_entry("PractitionerRole", backwards, None),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(outcome_code(&answer), "processing");
    assert_eq!(
        answer["issue"][0]["expression"],
        json!(["Bundle.entry[2]", "Bundle.entry[2].resource.period"])
    );
    // Nothing applied: the new person not made, the update not saved.
    assert_eq!(all(&c, &url, "Practitioner").await, people);
    assert_eq!(all(&c, &url, "PractitionerRole").await, roles);
    let after = get_json(&c, format!("{url}/_admin/counters")).await;
    let delta = |p: &str| {
        after.pointer(p).unwrap().as_u64().unwrap() - before.pointer(p).unwrap().as_u64().unwrap()
    };
    assert_eq!(delta("/collections/Practitioner/created"), 0);
    assert_eq!(delta("/collections/Practitioner/updated"), 0);
    assert_eq!(delta("/collections/PractitionerRole/rejected"), 1);
    assert_eq!(after["keys_created_more_than_once"], json!([]));

    // A stale If-Match (412) likewise: the valid create beside it is not applied.
    let ok_role = role(&format!("Practitioner/{pid}"), &org, 2);
    let mut v2 = changed.clone();
    v2["gender"] = json!("female");
    let first = send(
        c.put(format!("{url}/fhir/Practitioner/{pid}"))
            .header("if-match", "W/\"1\""),
        &changed,
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let people = all(&c, &url, "Practitioner").await;
    let (status, answer) = post_bundle(
        &c,
        &url,
        &bundle(
            "transaction",
            vec![
                put_entry("Practitioner", v2, "W/\"1\""),
                post_entry("PractitionerRole", ok_role, None),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{answer}");
    assert_eq!(answer["issue"][0]["expression"], json!(["Bundle.entry[0]"]));
    assert_eq!(all(&c, &url, "Practitioner").await, people);
    assert_eq!(all(&c, &url, "PractitionerRole").await, roles);
    sim.shutdown().await;
}

#[tokio::test]
async fn bundles_of_another_type_or_too_many_entries_are_refused_whole() {
    let sim = med(&unlimited()).await;
    let c = client();
    let url = sim.url();
    let one = post_entry(
        "Practitioner",
        practitioner("441303198808081216", "周杰"),
        None,
    );
    let (status, answer) = post_bundle(&c, &url, &bundle("collection", vec![one.clone()])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(outcome_code(&answer), "invalid");
    let (status, answer) = post_bundle(&c, &url, &practitioner("441303198808081216", "周杰")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(outcome_code(&answer), "structure");
    // 501 entries: one over the limit.
    let (status, answer) = post_bundle(&c, &url, &bundle("batch", vec![one.clone(); 501])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(outcome_code(&answer), "too-costly");
    assert_eq!(all(&c, &url, "Practitioner").await.len(), 0, "nothing made");
    // 500 is within it.
    let (status, answer) = post_bundle(&c, &url, &bundle("batch", vec![one; 500])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["entry"].as_array().unwrap().len(), 500);
    sim.shutdown().await;
}
