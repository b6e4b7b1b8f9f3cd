//! Cursors: where a `read` resumes. The host stores the text a batch returns and hands it back to
//! the next `read` (of this run or a later one) unchanged; it never looks inside.
//!
//! Keep a cursor small (the host refuses one over `limits.max_cursor_kib`, 64 KiB by default)
//! and make it mean a position in the system, not in this instance: a later run starts a fresh
//! instance with only the cursor. [`encode`] and [`decode`] carry any serde type as JSON text.

use crate::bindings::hub::connector::types::ConnectorError;

/// A cursor state as the text handed to the host (JSON).
pub fn encode<T: serde::Serialize>(state: &T) -> String {
    serde_json::to_string(state).expect("cursor states serialise")
}

/// The state a cursor holds; `None` for no cursor (read from the start). A cursor that does not
/// parse is a `permanent` error naming it: it was not written by this connector's version.
pub fn decode<T: serde::de::DeserializeOwned>(
    cursor: Option<&str>,
) -> Result<Option<T>, ConnectorError> {
    let Some(text) = cursor else { return Ok(None) };
    serde_json::from_str(text).map(Some).map_err(|e| {
        let shown: String = text.chars().take(80).collect();
        ConnectorError::Permanent(format!(
            "cursor {shown:?} is not one this connector writes: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct At {
        since: String,
        page: u32,
    }

    #[test]
    fn cursors_round_trip_and_a_foreign_one_is_refused() {
        let c = encode(&At {
            since: "2024-05-01T10:00:00+08:00".into(),
            page: 2,
        });
        assert_eq!(c, r#"{"since":"2024-05-01T10:00:00+08:00","page":2}"#);
        assert_eq!(
            decode::<At>(Some(&c)).unwrap(),
            Some(At {
                since: "2024-05-01T10:00:00+08:00".into(),
                page: 2
            })
        );
        assert_eq!(decode::<At>(None).unwrap(), None);
        assert!(
            matches!(decode::<At>(Some("17")), Err(ConnectorError::Permanent(m)) if m.starts_with("cursor \"17\" is not"))
        );
    }
}
