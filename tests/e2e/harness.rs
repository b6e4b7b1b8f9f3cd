//! The end-to-end harness: the simulators in this process, the real `hub` binary as a child
//! process on the demo configuration, and the simulators' admin side-door to look and change.

use hub_sims::{RunningSim, SimOptions, start_hy_esms, start_med_roster, start_zf_reg};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;

/// The workspace root (the hub crate's parent).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("hub/ has a parent")
        .to_path_buf()
}

pub fn plugin_dir() -> PathBuf {
    std::env::var_os("HUB_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/wasm32-wasip2/plugin"))
}

fn check_plugins_built() {
    for f in [
        "huiyang_esms.wasm",
        "zhenfeng_registry.wasm",
        "medical_roster.wasm",
    ] {
        let p = plugin_dir().join(f);
        assert!(
            p.exists(),
            "{} is missing: build the connectors first (scripts/test does): \
             cargo build --profile plugin --target wasm32-wasip2 -p huiyang-esms -p zhenfeng-registry -p medical-roster",
            p.display()
        );
    }
}

/// The registry's residents working in Huiyang (441303) whose employer the demo's seed gives by
/// name only (an empty 单位信用代码): the demo's first workers run writes each of them the code
/// HY-ESMS looks up in its enterprise register (issue 18: a value the owner of `/employer`
/// fills in reaches the other side), beside the 1,322 residents it creates in HY-ESMS. Counted
/// from the seed by `first_run_creates_exactly_the_registry_residents_…`, which asserts it.
pub const DEMO_CODES_LOOKED_UP: u64 = 117;

/// Simulators, a state directory and the logs of every `hub` invocation.
pub struct Env {
    pub hy: RunningSim,
    pub zf: RunningSim,
    pub med: RunningSim,
    pub dir: tempfile::TempDir,
    /// The HY-ESMS simulator's rate limit, requests per second (`None`: none).
    pub hy_rate_limit: Option<u32>,
    http: reqwest::Client,
    logs: Mutex<String>,
}

impl Env {
    /// Fresh simulators (default seed, no HY rate limit unless given) and an empty state dir.
    pub async fn start() -> Env {
        Env::start_with(SimOptions {
            rate_limit: None,
            ..SimOptions::default()
        })
        .await
    }

    pub async fn start_with(opts: SimOptions) -> Env {
        check_plugins_built();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bind = "127.0.0.1:0".parse().unwrap();
        Env {
            hy: start_hy_esms(bind, &opts).await.unwrap(),
            zf: start_zf_reg(bind, &opts).await.unwrap(),
            med: start_med_roster(bind, &opts).await.unwrap(),
            dir: tempfile::tempdir().unwrap(),
            hy_rate_limit: opts.rate_limit.filter(|n| *n > 0),
            http: reqwest::Client::new(),
            logs: Mutex::new(String::new()),
        }
    }

