//! The wasmtime host: the only `Engine` and `Linker`, the compiled-component cache, and loading
//! plugins. (The one engine of the hub is the sync engine, `crate::sync`; wasmtime's `Engine`
//! is a value here, never a module name.)
//!
//! Engine defaults, with the reason for each:
//! - component model on: connectors are components (the WIT contract), never core modules;
//! - epoch interruption on: guest CPU time is measured at epoch checks, cheaper than fuel
//!   (+18 % against +36 % on a JSON-heavy call measured here); the ticker is an OS thread, so a
//!   spinning guest cannot starve it as it could a tokio task;
//! - Cranelift at `speed`, parallel compilation: compiling is paid once per component and
//!   cached on disk.

use super::contract::{self, Pre};
use super::plugin::{Plugin, Session};
use super::{HostState, Manifest, PluginError, TICK, http};
use crate::config::PluginConfig;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

/// The contract version this host implements (`wit/connector/v0.2.0`); it also loads
/// components of the older lines in [`contract::LINES`] through their adapters.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// A semantic version `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// Parses `1.2.3` (a pre-release or build suffix is ignored).
    pub fn parse(s: &str) -> Option<Version> {
        let core = s.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        let v = Version(it.next()??, it.next()??, it.next()??);
        it.next().is_none().then_some(v)
    }

    /// True if a component built against `self` can run on a host implementing `host`: the same
    /// major version (for 0.x, the same minor, as semver says), and not newer than the host.
    pub fn runs_on(self, host: Version) -> bool {
        let same_line = if host.0 == 0 {
            self.0 == 0 && self.1 == host.1
        } else {
            self.0 == host.0
        };
        same_line && self <= host
    }

    /// The compatible line, e.g. `0.1.x` or `1.x`.
    pub fn line(self) -> String {
        if self.0 == 0 {
            format!("0.{}.x", self.1)
        } else {
            format!("{}.x", self.0)
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// What a component file says of itself, without running it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inspection {
    /// SHA-256 of the file, 64 hex digits.
    pub sha256: String,
    /// Size of the file, bytes.
    pub bytes: usize,
    /// The `hub:connector` version it was built against, if it exports the contract.
    pub contract: Option<String>,
    /// Whether this host can load it, and if not why.
    pub loadable: Result<(), String>,
    /// What the host adapts to run it (a component of an older contract line), for people;
    /// `None` when it speaks the host's own version or does not load.
    pub adaptation: Option<String>,
    /// It links only with every WASI 0.2 interface (a deployment must set `link_all_wasi =
    /// true` for it, as for a Python component made by componentize-py); `loadable` is then
    /// whether it loads so.
    pub needs_link_all_wasi: bool,
    /// Names of what it imports.
    pub imports: Vec<String>,
    /// Names of what it exports.
    pub exports: Vec<String>,
}

/// The engine, the linker, the HTTP client and the cache, shared by every plugin.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    /// Every WASI 0.2 interface, for plugins whose deployment sets `link_all_wasi`; the store's
    /// WASI context grants nothing through the file and socket interfaces (no preopens,
    /// sockets refused).
    linker_all_wasi: Arc<Linker<HostState>>,
    client: reqwest::Client,
    cache_dir: Option<PathBuf>,
    engine_hash: u64,
    /// With `require_signed`: the keys a component's signature must come from.
    signatures: Option<Arc<crate::plugin_signature::SignaturePolicy>>,
}

