//! `hub-demo`: the demo ([`demo`]) as a binary of its own, so that the production `hub` links
//! no simulator of a government system (issue 21). Built only with the `demo` feature
//! (`cargo build --release -p hub --features demo`, which `scripts/demo` runs); `hub demo`
//! runs this binary from `hub`'s own folder, with the same arguments.
//!
//! Exit codes: 0 the demo ran and every change it made arrived; 1 it failed (printed as
//! `error: …`); 2 the command line is wrong (clap's message).

mod demo;

use clap::Parser;
use hub::logging::{self, LogFormat};
use std::process::ExitCode;

/// The demo: simulators of HY-ESMS, ZF-REG and MED-ROSTER, the daemon on SQLite, a few
/// scheduled runs of each sync.
#[derive(Debug, Parser)]
#[command(name = "hub demo", bin_name = "hub demo", version)]
struct DemoCli {
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(flatten)]
    options: demo::DemoOptions,
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = DemoCli::parse();
    logging::init(cli.log_format);
    match demo::run(cli.options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            hub::say_err!("error: {}", hub::report::error_chain(&e));
            ExitCode::from(1)
        }
    }
}
