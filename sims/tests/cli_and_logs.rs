//! The `sims` binary's one line of output, and what the simulators log.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The child process started by a test, killed when the test ends, whatever its outcome.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_one_listening_line_and_serves() {
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_sims"))
            .args(["zf-reg", "--port", "0", "--seed", "7"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sims starts"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url[17..].parse::<u16>().unwrap() > 0,
        "{url}"
    );
    let facts = common::get_json(&common::client(), format!("{url}/_admin/seed")).await;
    assert_eq!(facts["seed"], 7);
    assert_eq!(facts["residents"], 3000);
}

/// Collects log output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: the servers' tasks run on this thread, under the default subscriber.
#[tokio::test]
async fn logs_name_method_path_and_status_but_no_record_contents_or_tokens() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let opts = common::unlimited();
    let (hy, zf) = (common::hy(&opts).await, common::zf(&opts).await);
    let c = common::client();
    let token = common::zf_login(&c, &zf).await;
    let csv = c
        .get(format!(
            "{}/export/workers.csv?token={token}&since=2021-09-01%2000:00:00",
            zf.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let saved: serde_json::Value = c
        .post(format!("{}/api/worker/save", zf.url()))
        .form(&[
            ("token", token.as_str()),
            ("djbh", ""),
            ("xm", "王芳"),
            ("sfzh", "52232519900101002X"),
            ("xb", "2"),
            ("wgzt", "1"),
            ("wgxq", "441303"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(saved["code"], 0);
    let worker = serde_json::json!({"name": "李四", "idNo": "522325199001010011", "gender": "M", "status": "employed"});
    let created = c
        .post(format!("{}/api/v1/zhenfeng-workers", hy.url()))
        .header("X-Api-Key", "demo-hy-key")
        .json(&worker)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let bad = c
        .post(format!("{}/api/v1/zhenfeng-workers", hy.url()))
        .header("X-Api-Key", "demo-hy-key")
        .json(&worker)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 409);
    hy.shutdown().await;
    zf.shutdown().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("/export/workers.csv") && log.contains("/api/v1/zhenfeng-workers"),
        "{log}"
    );
    assert!(log.contains("status=409"), "{log}");
    assert!(
        !log.contains(&token),
        "the token (a query parameter) is not logged"
    );
    assert!(!log.contains("since"), "query strings are not logged");
    for secret in [
        "52232519900101002X",
        "522325199001010011",
        "王芳",
        "李四",
        "13800138000",
    ] {
        assert!(!log.contains(secret), "{secret} logged");
    }
    for r in hub_sims::seed::generate(1, hub_sims::seed::DEFAULT_SEED).residents {
        assert!(
            !log.contains(&r.sfzh) && !log.contains(&hub_schemas::id_number::normalise(&r.sfzh))
        );
    }
    assert!(
        log.chars().all(|ch| (ch as u32) < 0x2E80),
        "no Chinese text (names, places) in the log"
    );
}
