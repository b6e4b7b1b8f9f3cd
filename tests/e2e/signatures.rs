//! Signed plugins (`require_signed = true` in config/demo.toml, which trusts the repository's
//! development key): a connector whose signature is missing, made by another key, or does not
//! match its bytes stops `hub run` at start with exit 2 naming it; on a SIGHUP reload the
//! running configuration stays.

use crate::CONFIG;
use crate::harness::{self, Env};
use std::path::Path;
use std::time::Duration;

/// The key ID of config/dev-keys/plugin-signing.pub (bytes 2..10 of its base64 line, read
/// little-endian, as minisign prints it).
const DEV_KEY_ID: &str = "5022E83BA6241D0D";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whether a line of `err` starts with the location `at` and holds `expected`.
fn located(err: &str, at: &str, expected: &str) -> bool {
    err.lines()
        .any(|l| l.starts_with(at) && l.contains(expected))
}

fn append_byte(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes.push(0);
    std::fs::write(file, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_unsigned_signed_by_another_key_or_changed_stops_the_start_and_a_reload_keeps_the_running_configuration()
 {
    let env = Env::start().await;
    let built = harness::plugin_dir().join("huiyang_esms.wasm");
    let copy = env.dir.path().join("plugins/huiyang_esms.wasm");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&built, &copy).unwrap();
    let sig = env.dir.path().join("plugins/huiyang_esms.wasm.minisig");
    let text = std::fs::read_to_string(harness::workspace().join(CONFIG))
        .unwrap()
        .replace(
            "${HUB_PLUGIN_DIR:-../target/wasm32-wasip2/plugin}/huiyang_esms.wasm",
            &copy.display().to_string(),
        )
        // Nothing runs by itself: the test is about loading.
        .replace("${HUB_WORKERS_SCHEDULE:-*/5 * * * * *}", "0 0 1 1 *");
    let cfg = env.dir.path().join("hub.toml");
    std::fs::write(&cfg, &text).unwrap();
    let cfg_s = cfg.display().to_string();
    let line = text
        .lines()
        .position(|l| l.starts_with("path = ") && l.contains("huiyang_esms"))
        .unwrap()
        + 1;
    // Each refusal is located at the plugin's `path` line, then names the plugin and file.
    let at = format!("{cfg_s}:{line}:");
    let head = format!("plugin huiyang-esms: cannot load {}: ", copy.display());

    // No signature beside the copy.
    let out = env.run(&["run", "--config", &cfg_s]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        located(
            &stderr(&out),
            &at,
            &format!(
                "{head}no signature {}: hub.require_signed is set, so only signed plugins load (sign it with `hub plugin sign --key SECRET_KEY {}`): refused",
                sig.display(),
                copy.display()
            )
        ),
        "{}",
        stderr(&out)
    );

    // Signed, but by a key the deployment does not trust.
    let other = env.dir.path().join("other");
    let made = env
        .run(&["plugin", "keygen", other.to_str().unwrap()])
        .await;
    assert!(made.status.success(), "{}", stderr(&made));
    let said = String::from_utf8_lossy(&made.stdout).into_owned();
    let other_id = said
        .strip_prefix("key ")
        .and_then(|s| s.split(';').next())
        .unwrap_or_else(|| panic!("{said}"))
        .to_string();
    assert_eq!(other_id.len(), 16, "{said}");
    let signed = env
        .run(&[
            "plugin",
            "sign",
            "--key",
            &format!("{}.key", other.display()),
            copy.to_str().unwrap(),
        ])
        .await;
    assert!(signed.status.success(), "{}", stderr(&signed));
    let out = env.run(&["run", "--config", &cfg_s]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        located(
            &stderr(&out),
            &at,
            &format!(
                "{head}signature {} was made by key {other_id}, which is not among hub.trusted_keys ({DEV_KEY_ID}): refused",
                sig.display()
            )
        ),
        "{}",
        stderr(&out)
    );

    // The development key's signature of the built file, over a copy one byte longer.
    std::fs::copy(
        harness::plugin_dir().join("huiyang_esms.wasm.minisig"),
        &sig,
    )
    .unwrap();
    append_byte(&copy);
    let out = env.run(&["run", "--config", &cfg_s]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let mismatch = format!(
        "{head}signature {} by trusted key {DEV_KEY_ID} does not match the file's bytes",
        sig.display()
    );
    assert!(located(&stderr(&out), &at, &mismatch), "{}", stderr(&out));
    // `hub sync NAME --once` refuses the same way, before it opens the store or runs anything.
    let out = env
        .run(&["sync", "workers", "--once", "--config", &cfg_s])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(located(&stderr(&out), &at, &mismatch), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "nothing ran: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let verify = env
        .run(&[
            "plugin",
            "verify",
            "--pubkey",
            "config/dev-keys/plugin-signing.pub",
            copy.to_str().unwrap(),
        ])
        .await;
    assert_eq!(verify.status.code(), Some(2));

    // The file as built: the daemon starts. Then changed again, and a reload is refused while
    // the daemon goes on; put back, a second reload is taken.
    std::fs::copy(&built, &copy).unwrap();
    let verify = env
        .run(&[
            "plugin",
            "verify",
            "--pubkey",
            "config/dev-keys/plugin-signing.pub",
            copy.to_str().unwrap(),
        ])
        .await;
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout),
        format!("{}: good signature by key {DEV_KEY_ID}\n", copy.display())
    );
    let mut child = env.daemon(&cfg_s, &[]);
    let url_file = env.dir.path().join("admin.url");
    let up = tokio::time::Instant::now() + Duration::from_secs(60);
    while !url_file.exists() {
        assert!(
            tokio::time::Instant::now() < up,
            "the daemon wrote no admin.url"
        );
        assert!(child.try_wait().unwrap().is_none(), "the daemon ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = child.id().unwrap().to_string();
    let hup = || async {
        tokio::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .await
            .unwrap()
    };
    append_byte(&copy);
    assert!(hup().await.success());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the daemon ended on the refused reload"
    );
    std::fs::copy(&built, &copy).unwrap();
    assert!(hup().await.success());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = env.stop(child).await;
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let refused = err
        .find("reload refused, the running configuration stays:")
        .unwrap_or_else(|| panic!("{err}"));
    assert!(err[refused..].contains(&mismatch), "{err}");
    assert!(
        err[refused..].contains("daemon running the new configuration"),
        "the second reload was taken: {err}"
    );
}
