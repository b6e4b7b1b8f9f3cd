//! Problems in a configuration file and where they are: [`ConfigError`] names the file, line
//! and column of each; [`line_col`] turns a byte offset into that place; [`duplicate_key`]
//! says which key or table a bare toml "duplicate key" is about and where it was first defined.

use std::path::PathBuf;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 if unknown.
    pub line: usize,
    /// 1-based column, 0 if unknown.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.message),
            _ => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            ),
        }
    }
}

/// Every problem found in a configuration file (all are reported, not only the first).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// For toml's bare "duplicate key" at `span`: the key (or table header) and the line where
/// it was first defined, in the same table: ``duplicate key `lease_ttl` in [hub]: first
/// defined at line 21``. `None` when the first definition cannot be found (dotted keys,
/// inline tables): the caller keeps toml's message.
pub(super) fn duplicate_key(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_no = text[..line_start].matches('\n').count() + 1;
    let line = text[line_start..].lines().next()?.trim();
    let earlier: Vec<(usize, &str)> = text[..line_start]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .collect();
    if line.starts_with('[') {
        // A table defined twice.
        let first = earlier.iter().find(|(_, l)| *l == line)?.0;
        return Some(format!(
            "duplicate table {line}: first defined at line {first}"
        ));
    }
    let key_of = |l: &str| -> Option<String> {
        let (k, _) = l.split_once('=')?;
        Some(k.trim().trim_matches('"').to_string())
    };
    let key = key_of(line)?;
    // The table the duplicate is in: the last header above it (none: the top level).
    let header = earlier.iter().rposition(|(_, l)| l.starts_with('['));
    let table = header.map_or("the top level".to_string(), |i| earlier[i].1.to_string());
    let from = header.map_or(0, |i| i + 1);
    let first = earlier[from..]
        .iter()
        .find(|(_, l)| !l.starts_with('#') && key_of(l).as_deref() == Some(key.as_str()))?
        .0;
    debug_assert!(first < line_no);
    Some(format!(
        "duplicate key `{key}` in {table}: first defined at line {first}"
    ))
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
