//! The admin server's tests, through HTTP: a fixture serves [`super::router`] on a free port
//! over a SQLite store with runs, a dead letter and a conflict, and each test speaks to it as
//! a client would (bearer tokens, the sign-in form, cookies, HTTPS). The pure helpers are
//! tested beside their code.

use super::pages::STYLE;
use super::security::Role;
use super::tls::testing::{localhost_cert, over_https, test_ca};
use super::*;
use crate::schema::Violation;
use crate::store::{
    Commit, DeadLetterStage, NewConflict, NewDeadLetter, RunStatus, RunTrigger, Side,
};
use reqwest::StatusCode as S;
use serde_json::{Value, json};

const TOKEN: &str = "test-token-0123456789abcdef";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    url: String,
    http: reqwest::Client,
    api: utoipa::openapi::OpenApi,
}

const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn conflict(run_id: i64) -> NewConflict {
    NewConflict {
        run_id,
        kind: crate::store::ConflictKind::Write,
        key_hash: KEY.into(),
        key_masked: Some("5223**********0011".into()),
        side: Side::B,
        reason: "HY-ESMS: the record changed since it was read (412)".into(),
    }
}

/// A store with two runs of `workers`, one open dead letter and one open conflict, served
/// on a free port.
async fn fixture() -> Fixture {
    fixture_with(|s| s).await
}

/// [`fixture`] with its admin state adjusted by `adjust`.
async fn fixture_with(adjust: impl FnOnce(AdminState) -> AdminState) -> Fixture {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap()
    .with_audit_key(crate::keys::Keys::derive(&[7u8; 32]).audit_key());
    let first = store
        .start_run("workers", &RunTrigger::Schedule, None)
        .await
        .unwrap();
    let stats = json!({"a": {"read": 3000, "created": 0, "updated": 0}, "b": {"read": 0, "created": 1322, "updated": 0}, "duration_ms": 6600});
    store
        .finish_run(first, RunStatus::Ok, &stats, None)
        .await
        .unwrap();
    let second = store
        .start_run("workers", &RunTrigger::Manual, None)
        .await
        .unwrap();
    let stats = json!({"a": {"read": 1, "created": 0, "updated": 1}, "b": {"read": 2, "created": 0, "updated": 1}, "duration_ms": 150});
    store
        .finish_run(
            second,
            RunStatus::Partial,
            &stats,
            Some("1 records deferred to the next run"),
        )
        .await
        .unwrap();
    let dl = NewDeadLetter {
        run_id: first,
        side: Side::A,
        stage: DeadLetterStage::Read,
        key_hash: Some("ab".repeat(32)),
        key_masked: Some("5223**********123X".into()),
        remote_id: Some("ZF-000017".into()),
        record_hash: "cd".repeat(32),
        errors: vec![Violation {
            pointer: "/idNumber".into(),
            message: "the check character is wrong (GB 11643-1999)".into(),
        }],
        record: Some(vec![1, 2, 3]),
    };
    store
        .commit(
            "workers",
            Commit {
                dead_letters: &[dl],
                conflicts: &[conflict(first)],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sync = SyncView {
        schema: "worker".into(),
        direction: "both".into(),
        a: Endpoint {
            plugin: "zhenfeng-registry".into(),
            stream: "workers".into(),
        },
        b: Endpoint {
            plugin: "huiyang-esms".into(),
            stream: "zhenfeng-workers".into(),
        },
        schedule: Schedule::parse("0 2 * * *", "Asia/Shanghai").unwrap(),
        enabled: true,
    };
    let view = View {
        store: store.clone(),
        syncs: [("workers".to_string(), sync)].into(),
        problems: vec![],
        not_loaded: BTreeMap::new(),
        reload_refused: None,
        progress: ProgressBoard::default(),
        zone: chrono_tz::Asia::Shanghai,
        checks: crate::check::LiveChecks::default(),
        reconciler: None,
    };
    let (_tx, rx) = watch::channel(Arc::new(view));
    std::mem::forget(_tx);
    let (router, api) = router(adjust(AdminState::new(rx, TOKEN)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        url,
        http,
        api,
    }
}

impl Fixture {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    }

    /// `method path` with the cookie `pair` (`name=value`) and no bearer token, as a
    /// browser sends it.
    async fn with_cookie(
        &self,
        method: reqwest::Method,
        path: &str,
        pair: &str,
    ) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", self.url))
            .header(reqwest::header::COOKIE, pair)
            .send()
            .await
            .unwrap()
    }

    /// A scheduled run of `sync`, finished with `status`, `stats` and `error`; its id.
    async fn finished_run(
        &self,
        sync: &str,
        status: RunStatus,
        stats: Value,
        error: Option<&str>,
    ) -> i64 {
        let id = self
            .store
            .start_run(sync, &RunTrigger::Schedule, None)
            .await
            .unwrap();
        self.store
            .finish_run(id, status, &stats, error)
            .await
            .unwrap();
        id
    }

    async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), S::OK, "{path}");
        r.json().await.unwrap()
    }

    /// Every (method, path) of the OpenAPI document, path parameters filled in.
    fn operations(&self) -> Vec<(String, String, String)> {
        let doc = serde_json::to_value(&self.api).unwrap();
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let concrete = path.replace("{name}", "workers").replace("{id}", "1");
                out.push((method.clone(), path.clone(), concrete));
            }
        }
        out
    }
}

#[tokio::test]
async fn every_route_but_healthz_needs_the_token() {
    let f = fixture().await;
    let ops = f.operations();
    assert_eq!(ops.len(), 24, "{ops:?}");
    // Wrong tokens count against the address: the first 5 are 401, the rest 429 (a
    // request without a token is not a guess, and stays 401).
    let mut wrong = 0;
    for (method, path, concrete) in &ops {
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        for token in [None, Some("wrong-token-0123456789abcdef")] {
            let mut req = f.http.request(m.clone(), format!("{}{concrete}", f.url));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            if path == "/healthz" {
                assert_eq!(r.status(), S::OK);
                continue;
            }
            if token.is_some() {
                wrong += 1;
            }
            if token.is_some() && wrong > 5 {
                assert_eq!(
                    r.status(),
                    S::TOO_MANY_REQUESTS,
                    "{method} {path}: wrong token {wrong}"
                );
                let body: Value = r.json().await.unwrap();
                assert!(
                    body["error"]
                        .as_str()
                        .unwrap()
                        .contains("too many failed sign-ins from 127.0.0.1")
                );
                continue;
            }
            assert_eq!(
                r.status(),
                S::UNAUTHORIZED,
                "{method} {path} with {token:?}"
            );
            assert_eq!(
                r.headers()[reqwest::header::WWW_AUTHENTICATE],
                "Bearer realm=\"hub\""
            );
            let body: Value = r.json().await.unwrap();
            assert!(body["error"].as_str().unwrap().contains("admin token"));
        }
    }
    for path in ["/openapi.json", "/"] {
        let r = f.http.get(format!("{}{path}", f.url)).send().await.unwrap();
        assert!(
            matches!(r.status(), S::UNAUTHORIZED | S::SEE_OTHER),
            "{path}: {}",
            r.status()
        );
    }
}

