//! The admin API and the status page of a running daemon, after a demo sync: real counts
//! through the API, in Debian's headless Chromium (with a screenshot), and under schemathesis.

use crate::harness::{Env, workspace};
use crate::{config_with, created};
use hub::admin::tls::testing::{over_https, throwaway_certificates};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// A daemon whose schedule never fires during the test (once a year), on a synced state.
struct Admin {
    env: Env,
    child: crate::harness::Daemon,
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    async fn start() -> Admin {
        let env = Env::start().await;
        env.sync_once().await;
        let config = config_with(&env, "");
        let child = env.daemon(&config, &[("HUB_WORKERS_SCHEDULE", "0 0 1 1 *")]);
        let url_file = env.dir.path().join("admin.url");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !url_file.exists() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the daemon wrote no admin.url"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = std::fs::read_to_string(&url_file)
            .unwrap()
            .trim()
            .trim_end_matches('/')
            .to_string();
        let token = std::fs::read_to_string(env.dir.path().join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        assert_eq!(token.len(), 64, "32 random bytes, hex");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Admin {
            env,
            child,
            url,
            token,
            http,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    /// Stops the daemon (SIGTERM), which must exit 0; returns its output.
    async fn stop(self) -> std::process::Output {
        let out = self.env.stop(self.child).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_shows_the_demo_sync_and_runs_a_trigger() {
    let a = Admin::start().await;
    let no_token = a
        .http
        .get(format!("{}/api/runs", a.url))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.http
            .get(format!("{}/healthz", a.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );

    // The `hub sync --once` before the daemon: 3,000 registry records read, 1,322 created in
    // Huiyang, 5 broken records dead-lettered.
    let runs = a.get("/api/runs").await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            runs[0]["stats"]["a"]["read"].as_u64(),
            runs[0]["stats"]["b"]["created"].as_u64()
        ),
        (Some(3000), Some(1322))
    );
    let dead = a.get("/api/dead-letters").await;
    assert_eq!(dead.as_array().unwrap().len(), 5);
    let clear_id = regex::Regex::new(r"\d{15,17}[\dXx]").unwrap();
    for d in dead.as_array().unwrap() {
        assert!(
            !clear_id.is_match(&d.to_string()),
            "a dead letter shows an identity number: {d}"
        );
    }
    let sync = a.get("/api/syncs/workers").await;
    assert_eq!(
        (sync["schedule"].as_str(), sync["dead_letters"].as_i64()),
        (Some("0 0 1 1 *"), Some(5))
    );
    // New Year's midnight in Shanghai, written as every time in the API: UTC, `Z`.
    assert!(
        sync["next_runs"][0]
            .as_str()
            .unwrap()
            .ends_with("-12-31T16:00:00.000Z"),
        "{sync}"
    );

    let r = a
        .http
        .post(format!("{}/api/syncs/workers/trigger", a.url))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let second = loop {
        let runs = a.get("/api/runs").await;
        if runs.as_array().unwrap().len() == 2 && runs[0]["status"] != "running" {
            break runs[0].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the triggered run did not finish: {runs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (second["trigger"].as_str(), second["status"].as_str()),
        (Some("manual"), Some("ok")),
        "{second}"
    );
    assert_eq!(
        second["stats"]["b"]["created"],
        json!(0),
        "nothing written twice"
    );
    let metrics = a
        .http
        .get(format!("{}/metrics", a.url))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |name: &str, labels: &[&str]| {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .map(str::to_string)
    };
    assert_eq!(
        line("hub_runs_total{", &["sync=\"workers\"", "status=\"ok\""])
            .as_deref()
            .and_then(|l| l.rsplit(' ').next()),
        Some("1"),
        "{metrics}"
    );
    // Run 2 read back the 1,322 Huiyang records the first run created: all echoes.
    let echo = line(
        "hub_records_total{",
        &[
            "sync=\"workers\"",
            "from=\"huiyang-esms\"",
            "outcome=\"echo\"",
        ],
    )
    .unwrap();
    assert_eq!(echo.rsplit(' ').next(), Some("1322"), "{echo}");
    assert!(
        line(
            "hub_plugin_call_duration_seconds_count{",
            &["plugin=\"zhenfeng-registry\"", "call=\"read\""]
        )
        .is_some(),
        "{metrics}"
    );
    assert_eq!(
        created(
            &a.env.get(&a.env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        1322
    );
    a.stop().await;
}

/// A W3C WebDriver session on chromedriver (Debian's `chromium-driver`) driving headless
/// Chromium.
pub(crate) struct Browser {
    driver: tokio::process::Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
        )
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver (Debian package chromium-driver; scripts/test installs it)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=zh-CN"]
        }}}});
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let session = loop {
            match http
                .post(format!("{base}/session"))
                .json(&caps)
                .send()
                .await
            {
                Ok(r) => {
                    let v: Value = r.json().await.unwrap();
                    break v["value"]["sessionId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
                        .to_string();
                }
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => panic!("chromedriver does not answer: {e}"),
            }
        };
        let b = Browser {
            driver,
            base,
            session,
            http,
        };
        // W3C WebDriver's implicit wait: finding an element waits up to 20 s for it to appear,
        // so a step after a click or a navigation does not race the page's load (on a loaded
        // machine, with another browser test beside it, a page can take seconds).
        b.cmd(
            reqwest::Method::POST,
            "/timeouts",
            json!({"implicit": 20_000, "pageLoad": 60_000}),
        )
        .await;
        b
    }

    /// WebDriver's whole answer to `method path` in this session (`{"value": ...}`), an error
    /// answer included.
    async fn answer(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = self.http.request(method, url);
        let r = if body.is_null() { req } else { req.json(&body) }
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    pub(crate) async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let v = self.answer(method, path, body).await;
        assert!(v["value"].get("error").is_none(), "WebDriver {path}: {v}");
        v["value"].clone()
    }

    pub(crate) async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `GET /element/{id}/{what}` of the first element matching `css`, a string (WebDriver).
    async fn element_string(&self, css: &str, what: &str) -> String {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{e}/{what}"),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap()
        .to_string()
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.element_string(css, "text").await
    }

    /// The computed value of CSS `property` of the first element matching `css`.
    async fn css(&self, css: &str, property: &str) -> String {
        self.element_string(css, &format!("css/{property}")).await
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    /// Clicks the first element matching `css`, a link or a submit button, and waits until
    /// the browser has left the page it was on: until that page's root element is a "stale
    /// element reference" (W3C WebDriver). A click does not wait for the navigation it
    /// starts, so without this the next step can find an element of the old page, which then
    /// goes stale under it, or read the old page's text (CI, stop 37). Panics after 30 s.
    pub(crate) async fn follow(&self, css: &str) {
        let root = self.find("html").await;
        self.click(css).await;
        let name = format!("/element/{root}/name");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.answer(reqwest::Method::GET, &name, Value::Null).await;
            match page_left(&v) {
                Ok(true) => return,
                Ok(false) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Ok(false) => panic!("clicking {css:?} did not leave the page in 30 s"),
                Err(()) => panic!("WebDriver, waiting for the page after {css:?}: {v}"),
            }
        }
    }

    pub(crate) async fn count(&self, css: &str) -> usize {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_array().unwrap().len()
    }

    /// Sets the window's size (W3C WebDriver's Set Window Rect).
    async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// The page's width and the viewport's (`scrollWidth`, `clientWidth` of the root
    /// element): equal when the page does not scroll sideways. Asked through WebDriver, which
    /// the page's policy of no script does not bind.
    async fn page_and_viewport_width(&self) -> (u64, u64) {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/execute/sync",
                json!({"script": "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]", "args": []}),
            )
            .await;
        (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
    }

    /// Loads `url` in a window 700 pixels wide, checks that the page does not scroll
    /// sideways, saves a screenshot to `path`, and gives the window its 1280 pixels back.
    async fn at_700_pixels(&self, url: &str, path: &std::path::Path) {
        self.resize(700, 1000).await;
        self.go(url).await;
        let (page, viewport) = self.page_and_viewport_width().await;
        assert!(
            viewport <= 700 && page <= viewport,
            "{url} scrolls sideways at 700 px: the page is {page} px wide in a viewport of {viewport}"
        );
        let png = self.screenshot(path).await;
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 700);
        self.element_screenshot(
            ".charts[data-sync=workers]",
            &path.with_extension("charts.png"),
        )
        .await;
        self.resize(1280, 1000).await;
    }

    /// Saves a screenshot of the first element matching `css` (scrolled into view) to `path`.
    async fn element_screenshot(&self, css: &str, path: &std::path::Path) {
        let e = self.find(css).await;
        self.save_screenshot(&format!("/element/{e}/screenshot"), path)
            .await;
    }

    /// Saves a screenshot of the viewport to `path`; the PNG.
    pub(crate) async fn screenshot(&self, path: &std::path::Path) -> Vec<u8> {
        self.save_screenshot("/screenshot", path).await
    }

    /// The PNG the WebDriver command `GET command` takes (base64), saved to `path`.
    async fn save_screenshot(&self, command: &str, path: &std::path::Path) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.cmd(reqwest::Method::GET, command, Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &png).unwrap();
        png
    }

