//! `hub-bench`: one full sync of N generated worker records, end to end through the real engine
//! and a fresh SQLite state store, in three forms measured side by side in one process run:
//!
//! 1. **native**: the fixture connector (`plugins/fixture`) compiled into the host, on both
//!    ends (it generates the records on `a`, accepts every write on `b`);
//! 2. **wasm**: the same connector as a component (`fixture.wasm`), under the usual limits;
//! 3. **http**: the real connectors (`zhenfeng_registry.wasm`, `huiyang_esms.wasm`) against the
//!    ZF-REG and HY-ESMS simulators over loopback HTTP (rate limit off): ZF-REG seeded at
//!    `--http-scale` (1,322 valid residents in 441303 per unit of scale), synced a→b with the
//!    demo's `where`;
//! 4. **wasm-pg** (with `--postgres`): the wasm form on a PostgreSQL state store;
//! 5. **incremental**: the wasm form's full sync on a fresh store, then, on the same store, a
//!    run of the same sync whose source has 1 % of its workers edited since (the fixture's
//!    `changed`: every hundredth worker's phone, at the end of its change feed); the run reads
//!    and writes those alone. Printed: its wall time as a share of the full sync's before it
//!    (issue 17's target: ≤ 3 %).
//!
//! The forms alternate within each round (these machines are noisy: the ratios of one round
//! are measured seconds apart); each figure printed is the median over the rounds. Records/s
//! counts the records written to `b` per second of the run's wall-clock time; `cpu` is the
//! process's CPU time over the run (the engine and the connectors run on one thread; the
//! simulators of the http form run on another thread and are counted too).
//!
//! With `--peer`, the Python baseline (`bench/peer/peer.py`, run with the venv's python, see
//! `bench/README.md`) runs the same read-validate-link-write loop on the same generated
//! records, in memory and over HTTP against the same simulators, and its figures are printed
//! as ratios against the hub's.
//!
//! ```sh
//! scripts/build-plugins
//! cargo bench -p hub --bench hub-bench -- --records 100000 --rounds 3 [--http-scale 20] [--peer]
//! ```
//!
//! Options: `--records N` (default 20,000), `--rounds R` (3), `--batch B` (records per read and
//! write call, 200), `--http-scale S` (0 skips the http form; default 5), `--peer` (off),
//! `--python PATH` (default `target/tools/peer-venv/bin/python`), `--postgres` (also the wasm form
//! on a PostgreSQL store: a fresh database per round on the server `HUB_TEST_POSTGRES` names,
//! default `postgres://postgres@127.0.0.1:5432/postgres`).

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use hub::config::{Direction, FieldPolicy, Limits};
use hub::keys::Keys;
use hub::runtime::{
    Batch, ConnectorError, Existing, Manifest, NativeConnector, NativeSession, Plugin, Rejection,
    Remaining, SourceRecord, StreamInfo, TargetRecord, WriteOp, WriteResult, Written,
};
use hub::store::Store;
use hub::sync::{EndpointSpec, Engine, RunOutcome, SyncSpec};
use hub_sdk::prelude::Guest as _;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fixture connector compiled into the host: calls go straight to `plugins/fixture`'s
/// `Guest` implementation, with the contract's types converted as the canonical ABI would copy
/// them.
struct NativeFixture;

/// A session of the native fixture: its configuration, opened again before a call when the
/// other session (source or target) opened its own last, since the fixture keeps its
/// configuration in one place per process as a component keeps it per instance.
struct NativeFixtureSession {
    config: String,
}

/// The configuration the native fixture was opened with last.
static OPENED: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

impl NativeFixtureSession {
    fn enter(&self) -> Result<(), ConnectorError> {
        let mut opened = OPENED.lock().expect("fixture config");
        if *opened != self.config {
            fixture::Fixture::open(self.config.clone()).map_err(host_error)?;
            opened.clone_from(&self.config);
        }
        Ok(())
    }
}

