//! A connector that reads a file from the host (`/etc/passwd`). Using `std::fs` makes the
//! component import `wasi:filesystem`, which the hub's sandbox does not provide: it must be
//! refused at load, with the import named.

use hub_sdk::prelude::*;

/// The connector.
pub struct WantsFiles;

impl Guest for WantsFiles {
    fn manifest() -> Manifest {
        Manifest {
            name: "wants-files".into(),
            version: "0.1.0".into(),
            system: "the host's files".into(),
            streams: vec![],
            hosts: vec![],
            secrets: vec![],
        }
    }
    fn open(_config: String) -> Result<(), ConnectorError> {
        Ok(())
    }
    fn check() -> Result<(), ConnectorError> {
        std::fs::read_to_string("/etc/passwd")
            .map(|_| ())
            .map_err(|e| ConnectorError::Permanent(e.to_string()))
    }
    fn read(_stream: String, _cursor: Option<String>, _max: u32) -> Result<Batch, ConnectorError> {
        Err(ConnectorError::Unsupported("no streams".into()))
    }
    fn write(
        _stream: String,
        _records: Vec<TargetRecord>,
    ) -> Result<Vec<WriteResult>, ConnectorError> {
        Err(ConnectorError::Unsupported("no streams".into()))
    }
}

hub_sdk::export!(WantsFiles);
