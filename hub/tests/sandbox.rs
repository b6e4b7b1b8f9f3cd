//! The plugin sandbox, tried with small hostile plugins (`plugins/fixture` in its hostile modes,
//! `plugins/contract-9`, `plugins/legacy-0-1-0`, `plugins/wants-files`), in process.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use hub::config;
use hub::daemon::Hub;
use hub::runtime::{PluginError, Runtime};
use hub::store::Side;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn plugin_dir() -> PathBuf {
    std::env::var_os("HUB_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/plugin")
        })
}

fn wasm(name: &str) -> String {
    let p = plugin_dir().join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run scripts/build-plugins first",
        p.display()
    );
    p.display().to_string()
}

/// A deployment with the given plugins (TOML fragments) and syncs; loads it.
fn config(dir: &Path, body: &str) -> config::Config {
    let text = format!("[hub]\ndata_dir = \"{}\"\n{body}", dir.display());
    let file = dir.join("hub.toml");
    std::fs::write(&file, &text).unwrap();
    config::load(&file).unwrap_or_else(|e| panic!("{e}"))
}

fn fixture(name: &str, mode: &str, extra: &str) -> String {
    format!(
        "[plugins.{name}]\npath = \"{}\"\nconfig = {{ mode = \"{mode}\" }}\n{extra}\n",
        wasm("fixture")
    )
}

async fn read_error(mode: &str, limits: &str) -> PluginError {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &fixture("h", mode, limits));
    let rt = Runtime::new(None).unwrap();
    let p = rt.load("h", &c.plugins["h"], dir.path()).await.unwrap();
    let mut s = p.session().await.unwrap();
    let e = s.read("records", None, 10).await.unwrap_err();
    // The instance is not entered again; a new one works.
    assert!(s.read("records", None, 10).await.is_err());
    e
}

/// Captures this thread's log lines.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let w = self.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || w.clone())
            .finish();
        tracing::subscriber::set_default(sub)
    }
}

#[tokio::test]
async fn an_endless_loop_is_ended_by_the_cpu_limit() {
    let e = read_error("loop", "limits = { cpu_ms_per_call = 300 }").await;
    assert_eq!(
        e.to_string(),
        "plugin h: read trapped: CPU time limit of 300 ms per call exceeded (limits.cpu_ms_per_call)"
    );
}

#[tokio::test]
async fn a_four_gigabyte_allocation_is_refused_by_the_memory_limit() {
    let e = read_error("alloc", "limits = { memory_mib = 64 }")
        .await
        .to_string();
    // 4 GiB asked in 64 MiB blocks: the first block that does not fit past 64 MiB is refused.
    assert!(e.starts_with("plugin h: read trapped: memory limit of 64 MiB exceeded (limits.memory_mib): the guest asked for "), "{e}");
}

#[tokio::test]
async fn unbounded_recursion_is_a_stack_overflow() {
    let e = read_error("recurse", "").await.to_string();
    assert!(
        e.starts_with("plugin h: read trapped: stack overflow"),
        "{e}"
    );
}

#[tokio::test]
async fn a_panic_fails_the_call_with_the_guests_message() {
    let e = read_error("panic", "").await.to_string();
    assert!(
        e.starts_with("plugin h: read trapped: the guest aborted (a panic?)"),
        "{e}"
    );
    assert!(e.contains("the fixture panics on purpose"), "{e}");
}

#[tokio::test]
async fn malformed_json_a_huge_record_and_a_huge_cursor_are_refused_whole() {
    let e = read_error("bad-json", "").await.to_string();
    assert!(
        e.starts_with("plugin h: read failed (contract): record 0 of the batch is not JSON"),
        "{e}"
    );
    // Enough memory for the guest to build the record: the host's record limit must catch it.
    let e = read_error("huge-record", "limits = { memory_mib = 1024 }")
        .await
        .to_string();
    // 100 MiB of 'a' plus the 8 bytes of {"x":""}; the default limit is 1024 KiB.
    assert_eq!(
        e,
        "plugin h: read failed (contract): record 0 of the batch is 104857608 bytes, over the limit of 1048576 (limits.max_record_kib)"
    );
    let e = read_error("huge-cursor", "").await.to_string();
    assert_eq!(
        e,
        "plugin h: read failed (contract): returned a cursor of 1048576 bytes, over the limit of 65536 (limits.max_cursor_kib)"
    );
}