    /// `hub ARGS` with the environment the demo configuration reads, run from the workspace.
    /// The job-postings and secondments syncs are scheduled once a year unless a test sets
    /// `HUB_JOB_POSTINGS_SCHEDULE` or `HUB_SECONDMENTS_SCHEDULE`: a daemon runs the workers
    /// sync alone, as the tests of that sync expect.
    pub fn hub(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"));
        c.args(args)
            .current_dir(workspace())
            .env("HY_ESMS_URL", self.hy.url())
            // The hub keeps to the HY-ESMS simulator's rate limit (config/demo.toml's
            // rate_limit); without one, a million requests/s never makes a request wait.
            .env(
                "HY_ESMS_RATE_LIMIT",
                self.hy_rate_limit.unwrap_or(1_000_000).to_string(),
            )
            .env("ZF_REG_URL", self.zf.url())
            .env("MED_ROSTER_URL", self.med.url())
            .env("HUB_JOB_POSTINGS_SCHEDULE", "0 0 1 1 *")
            .env("HUB_SECONDMENTS_SCHEDULE", "0 0 1 1 *")
            .env("HUB_DATA_DIR", self.dir.path())
            .env("HUB_PLUGIN_DIR", plugin_dir())
            // Daemons of tests running side by side each take a free port (see admin.url).
            .env("HUB_ADMIN_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "debug,wasmtime=info,cranelift_codegen=info,sqlx=info,hyper=info,hyper_util=info,reqwest=info,h2=info,rustls=info")
            .kill_on_drop(true);
        c
    }

    /// The admin API of a daemon started on this environment's data directory: its base URL
    /// (no trailing `/`, from `admin.url`, waited for up to 60 s) and its bearer token (from
    /// `admin.token`).
    pub async fn admin_address(&self) -> (String, String) {
        let url = self.admin_url().await;
        let token = std::fs::read_to_string(self.dir.path().join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        (url, token)
    }

    /// The base URL of the admin API of a daemon started on this environment's data directory
    /// (no trailing `/`, from `admin.url`, waited for up to 60 s). A deployment with named tokens
    /// (`[[admin.tokens]]`) and no `[admin] token` has no `admin.token` file.
    pub async fn admin_url(&self) -> String {
        let url_file = self.dir.path().join("admin.url");
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while !url_file.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the daemon wrote no admin.url"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        std::fs::read_to_string(&url_file)
            .unwrap()
            .trim()
            .trim_end_matches('/')
            .to_string()
    }

    /// Runs `hub ARGS` to the end, keeps its output in the logs, and returns it.
    pub async fn run(&self, args: &[&str]) -> Output {
        let out = self.hub(args).output().await.expect("hub runs");
        self.keep(&out);
        out
    }

    /// Keeps a child's output in the logs.
    pub fn keep(&self, out: &Output) {
        let mut l = self.logs.lock().unwrap();
        l.push_str(&String::from_utf8_lossy(&out.stdout));
        l.push_str(&String::from_utf8_lossy(&out.stderr));
    }

    /// `hub sync workers --once`, which must succeed.
    pub async fn sync_once(&self) -> String {
        self.sync_once_of("workers").await
    }

    /// `hub sync NAME --once`, which must succeed.
    pub async fn sync_once_of(&self, sync: &str) -> String {
        let out = self
            .run(&["sync", sync, "--once", "--config", "config/demo.toml"])
            .await;
        assert!(
            out.status.success(),
            "hub sync failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `hub sync workers --once` and kills it (SIGKILL) as soon as `progress` of
    /// HY-ESMS's `/_admin/counters` reaches `at` (within two minutes, while it still runs).
    /// Keeps its output in the logs; returns the value `progress` had reached after the kill.
    pub async fn kill_sync_when(&self, at: u64, progress: fn(&Value) -> u64) -> u64 {
        let mut child = self
            .hub(&["sync", "workers", "--once", "--config", "config/demo.toml"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
        while progress(&self.get(&self.hy, "/_admin/counters").await) < at {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the run never got going"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "the run ended before it could be killed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        child.start_kill().unwrap();
        let out = child.wait_with_output().await.unwrap();
        self.keep(&out);
        assert!(!out.status.success(), "killed");
        progress(&self.get(&self.hy, "/_admin/counters").await)
    }

    /// Starts `hub run --config CONFIG` with extra environment variables. Its output is read
    /// as it comes ([`Daemon`]): a daemon whose stderr pipe is left full blocks in its next log
    /// line, every thread that logs with it.
    pub fn daemon(&self, config: &str, env: &[(&str, &str)]) -> Daemon {
        let mut c = self.hub(&["run", "--config", config]);
        for (k, v) in env {
            c.env(k, v);
        }
        Daemon::spawn(&mut c)
    }

    /// Stops a daemon with SIGTERM and waits for it; keeps its output in the logs.
    pub async fn stop(&self, child: Daemon) -> Output {
        let pid = child.id().expect("still running").to_string();
        let kill = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(kill.success());
        let out =
            tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
                .await
                .expect("stopped within a minute")
                .unwrap();
        self.keep(&out);
        out
    }

    /// The registry's rows the workers sync carries, in the registry's order: 务工县区代码
    /// 441303 (spaces trimmed), less the five seeded broken ones (`/_admin/seed`).
    pub async fn residents_in_scope(&self) -> Vec<Value> {
        let seed = self.get(&self.zf, "/_admin/seed").await;
        let broken: std::collections::BTreeSet<&str> = seed["broken"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["djbh"].as_str().unwrap())
            .collect();
        assert_eq!(broken.len(), 5);
        let rows = self.get(&self.zf, "/_admin/workers").await;
        rows.as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                trimmed(&r["务工县区代码"]).as_deref() == Some("441303")
                    && !broken.contains(r["登记编号"].as_str().unwrap())
            })
            .cloned()
            .collect()
    }

    /// Everything every `hub` invocation printed so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    pub async fn get(&self, sim: &RunningSim, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", sim.url()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn send(
        &self,
        method: reqwest::Method,
        sim: &RunningSim,
        path: &str,
        body: Option<Value>,
    ) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", sim.url()));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{method} {path}: {}", r.status());
    }

    pub async fn patch(&self, sim: &RunningSim, path: &str, body: Value) {
        self.send(reqwest::Method::PATCH, sim, path, Some(body))
            .await;
    }

    pub async fn post(&self, sim: &RunningSim, path: &str, body: Value) {
        self.send(reqwest::Method::POST, sim, path, Some(body))
            .await;
    }

    pub async fn delete(&self, sim: &RunningSim, path: &str) {
        self.send(reqwest::Method::DELETE, sim, path, None).await;
    }

    /// The state database's bytes, WAL included.
    pub fn state_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for f in ["state.db", "state.db-wal", "state.db-shm"] {
            if let Ok(b) = std::fs::read(self.dir.path().join(f)) {
                all.extend(b);
            }
        }
        all
    }
}

/// GB 11643 normalisation worked out independently of the hub's code: full-width to ASCII,
/// blanks dropped, `x` → `X`, 15 digits → 18 (century 19, ISO 7064 MOD 11-2 check character).
pub fn canonical_id(raw: &str) -> String {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - 0xFF10 + 0x30).unwrap(),
            'ｘ' | 'Ｘ' | 'x' => 'X',
            c => c,
        })
        .collect();
    if s.len() != 15 {
        return s;
    }
    let first17 = format!("{}19{}", &s[..6], &s[6..]);
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(weights)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!(
        "{first17}{}",
        ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize]
    )
}

