//! The guest SDK for hub connector plugins.
//!
//! A connector is a WebAssembly component built for `wasm32-wasip2` that implements the
//! `hub:connector` contract 0.2.0 (`wit/connector/v0.2.0/connector.wit`, [`CONTRACT_VERSION`]):
//! it adapts one system's native API to the hub's shared JSON Schemas. This crate wraps the
//! `wit-bindgen` bindings and adds what every connector needs:
//!
//! - [`http`]: requests performed by the host (which enforces the deployment's allowed origins
//!   and fills in `{{secret:NAME}}` placeholders, so the plugin never holds a credential);
//! - [`log`]: messages into the hub's log under the plugin's name;
//! - [`normalise`]: the shared normalisers for what real systems send (lower-case `x`,
//!   full-width digits and spaces, `+86` phones, three date forms, 15-digit identity numbers),
//!   and [`names`]: people's names without the padding legacy systems put into Han names;
//! - [`json`]: small helpers to build and read records, and [`records`]: typed records of the
//!   shared schemas (`Worker`, `Enterprise`, ...), generated from `schemas/*.json` with typify
//!   (they check a record's shape; its patterns and formats are the hub's to check);
//! - [`cursor`] and [`paging`]: cursors as serde values, page-number, keyset, opaque page-token
//!   and FHIR `next`-link paging;
//! - [`csv`]: CSV bodies in UTF-8 or GB18030;
//! - errors: [`http::Response::error`] (a call's error by HTTP status) and
//!   [`http::Response::refusal`] (a write result by status), [`http::Response::deletion`] (a
//!   delete's result), [`per_record`].
//!
//! The guide `docs/plugin-guide.md` walks through writing a connector with it.
//!
//! A minimal connector:
//!
//! ```ignore
//! use hub_sdk::prelude::*;
//!
//! struct MyConnector;
//!
//! impl Guest for MyConnector {
//!     fn manifest() -> Manifest { /* name, streams, hosts, secrets */ }
//!     fn open(config: String) -> Result<(), ConnectorError> { /* parse JSON config */ }
//!     fn check() -> Result<(), ConnectorError> { Ok(()) }
//!     fn read(stream: String, cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError> { /* ... */ }
//!     fn write(stream: String, records: Vec<TargetRecord>) -> Result<Vec<WriteResult>, ConnectorError> { /* ... */ }
//! }
//!
//! hub_sdk::export!(MyConnector);
//! ```
//!
//! [`Guest`] is the SDK's own trait, not the generated bindings' one: it mirrors the contract's
//! `connector` interface, and its `normal_form` (how the system stores a record, a required
//! function of the interface since contract 0.2.0) has a default, "stores what was sent" (the
//! records unchanged). A connector whose system re-codes, derives or drops fields on write
//! overrides it in the same `impl`; [`export!`] implements the bindings' trait by forwarding
//! to [`Guest`] (for `wasm32` only). The 0.1.2 form `export!(MyConnector with normal_form)`
//! (with a separate `NormalForm` trait) is gone: it now fails to compile, saying so.
//!
//! ```ignore
//! impl Guest for MyConnector {
//!     // manifest, open, check, read, write as above
//!     fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
//!         hub_sdk::normal_form_each(&records, |r| /* the record as the system stores it */)
//!     }
//! }
//! ```
//!
//! Contract 0.2.0 also lets a connector say how many records a read leaves waiting
//! (`Batch::remaining`, a [`prelude::Remaining`]; [`paging::PageNumber::remaining`] from a
//! page-numbered list's total), end records natively (`StreamInfo::can_delete`, a
//! `TargetRecord` whose `op` is [`prelude::WriteOp::Delete`], answered `WriteResult::Deleted`;
//! [`delete_unsupported`] for a stream without it, [`already_gone`] for a record the system no
//! longer holds), answer a create the system refused because it holds that natural key already
//! (`WriteResult::Duplicate` with an [`prelude::Existing`], see `Existing::id`), and cap a
//! stream's write calls (`StreamInfo::max_write_batch`, 0 for the host's batch size).
//!
//! Every call of an instance runs on one thread, and the host gives each sync run a fresh
//! instance: state kept in a `static` (e.g. a session token or a parsed export) lives for one run.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../../wit/connector/v0.2.0",
        pub_export_macro: true,
        default_bindings_module: "hub_sdk::bindings",
    });
}

use bindings::hub::connector::types::{
    Batch, ConnectorError, ConnectorManifest, Existing, Rejection, TargetRecord, WriteOp,
    WriteResult, Written,
};

