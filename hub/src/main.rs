//! `hub`: the integration hub's daemon and command line.
//!
//! The binary only sets up the process (TLS provider, async runtime): [`hub::cli`] parses the
//! command line and runs the command (the exit codes are listed there), and `hub run` is
//! [`hub::daemon::lifecycle`].

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    hub::cli::main().await
}
