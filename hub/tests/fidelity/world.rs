//! A test world: both simulators (empty registry, no rate limit), the two real connectors
//! (WASM components) and an engine on a fresh SQLite store, with a crash hook that can stop a
//! run at its k-th crash point, as if the process had died there.

use hub::crash::{CrashHook, CrashPoint};
use hub::store::{Side, Store};
use hub::sync::{Engine, RunOutcome, RunStatus, SyncSpec};
use hub_sims::{RunningSim, SimOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub const SYNC: &str = "workers";

fn plugin_dir() -> PathBuf {
    std::env::var_os("HUB_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/plugin")
        })
}

/// One wasmtime runtime for every case, with one compiled-component cache.
pub fn wasm() -> &'static hub::runtime::Runtime {
    static RT: OnceLock<(tempfile::TempDir, hub::runtime::Runtime)> = OnceLock::new();
    &RT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let rt = hub::runtime::Runtime::new(Some(dir.path().to_path_buf())).unwrap();
        (dir, rt)
    })
    .1
}

/// What a world is built with.
pub struct Setup {
    /// Records per read and write call (and the HY page size).
    pub batch_size: u32,
    /// `[plugins.*.limits]` inline table body for both plugins, e.g. `retries_per_run = 2`.
    pub limits: &'static str,
    /// HY-ESMS (side b) is told of a registry resident's return natively (`deletes.native =
    /// ["b"]`: a soft delete) instead of with `status = "left"`.
    pub hy_native_deletes: bool,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            batch_size: 200,
            limits: "",
            hy_native_deletes: false,
        }
    }
}

/// Step hooks run at crash points (tests that change a system in the middle of a run).
pub type StepHook = Box<dyn Fn(CrashPoint) + Send + Sync>;

pub struct World {
    pub hy: RunningSim,
    pub zf: RunningSim,
    pub http: reqwest::Client,
    pub engine: Engine,
    pub spec: SyncSpec,
    pub store: Store,
    /// The run crashes at the crash point that brings this to 0 (≤ 0: never).
    pub crash_in: Arc<AtomicI64>,
    /// Called at every crash point before the crash decision.
    pub step: Arc<Mutex<Option<StepHook>>>,
    /// Runs that crashed so far.
    pub crashes: std::sync::atomic::AtomicU64,
    /// The HY-ESMS connector as loaded for the sync (for tests that call it directly).
    pub hy_plugin: Arc<hub::runtime::Plugin>,
    /// The SQLite file of `store`.
    store_path: PathBuf,
    /// State store files made so far by [`World::lose_store`] and the backups.
    stores: u64,
    _dir: tempfile::TempDir,
}

