//! Tests of reading, substituting and checking configuration files.

#[test]
fn a_duplicate_key_or_table_names_itself_and_where_it_was_first_defined() {
    let text =
        "[hub]\ndata_dir = \"d\"\nlease_ttl = \"2m\"\n# lease_ttl = \"9m\"\nlease_ttl = \"3m\"\n";
    let e = parse(Path::new("hub.toml"), text, &|_| None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "hub.toml:5:1: duplicate key `lease_ttl` in [hub]: first defined at line 3"
    );
    let text = "[hub]\ndata_dir = \"d\"\n\n[hub]\nlease_ttl = \"3m\"\n";
    let e = parse(Path::new("hub.toml"), text, &|_| None).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("duplicate table [hub]: first defined at line 1"),
        "{e}"
    );
}
use super::*;

fn vars(name: &str) -> Option<String> {
    match name {
        "ZF_URL" => Some("http://127.0.0.1:9002".into()),
        _ => None,
    }
}

const GOOD: &str = r#"
[hub]
data_dir = "data"

[plugins.zf]
path = "zf.wasm"
allow_hosts = ["${ZF_URL}"]
secrets.password = { env = "ZF_PASSWORD" }
config = { base_url = "${ZF_URL}" }

[plugins.hy]
path = "hy.wasm"
allow_hosts = ["${HY_URL:-http://127.0.0.1:9001}"]
secrets.api_key = { value = "k" }
config = { base_url = "${HY_URL:-http://127.0.0.1:9001}" }

[syncs.workers]
schema = "worker"
a = { plugin = "zf", stream = "workers", where = { "/workplace/countyCode" = "441303" } }
b = { plugin = "hy", stream = "zhenfeng-workers" }
schedule = "*/10 * * * * *"
merge = { a = ["/name"], b = ["/status"], newest = ["/phone"] }
"#;

#[test]
fn a_cap_of_no_open_bodies_is_refused_like_every_zero_limit() {
    let bad = GOOD.replace(
        "[plugins.zf]\n",
        "[plugins.zf]\nlimits = { max_open_bodies = 0 }\n",
    );
    let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
    assert!(
        e.0.iter()
            .any(|e| e.message == "plugins.zf.limits: every limit must be greater than 0"),
        "{e}"
    );
    let ok = GOOD.replace(
        "[plugins.zf]\n",
        "[plugins.zf]\nlimits = { max_open_bodies = 1 }\n",
    );
    assert_eq!(
        parse(Path::new("hub.toml"), &ok, &vars).unwrap().plugins["zf"]
            .limits
            .max_open_bodies,
        1
    );
}

