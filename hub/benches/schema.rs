//! Validation throughput of the `worker` schema: 100,000 distinct records, one compiled
//! validator reused, on one thread.
//!
//! ```sh
//! cargo bench -p hub --bench schema
//! ```
//!
//! The records are generated, written as JSON text and parsed back, as the sync engine receives
//! them from a connector (the memory layout of parsed values matters: a `serde_json` object is a
//! B-tree, and validation walks it). Each benchmark validates the whole set once per iteration; criterion reports the throughput
//! in records per second (`elem/s`). The records look like the registry's: every field present,
//! identity numbers of Zhenfeng (522325) residents born 1960-2004 with their check characters,
//! mobile numbers, three date fields, nested workplace and employer.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hub::schema::Catalogue;
use hub_schemas::date::Date;
use hub_schemas::id_number;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const RECORDS: usize = 100_000;

const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
const GIVEN: [&str; 10] = ["芳", "强", "敏", "静", "伟", "丽", "军", "洋", "勇", "艳"];
const TOWNSHIPS: [&str; 4] = ["珉谷街道", "永丰街道", "长田镇", "平街乡"];
const STATUSES: [&str; 5] = [
    "employed",
    "seeking",
    "returned_home",
    "lost_contact",
    "left",
];
const POSITIONS: [&str; 4] = ["普工", "质检员", "缝纫工", "仓库管理员"];
const USCCS: [&str; 3] = [
    "91441303MA4UH1234D",
    "91441303MA51X0RT2A",
    "91441300617913867A",
];

/// The `i`-th record: valid, distinct identity number and phone.
fn worker(i: usize) -> Value {
    // Birth dates spread over 1960-01-01 .. 2004-12-31 (days -3653 .. 12783 since 1970).
    let birth = Date::from_days_since_epoch(-3653 + (i as i64 * 7919) % 16_436);
    let first17 = format!(
        "522325{:04}{:02}{:02}{:03}",
        birth.year,
        birth.month,
        birth.day,
        i % 1000
    );
    let id = format!(
        "{first17}{}",
        id_number::check_character(&first17).expect("17 digits")
    );
    let registered = Date::from_days_since_epoch(18_000 + (i as i64 % 900));
    json!({
        "idNumber": id,
        "name": format!("{}{}", SURNAMES[i % 10], GIVEN[(i / 10) % 10]),
        "gender": if i % 2 == 1 { "male" } else { "female" },
        "phone": format!("1{}{:09}", 3 + i % 7, (i * 104_729) % 1_000_000_000),
        "hometownTownship": TOWNSHIPS[i % 4],
        "registryNumber": format!("ZF2021{:06}", i),
        "registeredOn": registered.to_string(),
        "workplace": {"province": "广东省", "countyCode": "441303"},
        "employer": {"name": "惠州市惠阳区示例电子有限公司", "uscc": USCCS[i % 3]},
        "position": POSITIONS[i % 4],
        "hiredOn": if i.is_multiple_of(3) { Value::Null } else { Value::String(registered.to_string()) },
        "status": STATUSES[i % 5],
        "remark": if i.is_multiple_of(4) { Value::String("东西部协作".into()) } else { Value::Null }
    })
}

fn bench(c: &mut Criterion) {
    let schema = Catalogue::builtin()
        .expect("catalogue")
        .get("worker")
        .expect("worker schema");
    // As the engine gets them: a batch of JSON texts from a connector, each parsed to a value
    // (the parse is not measured, only validation).
    let texts: Vec<String> = (0..RECORDS).map(|i| worker(i).to_string()).collect();
    let valid: Vec<Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t).expect("JSON"))
        .collect();
    assert!(
        valid.iter().all(|r| schema.validate(r).is_empty()),
        "the generated records are valid"
    );
    // 1% broken the way real exports are: a wrong check character, a phone with +86, a date not
    // in ISO form.
    let mut mixed = valid.clone();
    for (n, r) in mixed.iter_mut().enumerate().filter(|(n, _)| n % 100 == 0) {
        match n / 100 % 3 {
            0 => {
                let id = r["idNumber"].as_str().unwrap();
                let wrong = if id.ends_with('0') { '1' } else { '0' };
                r["idNumber"] = Value::String(format!("{}{wrong}", &id[..17]));
            }
            1 => r["phone"] = Value::String(format!("+86{}", r["phone"].as_str().unwrap())),
            _ => r["registeredOn"] = Value::String("2021年8月5日".into()),
        }
    }

    // Laid out as parsed records are, like `valid` (a clone is more compact, and faster to walk).
    let mixed: Vec<Value> = mixed
        .iter()
        .map(|r| serde_json::from_str(&r.to_string()).expect("JSON"))
        .collect();
    assert_eq!(
        mixed.iter().filter(|r| !schema.is_valid(r)).count(),
        RECORDS / 100
    );

    let mut g = c.benchmark_group("worker");
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_with_input(
        BenchmarkId::new("validate", "100k valid"),
        &valid,
        |b, records| {
            b.iter(|| {
                records
                    .iter()
                    .map(|r| schema.validate(black_box(r)).len())
                    .sum::<usize>()
            })
        },
    );
    g.bench_with_input(
        BenchmarkId::new("validate", "100k, 1% invalid"),
        &mixed,
        |b, records| {
            b.iter(|| {
                records
                    .iter()
                    .map(|r| schema.validate(black_box(r)).len())
                    .sum::<usize>()
            })
        },
    );
    g.bench_with_input(
        BenchmarkId::new("is_valid", "100k valid"),
        &valid,
        |b, records| {
            b.iter(|| {
                records
                    .iter()
                    .filter(|r| schema.is_valid(black_box(r)))
                    .count()
            })
        },
    );
    // In the engine a record is validated right after it is parsed, while it is in cache: parse
    // and validate each text, and parse alone; the difference is validation's share.
    g.bench_with_input(
        BenchmarkId::new("parse+validate", "100k texts"),
        &texts,
        |b, texts| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| {
                        schema
                            .validate(&serde_json::from_str::<Value>(black_box(t)).expect("JSON"))
                            .len()
                    })
                    .sum::<usize>()
            })
        },
    );
    g.bench_with_input(
        BenchmarkId::new("parse", "100k texts"),
        &texts,
        |b, texts| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| {
                        serde_json::from_str::<Value>(black_box(t))
                            .expect("JSON")
                            .as_object()
                            .map_or(0, |o| o.len())
                    })
                    .sum::<usize>()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
