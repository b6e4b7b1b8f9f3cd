//! The hub: a daemon that loads WebAssembly connector plugins, validates every record against
//! the shared JSON Schemas, and runs scheduled, bidirectional syncs between systems without
//! losing, duplicating or echoing a record.
//!
//! The flow of one sync run: [`schedule`] (a fire time due) → [`sync`] engine → [`runtime`]
//! (`read`) → [`schema`] validation → identity, echo and merge checks against the [`store`] →
//! [`runtime`] (`write`) → [`store`] (results, links, cursor, and the [`audit`] entries of the
//! writes, in one transaction) → run history. docs/architecture.md draws it, folder by folder.

// Every public item says what it is (Spin's habit); `scripts/test` runs clippy with
// `-D warnings`, so a new undocumented item fails the tests.
#![warn(missing_docs)]

pub mod admin;
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
pub mod schema;
pub mod statistics;
pub mod store;
pub mod sync;
pub mod telemetry;
