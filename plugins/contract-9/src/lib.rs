//! A connector built against a contract 9.0.0 that does not exist (a copy of 0.1.0 with the
//! version changed, in `wit/`): the hub must refuse it at load, naming both versions.

wit_bindgen::generate!({ world: "plugin", path: "wit" });

use exports::hub::connector::connector::Guest;
use hub::connector::types::{Batch, ConnectorError, ConnectorManifest, StreamInfo, TargetRecord, WriteResult};

/// The connector.
pub struct Nine;

impl Guest for Nine {
    fn manifest() -> ConnectorManifest {
        ConnectorManifest {
            name: "contract-9".into(),
            version: "0.1.0".into(),
            system: "none (built against contract 9.0.0)".into(),
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
export!(Nine);