impl Runtime {
    /// Builds the engine and a linker with the host interface and the WASI subset, and starts
    /// the epoch ticker thread. Compiled components are cached in `cache_dir` if given.
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Runtime> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        config.parallel_compilation(true);
        // `HUB_WASM_PERFMAP=1`: name the guests' compiled functions for `perf` in
        // /tmp/perf-PID.map (docs/performance.md, "Profiling"); nothing else changes.
        if std::env::var_os("HUB_WASM_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("hub-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })?;
        let mut linker = Linker::<HostState>::new(&engine);
        contract::v0_2::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        contract::v0_1::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)?;
        // WASI 0.2: clocks, random, stdio and the streams they need (the `wasi:http/proxy`
        // subset), plus what Rust's std imports besides: an empty environment, exit, the
        // terminal queries (which answer "not a terminal") and insecure random (hash seeds).
        wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(&mut linker)?;
        {
            use wasmtime_wasi::cli::{WasiCli, WasiCliView};
            use wasmtime_wasi::p2::bindings::{cli, random};
            use wasmtime_wasi::random::WasiRandom;
            cli::environment::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::exit::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_input::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_output::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(&mut linker, HostState::cli)?;
            random::insecure::add_to_linker::<HostState, WasiRandom>(&mut linker, |s| {
                &mut s.insecure_random
            })?;
            random::insecure_seed::add_to_linker::<HostState, WasiRandom>(&mut linker, |s| {
                &mut s.insecure_random
            })?;
        }
        let mut all_wasi = Linker::<HostState>::new(&engine);
        contract::v0_2::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut all_wasi,
            |s| s,
        )?;
        contract::v0_1::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut all_wasi,
            |s| s,
        )?;
        wasmtime_wasi::p2::add_to_linker_async(&mut all_wasi)?;
        // reqwest is built without a default TLS provider (ring is the project's); install it
        // once for the process (later calls find it installed and do nothing).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("hub/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            linker_all_wasi: Arc::new(all_wasi),
            client,
            cache_dir,
            engine_hash: h.finish(),
            signatures: None,
        })
    }

    /// Loads only components signed under `policy` from now on (`None`: no signature needed).
    /// The signature is checked against the very bytes that are then compiled.
    pub fn require_signatures(
        mut self,
        policy: Option<crate::plugin_signature::SignaturePolicy>,
    ) -> Runtime {
        self.signatures = policy.map(Arc::new);
        self
    }

    /// Compiles a component, or loads it from the cache. A cache entry is the serialized
    /// component (`SHA256-ENGINEHASH.cwasm`, keyed by the wasm file's SHA-256 and a hash of the
    /// engine's configuration and version) beside a file holding the SHA-256 of the entry; an
    /// entry whose checksum does not match, or that this engine refuses, is compiled again.
    pub fn compile(&self, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        let Some(dir) = &self.cache_dir else {
            return Component::from_binary(&self.engine, bytes);
        };
        let key = format!("{sha256}-{:016x}", self.engine_hash);
        let entry = dir.join(format!("{key}.cwasm"));
        let sum = dir.join(format!("{key}.cwasm.sha256"));
        if let (Ok(blob), Ok(expected)) = (std::fs::read(&entry), std::fs::read_to_string(&sum)) {
            if hex::encode(Sha256::digest(&blob)) == expected.trim() {
                // SAFETY: `deserialize` requires bytes made by `Component::serialize` of a
                // compatible engine. The entry is one the hub itself wrote (the checksum beside
                // it rules out a torn or corrupted file), and wasmtime checks the engine's
                // version and configuration in its header. The cache directory must be writable
                // by the hub's user only, like the state key beside it.
                match unsafe { Component::deserialize(&self.engine, &blob) } {
                    Ok(c) => return Ok(c),
                    Err(e) => {
                        tracing::info!(entry = %entry.display(), "cache entry not usable by this engine, compiling again: {e:#}")
                    }
                }
            } else {
                tracing::warn!(entry = %entry.display(), "cache entry does not match its checksum; compiling again");
            }
        }
        let component = Component::from_binary(&self.engine, bytes)?;
        if let Err(e) = write_entry(dir, &key, &component) {
            tracing::warn!(dir = %dir.display(), "cannot write the component cache: {e:#}");
        }
        Ok(component)
    }

    /// The `hub:connector` version a component was built against, checked against the lines
    /// this host loads ([`contract::LINES`]).
    fn contract_of(&self, component: &Component) -> (Option<Version>, Result<(), String>) {
        let host = Version::parse(CONTRACT_VERSION).expect("a valid constant");
        let ty = component.component_type();
        let exported = ty
            .exports(&self.engine)
            .filter_map(|(name, _)| {
                name.strip_prefix("hub:connector/connector@")
                    .map(str::to_string)
            })
            .next();
        let Some(v) = exported else {
            return (
                None,
                Err("it does not export hub:connector/connector: not a connector component".into()),
            );
        };
        let Some(version) = Version::parse(&v) else {
            return (
                None,
                Err(format!(
                    "it exports hub:connector/connector@{v}, which is not a version"
                )),
            );
        };
        if contract::LINES.iter().any(|line| version.runs_on(*line)) {
            return (Some(version), Ok(()));
        }
        let lines: Vec<String> = contract::LINES.iter().map(|l| l.line()).collect();
        let same_line = contract::LINES
            .iter()
            .find(|l| l.line() == version.line() && version > **l);
        let why = if let Some(line) = same_line {
            format!(
                "it is built against hub:connector {version}, newer than this hub's {line}: upgrade the hub"
            )
        } else {
            format!(
                "it is built against hub:connector {version}; this hub implements {host} and loads plugins built against {}",
                lines.join(" or ")
            )
        };
        (Some(version), Err(why))
    }

    /// Reads a component file without running it: digest, contract version, imports, exports.
    pub fn inspect(&self, path: &Path) -> anyhow::Result<(Inspection, Option<Component>)> {
        use anyhow::Context as _;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(why) = not_a_component(&bytes) {
            anyhow::bail!("{}: {why}", path.display());
        }
        let component = self
            .compile(&bytes, &sha256)
            .map_err(|e| anyhow::anyhow!("{} is not a valid component: {e:#}", path.display()))?;
        let ty = component.component_type();
        let imports = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let exports = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let (version, loadable) = self.contract_of(&component);
        let mut needs_link_all_wasi = false;
        let loadable = loadable.and_then(|()| {
            let pre = match self.linker.instantiate_pre(&component) {
                Ok(pre) => pre,
                Err(e) => match self.linker_all_wasi.instantiate_pre(&component) {
                    Ok(pre) => {
                        needs_link_all_wasi = true;
                        pre
                    }
                    Err(_) => return Err(link_error(&e)),
                },
            };
            let version = version.expect("a loadable component has a version");
            Pre::new(version, &component, pre)
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        });
        let adaptation = version
            .filter(|_| loadable.is_ok())
            .and_then(contract::adaptation);
        let i = Inspection {
            sha256,
            bytes: bytes.len(),
            contract: version.map(|v| v.to_string()),
            loadable,
            adaptation,
            needs_link_all_wasi,
            imports,
            exports,
        };
        Ok((i, Some(component)))
    }

    /// The manifest of a component, asked with no grants at all (`manifest` must not call the
    /// host).
    /// `link_all_wasi` as the plugin's deployment setting (see [`PluginConfig`]).
    pub async fn manifest_of(
        &self,
        name: &str,
        component: &Component,
        link_all_wasi: bool,
    ) -> Result<Manifest, PluginError> {
        let plugin = self.plugin(
            name,
            component,
            link_all_wasi,
            "-".into(),
            &crate::config::Limits::default(),
            http_grant(
                self,
                name,
                Vec::new(),
                BTreeMap::new(),
                &crate::config::Limits::default(),
                None,
                None,
            ),
            "{}".into(),
        )?;
        plugin.instantiate().await?.manifest().await
    }

    #[allow(clippy::too_many_arguments)]
    fn plugin(
        &self,
        name: &str,
        component: &Component,
        link_all_wasi: bool,
        digest: String,
        limits: &crate::config::Limits,
        grant: Arc<http::HttpGrant>,
        config_json: String,
    ) -> Result<Plugin, PluginError> {
        let load_err = |message: String| PluginError::Load {
            plugin: name.into(),
            path: String::new(),
            message,
        };
        let linker = if link_all_wasi {
            &self.linker_all_wasi
        } else {
            &self.linker
        };
        let (version, fits) = self.contract_of(component);
        let version = match (version, fits) {
            (Some(v), Ok(())) => v,
            (_, Err(why)) => return Err(load_err(why)),
            (None, Ok(())) => unreachable!("a fitting component has a version"),
        };
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| load_err(link_error(&e)))?;
        let pre = Pre::new(version, component, pre).map_err(|e| load_err(format!("{e:#}")))?;
        Ok(Plugin::new(
            name.into(),
            digest,
            version,
            pre,
            self.engine.clone(),
            grant,
            *limits,
            config_json,
        ))
    }

    /// Loads a plugin: checks the file against its sha256 pin, compiles it (or takes it from
    /// the cache), checks its contract version, links it, reads its manifest, and checks that
    /// every host and secret it asks for is granted by `cfg`.
    pub async fn load(
        &self,
        name: &str,
        cfg: &PluginConfig,
        config_dir: &Path,
    ) -> Result<Plugin, PluginError> {
        self.load_with_tape(name, cfg, config_dir, None).await
    }

    /// Loads a plugin like [`Runtime::load`], its HTTP requests answered by `tape` (recorded
    /// exchanges, for `hub plugin test`) instead of the network when one is given.
    pub async fn load_with_tape(
        &self,
        name: &str,
        cfg: &PluginConfig,
        config_dir: &Path,
        tape: Option<Arc<super::tape::Tape>>,
    ) -> Result<Plugin, PluginError> {
        let path = config_dir.join(cfg.path.get_ref());
        let load_err = |message: String| PluginError::Load {
            plugin: name.into(),
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| load_err(e.to_string()))?;
        if let Some(policy) = &self.signatures {
            let key = policy.check(&path, &bytes).map_err(&load_err)?;
            tracing::info!(plugin = name, key = %key, "plugin signature verified");
        }
        let digest = hex::encode(Sha256::digest(&bytes));
        if let Some(pin) = &cfg.sha256
            && !pin.get_ref().eq_ignore_ascii_case(&digest)
        {
            return Err(load_err(format!(
                "its sha256 is {digest}, but the config pins {}: refused",
                pin.get_ref()
            )));
        }
        if let Some(why) = not_a_component(&bytes) {
            return Err(load_err(why));
        }
        let component = self
            .compile(&bytes, &digest)
            .map_err(|e| load_err(format!("{e:#}")))?;
        if let (_, Err(why)) = self.contract_of(&component) {
            return Err(load_err(why));
        }
        let not_granted = |message: String| PluginError::NotGranted {
            plugin: name.into(),
            message,
        };
        let mut secrets = BTreeMap::new();
        for (k, src) in &cfg.secrets {
            let v = src
                .resolve(config_dir)
                .map_err(|e| not_granted(format!("secret {k}: {e}")))?;
            if v.len() < http::MIN_SCRUBBED_SECRET {
                tracing::warn!(plugin = name, secret = %k, "secret shorter than {} bytes: it cannot be scrubbed from responses", http::MIN_SCRUBBED_SECRET);
            }
            secrets.insert(k.clone(), v);
        }
        let mut origins = Vec::new();
        for h in &cfg.allow_hosts {
            origins.push(http::Origin::parse(h.get_ref()).map_err(&not_granted)?);
        }
        let rate = cfg.rate_limit.as_ref().map(|r| r.get_ref());
        let grant = http_grant(self, name, origins, secrets, &cfg.limits, rate, tape);
        let config_json =
            serde_json::to_string(&cfg.config).map_err(|e| load_err(format!("config: {e}")))?;
        let mut plugin = self
            .plugin(
                name,
                &component,
                cfg.link_all_wasi,
                digest,
                &cfg.limits,
                grant,
                config_json,
            )
            .map_err(|e| match e {
                PluginError::Load { message, .. } => load_err(message),
                other => other,
            })?;
        let manifest = plugin.instantiate().await?.manifest().await?;
        plugin.check_grants(&manifest, &cfg.config)?;
        plugin.keep_declared_secrets(&manifest);
        plugin.set_manifest(manifest);
        Ok(plugin)
    }

    /// A fresh instance of a plugin loaded by [`Runtime::load`] (see [`Plugin::session`]).
    pub async fn session(&self, plugin: &Plugin) -> Result<Session, PluginError> {
        plugin.session().await
    }
}