/// A connector: the contract's `connector` interface (0.2.0), implemented by a connector's type
/// and exported with [`export!`]. The same functions as the generated bindings' trait, except
/// that [`Guest::normal_form`] has a default.
pub trait Guest {
    /// Describes the connector. Must not call the host.
    fn manifest() -> ConnectorManifest;
    /// Configures the connector with the deployment's settings for it (a JSON object).
    fn open(config: String) -> Result<(), ConnectorError>;
    /// Verifies that the system is reachable and the credentials work.
    fn check() -> Result<(), ConnectorError>;
    /// Reads up to `max` changed records of `stream` from `cursor` (`None`: from the start).
    fn read(stream: String, cursor: Option<String>, max: u32) -> Result<Batch, ConnectorError>;
    /// Writes records to `stream` (upserts, and deletes on a stream with `can_delete`); one
    /// result per record, in order.
    fn write(
        stream: String,
        records: Vec<TargetRecord>,
    ) -> Result<Vec<WriteResult>, ConnectorError>;
    /// How the system stores a record: for each record of `stream` (schema-shape JSON text), the
    /// record as a `read` would return it right after a successful `write` of it, in the same
    /// order; a field the system keeps but leaves empty as `null`, fields it assigns on create
    /// (ids, registration numbers and dates) left out. A pure function: it must not write to the
    /// system and should not call it (the host refuses its requests). An `Err` means "stores
    /// what was sent". The default: the system stores what it is sent (the records unchanged).
    fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
        let _ = stream;
        Ok(records)
    }
}

/// Exports a type implementing [`Guest`] as the component's `connector` interface:
/// `hub_sdk::export!(MyConnector);` once, at the crate root of the connector. Its `normal-form`
/// is [`Guest::normal_form`] (by default, "stores what was sent").
///
/// The exports are emitted for `wasm32` only, so that the same crate also builds natively for
/// its unit tests (a native `cdylib` cannot carry the component model's export names).
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::hub::connector::types as t;
            impl $crate::bindings::exports::hub::connector::connector::Guest for $ty {
                fn manifest() -> t::ConnectorManifest {
                    <$ty as $crate::Guest>::manifest()
                }
                fn open(config: String) -> Result<(), t::ConnectorError> {
                    <$ty as $crate::Guest>::open(config)
                }
                fn check() -> Result<(), t::ConnectorError> {
                    <$ty as $crate::Guest>::check()
                }
                fn read(stream: String, cursor: Option<String>, max: u32) -> Result<t::Batch, t::ConnectorError> {
                    <$ty as $crate::Guest>::read(stream, cursor, max)
                }
                fn write(
                    stream: String,
                    records: Vec<t::TargetRecord>,
                ) -> Result<Vec<t::WriteResult>, t::ConnectorError> {
                    <$ty as $crate::Guest>::write(stream, records)
                }
                fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
                    <$ty as $crate::Guest>::normal_form(stream, records)
                }
            }
        };
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
    ($ty:ident with normal_form) => {
        compile_error!(
            "since contract 0.2.0 the normal form is `hub_sdk::Guest::normal_form`: implement it in the connector's `impl Guest` and export with `hub_sdk::export!(Type)`"
        );
    };
}

pub mod csv;
pub mod cursor;
pub mod http;
pub mod json;
pub mod log;
pub mod names;
pub mod paging;
#[allow(clippy::all, missing_docs)]
// Generated by tests/typed_records.rs in its own layout, which that test compares byte for byte:
// rustfmt leaves it as it is.
#[rustfmt::skip]
pub mod records;

/// The shared normalisers and format checks (the `hub-schemas` crate).
pub mod normalise {
    pub use hub_schemas::{date, id_number, phone, text, uscc};
}

/// Everything a connector implementation names.
pub mod prelude {
    pub use crate::Guest;
    pub use crate::bindings::hub::connector::types::{
        Batch, ConnectorError, ConnectorManifest as Manifest, Existing, Level, Rejection,
        Remaining, SourceRecord, StreamInfo, TargetRecord, WriteOp, WriteResult, Written,
    };
    pub use crate::http::{HttpError, Request, Response};
    pub use crate::json::{Record, to_json};
    pub use crate::paging::{Keyset, PageNumber, PageToken};
}

/// The contract version this SDK builds against (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.2.0";

impl Written {
    /// A result with the system's id only: the system stores what was sent.
    pub fn id(remote_id: impl Into<String>) -> Written {
        Written {
            remote_id: remote_id.into(),
            version: None,
            stored: None,
        }
    }
}

impl Existing {
    /// The record a refused create collided with, known by its id only (no version, no data).
    pub fn id(remote_id: impl Into<String>) -> Existing {
        Existing {
            remote_id: remote_id.into(),
            version: None,
            data: None,
        }
    }
}

impl bindings::hub::connector::types::Remaining {
    /// `count` records wait, as the system said.
    pub fn exact(count: u64) -> Self {
        Self { count, exact: true }
    }

    /// About `count` records wait (an estimate).
    pub fn estimate(count: u64) -> Self {
        Self {
            count,
            exact: false,
        }
    }