#[test]
fn a_rate_limit_is_read_with_its_default_burst_and_bad_ones_are_refused_at_their_place() {
    let c = parse(Path::new("hub.toml"), GOOD, &vars).unwrap();
    assert_eq!(c.plugins["hy"].rate_limit, None, "no limit unless set");
    let with = |line: &str| GOOD.replace("[plugins.hy]\n", &format!("[plugins.hy]\n{line}\n"));
    let c = parse(
        Path::new("hub.toml"),
        &with("rate_limit = { requests_per_second = 20 }"),
        &vars,
    )
    .unwrap();
    assert_eq!(
        *c.plugins["hy"].rate_limit.as_ref().unwrap().get_ref(),
        RateLimit {
            requests_per_second: 20.0,
            burst: 1
        }
    );
    let c = parse(
        Path::new("hub.toml"),
        &with("rate_limit = { requests_per_second = 2.5, burst = 5 }"),
        &vars,
    )
    .unwrap();
    assert_eq!(
        *c.plugins["hy"].rate_limit.as_ref().unwrap().get_ref(),
        RateLimit {
            requests_per_second: 2.5,
            burst: 5
        }
    );
    // [plugins.hy] is on line 11 of GOOD; the setting goes on line 12, its value at column 14.
    for (line, message) in [
        (
            "rate_limit = { requests_per_second = 0 }",
            "plugins.hy.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not 0",
        ),
        (
            "rate_limit = { requests_per_second = -3 }",
            "plugins.hy.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not -3",
        ),
        (
            "rate_limit = { requests_per_second = nan }",
            "plugins.hy.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not NaN",
        ),
        (
            "rate_limit = { requests_per_second = 20, burst = 0 }",
            "plugins.hy.rate_limit.burst: must be at least 1 (requests that may go at once)",
        ),
    ] {
        let e = parse(Path::new("hub.toml"), &with(line), &vars).unwrap_err();
        assert_eq!(
            e.0.iter()
                .map(|e| (e.line, e.column, e.message.as_str()))
                .collect::<Vec<_>>(),
            [(12, 14, message)],
            "{line}"
        );
    }
    // A misspelt key or a missing rate is serde's error, at its place.
    let e = parse(
        Path::new("hub.toml"),
        &with("rate_limit = { requests_per_second = 20, brust = 5 }"),
        &vars,
    )
    .unwrap_err();
    assert_eq!((e.0[0].line, e.0[0].column), (12, 42), "{e}");
    assert!(e.0[0].message.contains("unknown field `brust`"), "{e}");
    let e = parse(
        Path::new("hub.toml"),
        &with("rate_limit = { burst = 5 }"),
        &vars,
    )
    .unwrap_err();
    assert_eq!(e.0[0].line, 12, "{e}");
    assert!(
        e.0[0]
            .message
            .contains("missing field `requests_per_second`"),
        "{e}"
    );
    let e = parse(Path::new("hub.toml"), &with("rate_limt = 20"), &vars).unwrap_err();
    assert_eq!((e.0[0].line, e.0[0].column), (12, 1), "{e}");
    assert!(e.0[0].message.contains("unknown field `rate_limt`"), "{e}");
}

#[test]
fn a_good_file_parses_with_defaults_and_substitutions() {
    let c = parse(Path::new("/etc/hub/hub.toml"), GOOD, &vars).unwrap();
    assert_eq!(
        c.plugins["zf"].config["base_url"].as_str(),
        Some("http://127.0.0.1:9002")
    );
    assert_eq!(
        c.plugins["hy"].allow_hosts[0].get_ref(),
        "http://127.0.0.1:9001"
    );
    assert_eq!(
        c.plugins["zf"].secrets["password"],
        SecretSource::Env {
            env: "ZF_PASSWORD".into()
        }
    );
    let w = &c.syncs["workers"];
    assert_eq!(w.direction, Direction::Both);
    assert_eq!(w.timezone.get_ref(), "Asia/Shanghai");
    assert_eq!(*w.batch_size.get_ref(), 200);
    assert_eq!(w.a.filter["/workplace/countyCode"].as_str(), Some("441303"));
    assert_eq!(c.data_dir(), Path::new("/etc/hub/data"));
    assert_eq!(
        c.plugin_path(&c.plugins["zf"]),
        Path::new("/etc/hub/zf.wasm")
    );
    assert_eq!(c.store_url(), "sqlite:///etc/hub/data/state.db");
    assert_eq!(c.plugins["zf"].limits, Limits::default());
    assert_eq!(
        (w.overlap, w.catch_up_window, w.jitter),
        (
            Overlap::Skip,
            std::time::Duration::from_secs(3600),
            std::time::Duration::ZERO
        )
    );
    let tuned = GOOD.replace(
        "schedule = ",
        "overlap = \"queue_one\"\ncatch_up_window = \"15m\"\njitter = \"2s 500ms\"\nschedule = ",
    );
    let c = parse(Path::new("hub.toml"), &tuned, &vars).unwrap();
    let w = &c.syncs["workers"];
    assert_eq!(
        (w.overlap, w.catch_up_window, w.jitter),
        (
            Overlap::QueueOne,
            std::time::Duration::from_secs(900),
            std::time::Duration::from_millis(2500)
        )
    );
    let bad = GOOD.replace("schedule = ", "jitter = \"soon\"\nschedule = ");
    let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
    assert_eq!(e.0[0].line, 21, "{e}");
}

