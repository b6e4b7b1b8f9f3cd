//! A connector built against contract 0.1.2 (`wit/connector/v0.1.2`), world
//! `plugin-with-normal-form`: the last 0.1 release, whose `normal-form` is an optional interface
//! of its own. A 0.2.0 host must keep loading it, and call its normal form through its 0.1.2
//! adapter. It offers one empty stream (the connector of `legacy-0-1-0`), and a normal form
//! that a host test can tell from "stores what was sent": the `status` of each record
//! upper-cased (`employed` → `EMPLOYED`), every other field as sent.

wit_bindgen::generate!({ world: "plugin-with-normal-form", path: "../../wit/connector/v0.1.2" });

const NAME: &str = "legacy-0-1-2";
const CONTRACT: &str = "0.1.2";

include!("../../legacy-0-1-0/src/connector.rs");

/// The record as this "system" stores it: `status` upper-cased. A record that is not a JSON
/// object is an error (the host then takes the call as "stores what was sent").
pub fn stored(record: &str) -> Result<String, String> {
    let mut v: serde_json::Value =
        serde_json::from_str(record).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object_mut().ok_or("not a JSON object")?;
    if let Some(serde_json::Value::String(s)) = obj.get_mut("status") {
        *s = s.to_uppercase();
    }
    Ok(v.to_string())
}

impl exports::hub::connector::normal_form::Guest for Connector {
    fn normal_form(_stream: String, records: Vec<String>) -> Result<Vec<String>, String> {
        records.iter().map(|r| stored(r)).collect()
    }
}

#[cfg(target_arch = "wasm32")]
export!(Connector);

#[cfg(test)]
mod tests {
    use super::*;
    use exports::hub::connector::normal_form::Guest as _;

    #[test]
    fn the_normal_form_upper_cases_the_status_and_keeps_the_rest() {
        let out = Connector::normal_form(
            "records".into(),
            vec![
                r#"{"name":"王强","status":"employed"}"#.into(),
                r#"{"name":"张芳"}"#.into(),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            [
                r#"{"name":"王强","status":"EMPLOYED"}"#,
                r#"{"name":"张芳"}"#
            ]
        );
        assert!(Connector::normal_form("records".into(), vec!["[1]".into()]).is_err());
    }
}
