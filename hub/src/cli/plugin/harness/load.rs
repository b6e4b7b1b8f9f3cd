//! Loading, before any step runs: the `--live` rewrites and the `--secret` values of a
//! recording, the component and its manifest, the tape (the recorded exchanges replayed, or a
//! recording begun) and the plugin's settings. Touches nothing in the fixture directory but the
//! staging directory of a recording.

use super::fixtures::Harness;
use super::{HARNESS_FILE, Options, origin_of};
use crate::config::{PluginConfig, SecretSource};
use crate::runtime::tape::Tape;
use crate::runtime::{Manifest, Runtime};
use anyhow::{Context as _, anyhow, bail};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// The real value of a secret given with `--secret NAME=ENV`, by name: (the variable, the
/// value).
pub(super) type RealSecrets = BTreeMap<String, (String, String)>;

/// Points each `--live KEY=URL` config field of the harness at its live URL; returns the
/// (live origin, fixture origin) pairs the recording rewrites, so the exchanges are written as
/// if sent to the URLs of the fixtures. Errors: a field that is not a string URL.
pub(super) fn live_rewrites(
    opts: &Options,
    harness: &mut Harness,
    harness_path: &Path,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut rewrite = Vec::new();
    for (key, live) in &opts.live {
        let fixed = harness
            .plugin
            .config
            .get(key)
            .and_then(toml::Value::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "--live {key}=...: {} has no string [plugin.config].{key}",
                    harness_path.display()
                )
            })?;
        let (Some(live_origin), Some(fixed_origin)) = (origin_of(live), origin_of(fixed)) else {
            bail!("--live {key}: {live:?} and {fixed:?} must both be http(s) URLs");
        };
        rewrite.push((live_origin, fixed_origin));
        harness
            .plugin
            .config
            .insert(key.clone(), toml::Value::String(live.clone()));
    }
    Ok(rewrite)
}

/// The real secrets of `--secret NAME=ENV`, read from the environment before anything in the
/// fixture directory is removed; never written anywhere. Errors: a variable not set, a value
/// too short to be scrubbed from the recorded responses.
pub(super) fn real_secrets(opts: &Options) -> anyhow::Result<RealSecrets> {
    let mut real = BTreeMap::new();
    for (name, env) in &opts.secrets {
        let value = std::env::var(env)
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                anyhow!("--secret {name}={env}: environment variable {env} is not set")
            })?;
        // A value this short is not scrubbed from responses: it could reach a fixture.
        if value.len() < crate::runtime::http::MIN_SCRUBBED_SECRET {
            bail!(
                "--secret {name}={env}: the value is shorter than {} bytes, too short to be \
                 scrubbed from the recorded responses",
                crate::runtime::http::MIN_SCRUBBED_SECRET
            );
        }
        real.insert(name.clone(), (env.clone(), value));
    }
    Ok(real)
}

/// Compiles the component `file` and asks it for its manifest. Errors: a file that cannot be
/// read, is not a valid component, or does not load.
pub(super) async fn manifest(
    rt: &Runtime,
    file: &Path,
    link_all_wasi: bool,
) -> anyhow::Result<Manifest> {
    let bytes = std::fs::read(file).with_context(|| format!("{}", file.display()))?;
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let component = rt
        .compile(&bytes, &sha256)
        .map_err(|e| anyhow!("{} is not a valid component: {e:#}", file.display()))?;
    rt.manifest_of("harness", &component, link_all_wasi)
        .await
        .map_err(|e| anyhow!("{} cannot be loaded: {e}", file.display()))
}

/// Grants the real secrets in place of the stand-ins of `harness.toml`; returns a note per
/// secret for the report (and, when recording, per stand-in sent to the live system). Errors:
/// a `--secret` the manifest does not ask for.
pub(super) fn grant_secrets(
    opts: &Options,
    real: RealSecrets,
    manifest: &Manifest,
    harness: &mut Harness,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    for (name, (env, value)) in real {
        if !manifest.secrets.contains(&name) {
            bail!(
                "--secret {name}={env}: {} asks for no secret {name:?} (it asks for: {})",
                manifest.name,
                if manifest.secrets.is_empty() {
                    "none".to_string()
                } else {
                    manifest.secrets.join(", ")
                }
            );
        }
        notes.push(format!(
            "secret {name}: the value of ${env} (the fixtures keep {{{{secret:{name}}}}})"
        ));
        harness
            .plugin
            .secrets
            .insert(name, SecretSource::Value { value });
    }
    if opts.record {
        for name in &manifest.secrets {
            if !opts.secrets.iter().any(|(n, _)| n == name)
                && matches!(
                    harness.plugin.secrets.get(name),
                    Some(SecretSource::Value { .. })
                )
            {
                notes.push(format!(
                    "secret {name}: the stand-in in {HARNESS_FILE} is sent to the live system \
                     (give the real value with --secret {name}=ENV)"
                ));
            }
        }
    }
    Ok(notes)
}

/// The tape the plugin's HTTP goes through: when recording, a fresh `staging` directory beside
/// the fixtures (which it replaces only if the whole run passes), with the `--live` rewrites;
/// otherwise the exchanges of `dir`, replayed.
pub(super) fn open_tape(
    opts: &Options,
    dir: &Path,
    staging: &Path,
    rewrite: Vec<(String, String)>,
) -> anyhow::Result<Tape> {
    Ok(if opts.record {
        // Recorded beside the fixtures, which it replaces only if the whole run passes.
        if staging.exists() {
            std::fs::remove_dir_all(staging)?;
        }
        std::fs::create_dir(staging).with_context(|| format!("{}", staging.display()))?;
        Tape::record(staging, rewrite)
    } else {
        Tape::replay(dir)?
    })
}

/// The plugin's settings, as under `[plugins.NAME]` of a deployment: `file` as its path, and
/// the hosts `harness.toml` allows or, by default, the origins the manifest asks for (a
/// `${KEY}` host read from config field `KEY`).
pub(super) fn plugin_config(harness: &Harness, manifest: &Manifest, file: &Path) -> PluginConfig {
    let allow_hosts = match harness.plugin.allow_hosts.clone() {
        Some(h) => h,
        None => manifest
            .hosts
            .iter()
            .filter_map(
                |h| match h.strip_prefix("${").and_then(|k| k.strip_suffix('}')) {
                    Some(key) => harness
                        .plugin
                        .config
                        .get(key)
                        .and_then(toml::Value::as_str)
                        .and_then(origin_of),
                    None => Some(h.clone()),
                },
            )
            .collect(),
    };
    PluginConfig {
        path: Spanned::new(0..0, file.to_path_buf()),
        allow_hosts: allow_hosts
            .into_iter()
            .map(|h| Spanned::new(0..0, h))
            .collect(),
        secrets: harness.plugin.secrets.clone(),
        config: harness.plugin.config.clone(),
        limits: harness.plugin.limits,
        sha256: None,
        link_all_wasi: harness.plugin.link_all_wasi,
        // Recorded answers come at once: no system to spare.
        rate_limit: None,
    }
}