/// Why `bytes` cannot be a connector, read from the preamble of the WebAssembly binary format
/// (the magic `\0asm`, then a version and layer: `01 00 00 00` a core module, `0d 00 01 00` a
/// component, per the WebAssembly core specification 5.5.16 and the component model's
/// Binary.md), in one line for people; `None` when it is a component (which may still fail to
/// compile or implement another contract, said then).
pub fn not_a_component(bytes: &[u8]) -> Option<String> {
    const BUILD: &str = "build the connector as a component for wasm32-wasip2 (the plugin template's `cargo build --target wasm32-wasip2`)";
    if bytes.is_empty() {
        return Some(format!(
            "the file is empty, not a WebAssembly component; {BUILD}"
        ));
    }
    if !bytes.starts_with(b"\0asm") {
        return Some(format!(
            "the file is not WebAssembly (it does not begin with the bytes \\0asm of the WebAssembly binary format); {BUILD}"
        ));
    }
    match bytes.get(6..8) {
        Some([0, 0]) => Some(format!(
            "the file is a core WebAssembly module, not a component: a connector must be a component implementing hub:connector; {BUILD}"
        )),
        Some([1, 0]) => None,
        _ => Some(format!(
            "the file begins like WebAssembly but is cut short or of an unknown kind; {BUILD}"
        )),
    }
}

