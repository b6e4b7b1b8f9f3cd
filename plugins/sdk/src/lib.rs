//! The guest SDK for hub connector plugins.
//!
//! A connector is a WebAssembly component built for `wasm32-wasip2` that implements the
//! `hub:connector` contract (`wit/connector/v0.1.2/connector.wit`): it adapts one system's native
//! API to the hub's shared JSON Schemas. This crate wraps the `wit-bindgen` bindings and adds
//! what every connector needs:
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
//!   [`http::Response::refusal`] (a write result by status), [`per_record`].
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
//! A connector whose system re-codes, derives or drops fields on write also states its normal
//! form (contract 0.1.2's `normal-form`: how the system would store a record), so that the hub
//! can tell its own interrupted write from a person's later edit when it reads the record back:
//!
//! ```ignore
//! impl hub_sdk::NormalForm for MyConnector {
//!     fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> { /* ... */ }
//! }
//!
//! hub_sdk::export!(MyConnector with normal_form);
//! ```
//!
//! `hub_sdk::export!(MyConnector)` alone exports a normal form that stores what was sent.
//!
//! Every call of an instance runs on one thread, and the host gives each sync run a fresh
//! instance: state kept in a `static` (e.g. a session token or a parsed export) lives for one run.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin-with-normal-form",
        path: "../../wit/connector/v0.1.2",
        pub_export_macro: true,
        default_bindings_module: "hub_sdk::bindings",
    });
}

/// Exports a type implementing [`prelude::Guest`] as the component's `connector` interface:
/// `hub_sdk::export!(MyConnector);` once, at the crate root of the connector. Its `normal-form`
/// (contract 0.1.2) then says the system stores what was sent; `export!(MyConnector with
/// normal_form)` exports the type's [`NormalForm`] instead.
///
/// The exports are emitted for `wasm32` only, so that the same crate also builds natively for
/// its unit tests (a native `cdylib` cannot carry the component model's export names).
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::exports::hub::connector::normal_form::Guest for $ty {
            fn normal_form(_stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
                Ok(records)
            }
        }
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
    ($ty:ident with normal_form) => {
        #[cfg(target_arch = "wasm32")]
        impl $crate::bindings::exports::hub::connector::normal_form::Guest for $ty {
            fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
                <$ty as $crate::NormalForm>::normal_form(stream, records)
            }
        }
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

/// The contract's optional `normal-form` (0.1.2): for each record of `stream` (schema-shape
/// JSON text), the record as a `read` would return it right after a successful `write` of it,
/// in the same order; a field the system keeps but leaves empty as `null`, fields it assigns on
/// create (ids, registration numbers and dates) left out. A pure function: it must not write to the system and should not call it. An `Err`
/// means "stores what was sent". Export it with `hub_sdk::export!(Type with normal_form)`.
pub trait NormalForm {
    /// See the trait.
    fn normal_form(stream: String, records: Vec<String>) -> Result<Vec<String>, String>;
}

pub mod csv;
pub mod cursor;
pub mod http;
pub mod json;
pub mod log;
pub mod names;
pub mod paging;
#[allow(clippy::all, missing_docs)]
pub mod records;

/// The shared normalisers and format checks (the `hub-schemas` crate).
pub mod normalise {
    pub use hub_schemas::{date, id_number, phone, text, uscc};
}

/// Everything a connector implementation names.
pub mod prelude {
    pub use crate::bindings::exports::hub::connector::connector::Guest;
    pub use crate::bindings::hub::connector::types::{
        Batch, ConnectorError, ConnectorManifest as Manifest, Level, Rejection, SourceRecord, StreamInfo, TargetRecord,
        WriteResult, Written,
    };
    pub use crate::http::{HttpError, Request, Response};
    pub use crate::json::{Record, to_json};
    pub use crate::paging::{Keyset, PageNumber, PageToken};
}

/// The contract version this SDK builds against (the WIT package version).
pub const CONTRACT_VERSION: &str = "0.1.2";

use bindings::hub::connector::types::{ConnectorError, Written};

impl Written {
    /// A result with the system's id only: the system stores what was sent.
    pub fn id(remote_id: impl Into<String>) -> Written {
        Written { remote_id: remote_id.into(), version: None, stored: None }
    }
}

/// A [`NormalForm`] made of a function of one record: each record (JSON text) parsed, mapped by
/// `f`, written as JSON again. Errors: a record that is not a JSON object (`kind: message`).
pub fn normal_form_each(records: &[String], f: impl Fn(&json::Record) -> json::Record) -> Result<Vec<String>, String> {
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
    result: Result<bindings::hub::connector::types::WriteResult, ConnectorError>,
) -> Result<bindings::hub::connector::types::WriteResult, ConnectorError> {
    use bindings::hub::connector::types::WriteResult;
    match result {
        Err(ConnectorError::Transient(m)) => Ok(WriteResult::Retry(m)),
        other => other,
    }
}