    pub(crate) async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_in_headless_chromium_shows_the_demo_counts() {
    let a = Admin::start().await;
    let b = Browser::start().await;
    b.go(&format!("{}/", a.url)).await;
    // Not signed in: the page sends the browser to the sign-in form.
    let token_field = b.find("input[name=token]").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{token_field}/value"),
        json!({"text": a.token}),
    )
    .await;
    let submit = b.find("button[type=submit]").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{submit}/click"),
        json!({}),
    )
    .await;
    // Worked out from the demo: 3,000 registry records read (Huiyang held none yet), 1,322
    // created in Huiyang and 117 employers' codes written to the registry
    // (DEMO_CODES_LOOKED_UP), the 5 broken seeded records waiting as dead letters.
    assert_eq!(b.text("tr[data-sync=workers] td.read").await, "3000");
    assert_eq!(
        b.text("tr[data-sync=workers] td.written").await,
        (1322 + super::harness::DEMO_CODES_LOOKED_UP).to_string()
    );
    assert_eq!(b.text("tr[data-sync=workers] td.dead").await, "5");
    assert_eq!(b.count("#dead-letters tr").await, 1 + 5);
    assert!(b.text("h1").await.contains("同步状态 Sync status"));
    // One run in the workers chart: a read bar and a written bar; the other syncs have none.
    let workers = ".charts[data-sync=workers] .runs-chart";
    assert_eq!(b.count(&format!("{workers} rect.read")).await, 1);
    assert_eq!(b.count(&format!("{workers} rect.written")).await, 1);
    assert_eq!(b.count(".runs-chart svg").await, 1);
    // Each sync's daily totals: 30 days, today's the run's 3,000 read and 1,322 written.
    assert_eq!(
        b.count(".charts[data-sync=workers] .days-chart g.slot")
            .await,
        30
    );
    let shot = workspace().join("target/screenshots/status-page.png");
    let png = b.screenshot(&shot).await;
    b.element_screenshot(
        ".charts[data-sync=workers]",
        &workspace().join("target/screenshots/status-page-charts.png"),
    )
    .await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The viewport of a 1280-pixel-wide window (the PNG's IHDR width and height, big-endian;
    // the height is the window's less the browser's own bars).
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert!(w == 1280 && (400..=1000).contains(&h), "{w} × {h}");
    // The page's stylesheet applies under its Content-Security-Policy (allowed by its hash; a
    // blocked one would leave the browser's own 2em, 28 px at the body's 14 px).
    assert_eq!(b.css("h1", "font-size").await, "20px");
    assert_eq!(b.css("#logout", "position").await, "absolute");
    b.at_700_pixels(
        &format!("{}/", a.url),
        &workspace().join("target/screenshots/status-page-700px.png"),
    )
    .await;
    // The workers sync's reconciliation page, through its link: the two systems agree on all
    // 1,322 residents in scope; the 5 broken seeded records are invalid as read and wait as
    // dead letters (issue 19).
    b.go(&format!("{}/", a.url)).await;
    b.follow("tr[data-sync=workers] a.reconcile").await;
    let count = |id: &str| format!("#reconcile-counts tr[data-count={id}] td");
    assert_eq!(b.text(&count("equal")).await, "1322");
    assert_eq!(b.text(&count("different")).await, "0");
    assert_eq!(b.text(&count("only-a")).await, "0");
    assert_eq!(b.text(&count("only-b")).await, "0");
    assert_eq!(b.text(&count("invalid")).await, "5");
    assert_eq!(b.text(&count("dead-letters")).await, "5");
    b.screenshot(&workspace().join("target/screenshots/reconcile-page.png"))
        .await;
    // Signing out returns to the sign-in form, and the page asks for it again.
    b.go(&format!("{}/", a.url)).await;
    b.follow("#logout button").await;
    b.find("input[name=token]").await;
    b.go(&format!("{}/", a.url)).await;
    b.find("input[name=token]").await;
    b.quit().await;
    a.stop().await;
}

