//! Secrets placed into a request: `{{secret:NAME}}` (raw) and `{{secret:NAME|form}}`
//! (form-urlencoded) in header values and the body, filled by the host from what the
//! deployment grants; the plugin never sees a value.

use super::{HttpError, HttpGrant, Request};
use std::collections::BTreeMap;

/// Replaces secret placeholders in `input`; `Err(name)` for a name not granted.
pub fn fill_secrets(input: &[u8], secrets: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    const OPEN: &[u8] = b"{{secret:";
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = find(rest, OPEN) {
        out.extend_from_slice(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let Some(end) = find(after, b"}}") else {
            out.extend_from_slice(&rest[i..]);
            return Ok(out);
        };
        let spec = String::from_utf8_lossy(&after[..end]);
        let (name, form) = match spec.strip_suffix("|form") {
            Some(n) => (n, true),
            None => (spec.as_ref(), false),
        };
        let value = secrets.get(name).ok_or_else(|| name.to_string())?;
        if form {
            out.extend(form_urlencoded::byte_serialize(value.as_bytes()).flat_map(str::bytes));
        } else {
            out.extend_from_slice(value.as_bytes());
        }
        rest = &after[end + 2..];
    }
    out.extend_from_slice(rest);
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl HttpGrant {
    /// The request's body and headers with every secret placeholder filled: `Denied` for a
    /// secret not granted, `Invalid` for a header name or value HTTP does not allow.
    pub(super) fn filled(
        &self,
        req: &Request,
    ) -> Result<(Vec<u8>, reqwest::header::HeaderMap), HttpError> {
        let denied = |name: String| {
            HttpError::Denied(format!(
                "secret {name:?} is not granted to plugin {}",
                self.plugin
            ))
        };
        let body = fill_secrets(&req.body, &self.secrets).map_err(denied)?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &req.headers {
            let v = fill_secrets(v.as_bytes(), &self.secrets).map_err(denied)?;
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| HttpError::Invalid(format!("header name {k:?}")))?;
            let value = reqwest::header::HeaderValue::from_bytes(&v).map_err(|_| {
                HttpError::Invalid(format!("header {k} has a value that is not allowed"))
            })?;
            headers.append(name, value);
        }
        Ok((body, headers))
    }
}
