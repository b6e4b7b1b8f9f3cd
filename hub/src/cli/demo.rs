//! `hub demo`: hands the process over to the `hub-demo` binary beside this one. The demo and
//! its simulators live in `src/bin/hub-demo`; this module only finds and starts it.

use super::Failure;
use crate::logging::LogFormat;
use crate::say_err;
use std::path::PathBuf;

/// `hub demo`: replaces this process with `hub-demo` from this binary's folder, passing the log
/// format and `args`. Returns only on failure: exit 2 with how to build it when this build has
/// none (production builds leave the simulators out), 1 when it cannot be started.
pub(super) fn demo(log_format: LogFormat, args: Vec<std::ffi::OsString>) -> Failure {
    use std::os::unix::process::CommandExt as _;
    let path = std::env::current_exe()
        .map(|exe| exe.with_file_name("hub-demo"))
        .unwrap_or_else(|_| PathBuf::from("hub-demo"));
    if !path.is_file() {
        say_err!(
            "error: this build of hub has no demo ({} not found): build it with `cargo build --release -p hub --features demo`, or run scripts/demo",
            path.display()
        );
        return Failure::Exit(2);
    }
    let mut command = std::process::Command::new(&path);
    if let LogFormat::Json = log_format {
        command.args(["--log-format", "json"]);
    }
    let e = command.args(args).exec();
    Failure::Other(anyhow::anyhow!("cannot start {}: {e}", path.display()))
}
