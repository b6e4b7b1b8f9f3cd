//! `hub schema list` and `hub schema validate NAME FILE...`: the catalogue from the command line.
//!
//! `validate` reads each FILE as one JSON record, a JSON array of records, or (extension
//! `.jsonl` or `.ndjson`) JSON Lines, one record per line; `-` reads standard input as one JSON
//! document. Every rule a record breaks is one line on standard output:
//!
//! ```text
//! FILE: /json/pointer: message          a record or array of records (pointer into the document)
//! FILE:LINE: /json/pointer: message     JSON Lines (pointer into that line's record)
//! FILE: not JSON: …  /  FILE: cannot read: …
//! ```
//!
//! `/` alone stands for the record itself. Messages never quote the value (it may be personal
//! data). A summary goes to standard error. Exit status: [`EXIT_OK`] if every record of every
//! file is valid, [`EXIT_INVALID`] if any is not or a file cannot be read or parsed,
//! [`EXIT_USAGE`] for a name that is not an entity schema.
//!
//! The validation is [`crate::schema`]'s; this module reads the files and prints.

use crate::schema::{Catalogue, Schema, Violation};
use clap::Subcommand;
use serde_json::Value;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Every record valid (and, for `list`, success).
pub const EXIT_OK: u8 = 0;
/// Some record is invalid, or some file cannot be read or is not JSON.
pub const EXIT_INVALID: u8 = 1;
/// The schema name is unknown, or names the shared definitions.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Subcommand)]
pub(super) enum SchemaAction {
    /// Each schema's name, version, key and $id.
    List,
    /// Validate records: one line per error, `FILE: /json/pointer: message`; exit 1 if any
    /// record is invalid, 2 for an unknown schema.
    Validate {
        /// The schema (e.g. `worker`; `hub schema list` shows them).
        name: String,
        /// Files of one JSON record, a JSON array of records, or JSON Lines (`.jsonl`,
        /// `.ndjson`); `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `hub schema ACTION`: runs it and exits with its code ([`EXIT_OK`], [`EXIT_INVALID`],
/// [`EXIT_USAGE`]).
pub(super) fn run(action: SchemaAction) -> ! {
    std::process::exit(i32::from(match action {
        SchemaAction::List => list_main(),
        SchemaAction::Validate { name, files } => validate_main(&name, &files),
    }))
}

/// Writes one line per catalogue file: name, version, key pointers (`+`-joined; `-` for
/// `common`), `$id`; a header line first.
pub fn list(catalogue: &Catalogue, out: &mut dyn Write) -> io::Result<u8> {
    let rows: Vec<[String; 4]> = catalogue
        .files()
        .iter()
        .map(|f| {
            let key = if f.entity {
                f.key.join(" + ")
            } else {
                "- (shared definitions)".into()
            };
            [f.name.clone(), f.version.clone(), key, f.id.clone()]
        })
        .collect();
    let header = ["NAME", "VERSION", "KEY", "ID"].map(String::from);
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .chain([&header])
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in [&header].into_iter().chain(&rows) {
        crate::say_to!(
            out,
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )?;
    }
    Ok(EXIT_OK)
}

/// Counts of one `validate` call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Files named.
    pub files: usize,
    /// Records read.
    pub records: usize,
    /// Records with at least one violation.
    pub invalid: usize,
    /// Files that could not be read or parsed.
    pub unreadable: usize,
}

/// Validates every record of `files` against the entity schema `name`, writing violations to
/// `out` and a summary (or a usage error) to `err`; returns the exit status (see the module).
pub fn validate(
    catalogue: &Catalogue,
    name: &str,
    files: &[PathBuf],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let schema = match catalogue.get(name) {
        Ok(s) => s,
        Err(e) => {
            if catalogue
                .files()
                .iter()
                .any(|f| f.name == name && !f.entity)
            {
                crate::say_to!(
                    err,
                    "error: {name} holds the shared definitions, not a record schema; name one of: {}",
                    catalogue.names().collect::<Vec<_>>().join(", ")
                )?;
            } else {
                crate::say_to!(err, "error: {e}")?;
            }
            return Ok(EXIT_USAGE);
        }
    };
    let mut tally = Tally::default();
    for path in files {
        tally.files += 1;
        validate_file(&schema, path, out, &mut tally)?;
    }
    crate::say_to!(
        err,
        "{} {}: {} record{} in {} file{}: {} invalid{}",
        schema.name,
        schema.version,
        tally.records,
        if tally.records == 1 { "" } else { "s" },
        tally.files,
        if tally.files == 1 { "" } else { "s" },
        tally.invalid,
        if tally.unreadable > 0 {
            format!(", {} file(s) unreadable", tally.unreadable)
        } else {
            String::new()
        },
    )?;
    Ok(if tally.invalid == 0 && tally.unreadable == 0 {
        EXIT_OK
    } else {
        EXIT_INVALID
    })
}

fn read(path: &Path) -> io::Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
    }
}

