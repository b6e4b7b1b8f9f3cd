//! The state side of a sync, per record: keyed content hash and key derivation (HMAC-SHA256
//! over canonical JSON), sealing a snapshot (ChaCha20-Poly1305), and the store commit of a
//! batch of 200 new links in one transaction (the links are built outside the timing), on
//! SQLite and, when a server is reachable (`HUB_TEST_POSTGRES`), on PostgreSQL.
//!
//! ```sh
//! cargo bench -p hub --bench state
//! ```
//!
//! Criterion reports records per second (`elem/s`).

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hub::keys::Keys;
use hub::store::{Commit, Link, Store};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const BATCH: usize = 200;

fn record(i: usize) -> Value {
    json!({
        "idNumber": format!("52232519900101{:03}X", i % 1000),
        "name": "王芳", "gender": "female", "phone": format!("138{:08}", i),
        "hometownTownship": "珉谷街道", "registryNumber": format!("ZF2021{:06}", i),
        "registeredOn": "2021-03-01",
        "workplace": {"province": "广东省", "countyCode": "441303"},
        "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91441303MA4UH1234D"},
        "position": "普工", "hiredOn": "2021-05-01", "status": "employed",
    })
}

fn hashing(c: &mut Criterion) {
    let keys = Keys::derive(&[7; 32]);
    let records: Vec<Value> = (0..BATCH).map(record).collect();
    let mut g = c.benchmark_group("state");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("content_hash", |b| {
        b.iter(|| {
            for r in &records {
                black_box(keys.content_hash(r));
            }
        })
    });
    g.bench_function("key_hash", |b| {
        b.iter(|| {
            for r in &records {
                black_box(keys.key_hash(&[&r["idNumber"]]));
            }
        })
    });
    g.bench_function("seal_json", |b| {
        b.iter(|| {
            for r in &records {
                black_box(keys.seal_json("workers/k/a", r));
            }
        })
    });
    g.finish();
}

fn commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![(
        "sqlite",
        rt.block_on(Store::open(&format!(
            "sqlite://{}",
            dir.path().join("state.db").display()
        )))
        .unwrap(),
    )];
    // PostgreSQL too when a server is reachable (HUB_TEST_POSTGRES, default the local one).
    match rt.block_on(hub::store::testing::fresh_postgres_database()) {
        Ok(url) => stores.push(("postgres", rt.block_on(Store::open(&url)).unwrap())),
        Err(e) => eprintln!("state/commit_200_links/postgres skipped: {e:#}"),
    }
    let keys = Keys::derive(&[7; 32]);
    let mut round = 0usize;
    let mut g = c.benchmark_group("state");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.measurement_time(Duration::from_secs(10));
    for (backend, store) in &stores {
        g.bench_function(format!("commit_200_links/{backend}"), |b| {
            b.iter_batched(
                || {
                    round += 1;
                    (0..BATCH)
                        .map(|i| {
                            let r = record(round * BATCH + i);
                            let mut l = Link::new(keys.key_hash(&[&r["idNumber"], &json!(round)]));
                            l.a.hash = Some(keys.content_hash(&r));
                            l.a.snapshot = Some(keys.seal_json("bench", &r));
                            l.pending = true;
                            l
                        })
                        .collect::<Vec<Link>>()
                },
                |links| {
                    rt.block_on(store.commit(
                        "bench",
                        Commit {
                            links: &links,
                            ..Commit::default()
                        },
                    ))
                    .unwrap();
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, hashing, commit);
criterion_main!(benches);