fn host_error(e: hub_sdk::prelude::ConnectorError) -> ConnectorError {
    use hub_sdk::prelude::ConnectorError as G;
    match e {
        G::Config(m) => ConnectorError::Config(m),
        G::Auth(m) => ConnectorError::Auth(m),
        G::Transient(m) => ConnectorError::Transient(m),
        G::Permanent(m) => ConnectorError::Permanent(m),
        G::Unsupported(m) => ConnectorError::Unsupported(m),
    }
}

impl NativeConnector for NativeFixture {
    fn manifest(&self) -> Manifest {
        let m = fixture::Fixture::manifest();
        Manifest {
            name: m.name,
            version: m.version,
            system: m.system,
            streams: m
                .streams
                .into_iter()
                .map(|s| StreamInfo {
                    name: s.name,
                    schema: s.schema,
                    schema_version: s.schema_version,
                    can_read: s.can_read,
                    can_write: s.can_write,
                    can_delete: s.can_delete,
                    max_write_batch: s.max_write_batch,
                })
                .collect(),
            hosts: m.hosts,
            secrets: m.secrets,
        }
    }

    fn open(&self, config: &str) -> Result<Box<dyn NativeSession>, ConnectorError> {
        fixture::Fixture::open(config.to_string()).map_err(host_error)?;
        *OPENED.lock().expect("fixture config") = config.to_string();
        Ok(Box::new(NativeFixtureSession {
            config: config.to_string(),
        }))
    }
}

impl NativeSession for NativeFixtureSession {
    fn read(
        &mut self,
        stream: &str,
        cursor: Option<&str>,
        max: u32,
    ) -> Result<Batch, ConnectorError> {
        self.enter()?;
        let b = fixture::Fixture::read(stream.to_string(), cursor.map(str::to_string), max)
            .map_err(host_error)?;
        Ok(Batch {
            records: b
                .records
                .into_iter()
                .map(|r| SourceRecord {
                    data: r.data,
                    remote_id: r.remote_id,
                    version: r.version,
                    updated_at: r.updated_at,
                    deleted: r.deleted,
                })
                .collect(),
            cursor: b.cursor,
            more: b.more,
            remaining: b.remaining.map(|r| Remaining {
                count: r.count,
                exact: r.exact,
            }),
        })
    }

    fn write(
        &mut self,
        stream: &str,
        records: &[TargetRecord],
    ) -> Result<Vec<WriteResult>, ConnectorError> {
        self.enter()?;
        use hub_sdk::prelude::WriteResult as G;
        let records = records
            .iter()
            .map(|r| hub_sdk::prelude::TargetRecord {
                op: match r.op {
                    WriteOp::Upsert => hub_sdk::prelude::WriteOp::Upsert,
                    WriteOp::Delete => hub_sdk::prelude::WriteOp::Delete,
                },
                data: r.data.clone(),
                remote_id: r.remote_id.clone(),
                version: r.version.clone(),
                current: r.current.clone(),
            })
            .collect();
        let written = |w: hub_sdk::prelude::Written| Written {
            remote_id: w.remote_id,
            version: w.version,
            stored: w.stored,
        };
        Ok(fixture::Fixture::write(stream.to_string(), records)
            .map_err(host_error)?
            .into_iter()
            .map(|r| match r {
                G::Created(w) => WriteResult::Created(written(w)),
                G::Updated(w) => WriteResult::Updated(written(w)),
                G::Unchanged(w) => WriteResult::Unchanged(written(w)),
                G::Conflict(m) => WriteResult::Conflict(m),
                G::Retry(m) => WriteResult::Retry(m),
                G::Rejected(r) => WriteResult::Rejected(Rejection {
                    reason: r.reason,
                    pointer: r.pointer,
                }),
                G::Deleted(w) => WriteResult::Deleted(written(w)),
                G::Duplicate(e) => WriteResult::Duplicate(Existing {
                    remote_id: e.remote_id,
                    version: e.version,
                    data: e.data,
                }),
            })
            .collect())
    }
}