/// An 18-character identity number for 17 leading digits: the ISO 7064 MOD 11-2 check
/// character appended (weights 2^(18-i) mod 11; remainder → 1 0 X 9 8 7 6 5 4 3 2).
pub fn with_check(first17: &str) -> String {
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(weights)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!(
        "{first17}{}",
        ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize]
    )
}

/// Mobile number normalisation worked out independently: ASCII digits only, a leading 86
/// dropped when 13 digits remain.
pub fn canonical_phone(raw: &str) -> Option<String> {
    let d: String = raw
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(c as u32 - 0xFF10 + 0x30),
            _ => None,
        })
        .collect();
    match d.len() {
        0 => None,
        13 if d.starts_with("86") => Some(d[2..].to_string()),
        _ => Some(d),
    }
}

/// Trims ASCII and ideographic blanks; `None` when empty.
pub fn trimmed(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim_matches(|c: char| c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

/// The records of a collection without the fields the system assigns (ids and update times),
/// sorted, for comparing two systems' end states.
pub fn content(records: &Value, drop: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            for k in drop {
                r.as_object_mut().unwrap().remove(*k);
            }
            r.to_string()
        })
        .collect();
    v.sort();
    v
}

/// A `hub run` child process whose stdout and stderr are read into memory while it runs, so
/// that its logging never waits on a full pipe (64 KiB on Linux: a few hundred log lines).
/// The methods are those of [`tokio::process::Child`] the tests use.
pub struct Daemon {
    child: tokio::process::Child,
    stdout: tokio::task::JoinHandle<Vec<u8>>,
    stderr: tokio::task::JoinHandle<Vec<u8>>,
}

impl Daemon {
    /// Spawns `c` with its stdout and stderr piped and read by two tasks.
    pub fn spawn(c: &mut tokio::process::Command) -> Daemon {
        let mut child = c
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hub run starts");
        fn drain(
            r: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>,
        ) -> tokio::task::JoinHandle<Vec<u8>> {
            tokio::spawn(async move {
                let mut all = Vec::new();
                if let Some(mut r) = r {
                    let _ = tokio::io::AsyncReadExt::read_to_end(&mut r, &mut all).await;
                }
                all
            })
        }
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Daemon {
            child,
            stdout,
            stderr,
        }
    }

    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    pub fn start_kill(&mut self) -> std::io::Result<()> {
        self.child.start_kill()
    }

    /// Waits for the process to end and returns its status with everything it printed.
    pub async fn wait_with_output(mut self) -> std::io::Result<Output> {
        let status = self.child.wait().await?;
        Ok(Output {
            status,
            stdout: self.stdout.await.expect("the stdout reader ends"),
            stderr: self.stderr.await.expect("the stderr reader ends"),
        })
    }
}