/// The OpenAPI document is true: each operation answers with a status it declares, and
/// each JSON body validates against the schema declared for that status.
#[tokio::test]
async fn every_operation_answers_as_the_openapi_document_says() {
    let f = fixture().await;
    let served: Value = f.json("/openapi.json").await;
    let doc = serde_json::to_value(&f.api).unwrap();
    assert_eq!(served, doc);
    assert_eq!(doc["openapi"], json!("3.1.0"));
    for (method, path, concrete) in f.operations() {
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = f
            .http
            .request(m, format!("{}{concrete}", f.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16().to_string();
        let declared = &doc["paths"][&path][&method]["responses"][&status];
        assert!(
            declared.is_object(),
            "{method} {path} answered {status}, which the document does not declare"
        );
        let is_json = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|c| c.to_str().unwrap().starts_with("application/json"));
        let body = r.text().await.unwrap();
        if is_json {
            let pointer = format!(
                "#/paths/{}/{method}/responses/{status}/content/application~1json/schema",
                path.replace('~', "~0")
                    .replace('/', "~1")
                    .replace('{', "%7B")
                    .replace('}', "%7D")
            );
            let mut schema = doc.clone();
            schema["$ref"] = json!(pointer);
            let v = jsonschema::validator_for(&schema).unwrap();
            let instance: Value = serde_json::from_str(&body).unwrap();
            let errors: Vec<String> = v
                .iter_errors(&instance)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{method} {path}: {errors:?}\n{body}");
        }
    }
}

#[tokio::test]
async fn a_reconciliation_of_an_unknown_sync_is_404_naming_the_configured_ones() {
    let f = fixture().await;
    let r = f.get("/api/syncs/nope/reconcile").await;
    assert_eq!(r.status(), S::NOT_FOUND);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"],
        json!("no sync \"nope\"; the configured syncs are: workers")
    );
    let page = f.get("/syncs/nope/reconcile").await;
    assert_eq!(page.status(), S::NOT_FOUND);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("no sync &quot;nope&quot;")
    );
    // This fixture has no engine: a configured sync is refused, not reported empty.
    assert_eq!(
        f.get("/api/syncs/workers/reconcile").await.status(),
        S::CONFLICT
    );
    // The status page links each sync's reconciliation.
    let status = f.get("/").await.text().await.unwrap();
    assert!(status.contains("<a class=\"reconcile\" href=\"/syncs/workers/reconcile\">"));
}

#[tokio::test]
async fn syncs_runs_and_dead_letters_show_the_store() {
    let f = fixture().await;
    let syncs = f.json("/api/syncs").await;
    let w = &syncs[0];
    assert_eq!(
        (
            w["name"].as_str(),
            w["schedule"].as_str(),
            w["timezone"].as_str()
        ),
        (Some("workers"), Some("0 2 * * *"), Some("Asia/Shanghai"))
    );
    assert_eq!(
        w["a"],
        json!({"plugin": "zhenfeng-registry", "stream": "workers"})
    );
    assert_eq!(
        (
            w["last_run"]["id"].as_i64(),
            w["last_run"]["status"].as_str()
        ),
        (Some(2), Some("partial"))
    );
    assert_eq!(w["dead_letters"], json!(1));
    // 02:00 in Shanghai is 18:00 UTC the day before; the API writes every time as the
    // store does (UTC, milliseconds, `Z`), the page in the deployment's zone.
    let next_text = w["next_runs"][0].as_str().unwrap();
    assert!(next_text.ends_with("T18:00:00.000Z"), "{next_text}");
    let next: chrono::DateTime<chrono::FixedOffset> = next_text.parse().unwrap();
    let ahead = next.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::zero() && ahead <= chrono::Duration::hours(24),
        "{next}"
    );
    assert_eq!(f.json("/api/syncs/workers").await["name"], json!("workers"));
    assert_eq!(f.get("/api/syncs/nope").await.status(), S::NOT_FOUND);

    let runs = f.json("/api/runs").await;
    assert_eq!(
        runs.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        f.json("/api/runs?limit=1").await.as_array().unwrap().len(),
        1
    );
    // A sync the deployment does not have is a typo, not an empty history.
    assert_eq!(f.get("/api/runs?sync=other").await.status(), S::NOT_FOUND);
    assert_eq!(f.get("/api/runs?limit=0").await.status(), S::BAD_REQUEST);
    assert_eq!(f.get("/api/runs?limit=many").await.status(), S::BAD_REQUEST);
    let run = f.json("/api/runs/1").await;
    assert_eq!(
        (
            run["stats"]["a"]["read"].as_u64(),
            run["stats"]["b"]["created"].as_u64()
        ),
        (Some(3000), Some(1322))
    );
    assert_eq!(f.get("/api/runs/99").await.status(), S::NOT_FOUND);

    let dead = f.json("/api/dead-letters").await;
    assert_eq!(dead[0]["key_masked"], json!("5223**********123X"));
    assert_eq!(dead[0]["errors"][0]["pointer"], json!("/idNumber"));
    let one = f
        .json(&format!("/api/dead-letters/{}", dead[0]["id"]))
        .await;
    assert_eq!(one["remote_id"], json!("ZF-000017"));
    assert!(
        one.get("record").is_none(),
        "the sealed record is not shown"
    );
    assert_eq!(f.get("/api/dead-letters/99").await.status(), S::NOT_FOUND);
    let ready = f.json("/readyz").await;
    assert_eq!(
        (
            ready["ready"].as_bool(),
            ready["status"].as_str(),
            ready["syncs"].as_u64()
        ),
        (Some(true), Some("ready"), Some(1))
    );

    // One clock in the API: every time is UTC with milliseconds and `Z`, never `+08:00` on
    // one line and `Z` on the next.
    fn times<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
        match v {
            Value::String(s)
                if s.len() >= 20 && s.as_bytes()[10] == b'T' && s[..4].parse::<u16>().is_ok() =>
            {
                out.push(s)
            }
            Value::Array(a) => a.iter().for_each(|x| times(x, out)),
            Value::Object(m) => m.values().for_each(|x| times(x, out)),
            _ => {}
        }
    }
    let mut seen = Vec::new();
    let answers = [
        f.json("/api/syncs").await,
        f.json("/api/runs").await,
        f.json("/api/dead-letters").await,
        f.json("/api/leases").await,
    ];
    for a in &answers {
        times(a, &mut seen);
    }
    assert!(seen.len() >= 8, "{seen:?}");
    for t in seen {
        assert!(
            t.ends_with('Z') && t.len() == "2026-12-04T02:26:10.123Z".len(),
            "{t}"
        );
    }
}

#[tokio::test]
async fn a_replay_is_requested_once_per_open_dead_letter_and_its_history_shown() {
    let f = fixture().await;
    let r = f.post("/api/dead-letters/1/replay").await;
    assert_eq!(r.status(), S::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["requested"], json!(1));
    assert!(f.json("/api/dead-letters/1").await["replay_requested_at"].is_string());
    assert_eq!(
        f.post("/api/dead-letters/99/replay").await.status(),
        S::NOT_FOUND
    );
    // A run replays it through (as the engine records it): closed, with its history.
    f.store
        .finish_replay(1, 7, "valid now: staged by this run", true, None)
        .await
        .unwrap();
    let d = f.json("/api/dead-letters/1").await;
    assert_eq!(
        (d["status"].as_str(), d["replay_requested_at"].as_str()),
        (Some("replayed"), None)
    );
    assert_eq!(
        (
            d["replays"][0]["run_id"].as_i64(),
            d["replays"][0]["result"].as_str()
        ),
        (Some(7), Some("valid now: staged by this run"))
    );
    assert!(d["replays"][0]["requested_at"].is_string());
    assert_eq!(
        f.post("/api/dead-letters/1/replay").await.status(),
        S::CONFLICT
    );
    let all = f.post("/api/dead-letters/replay?sync=workers").await;
    assert_eq!(
        all.json::<Value>().await.unwrap()["requested"],
        json!(0),
        "none is open any more"
    );
    assert_eq!(f.json("/api/dead-letters").await, json!([]));
}

