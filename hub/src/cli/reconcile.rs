//! `hub reconcile NAME`: the reconciliation report of a sync, as text, JSON or CSV. The
//! comparison is the engine's ([`crate::sync::compare`]); this module loads and prints.

use super::Failure;
use super::load::sync_alone;
use std::path::PathBuf;

/// `hub reconcile NAME [--json|--csv]`: makes the report ([`reconcile`]) and prints it.
pub(super) async fn run(
    name: String,
    config: PathBuf,
    json: bool,
    csv: bool,
) -> Result<bool, Failure> {
    let report = reconcile(&name, &config).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(anyhow::Error::from)?
        );
    } else if csv {
        use std::io::Write as _;
        std::io::stdout()
            .write_all(&report.csv()?)
            .map_err(anyhow::Error::from)?;
    } else {
        print!("{}", report.text());
    }
    Ok(true)
}

/// `hub reconcile NAME`: the sync's reconciliation report ([`crate::sync::compare`]). Loads
/// only what the report needs (the configuration, the plugins, the sync; the state store to
/// count its open dead letters and parked conflicts) and records nothing: unlike `hub sync`,
/// no interrupted run is closed and no state key is recorded. Natural keys are hashed (in
/// memory only) under a key of this invocation, so the state key is not read.
async fn reconcile(
    name: &str,
    path: &std::path::Path,
) -> Result<crate::sync::compare::Reconciliation, Failure> {
    let (c, spec) = sync_alone(name, path).await?;
    let store = crate::store::Store::open(&c.store_url()).await?;
    let keys = crate::keys::Keys::from_hex(&hex::encode(rand::random::<[u8; 32]>()))?;
    let engine = crate::sync::Engine::new(store.clone(), keys);
    let report = engine.reconciliation(&spec).await;
    store.close().await;
    Ok(report?)
}
