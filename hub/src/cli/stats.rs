//! `hub stats [SECTION]`: the statistics both bureaus report from, as text, JSON or CSV. The
//! counting is [`crate::statistics`]'s; this module loads and prints.

use super::Failure;
use super::load::{LoadedSyncs, load_syncs};
use std::path::PathBuf;

/// `hub stats [SECTION] [--json|--csv [--encoding E]]`: counts ([`stats`]) and prints.
pub(super) async fn run(
    section: Option<crate::statistics::Section>,
    config: PathBuf,
    json: bool,
    csv: bool,
    encoding: crate::statistics::CsvEncoding,
) -> Result<bool, Failure> {
    let st = stats(&config, section).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&st).map_err(anyhow::Error::from)?
        );
    } else if csv {
        use std::io::Write as _;
        std::io::stdout()
            .write_all(&st.csv(encoding)?)
            .map_err(anyhow::Error::from)?;
    } else {
        print!("{}", st.text());
    }
    Ok(true)
}

/// `hub stats`: the statistics ([`crate::statistics`]). Loads the configuration, its plugins and
/// syncs (a plugin or sync that does not load is an error, as for `hub reconcile`), the state
/// store and the state key (which must exist: the daemon made it), and writes nothing.
async fn stats(
    path: &std::path::Path,
    section: Option<crate::statistics::Section>,
) -> Result<crate::statistics::Statistics, Failure> {
    let LoadedSyncs {
        config: c,
        plugins,
        specs,
    } = load_syncs(path, None).await?;
    let keys = crate::daemon::state_keys(&c, false)?;
    let store = crate::store::Store::open(&c.store_url()).await?;
    let st = crate::statistics::Statistician {
        store: store.clone(),
        keys,
        specs,
        plugins: plugins.into_values().collect(),
        zone: c.zone(),
    };
    let out = st.statistics(section.as_slice()).await;
    store.close().await;
    Ok(out?)
}
