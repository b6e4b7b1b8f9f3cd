//! The typed records of `hub_sdk::records` are generated from the shared schemas
//! (`schemas/*.json`) with typify, so that they cannot drift from them: this test generates them
//! again and fails when `src/records.rs` differs. After changing a schema, rewrite the file with
//!
//! ```sh
//! HUB_SDK_REGENERATE=1 cargo test -p hub-sdk --test typed_records
//! ```
//!
//! How the schemas are fed to typify: `common.json`'s `$defs` and each entity schema become the
//! `definitions` of one root schema (each `$ref`, `common.json#/$defs/X` or `#/$defs/X`, becomes
//! `#/definitions/X`); `format`s are dropped (typify would turn `date-time` into a UTC instant
//! and lose the offset the schemas require; the custom GB formats are the hub's to assert), the
//! catalogue's `x-` annotations too. Optional properties serialise as `null` when `None`, as the
//! connectors write them.
//!
//! The types check a record's shape (required members, enums, lengths, no unknown members) but
//! not the schemas' `pattern`s: typify checks those with `regress`, whose parser and Unicode
//! tables made a small connector three times its size (751 KB where 272 KB without, built with
//! `--profile plugin`), and the hub validates every record against its schema anyway (a record
//! that breaks a pattern becomes a dead letter naming the member and the pattern). The checks are
//! cut from the generated code ([`without_pattern_checks`]) rather than the patterns from the
//! schemas, so that each patterned text keeps its own type.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// Entity schemas and their type names.
const ENTITIES: &[(&str, &str)] = &[
    ("worker.json", "Worker"),
    ("enterprise.json", "Enterprise"),
    ("job-posting.json", "JobPosting"),
    ("referral.json", "Referral"),
    ("secondment.json", "Secondment"),
];

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn load(file: &str) -> Value {
    let path = schemas_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn prepare(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                let name = r
                    .rsplit('/')
                    .next()
                    .expect("split yields one part")
                    .to_string();
                *r = format!("#/definitions/{name}");
            }
            m.retain(|k, _| {
                !matches!(k.as_str(), "$schema" | "$id" | "format") && !k.starts_with("x-")
            });
            // `anyOf` of `required` lists only ("minValue or maxValue") asserts presence and does
            // not change the shape; typify would make an enum of it that reads neither.
            let presence_only = m
                .get("anyOf")
                .and_then(Value::as_array)
                .is_some_and(|branches| {
                    branches.iter().all(|b| {
                        b.as_object()
                            .is_some_and(|o| o.len() == 1 && o.contains_key("required"))
                    })
                });
            if presence_only {
                m.remove("anyOf");
            }
            m.values_mut().for_each(prepare);
        }
        Value::Array(a) => a.iter_mut().for_each(prepare),
        _ => {}
    }
}

fn generate() -> String {
    let mut defs = Map::new();
    for (name, def) in load("common.json")["$defs"]
        .as_object()
        .expect("common.json has $defs")
    {
        defs.insert(name.clone(), def.clone());
    }
    for (file, name) in ENTITIES {
        let mut schema = load(file);
        let own = schema.as_object_mut().expect("an object").remove("$defs");
        for (k, v) in own
            .as_ref()
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            assert!(
                defs.insert(k.clone(), v.clone()).is_none(),
                "{file}: $defs/{k} clashes with another definition"
            );
        }
        defs.insert((*name).to_string(), schema);
    }
    let mut root = json!({ "definitions": defs });
    prepare(&mut root);
    let root: schemars::schema::RootSchema = serde_json::from_value(root).expect("a JSON Schema");
    let mut settings = typify::TypeSpaceSettings::default();
    settings.with_struct_builder(false);
    // `telephone` is anyOf two string forms (mobile, fixed line), which typify makes a struct
    // of flattened options that cannot read a string: it is a string.
    settings.with_replacement(
        "Telephone",
        "::std::string::String",
        std::iter::empty::<typify::TypeSpaceImpl>(),
    );
    let mut space = typify::TypeSpace::new(&settings);
    space
        .add_root_schema(root)
        .expect("typify accepts the schemas");
    let code = write_every_member(&space.to_stream().to_string());
    let mut file: syn::File = syn::parse_str(&code).expect("typify writes Rust");
    without_pattern_checks(&mut file);
    format!(
        "//! Typed records of the shared schemas, generated from `schemas/*.json` by typify\n\
         //! (`tests/typed_records.rs`, which fails when this file is not what the schemas give).\n\
         //! Do not edit: change a schema and regenerate.\n\
         //!\n\
         //! The schemas' `pattern`s are not checked here: the hub checks them.\n\n{}",
        prettyplease::unparse(&file)
    )
}