#[tokio::test]
async fn a_conflict_is_counted_until_a_person_takes_a_side_and_the_next_run_settles_it() {
    let f = fixture().await;
    let open = f.json("/api/conflicts").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            open[0]["key_masked"].as_str(),
            open[0]["side"].as_str(),
            open[0]["attempts"].as_i64()
        ),
        (Some("5223**********0011"), Some("b"), Some(1))
    );
    // Met again by run 2: one conflict, two attempts.
    f.store
        .commit(
            "workers",
            Commit {
                conflicts: &[conflict(2)],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c = f.json("/api/conflicts/1").await;
    assert_eq!(
        (
            c["attempts"].as_i64(),
            c["first_run_id"].as_i64(),
            c["last_run_id"].as_i64()
        ),
        (Some(2), Some(1), Some(2))
    );
    assert_eq!(f.json("/api/syncs/workers").await["conflicts"], json!(1));

    let resolve = |body: &'static str, content_type: Option<&'static str>| {
        let mut r = f
            .http
            .post(format!("{}/api/conflicts/1/resolve", f.url))
            .bearer_auth(TOKEN)
            .body(body);
        if let Some(t) = content_type {
            r = r.header(reqwest::header::CONTENT_TYPE, t);
        }
        r.send()
    };
    assert_eq!(
        resolve(r#"{"take":"c"}"#, Some("application/json"))
            .await
            .unwrap()
            .status(),
        S::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        resolve(r#"{"take":"b"}"#, None).await.unwrap().status(),
        S::UNSUPPORTED_MEDIA_TYPE
    );
    let r = resolve(r#"{"take":"b"}"#, Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), S::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["take"], json!("b"));
    assert_eq!(
        f.store.conflict_takes("workers").await.unwrap().get(KEY),
        Some(&Side::B)
    );
    // The next run writes it and the key settles: resolved as the person decided.
    f.store
        .commit(
            "workers",
            Commit {
                settled: &[KEY.to_string()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c = f.json("/api/conflicts/1").await;
    assert_eq!(
        (c["status"].as_str(), c["resolution"].as_str()),
        (Some("resolved"), Some("took b"))
    );
    assert!(c["resolved_at"].is_string());
    assert_eq!(f.json("/api/conflicts").await, json!([]));
    assert_eq!(
        f.json("/api/conflicts?all=true")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        resolve(r#"{"take":"a"}"#, Some("application/json"))
            .await
            .unwrap()
            .status(),
        S::CONFLICT
    );
    assert_eq!(f.get("/api/conflicts/9").await.status(), S::NOT_FOUND);
}

/// The error body of `r`, after checking its status and that it is JSON `{"error": ...}`.
async fn error_of(r: reqwest::Response, status: S) -> String {
    assert_eq!(r.status(), status, "{}", r.url());
    let body: Value = r.json().await.expect("an error body is JSON");
    body["error"]
        .as_str()
        .expect("{\"error\": ...}")
        .to_string()
}

/// Each list of what the store keeps (runs, dead letters, conflicts) answers `?sync=name`
/// with 404 and `message`.
async fn history_lists_answer_404(f: &Fixture, name: &str, message: &str) {
    for list in ["runs", "dead-letters", "conflicts"] {
        let path = format!("/api/{list}?sync={name}");
        assert_eq!(
            error_of(f.get(&path).await, S::NOT_FOUND).await,
            message,
            "{path}"
        );
    }
}

#[tokio::test]
async fn typos_are_errors_naming_what_is_wrong() {
    let f = fixture().await;
    let nosuch = "no sync \"nosuch\"; the configured syncs are: workers";
    assert_eq!(
        error_of(f.get("/api/syncs/nosuch").await, S::NOT_FOUND).await,
        nosuch
    );
    history_lists_answer_404(
        &f,
        "nosuch",
        "no sync \"nosuch\" in the configuration or the run history; the configured syncs are: workers",
    )
    .await;
    for path in [
        "/api/syncs/nosuch/trigger",
        "/api/syncs/nosuch/pause",
        "/api/syncs/nosuch/resume",
        "/api/dead-letters/replay?sync=nosuch",
    ] {
        assert_eq!(
            error_of(f.post(path).await, S::NOT_FOUND).await,
            nosuch,
            "{path}"
        );
    }
    // Nothing was requested for the sync that exists either.
    assert_eq!(
        f.store.dead_letters(Some("workers")).await.unwrap()[0].replay_requested_at,
        None
    );
    let cases = [
        (
            "/api/runs?synk=workers",
            "unknown query parameter \"synk\"; this route takes sync, limit",
        ),
        (
            "/api/runs?limit=abc",
            "query parameter limit must be a whole number from 1 to 1000, not \"abc\"",
        ),
        (
            "/api/runs?limit=0",
            "query parameter limit must be a whole number from 1 to 1000, not \"0\"",
        ),
        (
            "/api/runs?sync=workers&sync=other",
            "query parameter \"sync\" is given twice",
        ),
        (
            "/api/conflicts?all=yes",
            "query parameter all must be true or false, not \"yes\"",
        ),
        (
            "/api/runs/abc",
            "run id must be a whole number such as 12, not \"abc\"",
        ),
        (
            "/api/dead-letters/1x",
            "dead letter id must be a whole number such as 12, not \"1x\"",
        ),
    ];
    for (path, message) in cases {
        assert_eq!(
            error_of(f.get(path).await, S::BAD_REQUEST).await,
            message,
            "{path}"
        );
    }
    assert_eq!(
        error_of(f.get("/api/sync").await, S::NOT_FOUND).await,
        "no route /api/sync; the routes are listed in /openapi.json"
    );
    assert_eq!(
        error_of(f.post("/api/runs").await, S::METHOD_NOT_ALLOWED).await,
        "/api/runs does not take POST; see /openapi.json for its methods"
    );
}

/// A sync removed from the configuration keeps its history: its runs, dead letters and
/// conflicts can be listed by its name; a name in neither the configuration nor the run
/// history stays a 404.
#[tokio::test]
async fn a_removed_syncs_history_is_listed_by_its_name_and_other_names_are_404() {
    let f = fixture().await;
    // Run 3 of `retired`, a sync the configuration no longer has, with a dead letter.
    let run = f
        .finished_run("retired", RunStatus::Ok, json!({"a": {"read": 4}}), None)
        .await;
    let dl = NewDeadLetter {
        run_id: run,
        side: Side::B,
        stage: DeadLetterStage::Write,
        key_hash: Some("ef".repeat(32)),
        key_masked: Some("4403**********0017".into()),
        remote_id: None,
        record_hash: "01".repeat(32),
        errors: vec![],
        record: None,
    };
    f.store
        .commit(
            "retired",
            Commit {
                dead_letters: &[dl],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ids = |v: Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(f.json("/api/runs?sync=retired").await), vec![3]);
    assert_eq!(ids(f.json("/api/dead-letters?sync=retired").await), vec![2]);
    assert_eq!(f.json("/api/conflicts?sync=retired").await, json!([]));
    // The configured sync's lists leave it out.
    assert_eq!(ids(f.json("/api/runs?sync=workers").await), vec![2, 1]);
    // A typo is a 404 that names the removed sync as well as the configured ones.
    history_lists_answer_404(
        &f,
        "retire",
        "no sync \"retire\" in the configuration or the run history; the configured syncs are: workers; removed, with a history: retired",
    )
    .await;
    // What needs a sync that can run still needs a configured one.
    for path in [
        "/api/dead-letters/replay?sync=retired",
        "/api/syncs/retired/trigger",
    ] {
        assert_eq!(
            error_of(f.post(path).await, S::NOT_FOUND).await,
            "no sync \"retired\"; the configured syncs are: workers",
            "{path}"
        );
    }
    assert_eq!(
        f.store.dead_letters(Some("retired")).await.unwrap()[0].replay_requested_at,
        None
    );
}

#[tokio::test]
async fn a_second_conflict_decision_is_refused_unless_it_replaces_the_first() {
    let f = fixture().await;
    let resolve = |body: &'static str, content_type: Option<&'static str>| {
        let mut r = f
            .http
            .post(format!("{}/api/conflicts/1/resolve", f.url))
            .bearer_auth(TOKEN)
            .body(body);
        if let Some(t) = content_type {
            r = r.header(reqwest::header::CONTENT_TYPE, t);
        }
        r.send()
    };
    let json = Some("application/json");
    let shape = r#"{"take": "a"} or {"take": "b"}, or {"fields": {"/pointer": "a" | "b", ...}, "reason": "..."}, with "replace": true to change an earlier decision"#;
    let bad = [
        (
            r#""a""#,
            S::UNPROCESSABLE_ENTITY,
            format!("the body must be a JSON object: {shape}"),
        ),
        (
            r#"{"takes":"a"}"#,
            S::UNPROCESSABLE_ENTITY,
            format!("unknown field \"takes\" in the body; it takes {shape}"),
        ),
        (
            r#"{}"#,
            S::UNPROCESSABLE_ENTITY,
            format!(
                "the body has no \"take\" or \"fields\": say which side's record or which fields to keep, {shape}"
            ),
        ),
        (
            r#"{"take":"c"}"#,
            S::UNPROCESSABLE_ENTITY,
            r#""take" must be "a" or "b" (the side whose record is kept), not "c""#.to_string(),
        ),
        (
            r#"{"take":"a","replace":"yes"}"#,
            S::UNPROCESSABLE_ENTITY,
            r#""replace" must be true or false, not "yes""#.to_string(),
        ),
        (
            r#"{"take":"#,
            S::BAD_REQUEST,
            format!("the body is not JSON (line 1, column 8); send {shape}"),
        ),
    ];
    for (body, status, message) in bad {
        assert_eq!(
            error_of(resolve(body, json).await.unwrap(), status).await,
            message,
            "{body}"
        );
    }
    assert_eq!(
        error_of(
            resolve(r#"{"take":"a"}"#, None).await.unwrap(),
            S::UNSUPPORTED_MEDIA_TYPE
        )
        .await,
        format!("the body must be JSON sent with Content-Type: application/json, such as {shape}")
    );
    let r = resolve(r#"{"take":"a"}"#, json).await.unwrap();
    assert_eq!(r.status(), S::ACCEPTED);
    assert_eq!(
        error_of(resolve(r#"{"take":"b"}"#, json).await.unwrap(), S::CONFLICT).await,
        r#"conflict 1 already has a decision (take side a by admin), which the next run applies; send {"take": "b", "replace": true} to replace it"#
    );
    assert_eq!(
        f.store.conflict_takes("workers").await.unwrap().get(KEY),
        Some(&Side::A),
        "the refused decision changed nothing"
    );
    let r = resolve(r#"{"take":"b","replace":true}"#, json)
        .await
        .unwrap();
    assert_eq!(r.status(), S::ACCEPTED);
    assert_eq!(r.json::<Value>().await.unwrap()["take"], json!("b"));
    assert_eq!(
        f.store.conflict_takes("workers").await.unwrap().get(KEY),
        Some(&Side::B)
    );
}

#[tokio::test]
async fn trigger_pause_and_resume_reach_the_schedule_state() {
    let f = fixture().await;
    assert_eq!(
        f.post("/api/syncs/workers/trigger").await.status(),
        S::ACCEPTED
    );
    assert!(
        f.store
            .schedule_state("workers")
            .await
            .unwrap()
            .trigger_requested
    );
    assert_eq!(f.post("/api/syncs/workers/pause").await.status(), S::OK);
    assert!(f.store.schedule_state("workers").await.unwrap().paused);
    assert_eq!(f.json("/api/syncs/workers").await["paused"], json!(true));
    assert_eq!(f.post("/api/syncs/workers/resume").await.status(), S::OK);
    assert!(!f.store.schedule_state("workers").await.unwrap().paused);
    assert_eq!(
        f.post("/api/syncs/nope/trigger").await.status(),
        S::NOT_FOUND
    );
}

#[tokio::test]
async fn the_status_page_signs_in_with_the_token_and_shows_the_counts() {
    let f = fixture().await;
    let r = f.http.get(format!("{}/", f.url)).send().await.unwrap();
    assert_eq!(
        (
            r.status(),
            r.headers()[reqwest::header::LOCATION].to_str().unwrap()
        ),
        (S::SEE_OTHER, "/login")
    );
    let bad = f
        .http
        .post(format!("{}/login", f.url))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("token=nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), S::UNAUTHORIZED);
    let ok = f
        .http
        .post(format!("{}/login", f.url))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), S::SEE_OTHER);
    let cookie = ok.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(
        !cookie.contains(TOKEN),
        "the cookie is not the token itself"
    );
    let page = f.with_cookie(reqwest::Method::GET, "/", &cookie).await;
    assert_eq!(page.status(), S::OK);
    let html = page.text().await.unwrap();
    // The latest run (2) read 1 + 2 records and wrote 1 + 1.
    assert!(
        html.contains("<td class=\"num read\">3</td><td class=\"num written\">2</td>"),
        "{html}"
    );
    assert!(
        html.contains("同步 Sync")
            && html.contains("死信 Dead letters")
            && html.contains("5223**********123X")
    );
    assert!(
        html.contains("读取 read 3000 · 写入 written 1322 · 耗时 duration 6.60 s</title>"),
        "the chart has the first run"
    );
    // The cookie opens the page only: it cannot trigger a run (no cross-site request forgery).
    let forged = f
        .with_cookie(reqwest::Method::POST, "/api/syncs/workers/trigger", &cookie)
        .await;
    assert_eq!(forged.status(), S::UNAUTHORIZED);
    assert!(
        !f.store
            .schedule_state("workers")
            .await
            .unwrap()
            .trigger_requested
    );
}

/// The status page's HTML at `path`, signed in, after checking its status.
async fn page_html(f: &Fixture, path: &str, status: S) -> String {
    let cookie = set_cookie(&sign_in(f, TOKEN).await).0;
    let r = f.with_cookie(reqwest::Method::GET, path, &cookie).await;
    assert_eq!(r.status(), status, "{path}");
    assert_eq!(
        r.headers()[reqwest::header::CONTENT_TYPE],
        "text/html; charset=utf-8",
        "{path}"
    );
    r.text().await.unwrap()
}

/// The run ids the run chart of `sync` links to, oldest first.
fn charted_runs(html: &str, sync: &str) -> Vec<i64> {
    let charts = html
        .split(&format!("<div class=\"charts\" data-sync=\"{sync}\">"))
        .nth(1)
        .unwrap();
    let runs = charts.split("class=\"days-chart\"").next().unwrap();
    runs.split("<a href=\"/runs/")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn the_run_chart_marks_failed_runs_and_filters_the_runs_that_wrote() {
    let f = fixture().await;
    // Run 3 read 5 records and wrote none; run 4 failed, reading nothing.
    let stats = json!({"a": {"read": 5, "unchanged": 5}, "b": {"read": 0}, "duration_ms": 80});
    f.finished_run("workers", RunStatus::Ok, stats, None).await;
    let failed = json!({"duration_ms": 20});
    f.finished_run(
        "workers",
        RunStatus::Failed,
        failed,
        Some("huiyang-esms: HTTP 401"),
    )
    .await;
    let all = page_html(&f, "/", S::OK).await;
    assert_eq!(charted_runs(&all, "workers"), vec![1, 2, 3, 4]);
    // The failed run, and only it, is marked: a ✗ and its status in words in its title;
    // and so is today in the daily totals, with the failed run counted in its title.
    let (runs_chart, days_chart) = all.split_once("class=\"days-chart\"").unwrap();
    assert_eq!(runs_chart.matches("class=\"slot failed\"").count(), 1);
    assert_eq!(days_chart.matches("class=\"slot failed\"").count(), 1);
    assert!(
        days_chart.contains(
            " · 运行 runs 4 (失败 failed 1) · 读取 read 3008 · 写入 written 1324</title>"
        )
    );
    assert!(
        all.contains(
            "<a href=\"/runs/4\"><g class=\"slot failed\"><title>运行 run 4 · 失败 failed · "
        ),
        "{all}"
    );
    assert!(all.contains(
        " · 读取 read 0 · 写入 written 0 · 耗时 duration 0.02 s · huiyang-esms: HTTP 401</title>"
    ));
    // One y scale for all four runs: 0 to 3000 by 1000 (the first run read 3000).
    assert_eq!(
        crate::admin::charts::texts_of(runs_chart, "y-tick"),
        ["0", "1000", "2000", "3000"]
    );
    assert!(runs_chart.contains("开始时间 start time (Asia/Shanghai)"));
    // Only the runs that wrote: 1 (1,322 created) and 2 (one update each way).
    let wrote = page_html(&f, "/?wrote=1", S::OK).await;
    assert_eq!(charted_runs(&wrote, "workers"), vec![1, 2]);
    assert!(
        wrote
            .contains("<b aria-current=\"page\">只看有写入的运行 only runs that wrote records</b>")
    );
    assert!(wrote.contains("<a href=\"/?wrote=0\">全部运行 all runs</a>"));
    assert_eq!(
        charted_runs(&page_html(&f, "/?wrote=0", S::OK).await, "workers"),
        vec![1, 2, 3, 4]
    );
    // Typos are errors, on a page that says what is wrong.
    for (path, message) in [
        (
            "/?wrote=yes",
            "query parameter wrote must be 1 (only runs that wrote records) or 0 (all runs), not &quot;yes&quot;",
        ),
        (
            "/?wrot=1",
            "unknown query parameter &quot;wrot&quot;; this route takes wrote",
        ),
        (
            "/?wrote=1&wrote=0",
            "query parameter &quot;wrote&quot; is given twice",
        ),
    ] {
        let html = page_html(&f, path, S::BAD_REQUEST).await;
        assert!(
            html.contains(&format!("<p class=\"bad\" id=\"error\">{message}</p>")),
            "{path}: {html}"
        );
    }
}

#[tokio::test]
async fn the_daily_totals_sum_the_runs_of_each_day_in_the_deployments_zone() {
    let f = fixture().await;
    // Run 3 (read 40, created 4) started yesterday at 23:59:59 in Shanghai (15:59:59
    // UTC), run 2 today at 00:00:00 (16:00:00 UTC the day before); run 1, 30 days before
    // today's midnight, is out of the 30 days.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let utc_text = |day: chrono::NaiveDate, offset_s: i64| {
        (day.and_hms_opt(0, 0, 0).unwrap().and_utc() - chrono::Duration::hours(8)
            + chrono::Duration::seconds(offset_s))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
    };
    let third = f
        .finished_run(
            "workers",
            RunStatus::Ok,
            json!({"a": {"read": 40, "created": 4}}),
            None,
        )
        .await;
    // The store has no way to start a run in the past: its file is changed directly.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        f._dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    for (id, at) in [
        (1, utc_text(today - chrono::Days::new(30), 0)),
        (2, utc_text(today, 0)),
        (third, utc_text(today, -1)),
    ] {
        sqlx::query("UPDATE runs SET started_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&db)
            .await
            .unwrap();
    }
    db.close().await;
    let html = page_html(&f, "/", S::OK).await;
    let days = html.split("class=\"days-chart\"").nth(1).unwrap();
    let days = days.split("</svg>").next().unwrap();
    let titles: Vec<&str> = days
        .split("<g class=\"slot")
        .skip(1)
        .map(|g| {
            g.split("<title>")
                .nth(1)
                .unwrap()
                .split("</title>")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(titles.len(), 30);
    let yesterday = today - chrono::Days::new(1);
    // Run 3: read 40, wrote 4; run 2: read 1 + 2, wrote 1 + 1.
    assert_eq!(
        titles[28],
        format!("{yesterday} · 运行 runs 1 · 读取 read 40 · 写入 written 4")
    );
    assert_eq!(
        titles[29],
        format!("{today} · 运行 runs 1 · 读取 read 3 · 写入 written 2")
    );
    assert_eq!(
        titles[0],
        format!(
            "{} · 运行 runs 0 · 读取 read 0 · 写入 written 0",
            today - chrono::Days::new(29)
        )
    );
    assert!(days.contains("日期 day (Asia/Shanghai)"));
    // The newest day is labelled, as MM-DD.
    assert!(days.contains(&format!(
        "class=\"x-tick\">{}</text>",
        today.format("%m-%d")
    )));
}

/// `token=<token>` posted to `/login` from `f`'s client.
async fn sign_in(f: &Fixture, token: &str) -> reqwest::Response {
    f.http
        .post(format!("{}/login", f.url))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
}

/// The `name=value` of a `Set-Cookie` answer, and its attributes.
fn set_cookie(r: &reqwest::Response) -> (String, String) {
    let v = r.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
    let (pair, attributes) = v.split_once("; ").unwrap();
    (pair.to_string(), attributes.to_string())
}

/// `GET path` with the cookie `pair`: its status and `Location`, if any.
async fn page_with(f: &Fixture, path: &str, pair: &str) -> (S, Option<String>) {
    let r = f.with_cookie(reqwest::Method::GET, path, pair).await;
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    (r.status(), location)
}

const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";

/// The fixture with a viewer `li.na`, an operator `wang` and today's single token
/// (operator `admin`), and its admin state, to replace the tokens later (a reload).
async fn fixture_with_roles() -> (Fixture, AdminState) {
    let kept = Arc::new(std::sync::Mutex::new(None));
    let k = kept.clone();
    let f = fixture_with(move |s| {
        // Failed tokens do not throttle these tests' later requests.
        let s = s.with_times(security::SESSION_LIFETIME, std::time::Duration::ZERO);
        s.set_tokens(Tokens::new([
            ("admin".to_string(), Role::Operator, TOKEN.to_string()),
            ("li.na".to_string(), Role::Viewer, VIEWER.to_string()),
            ("wang".to_string(), Role::Operator, OPERATOR.to_string()),
        ]));
        *k.lock().unwrap() = Some(s.clone());
        s
    })
    .await;
    let state = kept.lock().unwrap().take().unwrap();
    (f, state)
}

async fn send(f: &Fixture, method: reqwest::Method, path: &str, token: &str) -> reqwest::Response {
    let mut r = f
        .http
        .request(method.clone(), format!("{}{path}", f.url))
        .bearer_auth(token);
    if method == reqwest::Method::POST && path.ends_with("/resolve") {
        r = r.json(&json!({"take": "a"}));
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_viewer_reads_an_operator_also_acts_and_an_unknown_token_is_401() {
    let (f, _) = fixture_with_roles().await;
    let m = reqwest::Method::GET;
    for path in [
        "/api/syncs",
        "/api/runs",
        "/api/conflicts",
        "/api/conflicts/1",
        "/",
    ] {
        for t in [VIEWER, OPERATOR, TOKEN] {
            assert_eq!(send(&f, m.clone(), path, t).await.status(), S::OK, "{path}");
        }
        let r = send(&f, m.clone(), path, "unknown-token-0123456789").await;
        assert_eq!(r.status(), S::UNAUTHORIZED, "{path}");
    }
    // Every state-changing route needs an operator: 403 naming the role needed.
    for path in [
        "/api/syncs/workers/trigger",
        "/api/syncs/workers/pause",
        "/api/syncs/workers/resume",
        "/api/dead-letters/1/replay",
        "/api/dead-letters/replay",
        "/api/conflicts/1/resolve",
    ] {
        let r = send(&f, reqwest::Method::POST, path, VIEWER).await;
        assert_eq!(
            error_of(r, S::FORBIDDEN).await,
            "权限不足 this needs a token of role operator; token \"li.na\" has role viewer",
            "{path}"
        );
        let r = send(&f, reqwest::Method::POST, path, "unknown-token-0123456789").await;
        assert_eq!(r.status(), S::UNAUTHORIZED, "{path}");
    }
    // The operator's actions go through (the viewer's refusals changed nothing).
    assert!(!f.store.schedule_state("workers").await.unwrap().paused);
    let r = send(
        &f,
        reqwest::Method::POST,
        "/api/syncs/workers/pause",
        OPERATOR,
    )
    .await;
    assert_eq!(r.status(), S::OK);
    assert!(f.store.schedule_state("workers").await.unwrap().paused);
    let r = send(
        &f,
        reqwest::Method::POST,
        "/api/conflicts/1/resolve",
        OPERATOR,
    )
    .await;
    assert_eq!(r.status(), S::ACCEPTED);
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (c["take"].as_str(), c["decided_by"].as_str()),
        (Some("a"), Some("wang"))
    );
    // The decision is in the audit log under the operator's name: one entry for the side
    // it changes (b, taking a's record).
    let audit = f.store.audit_entries(Some("workers"), 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].side,
            audit[0].system.as_str(),
            audit[0].actor.as_deref()
        ),
        ("decide", Side::B, "huiyang-esms", Some("wang"))
    );
    assert_eq!(
        audit[0].detail.as_deref(),
        Some(r#"{"conflict":1,"reason":null,"take":"a"}"#)
    );
}

#[tokio::test]
async fn a_viewers_session_opens_pages_but_not_the_conflict_form_and_sees_values_masked() {
    let (f, _) = fixture_with_roles().await;
    let (pair, _) = set_cookie(&sign_in(&f, VIEWER).await);
    assert_eq!(page_with(&f, "/", &pair).await.0, S::OK);
    let r = f
        .with_cookie(reqwest::Method::GET, "/conflicts/1", &pair)
        .await;
    assert_eq!(r.status(), S::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("li.na (查看者 viewer: values masked)"),
        "{html}"
    );
    assert!(!html.contains("<form id=\"decide\""), "{html}");
    // The form's POST is refused for the role before anything is read.
    let r = f
        .http
        .post(format!("{}/conflicts/1", f.url))
        .header(reqwest::header::COOKIE, &pair)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body("field%3A%2Fphone=a&reason=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), S::FORBIDDEN);
    assert!(
        r.text().await.unwrap().contains(
            "this needs a token of role operator; token &quot;li.na&quot; has role viewer"
        )
    );
    // Nothing was viewed in clear: no audit entry.
    assert!(f.store.audit_entries(None, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn rotated_tokens_take_effect_at_once_and_end_the_old_ones_sessions() {
    let (f, state) = fixture_with_roles().await;
    let (viewer_session, _) = set_cookie(&sign_in(&f, VIEWER).await);
    let (operator_session, _) = set_cookie(&sign_in(&f, OPERATOR).await);
    assert_eq!(page_with(&f, "/", &viewer_session).await.0, S::OK);
    // A reload with li.na's token rotated and wang promoted... to viewer.
    state.set_tokens(Tokens::new([
        (
            "li.na".to_string(),
            Role::Viewer,
            "viewer-token-rotated-0001".to_string(),
        ),
        ("wang".to_string(), Role::Viewer, OPERATOR.to_string()),
    ]));
    let m = reqwest::Method::GET;
    assert_eq!(
        send(&f, m.clone(), "/api/syncs", VIEWER).await.status(),
        S::UNAUTHORIZED
    );
    assert_eq!(
        send(&f, m.clone(), "/api/syncs", TOKEN).await.status(),
        S::UNAUTHORIZED
    );
    assert_eq!(
        send(&f, m.clone(), "/api/syncs", "viewer-token-rotated-0001")
            .await
            .status(),
        S::OK
    );
    // The old token's session ends; wang's stays, with the new role.
    assert_eq!(
        page_with(&f, "/", &viewer_session).await,
        (S::SEE_OTHER, Some("/login".into()))
    );
    assert_eq!(page_with(&f, "/", &operator_session).await.0, S::OK);
    let r = send(
        &f,
        reqwest::Method::POST,
        "/api/syncs/workers/trigger",
        OPERATOR,
    )
    .await;
    assert_eq!(
        error_of(r, S::FORBIDDEN).await,
        "权限不足 this needs a token of role operator; token \"wang\" has role viewer"
    );
}

#[tokio::test]
async fn a_decision_naming_fields_needs_the_sync_loaded_and_typos_in_it_are_named() {
    let (f, _) = fixture_with_roles().await;
    let post = |body: Value| {
        f.http
            .post(format!("{}/api/conflicts/1/resolve", f.url))
            .bearer_auth(OPERATOR)
            .json(&body)
            .send()
    };
    let r = post(json!({"fields": {"/phone": "a"}, "reason": "x"}))
        .await
        .unwrap();
    assert_eq!(
        error_of(r, S::CONFLICT).await,
        "sync workers is not loaded on this server, so conflict 1's fields cannot be checked; take a side's record whole instead"
    );
    let r = post(json!({"fields": {"/phone": "c"}})).await.unwrap();
    assert_eq!(
        error_of(r, S::UNPROCESSABLE_ENTITY).await,
        "\"fields\"/\"/phone\" must be \"a\" or \"b\" (the side whose value is kept), not \"c\""
    );
    let r = post(json!({"fields": {}})).await.unwrap();
    assert_eq!(
        error_of(r, S::UNPROCESSABLE_ENTITY).await,
        "\"fields\" must be an object of at least one JSON pointer with \"a\" or \"b\", such as {\"/phone\": \"b\"}, not {}"
    );
    let r = post(json!({"take": "a", "fields": {"/phone": "a"}}))
        .await
        .unwrap();
    assert_eq!(
        error_of(r, S::UNPROCESSABLE_ENTITY).await,
        "the body has both \"take\" and \"fields\": a decision takes a side's record whole or chooses fields, not both"
    );
    let r = post(json!({"take": "a", "reson": "x"})).await.unwrap();
    assert!(
        error_of(r, S::UNPROCESSABLE_ENTITY)
            .await
            .starts_with("unknown field \"reson\" in the body")
    );
}

#[tokio::test]
async fn pages_carry_a_strict_content_security_policy_with_the_hash_of_their_stylesheet() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let f = fixture().await;
    // The hash of the stylesheet the pages carry, worked out here, from the page's own
    // `<style>` text (CSP Level 3: base64 of the SHA-256 of the element's content).
    let login = f.http.get(format!("{}/login", f.url)).send().await.unwrap();
    let headers = login.headers().clone();
    let html = login.text().await.unwrap();
    let inline = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .unwrap()
        .0;
    assert_eq!(inline, STYLE);
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline));
    assert_eq!(hash.len(), 44, "32 bytes in base64");
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let cookie = set_cookie(&sign_in(&f, TOKEN).await).0;
    for path in [
        "/login",
        "/",
        "/?wrote=1",
        "/?wrote=yes",
        "/runs/1",
        "/runs/99",
    ] {
        let r = f.with_cookie(reqwest::Method::GET, path, &cookie).await;
        assert!(
            matches!(r.status(), S::OK | S::NOT_FOUND | S::BAD_REQUEST),
            "{path}"
        );
        let h = r.headers();
        assert_eq!(h["content-security-policy"], csp.as_str(), "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{path}: plain HTTP"
        );
        // Nothing on the pages that the policy would block: no script, no style attribute,
        // no event handler, no other stylesheet.
        let html = r.text().await.unwrap();
        for blocked in [
            "<script",
            " style=",
            " onclick=",
            " onload=",
            "<link",
            "javascript:",
        ] {
            assert!(!html.contains(blocked), "{path} has {blocked}");
        }
        assert_eq!(html.matches("<style>").count(), 1, "{path}");
    }
    assert_eq!(headers["content-security-policy"], csp.as_str());
    // JSON answers carry the headers every answer has, not the page policy.
    let r = f.get("/api/syncs").await;
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert!(r.headers().get("content-security-policy").is_none());
    assert!(r.headers().get("strict-transport-security").is_none());
    // Refusals too.
    let r = f
        .http
        .get(format!("{}/api/syncs", f.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), S::UNAUTHORIZED);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_sign_in_is_a_random_session_of_eight_hours_that_signing_out_ends() {
    let f = fixture().await;
    let first = sign_in(&f, TOKEN).await;
    assert_eq!(first.status(), S::SEE_OTHER);
    let (pair, attributes) = set_cookie(&first);
    assert_eq!(
        attributes,
        "Max-Age=28800; Path=/; HttpOnly; SameSite=Strict"
    );
    let id = pair.strip_prefix("hub_admin=").unwrap();
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let (other, _) = set_cookie(&sign_in(&f, TOKEN).await);
    assert_ne!(pair, other, "each sign-in is a session of its own");
    assert_eq!(page_with(&f, "/", &pair).await, (S::OK, None));
    assert_eq!(page_with(&f, "/runs/1", &pair).await, (S::OK, None));
    let page = f
        .with_cookie(reqwest::Method::GET, "/", &pair)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(
        "<form id=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">退出 Sign out</button></form>"
    ));

    let out = f.with_cookie(reqwest::Method::POST, "/logout", &pair).await;
    assert_eq!(out.status(), S::SEE_OTHER);
    assert_eq!(out.headers()[reqwest::header::LOCATION], "/login");
    assert_eq!(
        out.headers()[reqwest::header::SET_COOKIE],
        "hub_admin=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"
    );
    // The old cookie, kept by a client that ignores the clearing, opens nothing any more.
    assert_eq!(
        page_with(&f, "/", &pair).await,
        (S::SEE_OTHER, Some("/login".into()))
    );
    assert_eq!(
        page_with(&f, "/runs/1", &pair).await,
        (S::SEE_OTHER, Some("/login".into()))
    );
    assert_eq!(
        page_with(&f, "/", &other).await,
        (S::OK, None),
        "the other session stays"
    );
    // A made-up session id opens nothing.
    assert_eq!(
        page_with(&f, "/", &format!("hub_admin={}", "ab".repeat(32))).await,
        (S::SEE_OTHER, Some("/login".into()))
    );
}

#[tokio::test]
async fn a_session_ends_after_its_lifetime() {
    let second = std::time::Duration::from_secs(1);
    let f = fixture_with(|s| s.with_times(second, security::FAILURE_WINDOW)).await;
    let r = sign_in(&f, TOKEN).await;
    let (pair, attributes) = set_cookie(&r);
    assert_eq!(attributes, "Max-Age=1; Path=/; HttpOnly; SameSite=Strict");
    assert_eq!(page_with(&f, "/", &pair).await, (S::OK, None));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        page_with(&f, "/", &pair).await,
        (S::SEE_OTHER, Some("/login".into()))
    );
}

#[tokio::test]
async fn the_sixth_wrong_sign_in_in_a_minute_is_refused_and_the_right_token_with_it() {
    let f = fixture().await;
    for n in 1..=5 {
        let r = sign_in(&f, "wrong-token-0123456789").await;
        assert_eq!(r.status(), S::UNAUTHORIZED, "wrong sign-in {n}");
        assert!(r.text().await.unwrap().contains("令牌不对 Wrong token"));
    }
    let sixth = sign_in(&f, "wrong-token-0123456789").await;
    assert_eq!(sixth.status(), S::TOO_MANY_REQUESTS);
    // A minute from the first failure, less the moments since (rounded up): 60, or 59 on
    // a machine slow enough to take over a second for these requests.
    let retry = sixth.headers()[reqwest::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .to_string();
    assert!(retry == "60" || retry == "59", "{retry}");
    let html = sixth.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "登录失败次数过多，请 {retry} 秒后再试 too many failed sign-ins from 127.0.0.1: try again in {retry} s (at most 5 a minute per address)"
        )),
        "{html}"
    );
    let right = sign_in(&f, TOKEN).await;
    assert_eq!(right.status(), S::TOO_MANY_REQUESTS, "the right token too");
    assert!(right.headers().get(reqwest::header::SET_COOKIE).is_none());
    let api = f.get("/api/syncs").await;
    assert_eq!(api.status(), S::TOO_MANY_REQUESTS, "and the bearer token");
    assert!(api.headers().contains_key(reqwest::header::RETRY_AFTER));
    let body: Value = api.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("登录失败次数过多")
    );
    // Nothing else is held up: the health check, the sign-in form.
    assert_eq!(
        f.http
            .get(format!("{}/healthz", f.url))
            .send()
            .await
            .unwrap()
            .status(),
        S::OK
    );
    assert_eq!(
        f.http
            .get(format!("{}/login", f.url))
            .send()
            .await
            .unwrap()
            .status(),
        S::OK
    );
}

#[tokio::test]
async fn wrong_bearer_tokens_count_as_failed_sign_ins_and_the_window_passes() {
    let window = std::time::Duration::from_secs(2);
    let f = fixture_with(|s| s.with_times(security::SESSION_LIFETIME, window)).await;
    for n in 1..=5 {
        let r = f
            .http
            .get(format!("{}/api/syncs", f.url))
            .bearer_auth("wrong-token-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), S::UNAUTHORIZED, "wrong token {n}");
    }
    let r = sign_in(&f, TOKEN).await;
    assert_eq!(r.status(), S::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()[reqwest::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    tokio::time::sleep(window + std::time::Duration::from_millis(100)).await;
    assert_eq!(
        sign_in(&f, TOKEN).await.status(),
        S::SEE_OTHER,
        "the window passed"
    );
    assert_eq!(f.get("/api/syncs").await.status(), S::OK);
}

/// Log lines written while the guard lives, on this thread (the tests' runtime runs its
/// tasks on the test's own thread).
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (
    Arc<std::sync::Mutex<Vec<u8>>>,
    tracing::subscriber::DefaultGuard,
) {
    let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .without_time()
        .with_writer(move || Logs(writer.clone()))
        .finish();
    (buffer, tracing::subscriber::set_default(subscriber))
}

/// The captured log text, once it holds `wanted` (handshakes are logged by their own
/// task, a moment after the client gave up), or after 5 s.
async fn logged(logs: &std::sync::Mutex<Vec<u8>>, wanted: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
        if text.contains(wanted) || tokio::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A deployment in `dir` with no syncs and `[admin]` as given, loaded.
async fn tls_deployment(dir: &std::path::Path, admin: &str) -> (Config, View) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("hub.toml"),
        format!(
            "[hub]\ndata_dir = \"data\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\ntoken = {{ value = \"{TOKEN}\" }}\n{admin}"
        ),
    )
    .unwrap();
    let config = crate::config::load(&dir.join("hub.toml")).unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.join("data/state.db").display()))
        .await
        .unwrap();
    let view = View {
        store,
        syncs: BTreeMap::new(),
        problems: vec![],
        not_loaded: BTreeMap::new(),
        reload_refused: None,
        progress: ProgressBoard::default(),
        zone: chrono_tz::Asia::Shanghai,
        checks: crate::check::LiveChecks::default(),
        reconciler: None,
    };
    (config, view)
}

#[tokio::test]
async fn https_serves_the_certificate_files_and_a_reload_swaps_them_for_new_connections() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (logs, _guard) = capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    test_ca(d);
    let first = localhost_cert(
        d,
        "first",
        "1",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let second = localhost_cert(d, "second", "2", &["rsa:2048"]);
    assert_ne!(first, second);
    let ca = std::fs::read(d.join("ca.pem")).unwrap();
    let install = |name: &str| {
        std::fs::copy(d.join(format!("{name}.pem")), d.join("admin.pem")).unwrap();
        std::fs::copy(d.join(format!("{name}.key")), d.join("admin.key")).unwrap();
    };
    install("first");
    let (config, view) =
        tls_deployment(d, "tls_cert = \"admin.pem\"\ntls_key = \"admin.key\"\n").await;
    let server = Server::start(&config, view).await.unwrap();
    let port = server.addr.port();
    assert_eq!(
        std::fs::read_to_string(d.join("data/admin.url")).unwrap(),
        format!("https://127.0.0.1:{port}/\n")
    );
    let base = format!("https://localhost:{port}");

    let (r, cert) = over_https(&ca, &format!("{base}/healthz")).await;
    assert_eq!(cert, first, "the certificate of admin.pem");
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(r.text().await.unwrap(), "ok");
    // Over HTTPS the session cookie is Secure.
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(format!("{base}/login"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(format!("token={TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), S::SEE_OTHER);
    assert!(
        signed_in.headers()[reqwest::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .ends_with("; Max-Age=28800; Path=/; HttpOnly; SameSite=Strict; Secure")
    );

    // Plain HTTP to the HTTPS port gets no answer, and the log names the client and why.
    let plain = reqwest::Client::new()
        .get(format!("http://localhost:{port}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    let wanted = " failed: received corrupt message of type InvalidContentType (not TLS: plain HTTP to the HTTPS port?)";
    let text = logged(&logs, wanted).await;
    let line = text
        .lines()
        .find(|l| l.contains(wanted))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with(" WARN "), "{line}");
    assert!(
        line.contains("admin API: TLS handshake with 127.0.0.1:"),
        "{line}"
    );
    // A client that does not trust the certificate refuses the handshake.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap()
        .get(format!("{base}/healthz"))
        .send()
        .await;
    assert!(untrusting.is_err());
    let wanted = " failed: received fatal alert: UnknownCA (the client refused the handshake: does it trust the certificate and its name?)";
    let text = logged(&logs, wanted).await;
    assert!(text.contains(wanted), "{text}");
    // The server still serves.
    assert_eq!(
        over_https(&ca, &format!("{base}/healthz")).await.0.status(),
        S::OK
    );

    // New files, and the reload SIGHUP does: new connections get the new certificate.
    install("second");
    assert!(server.reload_certificate());
    let (r, cert) = over_https(&ca, &format!("{base}/healthz")).await;
    assert_eq!(r.status(), S::OK);
    assert_eq!(cert, second, "the reloaded certificate");
    let (pem, key) = (d.join("admin.pem"), d.join("admin.key"));
    assert!(logs_contain(
        &logs,
        &format!(
            "admin API: certificate reloaded from {} and {}; new connections use it",
            pem.display(),
            key.display()
        )
    ));

    // A bad key file: nothing changes, and the log says which file and why.
    std::fs::copy(d.join("first.pem"), &pem).unwrap();
    std::fs::write(&key, "not a key\n").unwrap();
    assert!(!server.reload_certificate());
    assert_eq!(over_https(&ca, &format!("{base}/healthz")).await.1, second);
    assert!(logs_contain(
        &logs,
        &format!(
            "ERROR hub::admin_tls: admin API: certificate not reloaded, the one in use stays: admin.tls_key: {} holds no private key (a PEM block \"-----BEGIN PRIVATE KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" expected)",
            key.display()
        )
    ));
    // The key of another certificate.
    std::fs::copy(d.join("second.key"), &key).unwrap();
    assert!(!server.reload_certificate());
    assert_eq!(over_https(&ca, &format!("{base}/healthz")).await.1, second);
    assert!(logs_contain(
        &logs,
        &format!(
            "admin.tls_key: {} is not the private key of the certificate in {}",
            key.display(),
            pem.display()
        )
    ));
    server.stop();
}

fn logs_contain(logs: &std::sync::Mutex<Vec<u8>>, wanted: &str) -> bool {
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    text.contains(wanted) || panic!("no {wanted:?} in:\n{text}")
}

#[tokio::test]
async fn a_certificate_or_key_file_that_cannot_be_used_stops_the_start_naming_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    test_ca(d);
    localhost_cert(
        d,
        "first",
        "1",
        &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let cases = [
        (
            "tls_cert = \"missing.pem\"\ntls_key = \"first.key\"\n",
            format!(
                "admin.tls_cert: cannot read {}: No such file or directory (os error 2)",
                d.join("missing.pem").display()
            ),
        ),
        (
            "tls_cert = \"first.key\"\ntls_key = \"first.key\"\n",
            format!(
                "admin.tls_cert: {} holds no certificate (PEM blocks \"-----BEGIN CERTIFICATE-----\" expected, the server's own first)",
                d.join("first.key").display()
            ),
        ),
        (
            "tls_cert = \"first.pem\"\ntls_key = \"first.pem\"\n",
            format!(
                "admin.tls_key: {} holds no private key (a PEM block \"-----BEGIN PRIVATE KEY-----\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" expected)",
                d.join("first.pem").display()
            ),
        ),
        (
            "tls_cert = \"first.pem\"\ntls_key = \"ca.key\"\n",
            format!(
                "admin.tls_key: {} is not the private key of the certificate in {}",
                d.join("ca.key").display(),
                d.join("first.pem").display()
            ),
        ),
    ];
    for (admin, message) in cases {
        let (config, view) = tls_deployment(d, admin).await;
        let e = Server::start(&config, view).await.err().unwrap();
        assert_eq!(format!("{e:#}"), message, "{admin}");
        assert!(
            !d.join("data/admin.url").exists(),
            "{admin}: nothing served"
        );
    }
}