impl World {
    pub async fn new(setup: Setup) -> World {
        let opts = SimOptions {
            rate_limit: None,
            seed_residents: false,
            ..SimOptions::default()
        };
        let any = "127.0.0.1:0".parse().unwrap();
        let hy = hub_sims::start_hy_esms(any, &opts).await.unwrap();
        let zf = hub_sims::start_zf_reg(any, &opts).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let plugins = plugin_dir();
        let limits = if setup.limits.is_empty() {
            String::new()
        } else {
            format!("limits = {{ {} }}\n", setup.limits)
        };
        let text = format!(
            r#"
[hub]
data_dir = "{data}"

[plugins.zf]
path = "{plugins}/zhenfeng_registry.wasm"
allow_hosts = ["{zf}"]
config = {{ base_url = "{zf}" }}
secrets.username = {{ value = "hub-sync" }}
secrets.password = {{ value = "demo-zf-password" }}
{limits}
[plugins.hy]
path = "{plugins}/huiyang_esms.wasm"
allow_hosts = ["{hy}"]
config = {{ base_url = "{hy}", province = "广东省", division_code = "441303" }}
secrets.api_key = {{ value = "demo-hy-key" }}
{limits}
[syncs.workers]
schema = "worker"
a = {{ plugin = "zf", stream = "workers", where = {{ "/workplace/countyCode" = "441303" }} }}
b = {{ plugin = "hy", stream = "zhenfeng-workers" }}
direction = "both"
schedule = "0 0 * * * *"
batch_size = {batch}

[syncs.workers.merge]
default = "newest_wins"
a = ["/idNumber", "/name", "/gender", "/registryNumber", "/registeredOn", "/workplace"]
b = ["/employer", "/position", "/hiredOn", "/status", "/remark"]
newest = ["/phone"]
park = ["/hometownTownship"]

[syncs.workers.deletes]
a = {{ "/status" = "returned_home" }}
{hy_deletes}
"#,
            hy_deletes = if setup.hy_native_deletes {
                "native = [\"b\"]"
            } else {
                "b = { \"/status\" = \"left\" }"
            },
            data = dir.path().display(),
            plugins = plugins.display(),
            zf = zf.url(),
            hy = hy.url(),
            batch = setup.batch_size,
        );
        let file = dir.path().join("hub.toml");
        let config = hub::config::parse(&file, &text, &|_| None).unwrap();
        let mut loaded = std::collections::BTreeMap::new();
        for (name, p) in hub::daemon::load_plugins(&config, wasm()).await {
            loaded.insert(name, p.unwrap());
        }
        let hy_plugin = loaded["hy"].clone();
        let mut syncs = hub::daemon::resolve_syncs(&config, &loaded).unwrap();
        let spec = syncs.remove(SYNC).unwrap().unwrap().spec;
        let store = Store::open(&config.store_url()).await.unwrap();
        let crash_in = Arc::new(AtomicI64::new(0));
        let step: Arc<Mutex<Option<StepHook>>> = Arc::new(Mutex::new(None));
        let engine = engine_over(&store, &crash_in, &step);
        World {
            hy,
            zf,
            http: reqwest::Client::new(),
            engine,
            spec,
            store,
            crash_in,
            step,
            crashes: std::sync::atomic::AtomicU64::new(0),
            hy_plugin,
            store_path: config.data_dir().join("state.db"),
            stores: 0,
            _dir: dir,
        }
    }

    /// The state store lost (a disk replaced, a data directory deleted): the engine goes on over
    /// a new, empty store, with the same state keys. The systems keep what they hold.
    pub async fn lose_store(&mut self) {
        let path = self.new_store_path();
        self.switch_store(path).await;
    }

    /// A backup of the state store as an operator takes one: the store closed (the daemon
    /// stopped), its SQLite file copied, then opened again. Returns the copy's path.
    pub async fn back_up_store(&mut self) -> PathBuf {
        self.store.close().await;
        let backup = self.new_store_path();
        copy_sqlite(&self.store_path, &backup);
        let path = self.store_path.clone();
        self.switch_store(path).await;
        backup
    }

    /// The state store restored from `backup` (a [`World::back_up_store`] copy, which stays
    /// as it is): the engine goes on over a copy of it, remembering only what the store held
    /// then. The systems keep what they hold now.
    pub async fn restore_store(&mut self, backup: &Path) {
        self.store.close().await;
        let path = self.new_store_path();
        copy_sqlite(backup, &path);
        self.switch_store(path).await;
    }

    fn new_store_path(&mut self) -> PathBuf {
        let n = self.stores;
        self.stores += 1;
        let path = self._dir.path().join(format!("state-{n}.db"));
        let _ = std::fs::remove_file(&path);
        path
    }

    async fn switch_store(&mut self, path: PathBuf) {
        self.store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        self.store_path = path;
        self.engine = engine_over(&self.store, &self.crash_in, &self.step);
    }

    async fn call(&self, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        assert!(status.is_success(), "{method} {url}: {status}");
        resp.json().await.unwrap_or(Value::Null)
    }

    /// HY-ESMS side-door: creates a worker item; returns it (with `id`, `updatedAt`).
    pub async fn hy_create(&self, item: Value) -> Value {
        let url = format!("{}/_admin/zhenfeng-workers", self.hy.url());
        self.call(reqwest::Method::POST, url, Some(item)).await
    }

    /// HY-ESMS side-door: creates an item of any collection (`jobs`, `secondments`, …) without
    /// validation; returns it (with `id`, `updatedAt`).
    pub async fn hy_admin_create(&self, collection: &str, item: Value) -> Value {
        let url = format!("{}/_admin/{collection}", self.hy.url());
        self.call(reqwest::Method::POST, url, Some(item)).await
    }