#[test]
fn policies_take_their_standard_names_and_the_short_ones_and_deletes_are_checked() {
    let named = GOOD.replace(
        "merge = { a = [\"/name\"], b = [\"/status\"], newest = [\"/phone\"] }",
        "merge = { default = \"b_wins\", park = [\"/hometownTownship\"] }\n\
         deletes = { a = { \"/status\" = \"returned_home\" } }",
    );
    let c = parse(Path::new("hub.toml"), &named, &vars).unwrap();
    let w = &c.syncs["workers"];
    assert_eq!(w.merge.get_ref().default, FieldPolicy::B);
    assert_eq!(
        w.merge.get_ref().rules(),
        vec![("/hometownTownship".to_string(), FieldPolicy::Park)]
    );
    assert_eq!(
        w.deletes.get_ref().a["/status"].as_str(),
        Some("returned_home")
    );
    assert!(w.deletes.get_ref().b.is_empty());
    for (text, policy) in [
        ("a", FieldPolicy::A),
        ("a_wins", FieldPolicy::A),
        ("b", FieldPolicy::B),
        ("newest", FieldPolicy::Newest),
        ("newest_wins", FieldPolicy::Newest),
        ("park", FieldPolicy::Park),
    ] {
        let m: MergeConfig = toml::from_str(&format!("default = \"{text}\"")).unwrap();
        assert_eq!(m.default, policy, "{text}");
    }
    assert!(toml::from_str::<MergeConfig>("default = \"c_wins\"").is_err());
    let bad = GOOD.replace(
        "merge = {",
        "deletes = { b = { \"status\" = \"left\", \"/x\" = [1] } }\nmerge = {",
    );
    let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
    let msgs: Vec<String> = e.0.iter().map(|e| e.message.clone()).collect();
    assert_eq!(
        msgs,
        [
            "syncs.workers.deletes.b./x: must be a string, number or boolean",
            "syncs.workers.deletes.b: \"status\" is not a JSON pointer (RFC 6901)",
        ]
    );
    assert_eq!(e.0[0].line, 22, "{e}");
}

#[test]
fn an_unset_variable_is_named_with_its_line() {
    let e = parse(
        Path::new("hub.toml"),
        "[hub]\ndata_dir = \"${NOPE}\"\n",
        &vars,
    )
    .unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!((e.0[0].line, e.0[0].column), (2, 13));
    assert!(e.0[0].message.contains("NOPE"), "{}", e.0[0].message);
    assert_eq!(
        interpolate(Path::new("x"), "a$$b ${ZF_URL} $x", &vars).unwrap(),
        "a$b http://127.0.0.1:9002 $x"
    );
}

#[test]
fn toml_syntax_errors_point_at_the_line() {
    let e = parse(
        Path::new("hub.toml"),
        "[hub]\ndata_dir = \"x\"\nbogus = \n",
        &vars,
    )
    .unwrap_err();
    assert_eq!(e.0[0].line, 3);
    assert!(e.to_string().starts_with("hub.toml:3:"), "{e}");
}

#[test]
fn unknown_keys_are_refused() {
    let e = parse(
        Path::new("hub.toml"),
        "[hub]\ndata_dir = \"x\"\ndatadir = \"y\"\n",
        &vars,
    )
    .unwrap_err();
    assert_eq!(e.0[0].line, 3);
    assert!(e.0[0].message.contains("datadir"), "{}", e.0[0].message);
}

