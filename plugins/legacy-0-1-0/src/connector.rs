// The connector both fixed-contract test crates build (included by each, after its own
// `wit_bindgen::generate!` and its NAME and CONTRACT constants): one empty, read-only stream.

use exports::hub::connector::connector::Guest;
use hub::connector::types::{Batch, ConnectorError, ConnectorManifest, StreamInfo, TargetRecord, WriteResult};

/// The connector.
pub struct Connector;

impl Guest for Connector {
    fn manifest() -> ConnectorManifest {
        ConnectorManifest {
            name: NAME.into(),
            version: CONTRACT.into(),
            system: format!("none (built against contract {CONTRACT})"),
            streams: vec![StreamInfo { name: "records".into(), schema: "worker".into(), schema_version: "1.0.0".into(), can_read: true, can_write: false }],
            hosts: vec![],
            secrets: vec![],
        }
    }
    fn open(_config: String) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn check() -> Result<(), ConnectorError> {
        Ok(())
    }
    fn read(_stream: String, _cursor: Option<String>, _max: u32) -> Result<Batch, ConnectorError> {
        Ok(Batch { records: vec![], cursor: None, more: false })
    }
    fn write(_stream: String, _records: Vec<TargetRecord>) -> Result<Vec<WriteResult>, ConnectorError> {
        Err(ConnectorError::Unsupported("read-only".into()))
    }
}