/// The harness reads a daemon's output as it comes ([`crate::harness::Daemon`]). It used to
/// leave stdout and stderr in pipes nobody read until the daemon stopped: once a pipe's 64 KiB
/// were full, the daemon's next log line blocked the thread writing it, and soon every thread
/// of the admin API; the API fuzz test below stopped getting answers half-way through (its
/// triggers, resyncs and refusals each log a line or more). Here 600 pauses and resumes log
/// 1,200 lines, about twice what a pipe holds, and the daemon still answers each in time, runs
/// a triggered sync and stops cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_logs_more_than_a_pipe_holds_keeps_answering() {
    let a = Admin::start().await;
    let post = |path: &str| {
        a.http
            .post(format!("{}{path}", a.url))
            .bearer_auth(&a.token)
            .timeout(Duration::from_secs(10))
            .send()
    };
    for _ in 0..600 {
        for path in ["/api/syncs/workers/pause", "/api/syncs/workers/resume"] {
            let r = post(path).await.expect("the daemon answers within 10 s");
            assert_eq!(r.status(), reqwest::StatusCode::OK, "{path}");
        }
    }
    let r = post("/api/syncs/workers/trigger").await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let runs = a.get("/api/runs").await;
        if runs.as_array().unwrap().len() == 2 && runs[0]["status"] != "running" {
            assert_eq!(runs[0]["status"], "ok", "{}", runs[0]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the triggered run did not finish: {runs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = a.env.stop(a.child).await;
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(log.matches("admin API: paused").count(), 600);
    assert_eq!(log.matches("admin API: resumed").count(), 600);
    // What makes the case: the daemon wrote more than a pipe holds.
    assert!(out.stderr.len() > 64 * 1024, "{} bytes", out.stderr.len());
}

/// `schemathesis` (PyPI), installed by scripts/test in target/tools/venv, or found on PATH.
fn schemathesis() -> PathBuf {
    let venv = workspace().join("target/tools/venv/bin/schemathesis");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("schemathesis")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_in_the_admin_api() {
    let a = Admin::start().await;
    let out = tokio::process::Command::new(schemathesis())
        // It keeps a cache in its working directory: the test's own.
        .current_dir(a.env.dir.path())
        .args([
            "run",
            &format!("{}/openapi.json", a.url),
            "--header",
            &format!("Authorization: Bearer {}", a.token),
        ])
        .args([
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "30",
            "--no-color",
        ])
        .output()
        .await
        .expect("schemathesis (scripts/test installs it in target/tools/venv)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("Server error"), "{text}");
    let stopped = a.stop().await;
    eprintln!(
        "{text}\nthe daemon logged {} bytes meanwhile",
        stopped.stderr.len()
    );
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_replayed_after_a_fix_are_written_and_the_still_invalid_keep_their_history() {
    let env = Env::start().await;
    // HY-ESMS refuses the first three creates (422 on `position`), as a business rule would.
    env.post(&env.hy, "/_admin/faults", json!({"reject_writes": 3}))
        .await;
    env.sync_once().await;
    assert_eq!(
        created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        1322 - 3
    );
    let config = crate::CONFIG;
    let list = |env: &Env| {
        env.hub(&["dead-letters", "list", "--json", "--config", config])
            .output()
    };
    let letters = json_lines(&list(&env).await.unwrap());
    let stage = |ls: &[Value], stage: &str| {
        ls.iter()
            .filter(|d| d["stage"] == stage)
            .cloned()
            .collect::<Vec<_>>()
    };
    let (refused, invalid) = (stage(&letters, "write"), stage(&letters, "read"));
    assert_eq!((refused.len(), invalid.len()), (3, 5), "{letters:#?}");
    for d in &refused {
        assert_eq!(
            (d["side"].as_str(), d["errors"][0]["pointer"].as_str()),
            (Some("b"), Some("/position")),
            "{d}"
        );
    }

    // The rule is fixed (the fault is used up); replay everything, then run.
    let out = env
        .run(&["dead-letters", "replay", "--all", "--config", config])
        .await;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("8 dead letters will be replayed"));
    env.sync_once().await;
    assert_eq!(
        created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        1322,
        "the three refused are created now"
    );
    let open = json_lines(&list(&env).await.unwrap());
    assert_eq!(
        open.len(),
        5,
        "only the invalid records stay open: {open:#?}"
    );
    for d in &open {
        assert_eq!(d["stage"], json!("read"));
        assert_eq!(d["replay_requested_at"], Value::Null);
        let replays = d["replays"].as_array().unwrap();
        assert_eq!(replays.len(), 1, "{d}");
        assert!(
            replays[0]["result"]
                .as_str()
                .unwrap()
                .starts_with("still invalid: /"),
            "{d}"
        );
    }
    for d in &refused {
        let out = env
            .run(&[
                "dead-letters",
                "show",
                &d["id"].to_string(),
                "--json",
                "--config",
                config,
            ])
            .await;
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(shown["status"], json!("replayed"));
        assert_eq!(
            shown["replays"][0]["result"],
            json!("queued: written again by this run")
        );
    }
    // A replayed dead letter cannot be replayed again; the next run writes nothing twice.
    let again = env
        .run(&[
            "dead-letters",
            "replay",
            &refused[0]["id"].to_string(),
            "--config",
            config,
        ])
        .await;
    assert_eq!(again.status.code(), Some(1));
    env.sync_once().await;
    assert_eq!(
        created(
            &env.get(&env.hy, "/_admin/counters").await,
            "zhenfeng-workers"
        ),
        1322
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_counted_per_key_until_resolved_by_a_person_or_by_the_policy() {
    let env = &Env::start().await;
    // Three generated workers into a system that holds none yet (`total = 0`: the run's first
    // read of the target finds nothing) and refuses every write as changed meanwhile, until
    // FIXTURE_REFUSE says otherwise.
    let config = config_with(
        env,
        "[plugins.src]\npath = \"${HUB_PLUGIN_DIR}/fixture.wasm\"\nconfig = { mode = \"fixture\", total = 3 }\n\
         [plugins.dst]\npath = \"${HUB_PLUGIN_DIR}/fixture.wasm\"\nconfig = { mode = \"fixture\", total = 0, refuse = \"${FIXTURE_REFUSE:-conflict}\" }\n\
         [syncs.guarded]\nschema = \"worker\"\na = { plugin = \"src\", stream = \"records\" }\nb = { plugin = \"dst\", stream = \"records\" }\n\
         direction = \"a_to_b\"\nschedule = \"0 0 1 1 *\"\n",
    );
    let sync = |refuse: &'static str| {
        let mut c = env.hub(&["sync", "guarded", "--once", "--config", &config]);
        c.env("FIXTURE_REFUSE", refuse);
        async move {
            let out = c.output().await.unwrap();
            env.keep(&out);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let conflicts = |all: bool| {
        let mut args = vec!["conflicts", "list", "--json", "--config", config.as_str()];
        if all {
            args.push("--all");
        }
        let c = env.hub(&args).output();
        async move { json_lines(&c.await.unwrap()) }
    };
    sync("conflict").await;
    sync("conflict").await;
    let open = conflicts(false).await;
    assert_eq!(open.len(), 3, "{open:#?}");
    for c in &open {
        assert_eq!(
            (
                c["sync"].as_str(),
                c["side"].as_str(),
                c["attempts"].as_i64(),
                c["status"].as_str()
            ),
            (Some("guarded"), Some("b"), Some(2), Some("open")),
            "{c}"
        );
        // The fixture's workers are 5223 25 1970-01-01 …: masked to the first and last four.
        assert!(
            c["key_masked"]
                .as_str()
                .unwrap()
                .starts_with("5223**********"),
            "{c}"
        );
    }
    let chosen = open[0]["id"].as_i64().unwrap().to_string();
    // The decider is the login name, kept with the decision and in the audit log.
    let out = env
        .hub(&[
            "conflicts",
            "resolve",
            &chosen,
            "--take",
            "a",
            "--reason",
            "源系统为准 the source is right",
            "--config",
            &config,
        ])
        .env("USER", "li")
        .output()
        .await
        .unwrap();
    env.keep(&out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = conflicts(false)
        .await
        .into_iter()
        .find(|c| c["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(chosen.as_str()))
        .unwrap();
    assert_eq!(
        (
            shown["take"].as_str(),
            shown["decided_by"].as_str(),
            shown["decision_reason"].as_str()
        ),
        (
            Some("a"),
            Some("cli:li"),
            Some("源系统为准 the source is right")
        )
    );
    // A second decision names the first and its decider, and needs --replace.
    let take_b = [
        "conflicts",
        "resolve",
        chosen.as_str(),
        "--take",
        "b",
        "--config",
        config.as_str(),
    ];
    let twice = env.run(&take_b).await;
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&twice.stderr)
            .contains("already has a decision (take side a by cli:li)"),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    // One `decide` entry, for the side the decision changes (dst, side b), naming the decider.
    let audit = env
        .run(&[
            "audit", "list", "--sync", "guarded", "--json", "--config", &config,
        ])
        .await;
    let decided: Vec<Value> = json_lines(&audit)
        .into_iter()
        .filter(|e| e["action"] == "decide")
        .collect();
    assert_eq!(decided.len(), 1, "{decided:#?}");
    assert_eq!(
        (
            decided[0]["system"].as_str(),
            decided[0]["side"].as_str(),
            decided[0]["result"].as_str(),
            decided[0]["actor"].as_str(),
            decided[0]["detail"].as_str()
        ),
        (
            Some("dst"),
            Some("b"),
            Some("recorded"),
            Some("cli:li"),
            Some(
                format!(r#"{{"conflict":{chosen},"reason":"源系统为准 the source is right","take":"a"}}"#)
                    .as_str()
            )
        )
    );
    // The system accepts writes again: all three are written, the chosen one as decided.
    let summary = sync("none").await;
    assert!(summary.contains("src → dst"), "{summary}");
    assert_eq!(conflicts(false).await, Vec::<Value>::new());
    let all = conflicts(true).await;
    assert_eq!(all.len(), 3);
    for c in &all {
        let expected =
            if c["id"].as_i64().map(|i| i.to_string()).as_deref() == Some(chosen.as_str()) {
                "took a"
            } else {
                "merge policy"
            };
        assert_eq!(
            (c["status"].as_str(), c["resolution"].as_str()),
            (Some("resolved"), Some(expected)),
            "{c}"
        );
    }
    let again = env.run(&take_b).await;
    assert_eq!(
        again.status.code(),
        Some(1),
        "a resolved conflict cannot be decided again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_broken_at_the_source_fails_once_and_its_dead_letter_closes_when_the_source_fixes_it()
 {
    let env = Env::start().await;
    env.sync_once().await;
    let expected = crate::expected_residents(&env).await;
    let row = expected.values().next().unwrap();
    let djbh = row["登记编号"].as_str().unwrap().to_string();
    let open = |env: &Env| {
        let c = env
            .hub(&["dead-letters", "list", "--json", "--config", crate::CONFIG])
            .output();
        async move { json_lines(&c.await.unwrap()) }
    };
    // A clerk blanks the name: the next run dead-letters it (partial); the run after reads it
    // again (it is the newest change, and the cursor is inclusive) but it is no new failure.
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({"姓名": ""}),
    )
    .await;
    assert!(env.sync_once().await.contains(" partial "));
    let letters = open(&env).await;
    assert_eq!(letters.len(), 6);
    let mine = letters
        .iter()
        .find(|d| d["remote_id"] == json!(djbh))
        .expect("a dead letter for the blanked name")
        .clone();
    let summary = env.sync_once().await;
    assert!(summary.contains("  ok  "), "{summary}");
    let again = open(&env).await;
    let seen = again.iter().find(|d| d["id"] == mine["id"]).unwrap();
    assert_eq!(
        seen["occurrences"],
        json!(2),
        "met again, counted on the same dead letter"
    );
    // The clerk puts the name back: the record syncs and its dead letter closes as fixed.
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({"姓名": "王小明"}),
    )
    .await;
    env.sync_once().await;
    assert_eq!(
        open(&env).await.len(),
        5,
        "only the seeded broken records stay open"
    );
    let out = env
        .run(&[
            "dead-letters",
            "show",
            &mine["id"].to_string(),
            "--json",
            "--config",
            crate::CONFIG,
        ])
        .await;
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["status"], json!("fixed"));
    let id = crate::harness::canonical_id(row["身份证号"].as_str().unwrap());
    let hy = env.get(&env.hy, "/_admin/zhenfeng-workers").await;
    let synced = hy
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["idNo"] == json!(id))
        .unwrap();
    assert_eq!(synced["name"], json!("王小明"));
}

#[test]
fn a_second_daemon_on_the_same_data_directory_is_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let env = Env::start().await;
        let config = config_with(&env, "");
        let first = env.daemon(&config, &[("HUB_WORKERS_SCHEDULE", "0 0 1 1 *")]);
        let url = env.dir.path().join("admin.url");
        while !url.exists() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let second = env
            .hub(&["run", "--config", &config])
            .output()
            .await
            .unwrap();
        assert_eq!(second.status.code(), Some(1));
        let err = String::from_utf8_lossy(&second.stderr);
        assert!(
            err.contains("another hub daemon is running on the data directory"),
            "{err}"
        );
        assert!(env.stop(first).await.status.success());
    });
}

/// The value of the metric line `name` (labels included, as exposed), if any.
fn metric(metrics: &str, name: &str) -> Option<String> {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_string)
}

/// The failing paths an operator meets, each said where they look: a wrong API key for
/// HY-ESMS (the daemon's live check of the plugin fails at start, and `/readyz` and the page
/// say so; the run fails, and says why on the page, in its chart, on its run page and in the
/// API), a sync that cannot load (it keeps its row, marked not loaded; `/readyz` is degraded;
/// its gauge is 0) and a reload of a broken configuration (refused, shown,
/// `hub_config_reload_success` 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_a_sync_that_cannot_load_and_a_refused_reload_are_shown_with_their_reasons() {
    let env = Env::start().await;
    // A first run with the right key: 1,322 workers written to HY-ESMS.
    env.sync_once().await;
    let config = config_with(
        &env,
        "[syncs.broken]\nschema = \"worker\"\n\
         a = { plugin = \"zhenfeng-registry\", stream = \"workers\" }\n\
         b = { plugin = \"huiyang-esms\", stream = \"no-such-stream\" }\n\
         schedule = \"0 0 1 1 *\"\n",
    );
    let child = env.daemon(
        &config,
        &[
            ("HUB_WORKERS_SCHEDULE", "0 0 1 1 *"),
            ("HY_ESMS_API_KEY", "wrong-key"),
        ],
    );
    let (url, token) = env.admin_address().await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{url}{path}")).bearer_auth(&token).send();

    // The sync that cannot load, and the daemon's live check of HY-ESMS at start refused
    // (the wrong key): readiness degraded, naming both; the sync's gauge 0.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let ready = loop {
        let r = get("/readyz").await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        let ready: Value = r.json().await.unwrap();
        let plugins = ready["plugins"].as_array().unwrap();
        if !plugins.is_empty() && plugins.iter().all(|p| p["status"] != "pending") {
            break ready;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the live checks did not end: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (
            ready["ready"].as_bool(),
            ready["status"].as_str(),
            ready["syncs"].as_u64()
        ),
        (Some(false), Some("degraded"), Some(3)),
        "{ready}"
    );
    let checks: Vec<(&str, &str)> = ready["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["plugin"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        checks,
        [
            ("huiyang-esms", "failed"),
            ("medical-roster", "ok"),
            ("zhenfeng-registry", "ok")
        ],
        "{ready}"
    );
    let problems = ready["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{ready}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .contains("sync broken cannot run"),
        "{ready}"
    );
    let check_failed = problems[1].as_str().unwrap();
    assert!(
        check_failed.starts_with(
            "插件检查失败 plugin huiyang-esms failed its live check (checked again every 60 s): "
        ) && check_failed.contains("(auth)")
            && check_failed.contains("401"),
        "{ready}"
    );
    let error = ready["plugins"][0]["error"].as_str().unwrap();
    assert!(
        check_failed.ends_with(&format!("(checked again every 60 s): {error}")),
        "{ready}"
    );
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert_eq!(
        metric(&metrics, "hub_sync_loaded{sync=\"broken\"}").as_deref(),
        Some("0"),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "hub_sync_loaded{sync=\"workers\"}").as_deref(),
        Some("1"),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "hub_config_reload_success").as_deref(),
        Some("1"),
        "{metrics}"
    );
    // Its history can be asked for (empty), but it cannot be triggered.
    assert_eq!(
        get("/api/runs?sync=broken")
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        json!([])
    );
    let r = http
        .post(format!("{url}/api/syncs/broken/trigger"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("sync broken did not load, so it cannot run: "),
        "{body}"
    );

    // The wrong key: the triggered run fails, and its error says HY-ESMS refused the key.
    let r = http
        .post(format!("{url}/api/syncs/workers/trigger"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let run = loop {
        let runs: Value = get("/api/runs?sync=workers")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The run of `hub sync --once`, then the triggered one.
        if let Some(r) = runs
            .as_array()
            .unwrap()
            .first()
            .filter(|r| r["id"] == json!(2) && r["status"] != "running")
        {
            break r.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run did not finish: {runs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run["status"], json!("failed"), "{run}");
    let error = run["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("huiyang-esms") && error.contains("401"),
        "{error}"
    );

    // A broken configuration (a key given twice) and SIGHUP: refused, and said so.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[syncs.broken]\nschema = \"worker\"\n"),
    )
    .unwrap();
    tokio::process::Command::new("kill")
        .args(["-HUP", &child.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let ready = loop {
        let ready: Value = get("/readyz").await.unwrap().json().await.unwrap();
        if ready["problems"].as_array().unwrap().len() == 3 {
            break ready;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refused reload is not shown: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let refused = ready["problems"][0].as_str().unwrap();
    assert!(
        refused.starts_with("重新加载被拒 reload refused, the running configuration stays: ")
            && refused.contains("hub.toml:"),
        "{ready}"
    );
    // The table given twice is named, with the line of its first definition (the demo's
    // lines, then `[syncs.broken]` at the first line config_with added).
    let first = std::fs::read_to_string(workspace().join(crate::CONFIG))
        .unwrap()
        .lines()
        .count()
        + 2;
    assert!(
        refused.contains(&format!(
            "duplicate table [syncs.broken]: first defined at line {first}"
        )),
        "{ready}"
    );
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert_eq!(
        metric(&metrics, "hub_config_reload_success").as_deref(),
        Some("0"),
        "{metrics}"
    );

    // The page: the failing run's reason in its row, the sync that did not load kept with its
    // reason, the problems listed; then the run's own page.
    let b = Browser::start().await;
    b.go(&format!("{url}/")).await;
    let token_field = b.find("input[name=token]").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{token_field}/value"),
        json!({"text": token}),
    )
    .await;
    let submit = b.find("button[type=submit]").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{submit}/click"),
        json!({}),
    )
    .await;
    assert_eq!(b.text("tr[data-sync=workers] .run-error").await, error);
    assert!(
        b.text("tr[data-sync=broken]")
            .await
            .contains("未加载 not loaded")
    );
    assert!(
        b.text("tr[data-sync=broken] .load-error")
            .await
            .contains("sync broken cannot run")
    );
    assert!(b.text("#problems").await.contains("3 problems"));
    // The plugin that failed its live check is named in the rows of the syncs using it.
    for sync in ["workers", "job-postings", "secondments"] {
        assert_eq!(
            b.text(&format!("tr[data-sync={sync}] .plugin-check")).await,
            "✗ 插件检查失败 check failed: huiyang-esms",
            "{sync}"
        );
    }
    // The chart of the workers runs: the first wrote, the second failed and is marked.
    let workers = ".charts[data-sync=workers] .runs-chart";
    assert_eq!(b.count(&format!("{workers} g.slot")).await, 2);
    assert_eq!(b.count(&format!("{workers} g.slot.failed")).await, 1);
    assert_eq!(
        b.text(&format!("{workers} .failed-mark")).await,
        "✗ 失败 failed"
    );
    b.screenshot(&workspace().join("target/screenshots/status-degraded-failed-run.png"))
        .await;
    b.element_screenshot(
        ".charts[data-sync=workers]",
        &workspace().join("target/screenshots/status-degraded-charts.png"),
    )
    .await;
    b.at_700_pixels(
        &format!("{url}/"),
        &workspace().join("target/screenshots/status-degraded-700px.png"),
    )
    .await;
    // Only the runs that wrote: the link keeps the first run, and leaves the failed one out.
    b.go(&format!("{url}/")).await;
    b.follow("#run-filter a[href='/?wrote=1']").await;
    assert!(
        b.text("#run-filter b")
            .await
            .contains("only runs that wrote records")
    );
    assert_eq!(b.count(&format!("{workers} g.slot")).await, 1);
    assert_eq!(b.count(&format!("{workers} g.slot.failed")).await, 0);
    b.element_screenshot(
        ".charts[data-sync=workers]",
        &workspace().join("target/screenshots/status-runs-that-wrote.png"),
    )
    .await;
    b.go(&format!("{url}/runs/{}", run["id"])).await;
    assert_eq!(b.text("#run .run-error").await, error);
    assert!(
        b.text("#counts")
            .await
            .contains("a: zhenfeng-registry (workers)")
    );
    b.screenshot(&workspace().join("target/screenshots/run-detail-failed.png"))
        .await;
    b.quit().await;

    // The broken sync removed from the configuration and SIGHUP: the reload is taken, and the
    // removed sync leaves /metrics (its gauge does not stay at its last value).
    config_with(&env, "");
    tokio::process::Command::new("kill")
        .args(["-HUP", &child.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let metrics = get("/metrics").await.unwrap().text().await.unwrap();
        if metric(&metrics, "hub_config_reload_success").as_deref() == Some("1") {
            break metrics;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reload was not taken: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        metric(&metrics, "hub_sync_loaded{sync=\"broken\"}"),
        None,
        "{metrics}"
    );
    // Gone from the configuration with no run in the history: its name is a typo now, and
    // the error says which names there are.
    let r = get("/api/runs?sync=broken").await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "no sync \"broken\" in the configuration or the run history; the configured syncs are: job-postings, secondments, workers"})
    );
    assert_eq!(
        metric(&metrics, "hub_sync_loaded{sync=\"workers\"}").as_deref(),
        Some("1"),
        "{metrics}"
    );

    let out = env.stop(child).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_daemon_takes_a_renewed_certificate_on_sighup_and_keeps_it_when_the_new_key_is_bad()
 {
    let env = Env::start().await;
    let d = env.dir.path().to_path_buf();
    let (first, second) = throwaway_certificates(&d);
    let ca = std::fs::read(d.join("ca.pem")).unwrap();
    let install = |name: &str| {
        std::fs::copy(d.join(format!("{name}.pem")), d.join("admin.pem")).unwrap();
        std::fs::copy(d.join(format!("{name}.key")), d.join("admin.key")).unwrap();
    };
    install("first");
    // The demo configuration ends with [admin]; the files are beside it.
    let config = config_with(&env, "tls_cert = \"admin.pem\"\ntls_key = \"admin.key\"\n");
    let child = env.daemon(&config, &[("HUB_WORKERS_SCHEDULE", "0 0 1 1 *")]);
    let url_file = d.join("admin.url");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !url_file.exists() {
        assert!(tokio::time::Instant::now() < deadline, "no admin.url");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = std::fs::read_to_string(&url_file).unwrap();
    let port = url
        .trim()
        .strip_prefix("https://127.0.0.1:")
        .and_then(|p| p.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{url}"))
        .to_string();
    let healthz = format!("https://localhost:{port}/healthz");
    let (r, cert) = over_https(&ca, &healthz).await;
    assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
    assert_eq!(r.text().await.unwrap(), "ok");
    assert_eq!(cert, first);
    // Plain HTTP to the HTTPS port: no answer; the daemon logs it and serves on.
    assert!(
        reqwest::Client::new()
            .get(format!("http://localhost:{port}/healthz"))
            .send()
            .await
            .is_err()
    );

    let hup = || async {
        let status = tokio::process::Command::new("kill")
            .args(["-HUP", &child.id().unwrap().to_string()])
            .status()
            .await
            .unwrap();
        assert!(status.success());
    };
    install("second");
    hup().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if over_https(&ca, &healthz).await.1 == second {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SIGHUP did not bring in the new certificate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A bad key file and SIGHUP: the certificate in use stays.
    std::fs::copy(d.join("first.pem"), d.join("admin.pem")).unwrap();
    std::fs::write(d.join("admin.key"), "not a key\n").unwrap();
    hup().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (r, cert) = over_https(&ca, &healthz).await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_eq!(cert, second);

    let out = env.stop(child).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let (pem, key) = (d.join("admin.pem"), d.join("admin.key"));
    for wanted in [
        format!(
            "admin API: certificate reloaded from {} and {}; new connections use it",
            pem.display(),
            key.display()
        ),
        format!(
            "admin API: certificate not reloaded, the one in use stays: admin.tls_key: {} holds no private key",
            key.display()
        ),
        "failed: received corrupt message of type InvalidContentType (not TLS: plain HTTP to the HTTPS port?)".to_string(),
    ] {
        assert!(stderr.contains(&wanted), "no {wanted:?} in:\n{stderr}");
    }
    assert!(
        !stderr.contains("listens beyond this machine"),
        "no warning on loopback"
    );
}

/// The statistics page (issue 19) in headless Chromium after each sync's first run: reached
/// from the status page's link, its tables give the figures worked out from the simulators
/// ([`crate::statistics::expected`]), a chart per figure (10 SVG), the CSV links; the API gives
/// the same figures as JSON and CSV (with a byte order mark), and a typo in a section is 400
/// naming the known ones. Screenshot: target/screenshots/statistics-page.png.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statistics_page_in_headless_chromium_shows_the_figures_worked_out_from_the_simulators()
{
    let a = Admin::start().await;
    // Admin::start ran the workers sync; the other two once each beside the daemon, and the
    // workers again (as crate::statistics::sync_all does).
    for sync in ["job-postings", "secondments", "workers"] {
        a.env.sync_once_of(sync).await;
    }
    let expected = crate::statistics::expected(&a.env).await;
    let api = a.get("/api/statistics").await;
    assert_eq!(crate::statistics::figures(&api), expected);
    let one = a.get("/api/statistics?section=job-postings").await;
    assert_eq!(one["job_postings"], expected["job_postings"]);
    assert_eq!(one["workers"], Value::Null);
    for (path, what) in [
        (
            "/api/statistics?section=worker",
            "no statistics section \"worker\" (known: workers, secondments, job-postings, referrals)",
        ),
        (
            "/api/statistics/csv?encoding=gbk",
            "no CSV encoding \"gbk\" (known: utf-8, gb18030)",
        ),
        (
            "/api/statistics?encoding=gb18030",
            "unknown query parameter \"encoding\"; this route takes section",
        ),
    ] {
        let r = a
            .http
            .get(format!("{}{path}", a.url))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], what, "{path}");
    }
    let r = a
        .http
        .get(format!("{}/api/statistics/csv?section=referrals", a.url))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let body = r.bytes().await.unwrap();
    assert!(body.starts_with("\u{feff}部分 section,维度 dimension".as_bytes()));

    let b = Browser::start().await;
    b.go(&format!("{}/", a.url)).await;
    let token_field = b.find("input[name=token]").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{token_field}/value"),
        json!({"text": a.token}),
    )
    .await;
    b.follow("button[type=submit]").await;
    b.follow("#statistics-link").await;
    assert!(b.text("h1").await.contains("数据统计 Statistics"));
    // Every figure drawn: workers 4, secondments 2, job postings 2, referrals 2.
    assert_eq!(b.count("figure svg").await, 10);
    let cell = |table: &str, row: usize, col: usize| {
        format!(
            "#{table} tr:nth-child({}) td:nth-child({})",
            row + 2,
            col + 1
        )
    };
    // The status table's first row (employed) and the referrals' hired row.
    assert_eq!(
        b.text(&cell("workers-status-table", 0, 1)).await,
        expected["workers"]["by_status"][0]["count"].to_string()
    );
    assert_eq!(
        b.text(&cell("referrals-outcome-table", 2, 1)).await,
        expected["referrals"]["all"]["hired"].to_string()
    );
    // The largest employer and its count, and the postings' total row.
    assert_eq!(
        b.text(&cell("workers-employer-table", 0, 0)).await,
        expected["workers"]["by_employer"][0]["label"]
            .as_str()
            .unwrap()
    );
    let n_firms = expected["job_postings"]["by_enterprise"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        b.text(&cell("postings-table", n_firms, 1)).await,
        expected["job_postings"]["all"]["open"].to_string()
    );
    assert_eq!(
        b.count("#workers-employer g.bar").await,
        expected["workers"]["by_employer"].as_array().unwrap().len()
    );
    let shot = workspace().join("target/screenshots/statistics-page.png");
    let png = b.screenshot(&shot).await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    b.element_screenshot(
        "#referrals-enterprise",
        &workspace().join("target/screenshots/statistics-page-referrals.png"),
    )
    .await;
    // The page does not scroll sideways at 700 pixels either.
    b.resize(700, 1000).await;
    b.go(&format!("{}/statistics", a.url)).await;
    let (page, viewport) = b.page_and_viewport_width().await;
    assert!(page <= viewport, "{page} > {viewport}");
    b.quit().await;
    a.stop().await;
}

/// Whether WebDriver's answer to `GET /element/{root}/name`, asked of the root element of the
/// page a click was on, says that page is gone: `Ok(true)` for an error that the element's
/// document no longer exists, `Ok(false)` for a name (still there), `Err(())` for any other
/// error. W3C WebDriver answers "stale element reference"; chromedriver may also answer
/// "no such element" once it has forgotten the id, or, while the new document replaces the
/// old one, "unknown error" whose message is Chrome's inspector error "Node with given id
/// does not belong to the document" (CI, stop 42).
fn page_left(answer: &Value) -> Result<bool, ()> {
    let value = &answer["value"];
    match value.get("error").and_then(Value::as_str) {
        None => Ok(false),
        Some("stale element reference" | "no such element") => Ok(true),
        Some("unknown error")
            if value["message"]
                .as_str()
                .is_some_and(|m| m.contains("does not belong to the document")) =>
        {
            Ok(true)
        }
        Some(_) => Err(()),
    }
}

#[test]
fn the_old_pages_root_gone_stale_forgotten_or_out_of_the_document_means_the_page_was_left() {
    // The answers chromedriver gave; the third is the one CI's run of stop 42 got mid-navigation.
    let stale = json!({"value": {"error": "stale element reference", "message": "stale element reference: stale element not found"}});
    let forgotten = json!({"value": {"error": "no such element", "message": "no such element: Unable to locate element"}});
    let out_of_document = json!({"value": {"error": "unknown error", "message": "unknown error: unhandled inspector error: {\"code\":-32000,\"message\":\"Node with given id does not belong to the document\"}\n  (Session info: chrome=156.0.8078.129)", "stacktrace": "#0 0x55b05033ae0e <unknown>"}});
    let still_there = json!({"value": "html"});
    let other = json!({"value": {"error": "unknown error", "message": "unknown error: session deleted because of page crash"}});
    assert_eq!(page_left(&stale), Ok(true));
    assert_eq!(page_left(&forgotten), Ok(true));
    assert_eq!(page_left(&out_of_document), Ok(true));
    assert_eq!(page_left(&still_there), Ok(false));
    assert_eq!(page_left(&other), Err(()));
}