fn validate_file(
    schema: &Schema,
    path: &Path,
    out: &mut dyn Write,
    tally: &mut Tally,
) -> io::Result<()> {
    let label = path.display();
    let text = match read(path) {
        Ok(t) => t,
        Err(e) => {
            tally.unreadable += 1;
            return crate::say_to!(out, "{label}: cannot read: {e}");
        }
    };
    let lines = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson")
    );
    if lines {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(record) => check(
                    schema,
                    &record,
                    "",
                    &format!("{label}:{}", i + 1),
                    out,
                    tally,
                )?,
                Err(e) => {
                    tally.unreadable += 1;
                    crate::say_to!(out, "{label}:{}: not JSON: {e}", i + 1)?;
                }
            }
        }
        return Ok(());
    }
    match serde_json::from_str::<Value>(text.trim_start_matches('\u{FEFF}')) {
        Ok(Value::Array(records)) => {
            for (i, record) in records.iter().enumerate() {
                check(
                    schema,
                    record,
                    &format!("/{i}"),
                    &label.to_string(),
                    out,
                    tally,
                )?;
            }
            Ok(())
        }
        Ok(record) => check(schema, &record, "", &label.to_string(), out, tally),
        Err(e) => {
            tally.unreadable += 1;
            crate::say_to!(out, "{label}: not JSON: {e}")
        }
    }
}

fn check(
    schema: &Schema,
    record: &Value,
    prefix: &str,
    label: &str,
    out: &mut dyn Write,
    tally: &mut Tally,
) -> io::Result<()> {
    tally.records += 1;
    let violations = schema.validate(record);
    if !violations.is_empty() {
        tally.invalid += 1;
    }
    for v in violations {
        let v = Violation {
            pointer: format!("{prefix}{}", v.pointer),
            message: v.message,
        };
        crate::say_to!(out, "{label}: {v}")?;
    }
    Ok(())
}

/// `hub schema list` on the built-in catalogue, to standard output; the exit status.
pub fn list_main() -> u8 {
    run_main(|c, out, _| list(c, out))
}

/// `hub schema validate NAME FILE...` on the built-in catalogue, to standard output and error;
/// the exit status.
pub fn validate_main(name: &str, files: &[PathBuf]) -> u8 {
    run_main(|c, out, err| validate(c, name, files, out, err))
}