#[tokio::test]
async fn a_refused_batch_writes_nothing_and_leaves_the_cursor() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    // A target that holds nothing (the run's first read of it finds no record to link).
    let sink = format!(
        "[plugins.sink]\npath = \"{}\"\nconfig = {{ mode = \"fixture\", total = 0 }}\n",
        wasm("fixture")
    );
    let body = format!(
        "{}{sink}[syncs.s]\nschema = \"worker\"\na = {{ plugin = \"bad\", stream = \"records\" }}\nb = {{ plugin = \"sink\", stream = \"records\" }}\ndirection = \"a_to_b\"\nschedule = \"@daily\"\n",
        fixture("bad", "bad-json", ""),
    );
    let hub = Hub::build(config(dir.path(), &body)).await.unwrap();
    let o = hub
        .run_once("s", &hub::store::RunTrigger::Manual)
        .await
        .unwrap();
    assert_eq!(o.status, hub::sync::RunStatus::Failed);
    assert!(
        o.errors[0].contains("record 0 of the batch is not JSON"),
        "{:?}",
        o.errors
    );
    assert_eq!(hub.engine.store().cursor("s", Side::A).await.unwrap(), None);
    assert_eq!(hub.engine.store().link_counts("s").await.unwrap(), (0, 0));
    assert_eq!((o.stats.b.created, o.stats.b.updated), (0, 0));
}

#[tokio::test]
async fn a_request_to_an_origin_not_granted_is_refused_and_logged() {
    let logs = Logs::default();
    let _g = logs.install();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[plugins.h]\npath = \"{}\"\nconfig = {{ mode = \"denied-host\", target = \"http://127.0.0.1:9/steal\" }}\n",
        wasm("fixture")
    );
    let c = config(dir.path(), &text);
    let rt = Runtime::new(None).unwrap();
    let mut s = rt
        .load("h", &c.plugins["h"], dir.path())
        .await
        .unwrap()
        .session()
        .await
        .unwrap();
    let e = s.read("records", None, 10).await.unwrap_err().to_string();
    assert_eq!(
        e,
        "plugin h: read failed (config): denied by the host: origin http://127.0.0.1:9 is not granted to plugin h"
    );
    assert!(
        logs.text()
            .contains("request refused: origin http://127.0.0.1:9 is not granted to plugin h"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_plugin_cannot_obtain_a_secrets_value() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // An echo server: answers with the request's x-token header.
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::get(move |h: axum::http::HeaderMap| {
            let t = h
                .get("x-token")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            *seen2.lock().unwrap() = t.clone();
            async move { format!("you sent {t}") }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let logs = Logs::default();
    let _g = logs.install();
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[plugins.h]\npath = \"{}\"\nallow_hosts = [\"http://{addr}\"]\nsecrets.token = {{ value = \"s3cr3t-VALUE\" }}\nconfig = {{ mode = \"secret-echo\", echo = \"http://{addr}/echo\" }}\n",
        wasm("hostile")
    );
    let c = config(dir.path(), &text);
    let rt = Runtime::new(None).unwrap();
    let mut s = rt
        .load("h", &c.plugins["h"], dir.path())
        .await
        .unwrap()
        .session()
        .await
        .unwrap();
    let batch = s.read("records", None, 10).await.unwrap();
    // The host did send the secret (positive control)…
    assert_eq!(*seen.lock().unwrap(), "s3cr3t-VALUE");
    // …but what came back to the plugin has the placeholder, and it has no environment.
    assert_eq!(
        batch.records[0].data["remark"],
        "you sent {{secret:token}} | env: 0"
    );
    assert!(!logs.text().contains("s3cr3t-VALUE"), "{}", logs.text());
    assert!(
        logs.text()
            .contains("the echo said: you sent {{secret:token}}")
    );
}

#[tokio::test]
async fn a_plugin_built_against_contract_nine_is_refused_naming_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &format!("[plugins.nine]\npath = \"{}\"\n", wasm("contract_9")),
    );
    let e = Runtime::new(None)
        .unwrap()
        .load("nine", &c.plugins["nine"], dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("it is built against hub:connector 9.0.0; this hub implements 0.2.0 and loads plugins built against 0.2.x or 0.1.x"),
        "{e}"
    );
}

#[tokio::test]
async fn a_plugin_built_against_the_older_contract_0_1_0_still_loads_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &format!("[plugins.old]\npath = \"{}\"\n", wasm("legacy_0_1_0")),
    );
    let p = Runtime::new(None)
        .unwrap()
        .load("old", &c.plugins["old"], dir.path())
        .await
        .unwrap();
    assert_eq!(p.manifest().name, "legacy");
    let b = p
        .session()
        .await
        .unwrap()
        .read("records", None, 10)
        .await
        .unwrap();
    assert!(b.records.is_empty() && !b.more);
}