struct Options {
    records: u64,
    rounds: usize,
    batch: u32,
    http_scale: u32,
    peer: bool,
    python: PathBuf,
    /// Also run the wasm form on a PostgreSQL store: a fresh database per round on the server
    /// `HUB_TEST_POSTGRES` names (default the local one, as the store's tests); `None` skips it.
    postgres: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        records: 20_000,
        rounds: 3,
        batch: 200,
        http_scale: 5,
        peer: false,
        python: root().join("target/tools/peer-venv/bin/python"),
        postgres: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--records" => o.records = value("--records").parse().expect("--records N"),
            "--rounds" => o.rounds = value("--rounds").parse().expect("--rounds R"),
            "--batch" => o.batch = value("--batch").parse().expect("--batch B"),
            "--http-scale" => o.http_scale = value("--http-scale").parse().expect("--http-scale S"),
            "--peer" => o.peer = true,
            "--python" => o.python = PathBuf::from(value("--python")),
            "--postgres" => o.postgres = Some(hub::store::testing::postgres_server()),
            // cargo bench passes `--bench`; criterion-style filters are ignored.
            _ => {}
        }
    }
    o.rounds = o.rounds.max(1);
    o
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn plugin_dir() -> PathBuf {
    std::env::var_os("HUB_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/wasm32-wasip2/plugin"))
}

/// CPU time of this process so far (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Measured {
    records: u64,
    wall: Duration,
    cpu: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.records as f64 / self.wall.as_secs_f64()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn spec(name: &str, a: Arc<Plugin>, b: Arc<Plugin>, batch: u32) -> SyncSpec {
    SyncSpec {
        name: name.into(),
        schema: hub::schema::Catalogue::builtin()
            .expect("catalogue")
            .get("worker")
            .expect("worker schema"),
        key: vec!["/idNumber".into()],
        direction: Direction::AToB,
        a: EndpointSpec {
            plugin: a,
            stream: "records".into(),
            filter: vec![],
        },
        b: EndpointSpec {
            plugin: b,
            stream: "records".into(),
            filter: vec![],
        },
        rules: vec![],
        default_policy: FieldPolicy::Newest,
        newest: Default::default(),
        deletes: [vec![], vec![]],
        native_deletes: [false, false],
        batch_size: batch,
    }
}

/// A fresh SQLite store's URL, in `dir`.
fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("state.db").display())
}

/// Runs `spec` once on a fresh SQLite store; checks that `expect` records were created on `b`.
async fn measure(spec: &SyncSpec, expect: u64) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    measure_on(spec, expect, &sqlite_url(&dir)).await
}

/// Runs `spec` once on a fresh PostgreSQL database of `server` (created for it, as the store's
/// tests do: `hub::store::testing`).
async fn measure_postgres(spec: &SyncSpec, expect: u64, server: &str) -> Measured {
    let url = hub::store::testing::fresh_postgres_database()
        .await
        .unwrap_or_else(|e| panic!("--postgres: a fresh database on {server}: {e:#}"));
    measure_on(spec, expect, &url).await
}

/// Runs `full` once on a fresh SQLite store (checks that `expect` records were created on
/// `b`), then `changed` (the same sync, its source edited since) on the same store, which must
/// update `edited` records on `b` and create none: (the full run, the incremental run).
async fn measure_incremental(
    full: &SyncSpec,
    changed: &SyncSpec,
    expect: u64,
    edited: u64,
) -> (Measured, Measured) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&sqlite_url(&dir)).await.expect("store");
    let engine = Engine::new(store.clone(), Keys::derive(&[7; 32]));
    let f = run_measured(&engine, full, |s| s.b.created == expect).await;
    let i = run_measured(&engine, changed, |s| {
        s.b.updated == edited && s.b.created == 0 && s.a.changed == edited
    })
    .await;
    store.close().await;
    (f, i)
}

