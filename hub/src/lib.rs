//! The hub: a daemon that loads WebAssembly connector plugins, validates every record against
//! the shared JSON Schemas, and runs scheduled, bidirectional syncs between systems without
//! losing, duplicating or echoing a record.
//!
//! The flow of one sync run: [`daemon`] (scheduler) → [`sync`] engine → [`runtime`] (`read`) →
//! [`schema`] validation → identity, echo and merge checks against the [`store`] → [`runtime`]
//! (`write`) → [`store`] (results, links, cursor, and the [`audit`] entries of the writes, in one
//! transaction) → run history.

pub mod admin;
/// The admin server's defences, by their path before they moved into [`admin`] (kept so that
/// code naming `hub::admin_security` still builds; new code names [`admin::security`]).
pub use admin::security as admin_security;
/// The admin server's HTTPS, by its path before it moved into [`admin`] (kept so that code
/// naming `hub::admin_tls` still builds; new code names [`admin::tls`]).
pub use admin::tls as admin_tls;
pub mod audit;
pub mod audit_witness;
pub mod check;
pub mod cli;
pub mod config;
pub mod control_chars;
pub mod crash;
pub mod daemon;
pub mod dead_letter_reasons;
pub mod keys;
pub mod local_time;
pub mod logging;
pub mod metrics;
pub mod plugin_signature;
pub mod report;
pub mod runtime;
pub mod schedule;
pub mod scheduler;
pub mod schema;
pub mod statistics;
pub mod store;
pub mod sync;
pub mod telemetry;