#[tokio::test]
async fn a_connector_states_its_systems_normal_form_and_one_built_before_0_1_2_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &format!(
            "[plugins.zf]\npath = \"{}\"\nallow_hosts = [\"http://127.0.0.1:9\"]\n\
             config = {{ base_url = \"http://127.0.0.1:9\" }}\n\
             secrets.username = {{ value = \"u\" }}\nsecrets.password = {{ value = \"p\" }}\n\
             [plugins.old]\npath = \"{}\"\n",
            wasm("zhenfeng_registry"),
            wasm("legacy_0_1_0")
        ),
    );
    let rt = Runtime::new(None).unwrap();
    let zf = rt.load("zf", &c.plugins["zf"], dir.path()).await.unwrap();
    // HY-ESMS's `left` is stored by the registry as 务工状态 3 and read back as returned_home;
    // the registry does not keep a hire date (connector table, plugins/zhenfeng-registry).
    let sent = serde_json::json!({
        "idNumber": "11010519491231002X", "name": "王芳", "gender": "female",
        "workplace": {"province": "广东省", "countyCode": "441303"},
        "status": "left", "hiredOn": "2021-05-01"
    });
    let out = zf
        .session()
        .await
        .unwrap()
        .normal_form("workers", &[sent.to_string()])
        .await
        .unwrap()
        .expect("the registry connector states a normal form");
    let stored: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(stored["status"], "returned_home");
    assert_eq!(stored.get("hiredOn"), None);
    assert_eq!(stored["name"], "王芳");
    // A component built against 0.1.0 has no normal form: the host compares with what it sent.
    let old = rt.load("old", &c.plugins["old"], dir.path()).await.unwrap();
    let none = old
        .session()
        .await
        .unwrap()
        .normal_form("records", &["{}".to_string()])
        .await
        .unwrap();
    assert_eq!(none, None);
}

/// A component built against 0.1.2 (legacy-0-1-2: wit-bindgen on `wit/connector/v0.1.2`, world
/// `plugin-with-normal-form`) loads in the 0.2 host through the 0.1 adapter: its manifest reads
/// as 0.2 says it (no native deletes, the host's batch size), its read gives no totals, its
/// optional `normal-form` export is called (it upper-cases `status`), and a delete asked of it
/// is refused by the host without reaching it.
#[tokio::test]
async fn a_plugin_built_against_0_1_2_runs_through_the_adapter_and_its_normal_form_is_called() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &format!("[plugins.old]\npath = \"{}\"\n", wasm("legacy_0_1_2")),
    );
    let p = Runtime::new(None)
        .unwrap()
        .load("old", &c.plugins["old"], dir.path())
        .await
        .unwrap();
    let stream = p.stream("records").expect("its stream");
    assert_eq!((stream.can_delete, stream.max_write_batch), (false, 0));
    let mut s = p.session().await.unwrap();
    let b = s.read("records", None, 10).await.unwrap();
    assert!(b.records.is_empty() && !b.more && b.remaining.is_none());
    let out = s
        .normal_form(
            "records",
            &[r#"{"status":"employed","name":"王芳"}"#.to_string()],
        )
        .await
        .unwrap()
        .expect("0.1.2's optional normal form is called");
    let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(v, serde_json::json!({"status": "EMPLOYED", "name": "王芳"}));
    let delete = hub::runtime::TargetRecord {
        op: hub::runtime::WriteOp::Delete,
        data: "{}".into(),
        remote_id: Some("7".into()),
        version: None,
        current: None,
    };
    let r = s.write("records", &[delete]).await.unwrap();
    match &r[..] {
        [hub::runtime::WriteResult::Rejected(rej)] => assert_eq!(
            rej.reason,
            "the connector is built against contract 0.1, which cannot delete a record natively"
        ),
        other => panic!("{other:?}"),
    }
}