/// One run of `spec` by `engine`, timed; `ok` must hold of its counts. Measured records: those
/// written to `b`.
async fn run_measured(
    engine: &Engine,
    spec: &SyncSpec,
    ok: impl Fn(&hub::sync::RunStats) -> bool,
) -> Measured {
    let (t, c) = (Instant::now(), cpu_time());
    let out: RunOutcome = engine
        .run(spec, &hub::store::RunTrigger::Manual)
        .await
        .expect("run");
    let m = Measured {
        records: out.stats.b.written(),
        wall: t.elapsed(),
        cpu: cpu_time().saturating_sub(c),
    };
    assert!(
        out.errors.is_empty() && ok(&out.stats),
        "{}: {:?} {:?}",
        spec.name,
        out.errors,
        out.stats
    );
    m
}

/// Runs `spec` once on the empty store at `url`; checks that `expect` records were created on
/// `b` (the target starts empty: they are all it writes).
async fn measure_on(spec: &SyncSpec, expect: u64, url: &str) -> Measured {
    let store = Store::open(url).await.expect("store");
    let engine = Engine::new(store.clone(), Keys::derive(&[7; 32]));
    let m = run_measured(&engine, spec, |s| s.b.created == expect).await;
    store.close().await;
    m
}

/// Reads every record of `plugin`'s `records` stream through a fresh connection (the
/// connector's `read` and the host's checks and JSON parse, no engine, no store) and writes
/// them back to it: the connectors' own share of a run.
async fn connector_only(plugin: &Plugin, n: u64, batch: u32) -> Measured {
    let (t, c) = (Instant::now(), cpu_time());
    let mut conn = plugin.connect().await.expect("connect");
    let mut cursor: Option<String> = None;
    let mut read = 0u64;
    loop {
        let b = conn
            .read("records", cursor.as_deref(), batch)
            .await
            .expect("read");
        read += b.records.len() as u64;
        let records: Vec<TargetRecord> = b
            .records
            .iter()
            .map(|r| TargetRecord {
                op: WriteOp::Upsert,
                data: r.data.to_string(),
                remote_id: None,
                version: None,
                current: None,
            })
            .collect();
        let results = conn.write("records", &records).await.expect("write");
        std::hint::black_box(results);
        cursor = b.cursor;
        if !b.more {
            break;
        }
    }
    assert_eq!(read, n);
    Measured {
        records: read,
        wall: t.elapsed(),
        cpu: cpu_time().saturating_sub(c),
    }
}

/// The Python baseline's figures (`bench/peer/peer.py --json`).
fn peer(o: &Options, args: &[String]) -> Option<Measured> {
    let out = std::process::Command::new(&o.python)
        .arg(root().join("bench/peer/peer.py"))
        .args(args)
        .arg("--json")
        .output();
    let out = match out {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            eprintln!(
                "peer.py failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            eprintln!(
                "cannot run {} (see bench/README.md for the venv): {e}",
                o.python.display()
            );
            return None;
        }
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Measured {
        records: v["records"].as_u64()?,
        wall: Duration::from_secs_f64(v["seconds"].as_f64()?),
        cpu: Duration::from_secs_f64(v["cpu_seconds"].as_f64()?),
    })
}

/// A deployment of `text` (plugins and syncs) with its data directory in the temp directory.
fn parse(text: &str) -> hub::config::Config {
    let dir = std::env::temp_dir();
    let text = format!(
        "[hub]\ndata_dir = \"{}\"\n{text}",
        dir.join("hub-bench").display()
    );
    hub::config::parse(&dir.join("hub-bench.toml"), &text, &|_| None).expect("config")
}

/// The simulators of the http form (fresh ones: HY-ESMS with no workers), on `sims`.
struct Sims {
    zf: hub_sims::RunningSim,
    hy: hub_sims::RunningSim,
}

