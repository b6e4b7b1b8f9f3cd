//! GB/T 2260 administrative division codes, every county-level-and-above code in use at any time
//! since 1981, from the public `areacodes` data set (CC0 1.0, `schemas/data/gb2260/`).
//!
//! A resident identity number carries the code of the place of first registration, which may
//! have been retired since: 441381 (惠阳市, 1994–2003) and 442521 (惠阳县, 1981–88) both precede
//! today's 441303 (惠阳区). [`lookup`] therefore answers for retired codes too.

use std::collections::HashMap;
use std::sync::OnceLock;

const CSV: &str = include_str!("../data/gb2260/areacodes.csv");

/// One division code and its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    /// The 6-digit code.
    pub code: &'static str,
    /// Its name, e.g. `贞丰县`.
    pub name: &'static str,
    /// Province-level name, e.g. `贵州省`.
    pub province: &'static str,
    /// True if the code is in use today (状态 在用; retired ones say 弃用, renamed ones 变更).
    pub in_use: bool,
    /// Year the code came into use.
    pub since: u16,
    /// Year the code was changed or retired, if it was.
    pub until: Option<u16>,
}

/// Code → every division that has carried it, oldest first (a code can outlive a renaming:
/// 120110 was 东郊区 from 1981 and has been 东丽区 since 1992).
fn table() -> &'static HashMap<&'static str, Vec<Division>> {
    static TABLE: OnceLock<HashMap<&'static str, Vec<Division>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map: HashMap<&'static str, Vec<Division>> = HashMap::new();
        for line in CSV.trim_start_matches('\u{FEFF}').lines().skip(1) {
            let f: Vec<&'static str> = line.split(',').collect();
            if f.len() < 8 || f[0].len() != 6 {
                continue;
            }
            let Ok(since) = f[6].parse() else { continue };
            map.entry(f[0]).or_default().push(Division {
                code: f[0],
                name: f[3],
                province: f[1],
                in_use: f[5] == "在用",
                since,
                until: f[7].parse().ok(),
            });
        }
        for v in map.values_mut() {
            v.sort_by_key(|d| d.since);
        }
        map
    })
}

/// Every division that has carried this code, oldest first, in use or retired; empty if the
/// code never existed.
pub fn lookup(code: &str) -> &'static [Division] {
    table().get(code).map(Vec::as_slice).unwrap_or_default()
}

/// True if the code exists or existed at any time since 1981.
pub fn exists(code: &str) -> bool {
    !lookup(code).is_empty()
}

/// The division carrying this code today, if it is in use.
pub fn current(code: &str) -> Option<&'static Division> {
    lookup(code).iter().find(|d| d.in_use)
}

/// Number of distinct codes in the table.
pub fn len() -> usize {
    table().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huiyang_and_zhenfeng_are_known_with_their_history() {
        let hy = current("441303").unwrap();
        assert_eq!(
            (hy.name, hy.in_use, hy.since, hy.until),
            ("惠阳区", true, 2003, None)
        );
        let old = &lookup("441381")[0];
        assert_eq!(
            (old.name, old.in_use, old.since, old.until),
            ("惠阳市", false, 1994, Some(2003))
        );
        assert!(exists("441381") && current("441381").is_none());
        let zf = current("522325").unwrap();
        assert_eq!((zf.name, zf.province), ("贞丰县", "贵州省"));
        assert!(!exists("999999"));
    }

    #[test]
    fn reused_codes_keep_every_holder() {
        let names: Vec<_> = lookup("120110")
            .iter()
            .map(|d| (d.name, d.since, d.in_use))
            .collect();
        assert_eq!(names, [("东郊区", 1981, false), ("东丽区", 1992, true)]);
        // 6,823 data rows in the copied file carry 6,450 distinct codes.
        assert_eq!(len(), 6450);
    }
}
