//! `hub plugin test` and `hub plugin new` on real components: every shipped connector passes
//! its recorded exchanges, the Python connector passes the fixtures of the Rust template, a
//! scaffolded crate builds and passes its own tests, the harness fails where it must, and the
//! fourth connector (labour-station, written from the guide) syncs into HY-ESMS.
//!
//! Needs the connectors built (`scripts/build-plugins`, which `scripts/test` runs first).

use hub::plugin_test::{Options, Outcome, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn component(file: &str) -> PathBuf {
    let p = workspace().join("target/wasm32-wasip2/plugin").join(file);
    assert!(
        p.exists(),
        "{} is missing: run scripts/build-plugins",
        p.display()
    );
    p
}

async fn harness(wasm: &Path, fixtures: &Path) -> Outcome {
    // The Python component's interpreter imports file and socket interfaces (granted nothing).
    let link_all_wasi = wasm.ends_with("people_py.wasm");
    let opts = Options {
        file: wasm.to_path_buf(),
        fixtures: fixtures.to_path_buf(),
        record: false,
        live: Vec::new(),
        link_all_wasi,
    };
    run(&opts)
        .await
        .unwrap_or_else(|e| panic!("{}: {e:#}", fixtures.display()))
}

fn assert_passes(out: &Outcome) {
    assert!(
        out.failures.is_empty(),
        "{}\nFAIL {}",
        out.lines.join("\n"),
        out.failures.join("\nFAIL ")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shipped_connectors_pass_their_recorded_exchanges() {
    // Recorded from the simulators by scripts/record-fixtures; run it again after changing what
    // a connector sends.
    for (wasm, fixtures, last) in [
        (
            "huiyang_esms.wasm",
            "plugins/huiyang-esms/fixtures",
            "step 4: read zhenfeng-workers: 2 records in 3 batches (max 1), 0 deleted;",
        ),
        (
            "zhenfeng_registry.wasm",
            "plugins/zhenfeng-registry/fixtures",
            "step 3: read workers: 2 records in 1 batches (max 100), 0 deleted;",
        ),
    ] {
        let out = harness(&component(wasm), &workspace().join(fixtures)).await;
        assert_passes(&out);
        assert!(
            out.lines.last().unwrap().starts_with(last),
            "{wasm}: {}",
            out.lines.last().unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_labour_station_connector_passes_its_fixtures() {
    let out = harness(
        &component("labour_station.wasm"),
        &workspace().join("plugins/labour-station/fixtures"),
    )
    .await;
    assert_passes(&out);
    assert_eq!(out.lines[1], "step 1: check: ok");
    assert!(
        out.lines[2]
            .starts_with("step 2: read workers: 3 records in 2 batches (max 2), 0 deleted;"),
        "{}",
        out.lines[2]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_connector_passes_the_fixtures_of_the_rust_template() {
    let out = harness(
        &component("people_py.wasm"),
        &workspace().join("hub/templates/connector/fixtures"),
    )
    .await;
    assert_passes(&out);
    assert_eq!(
        out.lines.last().unwrap(),
        "step 3: write workers: created, conflict, rejected /phone"
    );
    assert!(
        out.lines[0].starts_with("people-py 0.1.0 "),
        "{}",
        out.lines[0]
    );
}

/// A copy of a fixture directory to spoil.
fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_harness_fails_on_a_missing_exchange_and_on_records_that_break_their_schema() {
    let wasm = component("labour_station.wasm");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &workspace().join("plugins/labour-station/fixtures"),
        dir.path(),
    );
    // The second run's export is gone, and the first run's export has an identity number with
    // a wrong check character (…0034 for …0033): the connector refuses the batch, naming the line.
    std::fs::remove_file(dir.path().join("003-read-again.request.http")).unwrap();
    std::fs::remove_file(dir.path().join("003-read-again.response.http")).unwrap();
    let resp = std::fs::read(dir.path().join("002-read.response.http")).unwrap();
    let (head, body) = resp.split_at(resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4);
    let (text, _, _) = encoding_rs::GB18030.decode(body);
    let spoiled = text.replace("522325198511120033", "522325198511120034");
    let mut bytes = head.to_vec();
    bytes.extend(encoding_rs::GB18030.encode(&spoiled).0.iter());
    std::fs::write(dir.path().join("002-read.response.http"), bytes).unwrap();
    let out = harness(&wasm, dir.path()).await;
    let f = out.failures.join("\n");
    assert!(
        f.contains("step 2: read workers, batch 1: plugin labour-station: read failed (permanent): export line 4: 身份证号码:"),
        "{f}"
    );
    assert!(
        f.contains("no recorded exchange answers GET http://station.test/export/workers.csv"),
        "{f}"
    );
    assert_eq!(out.failures.len(), 3, "{f}");

    // A record that breaks its schema is reported with its pointer: the system hands the Python
    // connector a blank name, which it trims to an empty one.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &workspace().join("hub/templates/connector/fixtures"),
        dir.path(),
    );
    let page = std::fs::read_to_string(dir.path().join("003-read-page-2.response.http")).unwrap();
    std::fs::write(
        dir.path().join("003-read-page-2.response.http"),
        page.replace("\"李伟\"", "\" \""),
    )
    .unwrap();
    let out = harness(&component("people_py.wasm"), dir.path()).await;
    let f = out.failures.join("\n");
    assert!(
        f.contains("step 2: read workers: record 3 (remote id 21) breaks schema worker: /name:"),
        "{f}"
    );
}

#[test]
fn a_scaffolded_connector_builds_and_passes_its_own_tests() {
    let dir = tempfile::tempdir().unwrap();
    let made =
        hub::plugin_new::scaffold("township-office", dir.path(), Some(&workspace())).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The workspace's target directory: its dependencies are built already.
    let target = workspace().join("target");
    let run = |args: &[&str]| {
        let out = Command::new(&cargo)
            .args(args)
            .current_dir(&made)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo {args:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tests = run(&["test", "--release", "--offline"]);
    assert!(tests.contains("test result: ok. 2 passed"), "{tests}");
    run(&[
        "build",
        "--offline",
        "--profile",
        "plugin",
        "--target",
        "wasm32-wasip2",
    ]);
    let wasm = target.join("wasm32-wasip2/plugin/township_office.wasm");
    let out = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(harness(&wasm, &made.join("fixtures")));
    assert_passes(&out);
    assert!(
        out.lines[0].starts_with("township-office 0.1.0 "),
        "{}",
        out.lines[0]
    );
    assert_eq!(out.lines.len(), 4, "{out:?}");
}

/// Serves a GB18030 CSV export at `/export/workers.csv` to requests carrying the station key.
async fn station(csv: &'static str) -> String {
    use axum::http::{HeaderMap, StatusCode, header};
    let app = axum::Router::new().route(
        "/export/workers.csv",
        axum::routing::get(move |h: HeaderMap| async move {
            if h.get("x-station-key").and_then(|v| v.to_str().ok()) != Some("station-secret") {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::CONTENT_TYPE, "text/plain")],
                    Vec::new(),
                );
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/csv; charset=gb18030")],
                encoding_rs::GB18030.encode(csv).0.into_owned(),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread")]
async fn the_labour_station_syncs_its_residents_working_in_huiyang_into_hy_esms() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let hy = hub_sims::start_hy_esms(
        "127.0.0.1:0".parse().unwrap(),
        &hub_sims::SimOptions {
            rate_limit: None,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let station = station(
        "序号,姓名,性别,身份证号码,联系电话,务工省份,务工县区代码,务工单位,工种,状态,更新时间\r\n\
         1,杨秀英,女,522325197806300045,139 0000 5678,广东省,441303,,普工,在外务工,2024/5/3 14:20\r\n\
         2,王强,男,522325900101001,+86 139-0000-1234,广东省,441303,,,待业,2024/5/2 9:05\r\n\
         3,李伟,男,522325198511120033,,贵州省,520102,,,已返乡,2024/5/3 14:20\r\n",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let plugins = workspace().join("target/wasm32-wasip2/plugin");
    let config = format!(
        r#"[hub]
data_dir = "{data}"

[plugins.labour-station]
path = "{plugins}/labour_station.wasm"
allow_hosts = ["{station}"]
config = {{ base_url = "{station}", township = "珉谷街道" }}
secrets.station_key = {{ value = "station-secret" }}

[plugins.huiyang-esms]
path = "{plugins}/huiyang_esms.wasm"
allow_hosts = ["{hy}"]
config = {{ base_url = "{hy}", province = "广东省", division_code = "441303" }}
secrets.api_key = {{ value = "demo-hy-key" }}

[syncs.labour]
schema = "worker"
a = {{ plugin = "labour-station", stream = "workers", where = {{ "/workplace/countyCode" = "441303" }} }}
b = {{ plugin = "huiyang-esms", stream = "zhenfeng-workers" }}
direction = "a_to_b"
schedule = "0 0 * * * *"
timezone = "Asia/Shanghai"
"#,
        data = dir.path().join("data").display(),
        plugins = plugins.display(),
        station = station,
        hy = hy.url(),
    );
    let path = dir.path().join("hub.toml");
    std::fs::write(&path, config).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["sync", "labour", "--once", "--config"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    let all: Value = reqwest::get(format!("{}/_admin/zhenfeng-workers", hy.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = all
        .as_array()
        .or_else(|| all["items"].as_array())
        .expect("a list");
    let find = |id: &str| items.iter().find(|i| i["idNo"] == id).cloned();
    let yang =
        find("522325197806300045").unwrap_or_else(|| panic!("杨秀英 not in HY-ESMS; {printed}"));
    assert_eq!(
        (yang["name"].as_str(), yang["phone"].as_str()),
        (Some("杨秀英"), Some("13900005678")),
        "{yang}"
    );
    let wang = find("522325199001010015").expect("王强, his 15-digit number upgraded");
    assert_eq!(wang["name"], "王强");
    assert!(
        find("522325198511120033").is_none(),
        "李伟 works in 520102, not Huiyang"
    );
}