    /// What waits after page `page` (from 1) of `size` records of a page-numbered list that
    /// says it holds `total` records: `total - page * size` (0 once past the end), exact. Page
    /// 1 of 200 with a total of 450 leaves 250. See also [`paging::PageNumber::remaining`].
    pub fn after_page(total: u64, page: u32, size: u32) -> Self {
        Self::exact(total.saturating_sub(u64::from(page) * u64::from(size)))
    }
}

impl TargetRecord {
    /// True for a `delete` (`op` [`WriteOp::Delete`]).
    pub fn is_delete(&self) -> bool {
        matches!(self.op, WriteOp::Delete)
    }
}

/// The result for a `delete` on a stream that cannot end records natively (its `can_delete`
/// unset, so the host should not have asked): `rejected`, naming the stream, so that the record
/// goes to dead letters and the rest of the batch goes on.
pub fn delete_unsupported(stream: &str) -> WriteResult {
    WriteResult::Rejected(Rejection {
        reason: format!(
            "stream {stream} cannot delete records natively (its can-delete is not set)"
        ),
        pointer: None,
    })
}

/// The result of a `delete` whose record the system no longer holds (e.g. a 404 or 410 on
/// `DELETE`): `deleted`, as the contract asks, with the id the host gave.
pub fn already_gone(target: &TargetRecord) -> WriteResult {
    WriteResult::Deleted(Written::id(target.remote_id.clone().unwrap_or_default()))
}

/// A [`Guest::normal_form`] made of a function of one record: each record (JSON text) parsed, mapped by
/// `f`, written as JSON again. Errors: a record that is not a JSON object (`kind: message`).
pub fn normal_form_each(
    records: &[String],
    f: impl Fn(&json::Record) -> json::Record,
) -> Result<Vec<String>, String> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let rec = json::parse_record(r, i).map_err(|e| describe_error(&e))?;
            Ok(json::to_json(&f(&rec)))
        })
        .collect()
}

/// A one-line description of a connector error, `kind: message`.
pub fn describe_error(e: &ConnectorError) -> String {
    let (kind, msg) = match e {
        ConnectorError::Config(m) => ("config", m),
        ConnectorError::Auth(m) => ("auth", m),
        ConnectorError::Transient(m) => ("transient", m),
        ConnectorError::Permanent(m) => ("permanent", m),
        ConnectorError::Unsupported(m) => ("unsupported", m),
    };
    format!("{kind}: {msg}")
}

/// Turns a transient failure while writing one record (a timeout, a 5xx) into that record's
/// `retry` result, so that the rest of the batch goes on. Every other error ends the call: a
/// failure of the system or the deployment (a login refused, an answer that is not what the API
/// promises) is not the record's fault, and the host keeps the batch for the next run instead
/// of sending its records to dead letters. A refusal that is the record's fault must be
/// returned as `rejected` by the connector itself.
pub fn per_record(
    result: Result<WriteResult, ConnectorError>,
) -> Result<WriteResult, ConnectorError> {
    match result {
        Err(ConnectorError::Transient(m)) => Ok(WriteResult::Retry(m)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindings::hub::connector::types::Remaining;

    #[test]
    fn remaining_after_a_page_counts_what_the_total_leaves() {
        let r = |total, page, size| {
            let Remaining { count, exact } = Remaining::after_page(total, page, size);
            (count, exact)
        };
        assert_eq!(r(450, 1, 200), (250, true));
        assert_eq!(r(450, 2, 200), (50, true));
        assert_eq!(r(450, 3, 200), (0, true));
        assert_eq!(r(0, 1, 50), (0, true));
        assert_eq!(
            Remaining::after_page(u64::MAX, u32::MAX, u32::MAX).count,
            u64::MAX - (u32::MAX as u64).pow(2)
        );
    }

    fn target(op: WriteOp, id: Option<&str>) -> TargetRecord {
        TargetRecord {
            op,
            data: "{}".into(),
            remote_id: id.map(Into::into),
            version: None,
            current: None,
        }
    }

    #[test]
    fn delete_helpers_answer_as_the_contract_asks() {
        assert!(target(WriteOp::Delete, Some("7")).is_delete());
        assert!(!target(WriteOp::Upsert, None).is_delete());
        assert!(matches!(
            already_gone(&target(WriteOp::Delete, Some("7"))),
            WriteResult::Deleted(Written { remote_id, version: None, stored: None }) if remote_id == "7"
        ));
        assert!(matches!(
            delete_unsupported("jobs"),
            WriteResult::Rejected(Rejection { reason, pointer: None }) if reason.contains("stream jobs cannot delete")
        ));
        assert!(
            matches!(Existing::id("12"), Existing { remote_id, version: None, data: None } if remote_id == "12")
        );
    }
}
