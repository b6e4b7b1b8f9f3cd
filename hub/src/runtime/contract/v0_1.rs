//! Contract 0.1 (`wit/connector/v0.1.2`; components built against 0.1.0 and 0.1.1 link to it
//! too): the host functions call the 0.2 ones ([`super::v0_2`]), and what a 0.1 component
//! answers is converted into 0.2 types.
//!
//! What a 0.1 component cannot say, and how the host reads it ([`ADAPTS`]): its streams have
//! no native deletes (`can-delete` false, so the host ends records in field form only) and the
//! host's batch size (`max-write-batch` 0); its reads give no totals (`remaining` none); a
//! create its system refuses as a duplicate comes as `rejected` (the record is linked on a
//! later read, as before 0.2); a component without the optional `normal-form` (0.1.0, 0.1.1)
//! stores what was sent.

use super::super::{HostState, http};
use super::v0_2;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/connector/v0.1.2",
    imports: {
        "hub:connector/host.send": async,
        "hub:connector/host.send-streaming": async,
        "hub:connector/host.[method]body.read": async,
    },
    exports: { default: async },
    with: { "hub:connector/host.body": crate::runtime::http::BodyStream },
});

/// The optional interface a 0.1.2 component exports to state its system's normal form.
pub const NORMAL_FORM_INTERFACE: &str = "hub:connector/normal-form@0.1.2";

/// What the 0.1 adapter fills in for every 0.1 component (see the module's comment).
pub const ADAPTS: [&str; 3] = [
    "no native deletes (ends in field form only)",
    "no read totals",
    "a duplicate create comes as rejected (linked on a later read)",
];

use self::hub::connector::{host as h1, types as t1};
use v0_2::hub::connector::{host as h2, types as t2};

impl t1::Host for HostState {}

impl h1::Host for HostState {
    fn log(&mut self, level: t1::Level, message: String) {
        let level = match level {
            t1::Level::Trace => t2::Level::Trace,
            t1::Level::Debug => t2::Level::Debug,
            t1::Level::Info => t2::Level::Info,
            t1::Level::Warn => t2::Level::Warn,
            t1::Level::Error => t2::Level::Error,
        };
        h2::Host::log(self, level, message)
    }

    async fn send(&mut self, req: h1::Request) -> Result<h1::Response, h1::HttpError> {
        let r = h2::Host::send(self, request(req)).await;
        r.map(|r| h1::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
        .map_err(http_error)
    }

    async fn send_streaming(
        &mut self,
        req: h1::Request,
    ) -> Result<h1::StreamingResponse, h1::HttpError> {
        let r = h2::Host::send_streaming(self, request(req)).await;
        r.map(|r| h1::StreamingResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
        .map_err(http_error)
    }
}

impl h1::HostBody for HostState {
    async fn read(
        &mut self,
        body: wasmtime::component::Resource<http::BodyStream>,
        max: u32,
    ) -> Result<Vec<u8>, h1::HttpError> {
        h2::HostBody::read(self, body, max)
            .await
            .map_err(http_error)
    }

    fn drop(
        &mut self,
        body: wasmtime::component::Resource<http::BodyStream>,
    ) -> wasmtime::Result<()> {
        h2::HostBody::drop(self, body)
    }
}

fn request(r: h1::Request) -> h2::Request {
    h2::Request {
        method: r.method,
        url: r.url,
        headers: r.headers,
        body: r.body,
    }
}

fn http_error(e: h2::HttpError) -> h1::HttpError {
    match e {
        h2::HttpError::Denied(m) => h1::HttpError::Denied(m),
        h2::HttpError::Timeout(m) => h1::HttpError::Timeout(m),
        h2::HttpError::Connection(m) => h1::HttpError::Connection(m),
        h2::HttpError::TooLarge(m) => h1::HttpError::TooLarge(m),
        h2::HttpError::Invalid(m) => h1::HttpError::Invalid(m),
    }
}

/// A 0.1 manifest as 0.2 says it: no stream deletes natively, each takes the host's batch size.
pub fn manifest(m: t1::ConnectorManifest) -> t2::ConnectorManifest {
    t2::ConnectorManifest {
        name: m.name,
        version: m.version,
        system: m.system,
        streams: m
            .streams
            .into_iter()
            .map(|s| t2::StreamInfo {
                name: s.name,
                schema: s.schema,
                schema_version: s.schema_version,
                can_read: s.can_read,
                can_write: s.can_write,
                can_delete: false,
                max_write_batch: 0,
            })
            .collect(),
        hosts: m.hosts,
        secrets: m.secrets,
    }
}

/// A 0.1 connector error as 0.2's (the same cases).
pub fn error(e: t1::ConnectorError) -> t2::ConnectorError {
    match e {
        t1::ConnectorError::Config(m) => t2::ConnectorError::Config(m),
        t1::ConnectorError::Auth(m) => t2::ConnectorError::Auth(m),
        t1::ConnectorError::Transient(m) => t2::ConnectorError::Transient(m),
        t1::ConnectorError::Permanent(m) => t2::ConnectorError::Permanent(m),
        t1::ConnectorError::Unsupported(m) => t2::ConnectorError::Unsupported(m),
    }
}

/// A 0.1 batch as 0.2's: no totals.
pub fn batch(b: t1::Batch) -> t2::Batch {
    t2::Batch {
        records: b
            .records
            .into_iter()
            .map(|r| t2::SourceRecord {
                data: r.data,
                remote_id: r.remote_id,
                version: r.version,
                updated_at: r.updated_at,
                deleted: r.deleted,
            })
            .collect(),
        cursor: b.cursor,
        more: b.more,
        remaining: None,
    }
}

/// The 0.1 form of an upsert; `None` for a delete, which a 0.1 component cannot be asked
/// (its streams have no `can-delete`).
pub fn target(r: &t2::TargetRecord) -> Option<t1::TargetRecord> {
    (r.op == t2::WriteOp::Upsert).then(|| t1::TargetRecord {
        data: r.data.clone(),
        remote_id: r.remote_id.clone(),
        version: r.version.clone(),
        current: r.current.clone(),
    })
}

/// A 0.1 write result as 0.2's (the same cases; 0.1 has no `deleted` or `duplicate`).
pub fn write_result(r: t1::WriteResult) -> t2::WriteResult {
    let written = |w: t1::Written| t2::Written {
        remote_id: w.remote_id,
        version: w.version,
        stored: w.stored,
    };
    match r {
        t1::WriteResult::Created(w) => t2::WriteResult::Created(written(w)),
        t1::WriteResult::Updated(w) => t2::WriteResult::Updated(written(w)),
        t1::WriteResult::Unchanged(w) => t2::WriteResult::Unchanged(written(w)),
        t1::WriteResult::Conflict(m) => t2::WriteResult::Conflict(m),
        t1::WriteResult::Rejected(r) => t2::WriteResult::Rejected(t2::Rejection {
            reason: r.reason,
            pointer: r.pointer,
        }),
        t1::WriteResult::Retry(m) => t2::WriteResult::Retry(m),
    }
}

/// The type of 0.1.2's optional `normal-form` function.
pub type NormalFormFunc =
    wasmtime::component::TypedFunc<(String, Vec<String>), (Result<Vec<String>, String>,)>;
