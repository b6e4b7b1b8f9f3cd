//! A connector built against contract 0.1.0 (`wit/connector/v0.1.0`), the first release: the
//! hub, which implements 0.1.1, must keep loading it. It offers one empty stream.

wit_bindgen::generate!({ world: "plugin", path: "../../wit/connector/v0.1.0" });

use exports::hub::connector::connector::Guest;
use hub::connector::types::{Batch, ConnectorError, ConnectorManifest, StreamInfo, TargetRecord, WriteResult};

/// The connector.
pub struct Legacy;

impl Guest for Legacy {
    fn manifest() -> ConnectorManifest {
        ConnectorManifest {
            name: "legacy".into(),
            version: "0.1.0".into(),
            system: "none (built against contract 0.1.0)".into(),
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

#[cfg(target_arch = "wasm32")]
export!(Legacy);