    /// HY-ESMS side-door: changes fields of item `id` of any collection (`updatedAt` now unless
    /// given); returns it.
    pub async fn hy_admin_patch(&self, collection: &str, id: i64, patch: Value) -> Value {
        let url = format!("{}/_admin/{collection}/{id}", self.hy.url());
        self.call(reqwest::Method::PATCH, url, Some(patch)).await
    }

    /// HY-ESMS side-door: changes fields of item `id`; returns it.
    pub async fn hy_patch(&self, id: i64, patch: Value) -> Value {
        let url = format!("{}/_admin/zhenfeng-workers/{id}", self.hy.url());
        self.call(reqwest::Method::PATCH, url, Some(patch)).await
    }

    /// HY-ESMS side-door: soft-deletes item `id`.
    pub async fn hy_delete(&self, id: i64) {
        let url = format!("{}/_admin/zhenfeng-workers/{id}", self.hy.url());
        self.call(reqwest::Method::DELETE, url, None).await;
    }

    /// HY-ESMS: every worker item, deleted ones included.
    pub async fn hy_all(&self) -> Vec<Value> {
        let url = format!("{}/_admin/zhenfeng-workers", self.hy.url());
        let v = self.call(reqwest::Method::GET, url, None).await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// ZF-REG side-door: registers a resident (columns by Chinese name); returns the row.
    pub async fn zf_create(&self, row: Value) -> Value {
        let url = format!("{}/_admin/workers", self.zf.url());
        self.call(reqwest::Method::POST, url, Some(row)).await
    }

    /// ZF-REG side-door: changes columns of resident `djbh`; returns the row.
    pub async fn zf_patch(&self, djbh: &str, patch: Value) -> Value {
        let url = format!("{}/_admin/workers/{djbh}", self.zf.url());
        self.call(reqwest::Method::PATCH, url, Some(patch)).await
    }

    /// ZF-REG: every resident row.
    pub async fn zf_all(&self) -> Vec<Value> {
        let url = format!("{}/_admin/workers", self.zf.url());
        let v = self.call(reqwest::Method::GET, url, None).await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Sets faults (`/_admin/faults`) on HY-ESMS and ZF-REG.
    pub async fn faults(&self, hy: Value, zf: Value) {
        for (sim, f) in [(&self.hy, hy), (&self.zf, zf)] {
            let url = format!("{}/_admin/faults", sim.url());
            self.call(reqwest::Method::POST, url, Some(f)).await;
        }
    }

    /// Clears every fault.
    pub async fn clear_faults(&self) {
        for sim in [&self.hy, &self.zf] {
            let url = format!("{}/_admin/faults", sim.url());
            self.http.delete(url).send().await.unwrap();
        }
    }

    /// Keys created more than once, as both simulators count them (must stay empty).
    pub async fn duplicates(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for sim in [&self.hy, &self.zf] {
            let url = format!("{}/_admin/counters", sim.url());
            let v = self.call(reqwest::Method::GET, url, None).await;
            if let Some(d) = v["keys_created_more_than_once"].as_array() {
                out.extend(d.iter().cloned());
            }
        }
        out
    }

    /// One run. A crashed run is followed by what a restarted daemon does: the dead process's
    /// lease is gone and its run is marked interrupted.
    pub async fn run(&self) -> Result<RunOutcome, String> {
        match self
            .engine
            .run(&self.spec, &hub::store::RunTrigger::Manual)
            .await
        {
            Ok(o) => Ok(o),
            Err(e) if e.downcast_ref::<hub::crash::Crashed>().is_some() => {
                self.crashes.fetch_add(1, Ordering::SeqCst);
                // The crashed run's lease is this process's, so the next run takes it again
                // and marks the crashed run interrupted as it starts.
                Err(e.to_string())
            }
            Err(e) => panic!("run failed: {e:#}"),
        }
    }

    /// A sync point: runs (crashing at the `crash_at`-th crash point of the first run, if
    /// given) until a run ends `ok`. Returns the runs that finished.
    pub async fn sync_until_ok(&self, crash_at: Option<i64>) -> Vec<RunOutcome> {
        self.crash_in.store(crash_at.unwrap_or(0), Ordering::SeqCst);
        let mut done = Vec::new();
        for _ in 0..10 {
            if let Ok(o) = self.run().await {
                let ok = o.status == RunStatus::Ok;
                done.push(o);
                if ok {
                    self.crash_in.store(0, Ordering::SeqCst);
                    return done;
                }
            }
        }
        panic!(
            "no run ended ok in 10: {:?}",
            done.iter()
                .map(|o| (o.status, o.errors.clone()))
                .collect::<Vec<_>>()
        );
    }

    /// Moves the cursor of a side back to the start (the next run reads everything again).
    pub async fn rewind(&self, side: Side) {
        self.store
            .commit(
                SYNC,
                hub::store::Commit {
                    cursor: Some((side, None)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
}

/// Copies a closed SQLite database with its write-ahead log, if one was left.
fn copy_sqlite(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    for suffix in ["-wal", "-shm"] {
        let (f, t) = (
            PathBuf::from(format!("{}{suffix}", from.display())),
            PathBuf::from(format!("{}{suffix}", to.display())),
        );
        let _ = std::fs::remove_file(&t);
        if f.exists() {
            std::fs::copy(&f, &t).unwrap();
        }
    }
}

/// An engine over `store` with the test state keys, crashing when `crash_in` counts down to 0
/// (after `step` sees each crash point).
fn engine_over(
    store: &Store,
    crash_in: &Arc<AtomicI64>,
    step: &Arc<Mutex<Option<StepHook>>>,
) -> Engine {
    let keys = hub::keys::Keys::derive(&[7; 32]);
    let hook: CrashHook = {
        let (crash_in, step) = (crash_in.clone(), step.clone());
        Arc::new(move |p| {
            if let Some(f) = step.lock().unwrap().as_ref() {
                f(p);
            }
            crash_in.fetch_sub(1, Ordering::SeqCst) == 1
        })
    };
    Engine::new(store.clone(), keys).with_crash_hook(hook)
}

/// A valid GB 11643-1999 citizen identity number: Zhenfeng County (522325), born 1990-01-01,
/// sequence `seq` (3 digits), check character by ISO 7064 MOD 11-2.
pub fn id_number(seq: u32) -> String {
    let body = format!("52232519900101{:03}", seq % 1000);
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// Seconds since the epoch of HY's `updatedAt` (RFC 3339).
pub fn hy_time(item: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(item["updatedAt"].as_str().unwrap())
        .unwrap()
        .timestamp()
}

/// Seconds since the epoch of ZF's 更新时间 (`yyyy-MM-dd HH:mm:ss`, UTC+8).
pub fn zf_time(row: &Value) -> i64 {
    let naive = chrono::NaiveDateTime::parse_from_str(
        row["更新时间"].as_str().unwrap(),
        "%Y-%m-%d %H:%M:%S",
    )
    .unwrap();
    naive.and_utc().timestamp() - 8 * 3600
}

/// ZF-REG's local time of a Unix second (UTC+8), `yyyy-MM-dd HH:mm:ss`.
pub fn zf_local(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs + 8 * 3600, 0)
        .unwrap()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// HY-ESMS's RFC 3339 (`+08:00`) of a Unix second.
pub fn hy_rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A ZF-REG resident row working in Huiyang (441303).
pub fn zf_row(id: &str, name: &str, phone: &str, position: &str, hometown: &str) -> Value {
    json!({
        "姓名": name, "身份证号": id, "性别": "男", "联系电话": phone, "户籍乡镇": hometown,
        "务工省份": "广东省", "务工县区代码": "441303", "务工单位": "", "单位信用代码": "",
        "工种": position, "务工状态": "1",
    })
}

/// An HY-ESMS worker item.
pub fn hy_item(id: &str, name: &str, phone: &str, position: &str, hometown: &str) -> Value {
    json!({
        "name": name, "idNo": id, "gender": "M", "phone": phone, "hometownTownship": hometown,
        "employerUscc": null, "position": position, "hiredOn": null, "status": "employed",
        "remark": null, "deleted": false,
    })
}
