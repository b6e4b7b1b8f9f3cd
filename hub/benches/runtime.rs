//! The plugin runtime's costs, for each shipped connector and the fixture:
//!
//! - compiling a component cold against loading it warm from the on-disk cache (target: warm at
//!   least 20× faster);
//! - a fresh instance from `InstancePre` (target: under 100 µs);
//! - a trivial guest call (`manifest`);
//! - a `read` of 1,000 generated records across the boundary (fixture connector, no HTTP);
//! - scrubbing secrets from a 4 MiB response body (three secrets, every escape form), beside
//!   copying the same body (the least the host does with a body).
//!
//! ```sh
//! scripts/build-plugins && cargo bench -p hub --bench runtime
//! ```
//! Criterion prints each figure; a summary with the cold/warm ratios is printed first.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hub::runtime::Runtime;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const PLUGINS: [&str; 3] = ["huiyang_esms", "zhenfeng_registry", "fixture"];

fn wasm(name: &str) -> Vec<u8> {
    let dir = std::env::var_os("HUB_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/wasm32-wasip2/plugin"
            ))
        });
    std::fs::read(dir.join(format!("{name}.wasm")))
        .expect("build the connectors first: scripts/build-plugins")
}

fn mean(n: u32, mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

fn summary() {
    let cache = tempfile::tempdir().unwrap();
    let cold = Runtime::new(None).unwrap();
    let warm = Runtime::new(Some(cache.path().to_path_buf())).unwrap();
    println!("component compile, cold vs warm (from the cache):");
    for p in PLUGINS {
        let bytes = wasm(p);
        let digest = hex::encode(Sha256::digest(&bytes));
        let c = mean(5, || {
            black_box(cold.compile(&bytes, &digest).unwrap());
        });
        warm.compile(&bytes, &digest).unwrap();
        let w = mean(50, || {
            black_box(warm.compile(&bytes, &digest).unwrap());
        });
        println!(
            "  {p:<18} {:>7} KiB  cold {:>8.2} ms  warm {:>6.3} ms  {:>6.0}× faster",
            bytes.len() / 1024,
            c.as_secs_f64() * 1e3,
            w.as_secs_f64() * 1e3,
            c.as_secs_f64() / w.as_secs_f64()
        );
    }
}

fn plugin(
    rt: &Runtime,
    tokio: &tokio::runtime::Runtime,
    name: &str,
    config: &str,
) -> hub::runtime::Plugin {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[hub]\ndata_dir = \"{}\"\n[plugins.p]\npath = \"{}\"\nconfig = {config}\nallow_hosts = [\"http://127.0.0.1:9\"]\nsecrets.api_key = {{ value = \"bench-key\" }}\n",
        dir.path().display(),
        std::env::var_os("HUB_PLUGIN_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/wasm32-wasip2/plugin"
            )))
            .join(format!("{name}.wasm"))
            .display()
    );
    let c = hub::config::parse(&dir.path().join("hub.toml"), &text, &|_| None).unwrap();
    tokio
        .block_on(rt.load("p", &c.plugins["p"], dir.path()))
        .unwrap()
}

fn runtime(c: &mut Criterion) {
    summary();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = Runtime::new(None).unwrap();
    let hy = plugin(
        &rt,
        &tokio,
        "huiyang_esms",
        "{ base_url = \"http://127.0.0.1:9\", province = \"广东省\", division_code = \"441303\" }",
    );
    let fx = plugin(
        &rt,
        &tokio,
        "fixture",
        "{ mode = \"fixture\", total = 1000 }",
    );
    let mut g = c.benchmark_group("runtime");
    g.bench_function("instantiate huiyang-esms from InstancePre", |b| {
        b.iter(|| black_box(tokio.block_on(hy.instantiate()).unwrap()))
    });
    g.bench_function("instantiate fixture from InstancePre", |b| {
        b.iter(|| black_box(tokio.block_on(fx.instantiate()).unwrap()))
    });
    let mut s = tokio.block_on(fx.instantiate()).unwrap();
    g.bench_function("trivial call (manifest)", |b| {
        b.iter(|| black_box(tokio.block_on(s.manifest()).unwrap()))
    });
    let mut s = tokio.block_on(fx.session()).unwrap();
    g.throughput(Throughput::Elements(1000));
    g.bench_function("read of 1,000 records across the boundary", |b| {
        b.iter(|| black_box(tokio.block_on(s.read("records", None, 1000)).unwrap()))
    });
    // A registry export as a plugin would read it: JSON rows with digits, escapes and
    // percent signs, none of which is a secret.
    let row = r#"{"djbh":"ZF2021000123","xm":"\u738b\u82b3","sfzh":"110105194912310021","lxdh":"13800138000","dz":"%E8%B4%9E\/12&amp;3","gxsj":"2021-09-02 10:00:00"},"#;
    let body: Vec<u8> = row.bytes().cycle().take(4 << 20).collect();
    let secrets = std::collections::BTreeMap::from([
        ("api_key".to_string(), "demo-hy-key-0123456789".to_string()),
        ("username".to_string(), "hub-sync".to_string()),
        ("password".to_string(), "p@ss/w0rd 2024".to_string()),
    ]);
    let scrubber = hub::runtime::http::Scrubber::new(&secrets);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("copy a 4 MiB body (baseline)", |b| {
        b.iter(|| black_box(black_box(&body).to_vec()))
    });
    g.bench_function("scrub 3 secrets from a 4 MiB body", |b| {
        b.iter(|| black_box(scrubber.all(black_box(&body))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30);
    targets = runtime
}
criterion_main!(benches);