/// `hub plugin inspect` names each component's contract and what the host adapts for it: the
/// 0.1 adapter for 0.1.0 (no streamed bodies, no normal form), 0.1.1 (the Python connector: no
/// normal form) and 0.1.2; nothing for a 0.2.0 component. Its streams say what they can do.
#[test]
fn hub_plugin_inspect_shows_the_contract_and_what_the_host_adapts() {
    let hub = env!("CARGO_BIN_EXE_hub");
    let inspect = |file: &str| {
        let out = std::process::Command::new(hub)
            .args(["plugin", "inspect", "--json", file])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{file}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let common = "no native deletes (ends in field form only); no read totals; a duplicate create comes as rejected (linked on a later read)";
    let v = inspect(&wasm("legacy_0_1_0"));
    assert_eq!(v["contract"], "0.1.0");
    assert_eq!(
        v["adaptation"],
        format!(
            "contract 0.1 adapter (host 0.2.0): send-streaming (0.1.1): not called; normal-form: taken as storing what was sent; {common}"
        )
    );
    // The Python component imports WASI beyond the default subset: it loads with
    // link_all_wasi, and its manifest is read so.
    let v = inspect(&wasm("people_py"));
    assert_eq!(v["contract"], "0.1.1");
    assert_eq!(
        (&v["loadable"], &v["needs_link_all_wasi"]),
        (&serde_json::json!(true), &serde_json::json!(true))
    );
    assert_eq!(v["manifest"]["name"], "people-py");
    assert_eq!(
        v["adaptation"],
        format!(
            "contract 0.1 adapter (host 0.2.0): normal-form: taken as storing what was sent; {common}"
        )
    );
    let v = inspect(&wasm("legacy_0_1_2"));
    assert_eq!(v["contract"], "0.1.2");
    assert_eq!(
        v["adaptation"],
        format!("contract 0.1 adapter (host 0.2.0): {common}")
    );
    let v = inspect(&wasm("huiyang_esms"));
    assert_eq!(v["contract"], "0.2.0");
    assert_eq!(v["adaptation"], serde_json::Value::Null);
    let streams = v["manifest"]["streams"].as_array().unwrap();
    let workers = streams
        .iter()
        .find(|s| s["name"] == "zhenfeng-workers")
        .unwrap();
    assert_eq!(
        (&workers["delete"], &workers["write"]),
        (&serde_json::json!(true), &serde_json::json!(true))
    );
    let jobs = streams.iter().find(|s| s["name"] == "jobs").unwrap();
    assert_eq!(jobs["delete"], false);
    // In words: the adapter's line, and what each stream can do.
    let out = std::process::Command::new(hub)
        .args(["plugin", "inspect", &wasm("legacy_0_1_2")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "  adapted   contract 0.1 adapter (host 0.2.0): {common}\n"
        )),
        "{text}"
    );
    let out = std::process::Command::new(hub)
        .args(["plugin", "inspect", &wasm("huiyang_esms")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("adapted"), "{text}");
    assert!(
        text.contains("(worker 1.0.1; read, write, delete)"),
        "{text}"
    );
}

#[tokio::test]
async fn a_plugin_that_wants_files_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &format!("[plugins.f]\npath = \"{}\"\n", wasm("wants_files")),
    );
    let e = Runtime::new(None)
        .unwrap()
        .load("f", &c.plugins["f"], dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("wasi:filesystem/types") && e.contains("no files, sockets or environment"),
        "{e}"
    );
}

#[tokio::test]
async fn a_pinned_digest_must_match_and_a_corrupt_cache_entry_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &format!(
            "[plugins.f]\npath = \"{}\"\nsha256 = \"{}\"\n",
            wasm("fixture"),
            "0".repeat(64)
        ),
    );
    let rt = Runtime::new(Some(dir.path().join("cache"))).unwrap();
    let e = rt
        .load("f", &c.plugins["f"], dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("but the config pins {}: refused", "0".repeat(64))),
        "{e}"
    );
    let c = config(
        dir.path(),
        &format!("[plugins.f]\npath = \"{}\"\n", wasm("fixture")),
    );
    let p = rt.load("f", &c.plugins["f"], dir.path()).await.unwrap();
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let blob = entries
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cache entry")
        .clone();
    assert!(
        blob.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&p.digest)
    );
    // Corrupt the entry: its checksum no longer matches, so it is compiled again, not trusted.
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let p2 = rt.load("f", &c.plugins["f"], dir.path()).await.unwrap();
    assert_eq!(
        p2.session()
            .await
            .unwrap()
            .read("records", None, 3)
            .await
            .unwrap()
            .records
            .len(),
        3
    );
    assert_ne!(
        std::fs::read(&blob).unwrap(),
        bytes,
        "the entry was written again"
    );
}

#[tokio::test]
async fn a_plugin_asking_for_a_secret_or_host_not_granted_fails_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let hy = wasm("huiyang_esms");
    let base = "config = { base_url = \"http://127.0.0.1:9001\", province = \"广东省\", division_code = \"441303\" }";
    // No secret granted.
    let c = config(
        dir.path(),
        &format!(
            "[plugins.hy]\npath = \"{hy}\"\nallow_hosts = [\"http://127.0.0.1:9001\"]\n{base}\n"
        ),
    );
    let e = Runtime::new(None)
        .unwrap()
        .load("hy", &c.plugins["hy"], dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "plugin hy: asks for secret \"api_key\", which the deployment does not grant (add it under [plugins.hy.secrets])"
    );
    // The secret, but another port than the one its base_url names.
    let c = config(
        dir.path(),
        &format!(
            "[plugins.hy]\npath = \"{hy}\"\nallow_hosts = [\"http://127.0.0.1:9002\"]\nsecrets.api_key = {{ value = \"k-123456\" }}\n{base}\n"
        ),
    );
    let e = Runtime::new(None)
        .unwrap()
        .load("hy", &c.plugins["hy"], dir.path())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "plugin hy: needs origin http://127.0.0.1:9001, which the deployment does not grant (add it to [plugins.hy].allow_hosts)"
    );
}

