//! A plugin's manifest held against the deployment's grants: every secret and origin it asks
//! for must be granted, and it keeps only the secrets it declares. Grants nothing itself.

use super::{Code, Plugin};
use crate::runtime::{Manifest, PluginError, http};
use std::sync::Arc;

impl Plugin {
    /// Checks that the deployment grants every secret and origin the manifest `m` asks for
    /// (an origin may name a config field of `config` holding a URL, as `${field}`).
    pub(in crate::runtime) fn check_grants(
        &self,
        m: &Manifest,
        config: &toml::Table,
    ) -> Result<(), PluginError> {
        let Code::Wasm { grant, .. } = &self.code else {
            return Ok(());
        };
        let not_granted = |message: String| PluginError::NotGranted {
            plugin: self.name.clone(),
            message,
        };
        for s in &m.secrets {
            if !grant.secrets.contains_key(s) {
                return Err(not_granted(format!(
                    "asks for secret {s:?}, which the deployment does not grant (add it under [plugins.{}.secrets])",
                    self.name
                )));
            }
        }
        for h in &m.hosts {
            let origin = match h.strip_prefix("${").and_then(|k| k.strip_suffix('}')) {
                Some(key) => {
                    let url = config.get(key).and_then(toml::Value::as_str).ok_or_else(|| {
                        not_granted(format!("needs the origin of config field {key:?}, which is not set (a URL string)"))
                    })?;
                    let url = url::Url::parse(url)
                        .map_err(|e| not_granted(format!("config field {key}: {e}")))?;
                    http::Origin::of(&url).ok_or_else(|| {
                        not_granted(format!("config field {key} is not an http(s) URL"))
                    })?
                }
                None => http::Origin::parse(h).map_err(&not_granted)?,
            };
            if !grant.origins.contains(&origin) {
                return Err(not_granted(format!(
                    "needs origin {origin}, which the deployment does not grant (add it to [plugins.{}].allow_hosts)",
                    self.name
                )));
            }
        }
        Ok(())
    }

    /// Keeps in the plugin's grant only the secrets its manifest declares: a secret the
    /// deployment grants under a name the manifest does not list is never placed in a request
    /// (`{{secret:NAME}}` naming it is refused as not granted). Warns, naming the secrets (not
    /// their values), when the deployment grants more than the manifest declares.
    pub(in crate::runtime) fn keep_declared_secrets(&mut self, m: &Manifest) {
        let Code::Wasm { grant, .. } = &mut self.code else {
            return;
        };
        let undeclared: Vec<&String> = grant
            .secrets
            .keys()
            .filter(|k| !m.secrets.contains(k))
            .collect();
        if undeclared.is_empty() {
            return;
        }
        tracing::warn!(target: "hub::runtime::plugin", plugin = %self.name, secrets = ?undeclared, "the deployment grants secrets the plugin's manifest does not declare: they are not placed in its requests");
        let mut narrowed = (**grant).clone();
        narrowed.secrets.retain(|k, _| m.secrets.contains(k));
        *grant = Arc::new(narrowed);
    }
}
