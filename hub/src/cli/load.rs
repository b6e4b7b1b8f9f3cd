//! Loading what a command needs and no more: the configuration, the state store alone, or
//! the plugins and syncs of the deployment (of one sync, or all), each failure mapped to its
//! exit code ([`Failure`]). Nothing here writes to a system or to the state store.

use super::Failure;
use crate::config;

/// The configuration at `path` (exit 2 if it is invalid).
pub(super) fn load(path: &std::path::Path) -> Result<config::Config, Failure> {
    config::load(path).map_err(Failure::Config)
}

/// Opens only the state store of a deployment (for read-only commands).
pub(super) async fn store_of(path: &std::path::Path) -> Result<crate::store::Store, Failure> {
    store_for(path, None).await
}

/// Opens only the state store of a deployment, for a command about `sync` if given: a sync
/// the configuration does not name is an error listing the ones it does (a typo is never an
/// empty list).
pub(super) async fn store_for(
    path: &std::path::Path,
    sync: Option<&str>,
) -> Result<crate::store::Store, Failure> {
    let c = load(path)?;
    if let Some(name) = sync {
        known_sync(&c, path, name)?;
    }
    Ok(crate::store::Store::open(&c.store_url()).await?)
}

/// Opens only the state store of a deployment, for a list of what it keeps about `sync` if
/// given: a sync of the configuration, or one removed from it whose runs are in the store's
/// history ([`crate::store::Store::history_sync`]); any other name is an error naming both.
pub(super) async fn store_for_history(
    path: &std::path::Path,
    sync: Option<&str>,
) -> Result<crate::store::Store, Failure> {
    let c = load(path)?;
    let store = crate::store::Store::open(&c.store_url()).await?;
    if let Some(name) = sync {
        let configured: Vec<&str> = c.syncs.keys().map(String::as_str).collect();
        let place = path.display().to_string();
        if let Err(message) = store.history_sync(name, &configured, &place).await? {
            store.close().await;
            return Err(anyhow::anyhow!(message).into());
        }
    }
    Ok(store)
}

/// `Ok` if `[syncs]` of the configuration at `path` has `name`; else an error naming the
/// syncs it has.
pub(super) fn known_sync(
    c: &config::Config,
    path: &std::path::Path,
    name: &str,
) -> Result<(), Failure> {
    if c.syncs.contains_key(name) {
        return Ok(());
    }
    let known: Vec<&str> = c.syncs.keys().map(String::as_str).collect();
    Err(anyhow::anyhow!(
        "no sync {name:?} in {}; the configured syncs are: {}",
        path.display(),
        if known.is_empty() {
            "(none)".to_string()
        } else {
            known.join(", ")
        }
    )
    .into())
}

/// With `[hub] require_signed`, sync `name`'s plugins that are unsigned, signed by another key
/// or changed since signing stop a command before anything runs (exit 2, one line each), as
/// they stop `hub run`. `name` must be a sync of `c`.
pub(super) fn refuse_unsigned_of(c: &config::Config, name: &str) -> Result<(), Failure> {
    let s = &c.syncs[name];
    let plugins = [s.a.plugin.get_ref(), s.b.plugin.get_ref()];
    let unsigned = crate::plugin_signature::refusals_among(c, |p| plugins.iter().any(|q| *q == p));
    if unsigned.is_empty() {
        Ok(())
    } else {
        Err(Failure::Deployment(unsigned))
    }
}

/// The configuration at `path` and sync `name` resolved from it, loading only that sync's
/// plugins. Errors: as [`load_syncs`].
pub(super) async fn sync_alone(
    name: &str,
    path: &std::path::Path,
) -> Result<(config::Config, crate::sync::SyncSpec), Failure> {
    let mut l = load_syncs(path, Some(name)).await?;
    let spec = l.specs.remove(name).expect("load_syncs resolved the sync");
    Ok((l.config, spec))
}

/// A deployment as the commands that read its systems without the daemon load it.
pub(super) struct LoadedSyncs {
    /// The configuration.
    pub(super) config: config::Config,
    /// The plugins loaded, by name.
    pub(super) plugins: std::collections::BTreeMap<String, std::sync::Arc<crate::runtime::Plugin>>,
    /// The syncs resolved, by name.
    pub(super) specs: std::collections::BTreeMap<String, crate::sync::SyncSpec>,
}

/// Loads the configuration at `path`, then the plugins of sync `only` (every plugin when
/// `None`), signatures checked as the daemon checks them, and resolves the syncs. Errors: a
/// sync the configuration does not name (naming those it does); an unsigned or refused
/// plugin, a plugin that does not load or a sync that does not resolve, among those asked
/// for (all of them, one per line).
pub(super) async fn load_syncs(
    path: &std::path::Path,
    only: Option<&str>,
) -> Result<LoadedSyncs, Failure> {
    let c = load(path)?;
    let wanted: Option<[String; 2]> = match only {
        Some(name) => {
            known_sync(&c, path, name)?;
            refuse_unsigned_of(&c, name)?;
            let s = &c.syncs[name];
            Some([s.a.plugin.get_ref().clone(), s.b.plugin.get_ref().clone()])
        }
        None => {
            let unsigned = crate::plugin_signature::refusals(&c);
            if !unsigned.is_empty() {
                return Err(Failure::Deployment(unsigned));
            }
            None
        }
    };
    let asked = |p: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|q| q == p));
    let runtime = crate::runtime::Runtime::new(Some(c.data_dir().join("cache")))?
        .require_signatures(
            crate::plugin_signature::SignaturePolicy::of(&c.hub).map_err(anyhow::Error::msg)?,
        );
    let mut plugins = std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    for (p, l) in crate::daemon::load_plugins(&c, &runtime).await {
        match l {
            Ok(plugin) => {
                plugins.insert(p, plugin);
            }
            Err(problem) if asked(&p) => problems.push(problem),
            Err(_) => {}
        }
    }
    let mut specs = std::collections::BTreeMap::new();
    for (name, s) in crate::daemon::resolve_syncs(&c, &plugins)? {
        match s {
            Ok(s) if only.is_none_or(|o| o == name) => {
                specs.insert(name, s.spec);
            }
            Err(problem) if only.is_none_or(|o| o == name) => problems.push(problem),
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Deployment(problems));
    }
    Ok(LoadedSyncs {
        config: c,
        plugins,
        specs,
    })
}