#[test]
fn a_store_of_another_kind_and_a_lease_too_short_to_renew_are_refused() {
    let shared = GOOD.replace(
        "data_dir = \"data\"",
        "data_dir = \"data\"\nstore = \"postgres://hub@db:5432/hub\"\nlease_ttl = \"30s\"",
    );
    let c = parse(Path::new("hub.toml"), &shared, &vars).unwrap();
    assert_eq!(c.store_url(), "postgres://hub@db:5432/hub");
    assert_eq!(c.hub.lease_ttl, std::time::Duration::from_secs(30));
    // An empty store (the demo's `${HUB_STORE:-}`) is the default SQLite file.
    let empty = GOOD.replace("data_dir = \"data\"", "data_dir = \"data\"\nstore = \"\"");
    let c = parse(Path::new("/etc/hub/hub.toml"), &empty, &vars).unwrap();
    assert_eq!(c.store_url(), "sqlite:///etc/hub/data/state.db");
    let bad = GOOD.replace(
        "data_dir = \"data\"",
        "data_dir = \"data\"\nstore = \"mysql://hub:secret@db/hub\"\nlease_ttl = \"3s\"",
    );
    let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
    let msgs: Vec<&str> = e.0.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "hub.store: the scheme \"mysql\" is not a state store: sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
            "hub.lease_ttl: 3s is too short (at least 4s: it is renewed every quarter of it)",
        ]
    );
    assert!(!format!("{e:?}").contains("secret"));
}

#[test]
fn every_semantic_problem_is_reported_with_its_place() {
    let bad = GOOD
        .replace(r#"plugin = "hy""#, r#"plugin = "hyy""#)
        .replace(
            r#"schedule = "*/10 * * * * *""#,
            r#"schedule = "0 0 30 2 *""#,
        )
        .replace(r#"newest = ["/phone"]"#, r#"newest = ["/status"]"#);
    let e = parse(Path::new("hub.toml"), &bad, &vars).unwrap_err();
    let msgs: Vec<String> =
        e.0.iter()
            .map(|e| format!("{}: {}", e.line, e.message))
            .collect();
    assert_eq!(e.0.len(), 3, "{msgs:#?}");
    // GOOD starts with an empty line: `b = ` is line 20, `schedule` 21, `merge` 22.
    assert!(
        msgs[0].starts_with("20: syncs.workers.b.plugin: no plugin \"hyy\""),
        "{msgs:#?}"
    );
    assert!(
        msgs[1].starts_with(
            "21: syncs.workers: day-of-month field \"30\" with month field \"2\" can never fire"
        ),
        "{msgs:#?}"
    );
    assert_eq!(
        msgs[2], "22: syncs.workers.merge: /status is listed under both B and Newest",
        "{msgs:#?}"
    );
}

#[test]
fn named_tokens_take_a_known_role_and_a_unique_name_or_are_refused_at_their_place() {
    // GOOD ends with line 22; `[[admin.tokens]]` is line 23, `name` 24, `role` 25.
    let token = |name: &str, role: &str| {
        format!(
            "[[admin.tokens]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken = {{ value = \"viewer-token-0123456789\" }}\n"
        )
    };
    let ok = format!(
        "{GOOD}{}{}",
        token("li.na", "viewer"),
        token("wang", "operator")
    );
    let c = parse(Path::new("/etc/hub/hub.toml"), &ok, &vars).unwrap();
    assert_eq!(
        c.admin
            .tokens
            .iter()
            .map(|t| (t.name.get_ref().as_str(), *t.role.get_ref()))
            .collect::<Vec<_>>(),
        [("li.na", Role::Viewer), ("wang", Role::Operator)]
    );
    let typo = format!("{GOOD}{}", token("li.na", "admn"));
    let e = parse(Path::new("/etc/hub/hub.toml"), &typo, &vars).unwrap_err();
    eprintln!("{e}");
    assert_eq!(
        e.to_string(),
        "/etc/hub/hub.toml:25:8: unknown variant `admn`, expected `viewer` or `operator`"
    );
    // The same name twice: the second is named, with the line of the first (24).
    let twice = format!(
        "{GOOD}{}{}",
        token("li.na", "viewer"),
        token("li.na", "operator")
    );
    let e = parse(Path::new("/etc/hub/hub.toml"), &twice, &vars).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/hub/hub.toml:28:8: admin.tokens: name \"li.na\" is given twice (first at line 24)"
    );
}

#[test]
fn a_tls_certificate_without_its_key_is_refused_at_its_place_and_both_resolve_beside_the_file() {
    // GOOD ends with line 22; `[admin]` is line 23, the first key line 24, its value at
    // column 12 (after `tls_cert = `).
    let half = format!("{GOOD}[admin]\ntls_cert = \"tls/admin.crt\"\n");
    let e = parse(Path::new("/etc/hub/hub.toml"), &half, &vars).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/hub/hub.toml:24:12: admin.tls_key: missing: admin.tls_cert is set, and HTTPS needs the certificate's private key too (PEM file)"
    );
    let half = format!("{GOOD}[admin]\ntls_key = \"tls/admin.key\"\n");
    let e = parse(Path::new("/etc/hub/hub.toml"), &half, &vars).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/hub/hub.toml:24:11: admin.tls_cert: missing: admin.tls_key is set, and HTTPS needs the certificate chain too (PEM file)"
    );
    let both =
        format!("{GOOD}[admin]\ntls_cert = \"tls/admin.crt\"\ntls_key = \"/srv/admin.key\"\n");
    let c = parse(Path::new("/etc/hub/hub.toml"), &both, &vars).unwrap();
    assert_eq!(
        c.admin_tls_files(),
        Some((
            PathBuf::from("/etc/hub/tls/admin.crt"),
            PathBuf::from("/srv/admin.key")
        ))
    );
    let c = parse(Path::new("/etc/hub/hub.toml"), GOOD, &vars).unwrap();
    assert_eq!(c.admin_tls_files(), None);
}