fn start_sims(sims: &tokio::runtime::Runtime, scale: u32) -> Sims {
    let opts = hub_sims::SimOptions {
        scale,
        rate_limit: None,
        ..hub_sims::SimOptions::default()
    };
    let any = "127.0.0.1:0".parse().expect("address");
    Sims {
        zf: sims
            .block_on(hub_sims::start_zf_reg(any, &opts))
            .expect("ZF-REG"),
        hy: sims
            .block_on(hub_sims::start_hy_esms(any, &opts))
            .expect("HY-ESMS"),
    }
}

fn stop_sims(sims: &tokio::runtime::Runtime, s: Sims) {
    sims.block_on(async {
        s.zf.shutdown().await;
        s.hy.shutdown().await;
    });
}

/// The demo's workers sync, one way (ZF-REG → HY-ESMS), over the real connectors.
fn http_spec(
    rt: &hub::runtime::Runtime,
    tokio: &tokio::runtime::Runtime,
    s: &Sims,
    batch: u32,
) -> SyncSpec {
    let text = format!(
        r#"
[plugins.zf]
path = "{plugins}/zhenfeng_registry.wasm"
allow_hosts = ["{zf}"]
config = {{ base_url = "{zf}" }}
secrets.username = {{ value = "hub-sync" }}
secrets.password = {{ value = "demo-zf-password" }}
[plugins.hy]
path = "{plugins}/huiyang_esms.wasm"
allow_hosts = ["{hy}"]
config = {{ base_url = "{hy}", province = "广东省", division_code = "441303" }}
secrets.api_key = {{ value = "demo-hy-key" }}
[syncs.workers]
schema = "worker"
a = {{ plugin = "zf", stream = "workers", where = {{ "/workplace/countyCode" = "441303" }} }}
b = {{ plugin = "hy", stream = "zhenfeng-workers" }}
direction = "a_to_b"
schedule = "0 0 * * * *"
batch_size = {batch}
"#,
        plugins = plugin_dir().display(),
        zf = s.zf.url(),
        hy = s.hy.url(),
    );
    let config = parse(&text);
    let mut loaded = std::collections::BTreeMap::new();
    for (name, p) in tokio.block_on(hub::daemon::load_plugins(&config, rt)) {
        loaded.insert(name, p.expect("connector (scripts/build-plugins)"));
    }
    let mut syncs = hub::daemon::resolve_syncs(&config, &loaded).expect("sync");
    syncs
        .remove("workers")
        .expect("workers")
        .expect("workers")
        .spec
}