fn run_main(f: impl FnOnce(&Catalogue, &mut dyn Write, &mut dyn Write) -> io::Result<u8>) -> u8 {
    let catalogue = match Catalogue::builtin() {
        Ok(c) => c,
        Err(e) => {
            crate::say_err!("error: the built-in schema catalogue does not load: {e}");
            return EXIT_INVALID;
        }
    };
    let (stdout, stderr) = (io::stdout(), io::stderr());
    let (mut out, mut err) = (io::BufWriter::new(stdout.lock()), stderr.lock());
    let code = match f(&catalogue, &mut out, &mut err) {
        Ok(code) => code,
        Err(e) => {
            let _ = crate::say_to!(err, "error: writing the output: {e}");
            EXIT_INVALID
        }
    };
    if let Err(e) = out.flush() {
        let _ = crate::say_to!(err, "error: writing the output: {e}");
        return EXIT_INVALID;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn examples() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/examples")
    }

    fn run(name: &str, files: &[PathBuf]) -> (u8, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = validate(
            &Catalogue::builtin().unwrap(),
            name,
            files,
            &mut out,
            &mut err,
        )
        .unwrap();
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    /// `worker.zf-registry.json` → `worker`.
    fn schema_of(file: &Path) -> String {
        let name = file.file_name().unwrap().to_str().unwrap();
        name.split_once('.').unwrap().0.to_string()
    }

    fn json_files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn every_example_validates_and_every_entity_has_some() {
        let files = json_files(&examples());
        let mut per_schema: BTreeMap<String, usize> = BTreeMap::new();
        for f in &files {
            let (code, out, err) = run(&schema_of(f), std::slice::from_ref(f));
            assert_eq!(
                (code, out.as_str()),
                (EXIT_OK, ""),
                "{}: {err}",
                f.display()
            );
            *per_schema.entry(schema_of(f)).or_default() += 1;
        }
        let names: Vec<&str> = per_schema.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "enterprise",
                "job-posting",
                "referral",
                "secondment",
                "worker"
            ]
        );
        assert!(per_schema.values().all(|n| *n >= 2), "{per_schema:?}");
    }

    #[test]
    fn every_invalid_example_fails_with_the_expected_lines() {
        let dir = examples();
        let transcript = std::fs::read_to_string(dir.join("invalid.txt")).unwrap();
        let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in transcript
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (file, _) = line.split_once(": ").unwrap();
            expected
                .entry(file.to_string())
                .or_default()
                .push(line.to_string());
        }
        let files = json_files(&dir.join("invalid"));
        let labels: Vec<String> = files
            .iter()
            .map(|f| format!("invalid/{}", f.file_name().unwrap().to_str().unwrap()))
            .collect();
        assert_eq!(
            expected.keys().cloned().collect::<Vec<_>>(),
            labels,
            "invalid.txt must cover exactly the files of invalid/"
        );
        for f in &files {
            let (code, out, _) = run(&schema_of(f), std::slice::from_ref(f));
            let out = out.replace(&format!("{}/", dir.display()), "");
            let label = format!("invalid/{}", f.file_name().unwrap().to_str().unwrap());
            assert_eq!(code, EXIT_INVALID, "{label}");
            assert_eq!(out.lines().collect::<Vec<_>>(), expected[&label], "{label}");
        }
    }

    fn temp(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn arrays_and_json_lines_point_into_the_file() {
        let ok = std::fs::read_to_string(examples().join("referral.hy-esms.json")).unwrap();
        let ok: Value = serde_json::from_str(&ok).unwrap();
        let mut bad = ok.clone();
        bad["status"] = "offered".into();
        let (_d, arr) = temp(
            "r.json",
            &serde_json::to_string(&vec![&ok, &bad, &ok]).unwrap(),
        );
        let (code, out, err) = run("referral", std::slice::from_ref(&arr));
        assert_eq!(code, EXIT_INVALID);
        let enum_msg = "is not one of \"recommended\", \"interviewed\", \"hired\", \"rejected\", \"withdrawn\"";
        assert_eq!(out, format!("{}: /1/status: {enum_msg}\n", arr.display()));
        assert_eq!(err, "referral 1.0.0: 3 records in 1 file: 1 invalid\n");
        let lines = format!(
            "{}\n\n{}\n",
            serde_json::to_string(&bad).unwrap(),
            serde_json::to_string(&ok).unwrap()
        );
        let (_d2, jl) = temp("r.jsonl", &lines);
        let (code, out, err) = run("referral", std::slice::from_ref(&jl));
        assert_eq!(code, EXIT_INVALID);
        assert_eq!(out, format!("{}:1: /status: {enum_msg}\n", jl.display()));
        assert_eq!(err, "referral 1.0.0: 2 records in 1 file: 1 invalid\n");
    }

    #[test]
    fn a_record_that_is_not_an_object_is_reported_at_the_root() {
        let (_d, p) = temp("x.json", "[1]");
        let (code, out, _) = run("worker", std::slice::from_ref(&p));
        assert_eq!(code, EXIT_INVALID);
        assert_eq!(
            out,
            format!("{}: /0: value is not of type \"object\"\n", p.display())
        );
        let (_d, p) = temp("y.json", "\"52232519900307002X\"");
        let (_, out, _) = run("worker", std::slice::from_ref(&p));
        assert_eq!(
            out,
            format!("{}: /: value is not of type \"object\"\n", p.display())
        );
    }

    #[test]
    fn unreadable_and_malformed_files_are_named_and_fail() {
        let (_d, bad) = temp("bad.json", "{\"idNumber\": ");
        let missing = examples().join("no-such-file.json");
        let good = examples().join("worker.hy-esms.json");
        let (code, out, err) = run("worker", &[bad.clone(), missing.clone(), good]);
        assert_eq!(code, EXIT_INVALID);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(
            lines[0].starts_with(&format!("{}: not JSON: EOF while parsing", bad.display())),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with(&format!("{}: cannot read: ", missing.display())),
            "{}",
            lines[1]
        );
        assert_eq!(
            err,
            "worker 1.0.1: 1 record in 3 files: 0 invalid, 2 file(s) unreadable\n"
        );
    }

    #[test]
    fn unknown_names_and_the_shared_definitions_are_usage_errors() {
        let f = examples().join("worker.hy-esms.json");
        let (code, out, err) = run("workers", std::slice::from_ref(&f));
        assert_eq!((code, out.as_str()), (EXIT_USAGE, ""));
        assert_eq!(
            err,
            "error: no schema named \"workers\" in the catalogue (known: enterprise, job-posting, referral, secondment, worker)\n"
        );
        let (code, _, err) = run("common", std::slice::from_ref(&f));
        assert_eq!(code, EXIT_USAGE);
        assert!(
            err.starts_with("error: common holds the shared definitions, not a record schema"),
            "{err}"
        );
    }

    #[test]
    fn list_names_every_file_with_version_key_and_id() {
        let mut out = Vec::new();
        assert_eq!(
            list(&Catalogue::builtin().unwrap(), &mut out).unwrap(),
            EXIT_OK
        );
        let out = String::from_utf8(out).unwrap();
        let rows: Vec<Vec<&str>> = out
            .lines()
            .map(|l| {
                l.split("  ")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(
            rows,
            [
                vec!["NAME", "VERSION", "KEY", "ID"],
                vec![
                    "common",
                    "1.1.0",
                    "- (shared definitions)",
                    "https://schemas.hub.invalid/common.json"
                ],
                vec![
                    "worker",
                    "1.0.1",
                    "/idNumber",
                    "https://schemas.hub.invalid/worker.json"
                ],
                vec![
                    "enterprise",
                    "1.0.0",
                    "/uscc",
                    "https://schemas.hub.invalid/enterprise.json"
                ],
                vec![
                    "job-posting",
                    "1.0.0",
                    "/identifier/propertyID + /identifier/value",
                    "https://schemas.hub.invalid/job-posting.json"
                ],
                vec![
                    "referral",
                    "1.0.0",
                    "/worker/idNumber + /jobPosting/identifier/propertyID + /jobPosting/identifier/value",
                    "https://schemas.hub.invalid/referral.json"
                ],
                vec![
                    "secondment",
                    "1.0.0",
                    "/practitioner/idNumber + /batch",
                    "https://schemas.hub.invalid/secondment.json"
                ],
            ]
        );
    }
}
