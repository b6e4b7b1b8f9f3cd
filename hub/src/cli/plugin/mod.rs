//! `hub plugin inspect|test|sign|verify|keygen|new`: connector components from the command
//! line. One file per command that has code of its own: `inspect` (what a component is and asks
//! for), `harness` (`hub plugin test`: a connector's calls against recorded exchanges),
//! `scaffold` (`hub plugin new`); signing and verifying are [`crate::plugin_signature`]'s.
//! Nothing here loads a deployment or touches a state store.

pub mod harness;
pub mod inspect;
pub mod scaffold;

use super::Failure;
use crate::say;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub(super) enum PluginAction {
    /// Show a component's contract version, manifest (streams, schemas, hosts and secrets it
    /// asks for), imports and exports, granting it nothing. Exit 1 if this hub cannot load it.
    Inspect {
        /// The component file (.wasm).
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run a connector's calls against recorded HTTP exchanges (no live system): the steps of
    /// DIR/harness.toml, every record validated against its stream's schema. Exit 1 if a step
    /// fails, an expectation is not met, or an exchange is missing or unused.
    /// See docs/plugin-guide.md for the fixture format.
    Test {
        /// The component file (.wasm).
        file: PathBuf,
        /// The fixture directory (harness.toml and the NNN-NAME.request/response.http files).
        #[arg(long)]
        fixtures: PathBuf,
        /// Record the exchanges from a live system instead (replaces DIR's .http files).
        #[arg(long)]
        record: bool,
        /// With --record: send to URL instead of the URL in config field KEY (KEY=URL), and
        /// write the exchanges as if sent to the config's URL.
        #[arg(long, value_name = "KEY=URL", requires = "record")]
        live: Vec<String>,
        /// With --record: grant secret NAME the value of environment variable ENV (NAME=ENV)
        /// instead of the stand-in in harness.toml. The fixtures keep the {{secret:NAME}}
        /// placeholder and the value is scrubbed from the recorded responses. Repeatable.
        #[arg(long = "secret", value_name = "NAME=ENV", requires = "record")]
        secrets: Vec<String>,
        /// With --record: write what each step got into its `expect` (a read step's records
        /// into its file, a write step's outcomes into its list in harness.toml or its file),
        /// then check against it.
        #[arg(long, requires = "record")]
        write_expect: bool,
        /// Link every WASI interface, granting nothing through them, as `link_all_wasi = true`
        /// in a deployment (for components made by componentize-py and the like).
        #[arg(long)]
        link_all_wasi: bool,
    },
    /// Sign a component: write FILE.minisig (minisign format, Ed25519) with a minisign secret
    /// key (an encrypted one asks for its password). Deployments with `require_signed = true`
    /// load it if they list the key's public half in `hub.trusted_keys`.
    Sign {
        /// The minisign secret key file (`hub plugin keygen` or `minisign -G` make one).
        #[arg(long)]
        key: PathBuf,
        /// The component file (.wasm).
        file: PathBuf,
    },
    /// Check FILE.minisig against a public key. Exit 0 if it was made by that key over FILE's
    /// bytes; exit 2 naming the reason otherwise (missing, another key, bytes changed).
    Verify {
        /// The public key: its base64 line (`RW…`) or a minisign.pub file.
        #[arg(long)]
        pubkey: String,
        /// The component file (.wasm).
        file: PathBuf,
    },
    /// Make a new, unencrypted signing key pair: OUT.key (secret, created 0600; keep it off
    /// the servers) and OUT.pub; prints the public key line for `hub.trusted_keys`.
    Keygen {
        /// Path prefix of the two files.
        out: PathBuf,
    },
    /// Scaffold a connector crate DIR/NAME that builds for wasm32-wasip2 and passes its own
    /// tests (cargo test; hub plugin test on its fixtures).
    New {
        /// Connector name: lower-case letters, digits and '-'.
        name: String,
        /// Where to create it.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// A hub repository checkout whose plugins/sdk the crate depends on (default: the one
        /// holding DIR, else the one this hub was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

/// `hub plugin ACTION`.
pub(super) async fn run(action: PluginAction) -> Result<bool, Failure> {
    match action {
        PluginAction::Inspect { file, json } => Ok(inspect::inspect(&file, json).await?),
        PluginAction::Test {
            file,
            fixtures,
            record,
            live,
            link_all_wasi,
            secrets,
            write_expect,
        } => {
            test(
                file,
                fixtures,
                record,
                live,
                link_all_wasi,
                secrets,
                write_expect,
            )
            .await
        }
        PluginAction::Sign { key, file } => {
            let (sig, id) = crate::plugin_signature::sign_file(&key, &file)?;
            say!("{}: signed by key {id}", sig.display());
            Ok(true)
        }
        PluginAction::Verify { pubkey, file } => {
            match crate::plugin_signature::verify_file(&pubkey, &file) {
                Ok(id) => {
                    say!("{}: good signature by key {id}", file.display());
                    Ok(true)
                }
                Err(why) => Err(Failure::Deployment(vec![format!(
                    "{}: {why}",
                    file.display()
                )])),
            }
        }
        PluginAction::Keygen { out } => {
            let (line, id) = crate::plugin_signature::keygen(&out)?;
            say!("key {id}; for hub.trusted_keys:");
            say!("{line}");
            Ok(true)
        }
        PluginAction::New { name, dir, sdk } => new(name, dir, sdk),
    }
}

/// `hub plugin test FILE --fixtures DIR`: the `KEY=URL` and `NAME=ENV` pairs parsed, then the
/// harness run and printed.
#[allow(clippy::too_many_arguments)]
async fn test(
    file: PathBuf,
    fixtures: PathBuf,
    record: bool,
    live: Vec<String>,
    link_all_wasi: bool,
    secrets: Vec<String>,
    write_expect: bool,
) -> Result<bool, Failure> {
    let pairs = |option: &str, what: &str, list: &[String]| {
        list.iter()
            .map(|kv| {
                kv.split_once('=')
                    .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| anyhow::anyhow!("{option} {kv:?}: expected {what}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let opts = harness::Options {
        file,
        fixtures,
        record,
        live: pairs("--live", "KEY=URL", &live)?,
        link_all_wasi,
        secrets: pairs("--secret", "NAME=ENV", &secrets)?,
        write_expect,
    };
    Ok(harness::run_and_print(&opts).await?)
}

/// `hub plugin new NAME`: scaffolds the crate and prints how to build and test it.
fn new(name: String, dir: PathBuf, sdk: Option<PathBuf>) -> Result<bool, Failure> {
    let made = scaffold::scaffold(&name, &dir, sdk.as_deref())?;
    say!("created {}", made.display());
    say!(
        "  cd {} && cargo test && cargo build --profile plugin --target wasm32-wasip2",
        made.display()
    );
    say!(
        "  hub plugin test target/wasm32-wasip2/plugin/{}.wasm --fixtures fixtures",
        name.replace('-', "_")
    );
    Ok(true)
}