/// Cuts typify's pattern checks from the `FromStr` impls of patterned texts: the statement
/// `static PATTERN: LazyLock<regress::Regex> = ...;` and the `if PATTERN.find(value).is_none() {
/// return Err(..) }` after it. Length checks stay. Panics if a pattern check is left (typify wrote
/// it some other way), so that `regress` cannot come back unnoticed.
fn without_pattern_checks(file: &mut syn::File) {
    fn names_pattern(e: &syn::Expr) -> bool {
        matches!(e, syn::Expr::Path(p) if p.path.is_ident("PATTERN"))
    }
    fn is_pattern_check(stmt: &syn::Stmt) -> bool {
        match stmt {
            syn::Stmt::Item(syn::Item::Static(s)) => s.ident == "PATTERN",
            // `if PATTERN.find(value).is_none() { ... }`
            syn::Stmt::Expr(syn::Expr::If(e), _) => matches!(&*e.cond,
                syn::Expr::MethodCall(is_none) if matches!(&*is_none.receiver,
                    syn::Expr::MethodCall(find) if find.method == "find" && names_pattern(&find.receiver))),
            _ => false,
        }
    }
    let mut cut = 0;
    for item in &mut file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        for member in &mut block.items {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            let before = f.block.stmts.len();
            f.block.stmts.retain(|s| !is_pattern_check(s));
            cut += before - f.block.stmts.len();
        }
    }
    assert!(
        cut > 0 && cut % 2 == 0,
        "pattern checks come in pairs (a static and an if), cut {cut} statements"
    );
    let left = prettyplease::unparse(file);
    assert!(
        !left.contains("regress") && !left.contains("PATTERN"),
        "a pattern check is left in the typed records"
    );
}

/// Drops typify's `skip_serializing_if` attributes, so that `None` serialises as `null` and an
/// empty list as `[]`, as the connectors write records (in `TokenStream` text: `# [serde (a ,
/// skip_serializing_if = "..." , b)]`).
fn write_every_member(code: &str) -> String {
    const KEY: &str = "skip_serializing_if = \"";
    let mut out = code.to_string();
    while let Some(start) = out.find(KEY) {
        let end =
            start + KEY.len() + out[start + KEY.len()..].find('"').expect("a closed string") + 1;
        let (start, end) = if out[..start].ends_with(" , ") {
            (start - 3, end)
        } else if out[end..].starts_with(" , ") {
            (start, end + 3)
        } else {
            (start, end)
        };
        out.replace_range(start..end, "");
    }
    out.replace("# [serde ()]", "")
}

#[test]
fn the_typed_records_are_what_the_schemas_generate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/records.rs");
    let fresh = generate();
    if let Some(i) = fresh.find("skip_serializing_if") {
        panic!(
            "every optional serialises as null, but: {}",
            &fresh[i.saturating_sub(200)..i + 100]
        );
    }
    if std::env::var_os("HUB_SDK_REGENERATE").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "{} is not what the schemas generate: run HUB_SDK_REGENERATE=1 cargo test -p hub-sdk --test typed_records",
        path.display()
    );
}

/// Drops `null` members, recursively: a typed record writes every optional member, `null` when
/// absent, where an example may leave it out.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(example: &Value, file: &str) {
    let typed: T =
        serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(without_nulls(&back), without_nulls(example), "{file}");
}

#[test]
fn every_valid_example_reads_into_its_typed_record_and_writes_back_the_same() {
    use hub_sdk::records::{Enterprise, JobPosting, Referral, Secondment, Worker};
    let dir = schemas_dir().join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(entity) = file.strip_suffix(".json").and_then(|f| f.split('.').next()) else {
            continue;
        };
        let example: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        match entity {
            "worker" => round_trip::<Worker>(&example, &file),
            "enterprise" => round_trip::<Enterprise>(&example, &file),
            "job-posting" => round_trip::<JobPosting>(&example, &file),
            "referral" => round_trip::<Referral>(&example, &file),
            "secondment" => round_trip::<Secondment>(&example, &file),
            other => panic!("{file}: no typed record for {other}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 12, "the valid examples in schemas/examples");
}

#[test]
fn a_typed_record_refuses_what_its_schema_refuses() {
    use hub_sdk::records::Worker;
    let ok = json!({"idNumber": "522325199001010015", "name": "王芳", "gender": "female", "status": "employed"});
    let w: Worker = serde_json::from_value(ok.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(&w).unwrap()["phone"],
        Value::Null,
        "an absent optional writes null"
    );
    let mut long_name = ok.clone();
    long_name["name"] = json!("芳".repeat(101));
    assert!(
        serde_json::from_value::<Worker>(long_name).is_err(),
        "maxLength 100"
    );
    let mut unknown = ok.clone();
    unknown["nickname"] = json!("芳");
    assert!(
        serde_json::from_value::<Worker>(unknown).is_err(),
        "additionalProperties: false"
    );
    let mut status = ok;
    status["status"] = json!("retired");
    assert!(
        serde_json::from_value::<Worker>(status).is_err(),
        "status is an enum"
    );
}

#[test]
fn patterns_are_left_to_the_hub() {
    use hub_sdk::records::{Name, Worker};
    // `name` has the pattern `^\S(.*\S)?$` (no blank at either end): the type takes the text as
    // it is, and the hub's validator refuses the record.
    let w: Worker = serde_json::from_value(json!({"idNumber": "522325199001010015", "name": "王芳\u{3000}", "gender": "female", "status": "employed"})).unwrap();
    assert_eq!(w.name.as_str(), "王芳\u{3000}");
    assert!(Name::try_from("").is_err(), "minLength 1 is still checked");
    assert_eq!(
        load("common.json")["$defs"]["name"]["pattern"],
        r"^\S(.*\S)?$",
        "the schema still has the pattern"
    );
}
