//! `sims`: runs one simulator until killed.
//!
//! ```text
//! sims hy-esms --port 0 [--scale N] [--seed S] [--rate-limit N (0 = off)] [--api-key K]
//! sims zf-reg  --port 0 [--scale N] [--seed S] [--session-ttl SECS] [--username U] [--password P]
//! sims med-roster --port 0 [--seed S] [--token T]
//! ```
//! Prints exactly one line, `listening on http://127.0.0.1:PORT`, to stdout; logs go to stderr
//! (filter with `RUST_LOG`, e.g. `RUST_LOG=hub_sims=debug`).

use clap::{Args, Parser, Subcommand};
use hub_sims::{SimOptions, start_hy_esms, start_med_roster, start_zf_reg};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "sims",
    about = "Simulators of HY-ESMS, ZF-REG and MED-ROSTER for the demo, tests and benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    system: System,
}

#[derive(Subcommand)]
enum System {
    /// Huiyang District Employment Service Management System (REST/JSON, API key).
    HyEsms {
        #[command(flatten)]
        common: Common,
        /// Requests per second before 429; 0 turns the limit off.
        #[arg(long, default_value_t = 20)]
        rate_limit: u32,
        /// The `X-Api-Key` value accepted.
        #[arg(long, default_value = "demo-hy-key")]
        api_key: String,
    },
    /// Zhenfeng County registry of residents working away (session login, GB18030 CSV).
    ZfReg {
        #[command(flatten)]
        common: Common,
        /// Session lifetime in seconds.
        #[arg(long, default_value_t = 1800)]
        session_ttl: u64,
        /// Login user name.
        #[arg(long, default_value = "hub-sync")]
        username: String,
        /// Login password.
        #[arg(long, default_value = "demo-zf-password")]
        password: String,
    },
    /// Zhenfeng health bureau's medical staff roster (FHIR R4, bearer token).
    MedRoster {
        #[command(flatten)]
        common: Common,
        /// The bearer token accepted.
        #[arg(long, default_value = "demo-med-token")]
        token: String,
    },
}

#[derive(Args)]
struct Common {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Data volume multiplier.
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Seed of the generated data.
    #[arg(long, default_value_t = hub_sims::seed::DEFAULT_SEED)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let defaults = SimOptions::default();
    let sim = match cli.system {
        System::HyEsms {
            common,
            rate_limit,
            api_key,
        } => {
            let opts = SimOptions {
                scale: common.scale,
                seed: common.seed,
                rate_limit: (rate_limit > 0).then_some(rate_limit),
                hy_api_key: api_key,
                ..defaults
            };
            start_hy_esms(bind(common.port), &opts).await?
        }
        System::ZfReg {
            common,
            session_ttl,
            username,
            password,
        } => {
            let opts = SimOptions {
                scale: common.scale,
                seed: common.seed,
                session_ttl: Duration::from_secs(session_ttl),
                zf_username: username,
                zf_password: password,
                ..defaults
            };
            start_zf_reg(bind(common.port), &opts).await?
        }
        System::MedRoster { common, token } => {
            let opts = SimOptions {
                scale: common.scale,
                seed: common.seed,
                med_token: token,
                ..defaults
            };
            start_med_roster(bind(common.port), &opts).await?
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", sim.url())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}

fn bind(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}