/// A linking failure, with what the sandbox offers.
fn link_error(e: &wasmtime::Error) -> String {
    format!(
        "{e:#} (plugins get clocks, random, standard streams and the hub's host interface; no files, sockets or environment; a component whose language runtime imports file or socket interfaces it does not use loads with `link_all_wasi = true`, which grants nothing through them)"
    )
}

/// A plugin's HTTP grant; with a `rate_limit`, a new request budget of its own (one per plugin
/// loaded, shared by every session of it).
fn http_grant(
    rt: &Runtime,
    name: &str,
    origins: Vec<http::Origin>,
    secrets: BTreeMap<String, String>,
    limits: &crate::config::Limits,
    rate: Option<&crate::config::RateLimit>,
    tape: Option<Arc<super::tape::Tape>>,
) -> Arc<http::HttpGrant> {
    Arc::new(http::HttpGrant {
        plugin: name.into(),
        origins,
        secrets,
        client: rt.client.clone(),
        timeout: Duration::from_secs(limits.http_timeout_secs),
        max_response: usize::try_from(limits.max_response_mib << 20).unwrap_or(usize::MAX),
        tape,
        budget: rate.map(|r| {
            Arc::new(super::rate::RateBudget::new(
                name,
                r.requests_per_second,
                r.burst,
            ))
        }),
    })
}

