//! `${NAME}` / `${NAME:-default}` substitution from the environment before the text is
//! parsed (`$$` is a literal `$`). An unset variable without a default is an error naming its
//! line and column in the file as written.

use super::{ConfigError, ConfigErrors, line_col};
use std::path::Path;

/// What opens a substitution: `${`.
const OPEN: &str = "${";

/// Replaces `${NAME}` / `${NAME:-default}`; `$$` is a literal `$`.
pub(super) fn interpolate(
    file: &Path,
    raw: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigErrors> {
    let mut out = String::with_capacity(raw.len());
    let mut errors = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(body) = tail.strip_prefix(OPEN) {
            let Some(end) = body.find('}') else {
                let (line, column) = line_col(raw, raw.len() - tail.len());
                errors.push(ConfigError {
                    file: file.into(),
                    line,
                    column,
                    message: format!("unclosed {OPEN}"),
                });
                break;
            };
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            match vars(name)
                .filter(|v| !v.is_empty())
                .or(default.map(str::to_string))
            {
                Some(v) => out.push_str(&v),
                None => {
                    let (line, column) = line_col(raw, raw.len() - tail.len());
                    errors.push(ConfigError {
                        file: file.into(),
                        line,
                        column,
                        message: format!("environment variable {name} is not set and has no default (${{{name}:-default}})"),
                    });
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}