#[test]
fn secrets_resolve_from_files_without_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
    let s = SecretSource::File { file: "pw".into() };
    assert_eq!(s.resolve(dir.path()).unwrap(), "s3cret");
    let missing = SecretSource::Env {
        env: "HUB_TEST_SURELY_UNSET".into(),
    };
    assert_eq!(
        missing.resolve(dir.path()).unwrap_err(),
        "environment variable HUB_TEST_SURELY_UNSET is not set"
    );
}

#[test]
fn a_systemd_credential_is_read_from_the_credentials_directory_and_each_failure_named() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("zf-reg-password"), "s3cret-zf\n").unwrap();
    let vars = |_: &str| None;
    let text = "[hub]\ndata_dir = \"d\"\n[plugins.zf]\npath = \"zf.wasm\"\nsecrets.password = { credential = \"zf-reg-password\" }\n";
    let c = parse(Path::new("hub.toml"), text, &vars).unwrap();
    let src = &c.plugins["zf"].secrets["password"];
    assert_eq!(
        src,
        &SecretSource::Credential {
            credential: "zf-reg-password".into()
        }
    );
    let here = Path::new(".");
    assert_eq!(
        src.resolve_with(here, Some(creds.path())).unwrap(),
        "s3cret-zf"
    );
    assert_eq!(
        src.resolve_with(here, None).unwrap_err(),
        "credential zf-reg-password: CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit with LoadCredential=zf-reg-password:PATH; outside systemd use { file = \"PATH\" })"
    );
    let absent = SecretSource::Credential {
        credential: "hy-api-key".into(),
    };
    let e = absent.resolve_with(here, Some(creds.path())).unwrap_err();
    assert!(
        e.starts_with(&format!(
            "credential hy-api-key: cannot read {}: ",
            creds.path().join("hy-api-key").display()
        )),
        "{e}"
    );
    let escape = SecretSource::Credential {
        credential: "../zf-reg-password".into(),
    };
    assert_eq!(
        escape.resolve_with(here, Some(creds.path())).unwrap_err(),
        "credential \"../zf-reg-password\": not a credential name (a file name, no '/')"
    );
}
