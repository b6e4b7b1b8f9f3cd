//! Printing helpers the list commands share: counts, headings, rows as text or JSON lines.
//! They print what they are given; they load nothing.

use super::Failure;
use crate::say;

/// `n` and `noun`, with an `s` unless `n` is 1: `1 dead letter`, `2 dead letters`.
pub(super) fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Prints the heading of a text list: `title: N` and, if it is empty, `无 / nothing open`.
pub(super) fn heading(title: &str, n: usize, json: bool) {
    if json {
        return;
    }
    say!("{title}: {n}");
    if n == 0 {
        say!("无 / nothing open");
    }
}

/// Prints listed rows: one JSON object per line with `json` (serde_json escapes control
/// characters), else each as `text` prints it (with [`say!`], which escapes them).
pub(super) fn print_rows<T: serde::Serialize>(
    rows: &[T],
    json: bool,
    text: impl Fn(&T),
) -> Result<(), Failure> {
    for r in rows {
        if json {
            println!("{}", serde_json::to_string(r).map_err(anyhow::Error::from)?);
        } else {
            text(r);
        }
    }
    Ok(())
}