fn main() {
    let o = options();
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The engine and the connectors on one thread, as one sync run is.
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    // The simulators of the http form on their own thread.
    let sims_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio");
    let cache = tempfile::tempdir().expect("temp dir");
    let rt = hub::runtime::Runtime::new(Some(cache.path().to_path_buf())).expect("runtime");
    let n = o.records;
    let fixture_config = json!({"mode": "fixture", "total": n});

    let native = Arc::new(Plugin::native(
        "fixture",
        Arc::new(NativeFixture),
        &fixture_config,
        Limits::default(),
    ));
    // The target holds nothing yet (`total = 0`): a fixture it could read would hold the same
    // generated workers, and the run's first read of a target never read (issue 18) would then
    // find nothing to write.
    let empty_config = json!({"mode": "fixture", "total": 0});
    let sink = Arc::new(Plugin::native(
        "sink",
        Arc::new(NativeFixture),
        &empty_config,
        Limits::default(),
    ));
    let native_spec = spec("native", native, sink, o.batch);

    // 1 % of the workers edited, for the incremental form (at least one).
    let edited = (n / 100).max(1);
    let text = format!(
        "[plugins.fixture]\npath = \"{0}\"\nconfig = {{ mode = \"fixture\", total = {n} }}\n\
         [plugins.sink]\npath = \"{0}\"\nconfig = {{ mode = \"fixture\", total = 0 }}\n\
         [plugins.edited]\npath = \"{0}\"\nconfig = {{ mode = \"fixture\", total = {n}, changed = {edited} }}\n",
        plugin_dir().join("fixture.wasm").display()
    );
    let config = parse(&text);
    let wasm = Arc::new(
        tokio
            .block_on(rt.load("fixture", &config.plugins["fixture"], &config.dir()))
            .expect("fixture.wasm (scripts/build-plugins)"),
    );
    let wasm_sink = Arc::new(
        tokio
            .block_on(rt.load("sink", &config.plugins["sink"], &config.dir()))
            .expect("fixture.wasm (scripts/build-plugins)"),
    );
    let wasm_edited = Arc::new(
        tokio
            .block_on(rt.load("edited", &config.plugins["edited"], &config.dir()))
            .expect("fixture.wasm (scripts/build-plugins)"),
    );
    let incremental_spec = spec("incremental", wasm_edited, wasm_sink.clone(), o.batch);
    let full_spec = spec("incremental", wasm.clone(), wasm_sink.clone(), o.batch);
    let wasm_spec = spec("wasm", wasm, wasm_sink, o.batch);

    let http_expect = u64::from(o.http_scale) * 1322;

    println!(
        "hub-bench: {n} generated worker records, batches of {}, {} rounds; http form: ZF-REG at scale {} ({http_expect} valid residents in 441303) → HY-ESMS",
        o.batch, o.rounds, o.http_scale
    );
    let mut forms: [Vec<Measured>; 4] = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    let mut wasm_over_native = Vec::new();
    let mut conn_ratio = Vec::new();
    let mut conn_rates = [Vec::new(), Vec::new()];
    let mut http_over_wasm = Vec::new();
    let mut incremental = Vec::new();
    for round in 0..o.rounds {
        // Alternate which form goes first.
        let (nm, wm) = if round % 2 == 0 {
            let nm = tokio.block_on(measure(&native_spec, n));
            (nm, tokio.block_on(measure(&wasm_spec, n)))
        } else {
            let wm = tokio.block_on(measure(&wasm_spec, n));
            (tokio.block_on(measure(&native_spec, n)), wm)
        };
        // Fresh simulators each round: the sync creates every worker again.
        let hm = (o.http_scale > 0).then(|| {
            let sims = start_sims(&sims_rt, o.http_scale);
            let spec = http_spec(&rt, &tokio, &sims, o.batch);
            let m = tokio.block_on(measure(&spec, http_expect));
            stop_sims(&sims_rt, sims);
            m
        });
        println!(
            "  round {}: native {:>9.0}/s  wasm {:>9.0}/s  {}",
            round + 1,
            nm.per_second(),
            wm.per_second(),
            hm.map(|h| format!("http {:>8.0}/s", h.per_second()))
                .unwrap_or_default()
        );
        wasm_over_native.push(wm.wall.as_secs_f64() / nm.wall.as_secs_f64());
        // The connectors alone, read and write, same round.
        let cn = tokio.block_on(connector_only(&native_spec.a.plugin, n, o.batch));
        let cw = tokio.block_on(connector_only(&wasm_spec.a.plugin, n, o.batch));
        conn_ratio.push(cw.wall.as_secs_f64() / cn.wall.as_secs_f64());
        conn_rates[0].push(cn.per_second());
        conn_rates[1].push(cw.per_second());
        if let Some(h) = hm {
            // Time per record, http over wasm.
            http_over_wasm.push(
                (h.wall.as_secs_f64() / h.records as f64) / (wm.wall.as_secs_f64() / n as f64),
            );
            forms[2].push(h);
        }
        if let Some(server) = &o.postgres {
            let pm = tokio.block_on(measure_postgres(&wasm_spec, n, server));
            println!(
                "  round {}: wasm on PostgreSQL {:>9.0}/s",
                round + 1,
                pm.per_second()
            );
            forms[3].push(pm);
        }
        let (full, inc) = tokio.block_on(measure_incremental(
            &full_spec,
            &incremental_spec,
            n,
            edited,
        ));
        println!(
            "  round {}: incremental, {edited} of {n} edited: {:.3} s after a full sync of {:.3} s: {:.2} %",
            round + 1,
            inc.wall.as_secs_f64(),
            full.wall.as_secs_f64(),
            100.0 * inc.wall.as_secs_f64() / full.wall.as_secs_f64()
        );
        incremental.push(inc.wall.as_secs_f64() / full.wall.as_secs_f64());
        forms[0].push(nm);
        forms[1].push(wm);
    }
    println!("\nmedian over {} rounds:", o.rounds);
    let names = ["native", "wasm", "http", "wasm-pg"];
    for (name, runs) in names.iter().zip(&forms) {
        if runs.is_empty() {
            continue;
        }
        let rate = median(runs.iter().map(Measured::per_second).collect());
        let cpu = median(
            runs.iter()
                .map(|m| m.records as f64 / m.cpu.as_secs_f64().max(1e-3))
                .collect(),
        );
        let wall = median(runs.iter().map(|m| m.wall.as_secs_f64()).collect());
        println!(
            "  {name:<7} {:>9} records in {wall:>7.2} s: {rate:>9.0} records/s wall, {cpu:>9.0} records per CPU-second",
            runs[0].records
        );
    }
    println!(
        "  connectors alone (read + host checks and parse + write, no engine, no store): native {:.0}/s, wasm {:.0}/s",
        median(conn_rates[0].clone()),
        median(conn_rates[1].clone())
    );
    println!("ratios (time per record, same round, median):");
    println!(
        "  wasm / native, whole sync:      {:.2}× (target ≤ 1.3×)",
        median(wasm_over_native)
    );
    println!(
        "  wasm / native, connectors alone: {:.2}×",
        median(conn_ratio)
    );
    if !http_over_wasm.is_empty() {
        println!(
            "  http / wasm, whole sync:        {:.2}×",
            median(http_over_wasm)
        );
    }
    let wasm_rate = median(forms[1].iter().map(Measured::per_second).collect());
    println!(
        "  wasm end to end without HTTP: {wasm_rate:.0} records/s (target ≥ 50,000; aim 100,000): {:.2}× the target",
        wasm_rate / 50_000.0
    );
    println!(
        "  incremental run, 1 % of the records edited: {:.2} % of the full sync's wall time (target ≤ 3 %)",
        100.0 * median(incremental)
    );
    if !forms[3].is_empty() {
        let pg_rate = median(forms[3].iter().map(Measured::per_second).collect());
        println!(
            "  wasm on a PostgreSQL store: {pg_rate:.0} records/s (target ≥ 20,000): {:.2}× the target",
            pg_rate / 20_000.0
        );
    }

    if o.peer {
        println!("\nPython baseline (bench/peer/peer.py: requests, jsonschema, sqlite3):");
        if let Some(p) = peer(
            &o,
            &[
                "--records".into(),
                n.to_string(),
                "--batch".into(),
                o.batch.to_string(),
            ],
        ) {
            println!(
                "  memory: {:>9} records in {:>7.2} s: {:>9.0} records/s; hub wasm / python: {:.1}× (target ≥ 25×)",
                p.records,
                p.wall.as_secs_f64(),
                p.per_second(),
                wasm_rate / p.per_second()
            );
        }
        if !forms[2].is_empty() {
            let http_rate = median(forms[2].iter().map(Measured::per_second).collect());
            let sims = start_sims(&sims_rt, o.http_scale);
            let p = peer(
                &o,
                &[
                    "--zf".into(),
                    sims.zf.url(),
                    "--hy".into(),
                    sims.hy.url(),
                    "--batch".into(),
                    o.batch.to_string(),
                ],
            );
            stop_sims(&sims_rt, sims);
            if let Some(p) = p {
                println!(
                    "  http:   {:>9} records in {:>7.2} s: {:>9.0} records/s; hub http / python: {:.1}×",
                    p.records,
                    p.wall.as_secs_f64(),
                    p.per_second(),
                    http_rate / p.per_second()
                );
            }
        }
    }
}
