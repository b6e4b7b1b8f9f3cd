//! CSV bodies (RFC 4180), in UTF-8 or GB18030 (GB 18030-2005, the encoding of Chinese
//! government exports; a superset of GBK and GB2312), with a header row.

use crate::bindings::hub::connector::types::ConnectorError;

/// A text encoding of a CSV body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (a byte-order mark is skipped).
    Utf8,
    /// GB18030.
    Gb18030,
}

impl Encoding {
    fn coder(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Gb18030 => encoding_rs::GB18030,
        }
    }
}

/// A CSV table: the header row and the data rows, decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column names, trimmed.
    pub headers: Vec<String>,
    /// Data rows (each as long as the header row).
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The index of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// Rows as maps from column name to value.
    pub fn records(&self) -> impl Iterator<Item = std::collections::BTreeMap<&str, &str>> {
        self.rows.iter().map(|r| {
            self.headers
                .iter()
                .map(String::as_str)
                .zip(r.iter().map(String::as_str))
                .collect()
        })
    }

    /// The `missing` of `wanted` columns; an export without a column the connector maps is a
    /// changed system, worth a `permanent` error naming them.
    pub fn require(&self, wanted: &[&str]) -> Result<(), ConnectorError> {
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| self.column(w).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ConnectorError::Permanent(format!(
            "CSV has no column {} (it has {})",
            missing.join(", "),
            self.headers.join(", ")
        )))
    }
}

/// Parses a CSV body with a header row. Bytes that are not valid in `encoding`, or a row of
/// another length than the header's, are a `permanent` error naming the line (1 = the header).
pub fn parse(bytes: &[u8], encoding: Encoding) -> Result<Table, ConnectorError> {
    let (text, _, bad) = encoding.coder().decode(bytes);
    if bad {
        return Err(ConnectorError::Permanent(format!(
            "CSV is not valid {}",
            encoding.coder().name()
        )));
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let error = |e: ::csv::Error| {
        let line = e
            .position()
            .map_or(String::new(), |p| format!("line {}: ", p.line()));
        ConnectorError::Permanent(format!("CSV {line}{e}"))
    };
    let headers = reader
        .headers()
        .map_err(error)?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for row in reader.records() {
        rows.push(row.map_err(error)?.iter().map(str::to_string).collect());
    }
    Ok(Table { headers, rows })
}

/// Writes a table as CSV in `encoding` (CRLF line ends, fields quoted when they must be). A
/// character GB18030 cannot hold does not exist: it encodes all of Unicode.
pub fn write(table: &Table, encoding: Encoding) -> Vec<u8> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(&table.headers).expect("writing to memory");
    for r in &table.rows {
        w.write_record(r).expect("writing to memory");
    }
    let utf8 = w.into_inner().expect("writing to memory");
    let text = String::from_utf8(utf8).expect("the fields are strings");
    encoding.coder().encode(&text).0.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_round_trips_and_rows_map_by_header() {
        let t = Table {
            headers: vec!["姓名".into(), "身份证号".into(), "备注".into()],
            rows: vec![vec![
                "王芳".into(),
                "522325199001010015".into(),
                "a,\"b\"".into(),
            ]],
        };
        let bytes = write(&t, Encoding::Gb18030);
        // 王 = CD F5 and 芳 = B7 BC in GB18030 (their GB 2312 row and cell, plus A0 each).
        assert!(
            bytes.windows(4).any(|w| w == [0xCD, 0xF5, 0xB7, 0xBC]),
            "{bytes:02X?}"
        );
        assert!(bytes.ends_with(b",\"a,\"\"b\"\"\"\r\n"));
        let back = parse(&bytes, Encoding::Gb18030).unwrap();
        assert_eq!(back, t);
        let r: Vec<_> = back.records().collect();
        assert_eq!(r[0]["身份证号"], "522325199001010015");
        assert!(back.require(&["姓名", "电话"]).is_err());
    }

    #[test]
    fn a_ragged_row_names_its_line() {
        let e = parse("a,b\n1,2\n3\n".as_bytes(), Encoding::Utf8).unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Permanent(m) if m.starts_with("CSV line 3: ")),
            "{e:?}"
        );
    }
}
