//! The production template (`config/production.toml`) and the systemd unit (`config/hub.service`)
//! stay valid and agree with each other: the template parses with `hub::config`, holds no
//! secret in clear, pins every plugin, and names the paths and the systemd credentials the unit
//! provides.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use hub::config::{self, SecretSource};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn text(rel: &str) -> String {
    std::fs::read_to_string(repo_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The values of a unit's `Key=` lines, in order.
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .collect()
}

#[test]
fn the_production_template_parses_and_pins_every_plugin_with_secrets_only_from_systemd_credentials()
{
    // No `${...}` in the template: nothing from the test's environment can make it parse.
    let c = config::load_with(&repo_file("config/production.toml"), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.data_dir(), Path::new("/var/lib/hub"));
    assert_eq!(
        c.admin.listen.get_ref(),
        "127.0.0.1:8470",
        "the admin API on this machine only"
    );
    assert_eq!(
        c.admin.token,
        Some(SecretSource::Credential {
            credential: "hub-admin-token".into()
        })
    );
    assert_eq!(c.store_url(), "sqlite:///var/lib/hub/state.db");
    assert_eq!(
        c.hub.state_key, None,
        "the state key is the file in the data directory"
    );
    assert_eq!(
        c.plugins.keys().map(String::as_str).collect::<Vec<_>>(),
        ["huiyang-esms", "zhenfeng-registry"]
    );
    for (name, p) in &c.plugins {
        let path = c.plugin_path(p);
        assert!(
            path.starts_with("/usr/local/lib/hub/plugins"),
            "{name}: {}",
            path.display()
        );
        let pin = p
            .sha256
            .as_ref()
            .unwrap_or_else(|| panic!("{name} is not pinned"));
        assert_eq!(pin.get_ref().len(), 64, "{name}");
        assert!(!p.secrets.is_empty(), "{name}");
        for (secret, source) in &p.secrets {
            assert!(
                matches!(source, SecretSource::Credential { .. }),
                "{name}.{secret} must be a systemd credential"
            );
        }
        // The base URL handed to the plugin is an origin it is granted.
        let base = p.config["base_url"].as_str().unwrap();
        let origin = base.trim_end_matches('/');
        assert_eq!(
            p.allow_hosts
                .iter()
                .map(|h| h.get_ref().as_str())
                .collect::<Vec<_>>(),
            [origin],
            "{name}"
        );
    }
    let mut secrets: Vec<(&str, &str)> = Vec::new();
    for p in c.plugins.values() {
        for (secret, source) in &p.secrets {
            if let SecretSource::Credential { credential } = source {
                secrets.push((secret.as_str(), credential.as_str()));
            }
        }
    }
    assert_eq!(
        secrets,
        [
            ("api_key", "hy-esms-api-key"),
            ("password", "zf-reg-password"),
            ("username", "zf-reg-username")
        ]
    );

    assert_eq!(c.syncs.keys().collect::<Vec<_>>(), ["workers"]);
    let w = &c.syncs["workers"];
    assert_eq!(
        (w.a.plugin.get_ref().as_str(), w.b.plugin.get_ref().as_str()),
        ("zhenfeng-registry", "huiyang-esms")
    );
    assert_eq!(w.a.filter["/workplace/countyCode"].as_str(), Some("441303"));
    // Every 15 minutes, Beijing time (UTC+8, no daylight saving): after 2026-03-01 00:07 UTC
    // (08:07 in Beijing) come 08:15, 08:30 and 08:45.
    let s = hub::schedule::Schedule::parse(w.schedule.get_ref(), w.timezone.get_ref()).unwrap();
    let after = chrono::DateTime::parse_from_rfc3339("2026-03-01T00:07:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let next: Vec<String> = s
        .upcoming(after, 3)
        .iter()
        .map(|t| t.to_rfc3339())
        .collect();
    assert_eq!(
        next,
        [
            "2026-03-01T08:15:00+08:00",
            "2026-03-01T08:30:00+08:00",
            "2026-03-01T08:45:00+08:00"
        ]
    );
}

#[test]
fn the_unit_runs_the_template_where_it_is_installed_with_the_secrets_it_names() {
    let unit = text("config/hub.service");
    let template = text("config/production.toml");
    let c = config::parse(Path::new("/etc/hub/hub.toml"), &template, &|_| None).unwrap();
    assert_eq!(unit_values(&unit, "Type"), ["simple"]);
    assert_eq!(
        unit_values(&unit, "ExecStart"),
        ["/usr/local/bin/hub run --config /etc/hub/hub.toml"]
    );
    // A reload checks the configuration the daemon runs first: exit 2 (cannot load) fails it,
    // anything else signals the daemon (`$$` is systemd's literal `$`).
    assert_eq!(
        unit_values(&unit, "ExecReload"),
        [
            "/bin/sh -c '/usr/local/bin/hub check --config /etc/hub/hub.toml >&2; [ $$? -ne 2 ] || exit 1; exec /bin/kill -HUP \"$$MAINPID\"'"
        ]
    );
    assert_eq!(unit_values(&unit, "KillSignal"), ["SIGTERM"]);
    assert_eq!(unit_values(&unit, "Restart"), ["on-failure"]);
    assert_eq!(unit_values(&unit, "User"), ["hub"]);
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(unit_values(&unit, key), [value], "{key}");
    }
    // The only writable path is the data directory.
    assert_eq!(
        unit_values(&unit, "ReadWritePaths"),
        [c.data_dir().to_str().unwrap()]
    );
    // The environment file is optional (settings, no secret); the template reads no variable.
    assert_eq!(unit_values(&unit, "EnvironmentFile"), ["-/etc/hub/hub.env"]);
    assert!(
        !template.contains("{ env = "),
        "a secret from the environment"
    );
    // The unit loads exactly the credentials the template reads, each from
    // /etc/hub/credentials/NAME; assignments `KEY = { credential = "NAME" }`, commented out or
    // not (prose is not an assignment).
    let read: BTreeSet<&str> = template
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .filter_map(|l| l.split_once(" = { credential = \""))
        .filter(|(key, _)| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
        })
        .map(|(_, rest)| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(
        read,
        BTreeSet::from([
            "hub-admin-token",
            "hy-esms-api-key",
            "zf-reg-password",
            "zf-reg-username"
        ])
    );
    let loaded: BTreeSet<&str> = unit_values(&unit, "LoadCredential")
        .into_iter()
        .map(|v| {
            let (name, path) = v.split_once(':').unwrap();
            assert_eq!(path, format!("/etc/hub/credentials/{name}"));
            name
        })
        .collect();
    assert_eq!(read, loaded);
    // hub.env.example sets nothing by default: every line is a comment.
    let example = text("config/hub.env.example");
    assert!(
        example
            .lines()
            .all(|l| l.starts_with('#') || l.trim().is_empty()),
        "{example}"
    );
}
