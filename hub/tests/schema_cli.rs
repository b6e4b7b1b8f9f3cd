//! `hub schema list` and `hub schema validate` end to end: the built binary, its output and its
//! exit status, on the example records shipped in `schemas/examples/`.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/examples")
}

/// Runs `hub schema ARGS...` in `schemas/examples/`.
fn hub_schema(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hub"))
        .arg("schema")
        .args(args)
        .current_dir(examples())
        .output()
        .expect("hub runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("UTF-8 output")
}

/// File names (relative to `dir`) with this prefix and `.json`, sorted.
fn files(dir: &str, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(examples().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(&format!("{prefix}.")) && n.ends_with(".json"))
        .map(|n| if dir == "." { n } else { format!("{dir}/{n}") })
        .collect();
    v.sort();
    v
}

const ENTITIES: [&str; 5] = [
    "worker",
    "enterprise",
    "job-posting",
    "referral",
    "secondment",
];

#[test]
fn list_prints_every_schema_and_exits_0() {
    let out = hub_schema(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "NAME",
            "common",
            "worker",
            "enterprise",
            "job-posting",
            "referral",
            "secondment"
        ]
    );
    assert!(
        stdout.contains("https://schemas.hub.invalid/secondment.json"),
        "{stdout}"
    );
}

#[test]
fn the_valid_examples_pass_with_exit_0_and_a_summary() {
    for name in ENTITIES {
        let f = files(".", name);
        assert!(f.len() >= 2, "{name}: {f:?}");
        let mut args = vec!["validate", name];
        args.extend(f.iter().map(String::as_str));
        let out = hub_schema(&args);
        assert_eq!(
            (out.status.code(), text(&out.stdout)),
            (Some(0), String::new()),
            "{name}: {}",
            text(&out.stderr)
        );
        let summary = text(&out.stderr);
        assert!(summary.starts_with(&format!("{name} ")), "{summary}");
        assert!(
            summary.ends_with(&format!(
                ": {n} records in {n} files: 0 invalid\n",
                n = f.len()
            )),
            "{summary}"
        );
    }
}

#[test]
fn the_invalid_examples_fail_with_exit_1_and_the_expected_lines() {
    let transcript = std::fs::read_to_string(examples().join("invalid.txt")).unwrap();
    for name in ENTITIES {
        let f = files("invalid", name);
        let mut args = vec!["validate", name];
        args.extend(f.iter().map(String::as_str));
        let out = hub_schema(&args);
        assert_eq!(out.status.code(), Some(1), "{name}");
        // The transcript's lines for each file, in the order the files are given.
        let expected: Vec<&str> = f
            .iter()
            .flat_map(|file| {
                transcript
                    .lines()
                    .filter(move |l| l.starts_with(&format!("{file}: ")))
            })
            .collect();
        assert!(
            expected.len() >= f.len(),
            "{name}: every file has its lines in invalid.txt"
        );
        assert_eq!(
            text(&out.stdout).lines().collect::<Vec<_>>(),
            expected,
            "{name}"
        );
        assert!(
            text(&out.stderr).ends_with(&format!("{n} invalid\n", n = f.len())),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn one_bad_file_among_good_ones_fails_the_command() {
    let out = hub_schema(&[
        "validate",
        "worker",
        "worker.hy-esms.json",
        "invalid/worker.missing-gender.json",
        "worker.zf-registry.json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "invalid/worker.missing-gender.json: /gender: is required but missing\n"
    );
    assert_eq!(
        text(&out.stderr),
        "worker 1.0.1: 3 records in 3 files: 1 invalid\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = hub_schema(&["validate", "jobs", "worker.hy-esms.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("no schema named \"jobs\""),
        "{}",
        text(&out.stderr)
    );
    // No FILE: refused by the argument parser, with its usage message.
    let out = hub_schema(&["validate", "worker"]);
    assert_eq!(out.status.code(), Some(2));
}