/// Writes a cache entry atomically (temporary files renamed into place, checksum last).
fn write_entry(dir: &Path, key: &str, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let blob = component.serialize()?;
    let sum = hex::encode(Sha256::digest(&blob));
    let tmp = dir.join(format!("{key}.cwasm.tmp{}", std::process::id()));
    std::fs::write(&tmp, &blob)?;
    std::fs::rename(&tmp, dir.join(format!("{key}.cwasm")))?;
    let tmp = dir.join(format!("{key}.cwasm.sha256.tmp{}", std::process::id()));
    std::fs::write(&tmp, sum)?;
    std::fs::rename(&tmp, dir.join(format!("{key}.cwasm.sha256")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions_follow_semver_with_the_zero_major_rule() {
        let host = Version(0, 1, 1);
        assert!(
            Version(0, 1, 0).runs_on(host),
            "an older patch of the same 0.1 line"
        );
        assert!(Version(0, 1, 1).runs_on(host));
        assert!(!Version(0, 1, 2).runs_on(host), "newer than the host");
        assert!(
            !Version(0, 2, 0).runs_on(host),
            "0.2 is another line under semver"
        );
        assert!(!Version(9, 0, 0).runs_on(host));
        let host = Version(1, 4, 0);
        assert!(Version(1, 0, 7).runs_on(host) && Version(1, 4, 0).runs_on(host));
        assert!(
            !Version(2, 0, 0).runs_on(host)
                && !Version(0, 4, 0).runs_on(host)
                && !Version(1, 5, 0).runs_on(host)
        );
        assert_eq!(Version::parse("9.0.0"), Some(Version(9, 0, 0)));
        assert_eq!(Version::parse("0.1.1-rc.1"), Some(Version(0, 1, 1)));
        assert_eq!(Version::parse("1.2"), None);
        assert_eq!(
            (Version(0, 1, 1).line(), Version(2, 3, 0).line()),
            ("0.1.x".to_string(), "2.x".to_string())
        );
    }
}

#[cfg(test)]
mod preamble_tests {
    use super::not_a_component;

    #[test]
    fn a_file_that_is_not_a_component_is_said_in_one_line() {
        // The preambles of the core specification (version 1) and of the component model
        // (version 0x0d, layer 1).
        let core = b"\0asm\x01\x00\x00\x00\x01\x04";
        let component = b"\0asm\x0d\x00\x01\x00\x00";
        assert_eq!(not_a_component(component), None);
        let said = |b: &[u8]| not_a_component(b).unwrap();
        assert!(said(core).starts_with("the file is a core WebAssembly module, not a component: "));
        assert!(said(b"#!/bin/sh\necho hi\n").starts_with("the file is not WebAssembly "));
        assert!(said(b"").starts_with("the file is empty"));
        assert!(
            said(b"\0asm\x0d").starts_with("the file begins like WebAssembly but is cut short")
        );
        for b in [&core[..], b"PK\x03\x04", b""] {
            assert_eq!(said(b).lines().count(), 1);
        }
    }
}
