//! Building and reading records: JSON objects in a shared schema's shape.

use crate::bindings::hub::connector::types::ConnectorError;
use serde_json::{Map, Value};

/// A record under construction: a JSON object.
pub type Record = Map<String, Value>;

/// Serialises a record (or any JSON value) to the text that crosses the contract.
pub fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("JSON values always serialise")
}

/// Parses a record handed over by the host; an error names the record's position in the batch.
pub fn parse_record(text: &str, index: usize) -> Result<Record, ConnectorError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ConnectorError::Permanent(format!(
            "record {index} is not a JSON object"
        ))),
        Err(e) => Err(ConnectorError::Permanent(format!(
            "record {index} is not JSON: {e}"
        ))),
    }
}

/// The string at `key`, if present and a string.
pub fn str_field<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str)
}

/// Puts `value` at `key` as a string, or JSON `null` when `None`.
pub fn set_opt(record: &mut Record, key: &str, value: Option<impl Into<String>>) {
    record.insert(
        key.to_string(),
        value.map_or(Value::Null, |v| Value::String(v.into())),
    );
}

/// Parses a record handed over by the host into a typed record ([`crate::records`]); an error
/// names the record's position in the batch and what does not fit its schema's shape.
pub fn parse_typed<T: serde::de::DeserializeOwned>(
    text: &str,
    index: usize,
) -> Result<T, ConnectorError> {
    serde_json::from_str(text).map_err(|e| {
        ConnectorError::Permanent(format!("record {index} does not fit its typed record: {e}"))
    })
}
