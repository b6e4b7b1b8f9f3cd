//! The daemon: a deployment built from its configuration, run on its schedules, reloaded on
//! SIGHUP and drained on SIGTERM.
//!
//! - [`deployment`]: [`Hub::build`] turns a configuration into what runs it (state store and
//!   keys, plugins, syncs), reporting every problem instead of stopping at the first.
//! - `resolve`: a sync of the configuration checked against the catalogue and the plugins.
//! - `schedules`: [`Hub::run_scheduled`], each enabled sync on its schedule.
//! - [`lifecycle`]: `hub run` from start to stop (the data directory's lock, signals, reloads,
//!   the admin server, the drain).
//!
//! The daemon prints no command's output and knows no exit code: the command line (`cli`)
//! maps its errors.
//!
//! **Owns** the process's lifecycle and the wiring of the parts. **May not touch** records,
//! links or SQL itself: runs go to the sync engine, rows to the store.

pub mod deployment;
pub mod lifecycle;
mod resolve;
mod schedules;

pub use deployment::{Hub, load_plugins, state_keys};
pub use lifecycle::start_telemetry;
pub use resolve::{ScheduledSync, resolve_syncs};
pub(crate) use schedules::runs_runtime;
pub use schedules::{HEARTBEAT, HEARTBEAT_TTL};