#[test]
fn hub_plugin_inspect_shows_what_a_component_asks_for_and_whether_it_loads() {
    let hub = env!("CARGO_BIN_EXE_hub");
    let out = std::process::Command::new(hub)
        .args(["plugin", "inspect", "--json", &wasm("huiyang_esms")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["contract"], "0.2.0");
    assert_eq!(v["loadable"], true);
    assert_eq!(v["manifest"]["streams"][0]["name"], "zhenfeng-workers");
    assert_eq!(v["manifest"]["streams"][0]["schema"], "worker");
    assert_eq!(v["manifest"]["secrets"], serde_json::json!(["api_key"]));
    assert_eq!(v["manifest"]["hosts"], serde_json::json!(["${base_url}"]));
    assert!(
        v["exports"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("hub:connector/connector@0.2.0"))
    );
    // 0.2 has the normal form in the connector interface: no interface of its own.
    assert!(
        !v["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("hub:connector/normal-form"))
    );
    let out = std::process::Command::new(hub)
        .args(["plugin", "inspect", &wasm("contract_9")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("contract  hub:connector 9.0.0")
            && text.contains("loadable  NO: it is built against hub:connector 9.0.0"),
        "{text}"
    );
}

#[tokio::test]
async fn with_link_all_wasi_a_plugin_that_wants_files_loads_and_still_reads_none() {
    // `link_all_wasi` links the file and socket interfaces (for componentize-py's Python) with
    // nothing granted: no preopened directory, so std::fs finds no file system at all.
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &format!(
            "[plugins.f]\npath = \"{}\"\nlink_all_wasi = true\n",
            wasm("wants_files")
        ),
    );
    let rt = Runtime::new(None).unwrap();
    let p = rt.load("f", &c.plugins["f"], dir.path()).await.unwrap();
    let mut s = p.session().await.unwrap();
    // /etc/passwd is under no preopened directory: WASI's ENOENT (errno 44 in wasi-libc).
    assert_eq!(
        s.check().await.unwrap_err().to_string(),
        "plugin f: check failed (permanent): No such file or directory (os error 44)"
    );
}

// ---- Issue 24: a hostile connector (`plugins/hostile`) against the HTTP capability, the log,
// ---- and the bounds of what it returns.

/// The secret the hostile plugin is granted as `token`: `/` (JSON's `\/`), `+` and a space
/// (form encoding), and ASCII letters and digits.
const SECRET: &str = "s3cr3t/VALUE+x y";

/// A server that echoes the request's `x-token` header in the encoding its path names, and
/// counts the requests it received.
async fn echo_server() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use axum::http::{HeaderMap, header};
    use axum::routing::get;
    use base64::Engine as _;
    use std::io::Write as _;
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    let token = move |h: &HeaderMap| {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        h.get("x-token")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let t = token.clone();
    let gzip = move |h: HeaderMap| {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(format!("you sent {}", t(&h)).as_bytes())
            .unwrap();
        async move { ([(header::CONTENT_ENCODING, "gzip")], z.finish().unwrap()) }
    };
    let t = token.clone();
    let json = move |h: HeaderMap| {
        let t = t(&h);
        // `s` as \u0073, `/` as \/, the rest as is.
        let escaped = t.replacen('s', "\\u0073", 1).replace('/', "\\/");
        async move { format!("{{\"echo\":\"{escaped}\"}}") }
    };
    let t = token.clone();
    let in_header = move |h: HeaderMap| {
        let t = t(&h);
        let pct: String = t.bytes().map(|b| format!("%{b:02x}")).collect();
        async move { ([("x-echo", pct)], "ok") }
    };
    let t = token.clone();
    let basic = move |h: HeaderMap| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{}", t(&h)));
        async move { format!("authorization: Basic {b64}") }
    };
    let t = token.clone();
    let html = move |h: HeaderMap| {
        let t = t(&h);
        let refs: String = t.chars().map(|c| format!("&#x{:X};", c as u32)).collect();
        async move { format!("<p>{refs}</p>") }
    };
    let t = token.clone();
    let mixed = move |h: HeaderMap| {
        // Percent, JSON and form escapes within one occurrence.
        let t = t(&h)
            .replacen("s3", "%73\\u0033", 1)
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace(' ', "+");
        async move { format!("mixed {t}") }
    };
    let t = token.clone();
    let brotli = move |h: HeaderMap| {
        let _ = t(&h);
        async move {
            (
                [(header::CONTENT_ENCODING, "br")],
                vec![0x8b_u8, 0x02, 0x80],
            )
        }
    };
    let t = token.clone();
    let plain = move |h: HeaderMap| {
        let _ = t(&h);
        async move { "plain ok" }
    };
    let app = axum::Router::new()
        .route("/gzip", get(gzip))
        .route("/json", get(json))
        .route("/header", get(in_header))
        .route("/basic", get(basic))
        .route("/html", get(html))
        .route("/mixed", get(mixed))
        .route("/br", get(brotli))
        .route("/plain", axum::routing::any(plain));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// Runs the hostile plugin's `read` once with `config` (inline TOML table body) and the secret
/// granted; returns the worker's `remark`.
async fn hostile_remark(rt: &Runtime, addr: std::net::SocketAddr, config_body: &str) -> String {
    let batch = hostile_read(
        rt,
        &format!("allow_hosts = [\"http://{addr}\"]\nconfig = {{ {config_body} }}"),
    )
    .await
    .unwrap();
    batch.records[0].data["remark"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Loads the hostile plugin as `h` with the secret `token` granted and `rest` (TOML lines of
/// its `[plugins.h]` table), and calls `read` once in a fresh session.
async fn hostile_read(rt: &Runtime, rest: &str) -> Result<hub::runtime::ReadBatch, PluginError> {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[plugins.h]\npath = \"{}\"\nsecrets.token = {{ value = \"{SECRET}\" }}\n{rest}\n",
        wasm("hostile")
    );
    let c = config(dir.path(), &text);
    let p = rt.load("h", &c.plugins["h"], dir.path()).await.unwrap();
    p.session().await.unwrap().read("records", None, 10).await
}

fn cached_runtime() -> (Runtime, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cache = tempfile::tempdir().unwrap();
    (
        Runtime::new(Some(cache.path().to_path_buf())).unwrap(),
        cache,
    )
}

#[tokio::test]
async fn a_secret_echoed_compressed_escaped_encoded_or_in_base64_never_reaches_the_plugin() {
    use base64::Engine as _;
    let (addr, seen) = echo_server().await;
    let (rt, _cache) = cached_runtime();
    let ask = |path: &str| {
        format!(
            "mode = \"request\", method = \"GET\", url = \"http://{addr}{path}\", headers = {{ x-token = \"{{{{secret:token}}}}\" }}"
        )
    };
    // Each form as the server writes it: none of them may reach the plugin.
    let pct: String = SECRET.bytes().map(|b| format!("%{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("user:{SECRET}"));
    let cases = [
        (
            "/json",
            "body {\"echo\":\"{{secret:token}}\"}",
            "\\u00733cr3t\\/VALUE".to_string(),
        ),
        ("/header", "x-echo: {{secret:token}}", pct),
        // "user:" takes 5 bytes: the secret starts at the third alignment; the last group
        // holds its own bits and padding only, so the Base64 text is the core and a
        // leftover of at most 2 characters around it.
        ("/basic", "{{secret:token}}", b64[8..24].to_string()),
        (
            "/html",
            "<p>{{secret:token}}</p>",
            "&#x73;&#x33;".to_string(),
        ),
        (
            "/mixed",
            "mixed {{secret:token}}",
            "%73\\u0033cr3t%2FVALUE".to_string(),
        ),
    ];
    for (path, expected, form) in cases {
        let remark = hostile_remark(&rt, addr, &ask(path)).await;
        assert!(remark.contains(expected), "{path}: {remark}");
        assert!(!remark.contains(&form), "{path}: {remark}");
        assert!(!remark.contains("cr3t"), "{path}: {remark}");
    }
    // The server did receive the secret each time (positive control).
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 5);
    // A compressed answer (gzip, though the host asked for identity; brotli) is refused, not
    // handed over, and the server's coding is not quoted (it could carry the secret back).
    for path in ["/gzip", "/br"] {
        assert_eq!(
            hostile_remark(&rt, addr, &ask(path)).await,
            "error invalid request: the answer has a content coding other than identity: refused, since only a body as it is can be scrubbed of secrets (the host asks for identity)"
        );
    }
}

#[tokio::test]
async fn host_connection_and_coding_headers_and_methods_outside_the_contract_are_refused_unsent() {
    let logs = Logs::default();
    let _g = logs.install();
    let (addr, seen) = echo_server().await;
    let (rt, _cache) = cached_runtime();
    let url = format!("http://{addr}/plain");
    for (name, value) in [
        ("Host", "intranet.example"),
        ("connection", "close"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("te", "trailers"),
        ("upgrade", "h2c"),
        ("proxy-authorization", "Basic eA=="),
        ("content-length", "0"),
        ("accept-encoding", "gzip"),
        ("content-encoding", "{{secret:token}}"),
        ("range", "bytes=0-10"),
        ("X-Forwarded-Host", "intranet.example"),
        ("forwarded", "host=intranet.example"),
        ("x-http-method-override", "DELETE"),
    ] {
        let remark = hostile_remark(
            &rt,
            addr,
            &format!(
                "mode = \"request\", method = \"GET\", url = \"{url}\", headers = {{ \"{name}\" = \"{value}\" }}"
            ),
        )
        .await;
        assert_eq!(
            remark,
            format!(
                "error invalid request: header \"{}\" is the host's to set, not a plugin's (connection-level, framing and content-coding headers are refused)",
                name.to_ascii_lowercase()
            )
        );
    }
    for method in ["PROPFIND", "TRACE", "CONNECT", "HEAD", "OPTIONS"] {
        let remark = hostile_remark(
            &rt,
            addr,
            &format!("mode = \"request\", method = \"{method}\", url = \"{url}\""),
        )
        .await;
        assert_eq!(
            remark,
            format!(
                "error invalid request: method \"{method}\" is not one the contract allows (GET, POST, PUT, PATCH, DELETE)"
            )
        );
    }
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was sent"
    );
    assert!(logs.text().contains("request refused: header \"host\""));
    // Positive control: an ordinary request with an ordinary header goes out.
    let remark = hostile_remark(
        &rt,
        addr,
        &format!(
            "mode = \"request\", method = \"patch\", url = \"{url}\", headers = {{ accept = \"text/plain\" }}"
        ),
    )
    .await;
    assert!(remark.starts_with("status 200 | "), "{remark}");
    assert!(remark.ends_with("| body plain ok"), "{remark}");
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_plugin_that_never_drops_its_bodies_is_capped_and_only_its_call_fails() {
    // Every answer sends its head and one chunk, then holds its connection open for good.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n";
                let _ = sock.write_all(head).await;
                // Held until the client closes its end.
                while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let (rt, _cache) = cached_runtime();
    let before = fds();
    let remark = hostile_remark(
        &rt,
        addr,
        &format!("mode = \"open-bodies\", n = 200, url = \"http://{addr}/open\""),
    )
    .await;
    assert_eq!(
        remark,
        "opened 16 | invalid request: 16 response bodies are open, the most one instance may hold (limits.max_open_bodies): drop one before sending another"
    );
    // The session is gone with its bodies: their connections are closed, on the server's
    // side (in this process too) as well. Other tests of this binary open and close
    // descriptors meanwhile, so the count is given up to 5 s to come down.
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if fds() <= before + 2 {
            break;
        }
    }
    assert!(
        fds() <= before + 2,
        "{} descriptors before, {} after",
        before,
        fds()
    );
}

#[tokio::test]
async fn a_plugin_cannot_start_a_log_line_of_its_own() {
    let logs = Logs::default();
    let _g = logs.install();
    let (addr, _) = echo_server().await;
    let (rt, _cache) = cached_runtime();
    hostile_remark(
        &rt,
        addr,
        "mode = \"log-forge\", message = \"ok\\n2026-12-04T00:00:00.000000Z  INFO hub: forged\\r\\u001b[31mred\\u0000\"",
    )
    .await;
    let text = logs.text();
    assert!(
        text.contains("ok\\n2026-12-04T00:00:00.000000Z  INFO hub: forged\\r\\u{1b}[31mred\\u{0}"),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-12-04T00:00:00.000000Z")),
        "{text}"
    );
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text}");
}

#[tokio::test]
async fn a_secret_the_deployment_grants_but_the_manifest_does_not_declare_is_never_placed() {
    let logs = Logs::default();
    let _g = logs.install();
    let (addr, seen) = echo_server().await;
    let (rt, _cache) = cached_runtime();
    let batch = hostile_read(
        &rt,
        &format!(
            "allow_hosts = [\"http://{addr}\"]\nsecrets.hy_key = {{ value = \"another-plugins-key\" }}\n\
             config = {{ mode = \"request\", method = \"GET\", url = \"http://{addr}/plain\", headers = {{ x-token = \"{{{{secret:hy_key}}}}\" }} }}"
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        batch.records[0].data["remark"],
        "error denied by the host: secret \"hy_key\" is not granted to plugin h"
    );
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(
        logs.text().contains("the deployment grants secrets the plugin's manifest does not declare: they are not placed in its requests")
            && logs.text().contains("hy_key")
            && !logs.text().contains("another-plugins-key"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn an_updated_at_beyond_rfc_3339_refuses_the_batch() {
    let (rt, _cache) = cached_runtime();
    let e = hostile_read(
        &rt,
        "config = { mode = \"huge-updated-at\" }\nlimits = { memory_mib = 512 }",
    )
    .await
    .unwrap_err()
    .to_string();
    // 25 bytes of time and 20 MiB of spaces; the message shows the first 40 characters.
    assert_eq!(
        e,
        format!(
            "plugin h: read failed (contract): record 0 of the batch has an updated-at that is not an RFC 3339 date-time with offset (20971545 bytes: \"2026-12-04T00:00:00+08:00{}\")",
            " ".repeat(15)
        )
    );
}

/// The bytes of a state store's files (`state.db` and its `-wal` and `-shm`).
fn store_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("state.db"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[tokio::test]
async fn oversized_or_schema_breaking_write_results_go_to_dead_letters_and_never_into_the_store() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cases = [
        (
            "huge-id",
            "plugin sink broke the contract in the write's result: a remote id of 20971520 bytes, over the limit of 1024; the result is refused",
        ),
        (
            "huge-version",
            "plugin sink broke the contract in the write's result: a version of 10485760 bytes, over the limit of 1024; the result is refused",
        ),
        (
            // {"x":"…"}: 8 bytes around 10 MiB of 's'; the record limit is 1024 KiB.
            "huge-stored",
            "plugin sink broke the contract in the write's result: a stored record of 10485768 bytes, over the limit of 1048576 (limits.max_record_kib); the result is refused",
        ),
        (
            "bad-stored",
            "plugin sink returned a stored record that breaks schema worker ",
        ),
    ];
    for (written, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            "[plugins.src]\npath = \"{}\"\nconfig = {{ mode = \"fixture\", total = 3 }}\n\
             [plugins.sink]\npath = \"{}\"\nsecrets.token = {{ value = \"{SECRET}\" }}\nconfig = {{ written = \"{written}\" }}\nlimits = {{ memory_mib = 512 }}\n\
             [syncs.s]\nschema = \"worker\"\na = {{ plugin = \"src\", stream = \"records\" }}\nb = {{ plugin = \"sink\", stream = \"records\" }}\ndirection = \"a_to_b\"\nschedule = \"@daily\"\n",
            wasm("fixture"),
            wasm("hostile")
        );
        let hub = Hub::build(config(dir.path(), &body)).await.unwrap();
        let o = hub
            .run_once("s", &hub::store::RunTrigger::Manual)
            .await
            .unwrap();
        assert_eq!((o.stats.b.created, o.stats.b.rejected), (0, 3), "{written}");
        let store = hub.engine.store();
        let dead = store.dead_letters(Some("s")).await.unwrap();
        assert_eq!(dead.len(), 3, "{written}");
        for d in &dead {
            assert_eq!(d.stage.as_str(), "write");
            assert!(
                d.errors[0].message.starts_with(says),
                "{written}: {:?}",
                d.errors
            );
            assert!(d.errors[0].message.len() < 4200, "{written}");
        }
        if written == "bad-stored" {
            assert_eq!(dead[0].errors[0].pointer, "/idNumber");
        }
        let audit = store.audit_entries(Some("s"), 100).await.unwrap();
        assert_eq!(audit.len(), 3);
        assert!(
            audit
                .iter()
                .all(|a| a.result == "rejected" && a.remote_id.is_none()),
            "{audit:?}"
        );
        drop(hub);
        let bytes = store_bytes(dir.path());
        eprintln!("{written}: state store {bytes} bytes after the run");
        assert!(
            bytes < 2 << 20,
            "{written}: the state store holds {bytes} bytes"
        );
    }
}

#[test]
fn hub_plugin_inspect_warns_of_a_stream_declaring_an_older_schema_version_than_the_catalogue() {
    let hub = env!("CARGO_BIN_EXE_hub");
    // legacy-0-1-0 was built against contract 0.1.0 and declares worker 1.0.0; the catalogue
    // holds worker 1.0.1 (schemas/worker.json, x-version).
    let out = std::process::Command::new(hub)
        .args(["plugin", "inspect", &wasm("legacy_0_1_0")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("  warning   stream records declares worker 1.0.0, older than the catalogue's 1.0.1: declare 1.0.1 (records are validated against 1.0.1 whatever a stream declares; `hub schema list` shows the catalogue)"),
        "{text}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning does not make it unloadable"
    );
    // The shipped HY-ESMS connector declares the catalogue's versions: no warning.
    let out = std::process::Command::new(hub)
        .args(["plugin", "inspect", "--json", &wasm("huiyang_esms")])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["manifest"]["warnings"], serde_json::json!([]));
}
