//! OpenTelemetry spans of a sync run, received by a small OTLP/HTTP collector of the test's own
//! (OTLP 1.x, JSON encoding: `POST /v1/traces` with an `ExportTraceServiceRequest`).

use crate::expected_residents;
use crate::harness::Env;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// A collector on a free port: every request body it received, parsed.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let keep = keep.clone();
            async move {
                assert_eq!(headers["content-type"], "application/json");
                keep.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).expect("an OTLP JSON body"));
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// An OTLP attribute list as (key, value as text).
fn attributes(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|kv| {
                    let v = &kv["value"];
                    let text = v["stringValue"]
                        .as_str()
                        .map(str::to_string)
                        .or_else(|| v["intValue"].as_str().map(str::to_string))
                        .or_else(|| v["intValue"].as_i64().map(|i| i.to_string()))
                        .or_else(|| v["boolValue"].as_bool().map(|b| b.to_string()))
                        .or_else(|| v["doubleValue"].as_f64().map(|d| d.to_string()))
                        .unwrap_or_else(|| v.to_string());
                    (kv["key"].as_str().unwrap().to_string(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_run_is_exported_as_spans_with_names_and_counts_only() {
    let env = Env::start().await;
    let (url, got) = collector().await;
    let out = env
        .hub(&["sync", "workers", "--once", "--config", "config/demo.toml"])
        .env("HUB_OTLP_ENDPOINT", &url)
        .output()
        .await
        .unwrap();
    env.keep(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The spans are flushed before the command exits.
    let bodies = got.lock().unwrap().clone();
    assert!(!bodies.is_empty(), "no export reached the collector");
    let mut spans = Vec::new();
    let mut strings = Vec::new();
    for body in &bodies {
        for rs in body["resourceSpans"].as_array().unwrap() {
            let resource = attributes(&rs["resource"]["attributes"]);
            assert_eq!(attr(&resource, "service.name"), Some("hub"));
            strings.extend(resource.into_iter().map(|(_, v)| v));
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    let a = attributes(&s["attributes"]);
                    strings.extend(a.iter().map(|(_, v)| v.clone()));
                    strings.push(s["name"].as_str().unwrap().to_string());
                    spans.push((s.clone(), a));
                }
            }
        }
    }
    let named = |n: &'static str| spans.iter().filter(move |(s, _)| s["name"] == n);

    // One run span: the sync, its trigger and what it did (the first run of the demo's data:
    // 3,000 registry records read, 1,322 created in HY-ESMS and 117 employers' codes written to
    // the registry (DEMO_CODES_LOOKED_UP), 5 broken ones dead-lettered).
    let runs: Vec<_> = named("run").collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let (run, ra) = runs[0];
    assert_eq!(attr(ra, "sync"), Some("workers"));
    assert_eq!(attr(ra, "trigger"), Some("manual"));
    // Partial: records went to dead letters.
    assert_eq!(attr(ra, "status"), Some("partial"));
    assert_eq!(attr(ra, "records_read"), Some("3000"));
    let written = (1322 + super::harness::DEMO_CODES_LOOKED_UP).to_string();
    assert_eq!(attr(ra, "records_written"), Some(written.as_str()));
    assert_eq!(attr(ra, "dead_letters"), Some("5"));
    let run_id = run["spanId"].as_str().unwrap();
    let trace = run["traceId"].as_str().unwrap();

    // Its read batches (3,000 registry records in batches of 200: 15, and one of HY-ESMS's
    // empty first page at least), and the plugin calls under them, in the run's trace.
    let batches: Vec<_> = named("batch").collect();
    assert!(batches.len() >= 16, "{} batch spans", batches.len());
    for (b, a) in &batches {
        assert_eq!(b["traceId"], trace);
        assert_eq!(b["parentSpanId"], run_id);
        assert!(matches!(attr(a, "side"), Some("a" | "b")), "{a:?}");
    }
    let calls: Vec<_> = named("plugin_call").collect();
    let called: BTreeSet<(&str, &str)> = calls
        .iter()
        .map(|(_, a)| (attr(a, "plugin").unwrap(), attr(a, "call").unwrap()))
        .collect();
    for want in [
        ("zhenfeng-registry", "read"),
        ("huiyang-esms", "read"),
        ("huiyang-esms", "write"),
    ] {
        assert!(called.contains(&want), "no {want:?} call span: {called:?}");
    }
    // Every call but `open` (each plugin opened once, when the deployment is built, before the
    // run) is in the run's trace.
    let outside: Vec<_> = calls
        .iter()
        .filter(|(c, a)| c["traceId"] != trace && attr(a, "call") != Some("open"))
        .map(|(_, a)| a)
        .collect();
    assert!(
        outside.is_empty(),
        "plugin calls outside the run's trace: {outside:?}"
    );

    // Names and counts only: no span carries a resident's identity number, phone or name.
    let residents = expected_residents(&env).await;
    let mut personal = Vec::new();
    for (id, r) in &residents {
        personal.push(id.clone());
        for field in ["联系电话", "姓名"] {
            if let Some(v) = r[field].as_str().filter(|v| v.chars().count() >= 2) {
                personal.push(v.to_string());
            }
        }
    }
    assert!(
        personal.len() > 2 * residents.len(),
        "{} values",
        personal.len()
    );
    for s in &strings {
        for p in &personal {
            assert!(
                !s.contains(p.as_str()),
                "a span attribute holds personal data: {s:?}"
            );
        }
    }
}
