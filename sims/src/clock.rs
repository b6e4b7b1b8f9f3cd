//! Time as both systems keep it: whole seconds, China Standard Time (UTC+8, no daylight saving).
//!
//! Times are held as Unix seconds (`i64`) and formatted on the way out: HY-ESMS writes RFC 3339
//! with the `+08:00` offset, ZF-REG writes local time without an offset
//! (`yyyy-MM-dd HH:mm:ss`).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// China Standard Time, UTC+8.
pub(crate) fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// A clock that hands out whole seconds and never goes backwards, even if the host's wall clock
/// does: every write of a simulator takes its update time from one of these.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last: i64,
}

impl Clock {
    /// The current time in whole Unix seconds, never earlier than any time handed out before.
    pub(crate) fn now(&mut self) -> i64 {
        self.last = self.last.max(Utc::now().timestamp());
        self.last
    }
}

fn at(secs: i64) -> DateTime<FixedOffset> {
    DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .with_timezone(&cst())
}

/// RFC 3339 with the CST offset, e.g. `2021-09-02T10:00:00+08:00`.
pub(crate) fn rfc3339(secs: i64) -> String {
    at(secs).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// ZF-REG's local time, e.g. `2021-09-02 10:00:00`.
pub(crate) fn local_datetime(secs: i64) -> String {
    at(secs).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// ZF-REG's local date, e.g. `2021-09-02`.
pub(crate) fn local_date(secs: i64) -> String {
    at(secs).format("%Y-%m-%d").to_string()
}

/// The CST calendar year of a time.
pub(crate) fn local_year(secs: i64) -> i32 {
    use chrono::Datelike;
    at(secs).year()
}

/// Reads ZF-REG's `yyyy-MM-dd HH:mm:ss` (CST) into Unix seconds.
pub(crate) fn parse_local_datetime(s: &str) -> Option<i64> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    cst()
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.timestamp())
}

/// Reads RFC 3339 with any offset into Unix milliseconds (fractions of a second kept, so that
/// `updatedSince=…T10:00:00.5+08:00` excludes a record updated at `10:00:00`).
pub(crate) fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Reads an `If-Unmodified-Since` value: RFC 3339 (what HY-ESMS writes in `updatedAt`) or an
/// RFC 7231 HTTP-date (`Thu, 02 Sep 2021 02:00:00 GMT`), into Unix milliseconds.
pub(crate) fn parse_precondition_millis(s: &str) -> Option<i64> {
    let s = s.trim();
    parse_rfc3339_millis(s).or_else(|| {
        DateTime::parse_from_rfc2822(s)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

/// Reads `YYYY-MM-DD` strictly (a real day, zero-padded).
pub(crate) fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    (s.len() == 10)
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

/// Unix seconds of a CST wall-clock time given by its parts; panics on an impossible time,
/// so it is only for the seed's own constants.
pub(crate) fn cst_secs(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    cst()
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("a real CST time")
        .timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_carry_the_china_standard_time_offset() {
        let t = cst_secs(2021, 9, 2, 10, 0, 0);
        assert_eq!(t, 1_630_548_000);
        assert_eq!(rfc3339(t), "2021-09-02T10:00:00+08:00");
        assert_eq!(local_datetime(t), "2021-09-02 10:00:00");
        assert_eq!(local_date(t), "2021-09-02");
        assert_eq!(parse_local_datetime("2021-09-02 10:00:00"), Some(t));
        assert_eq!(parse_rfc3339_millis("2021-09-02T02:00:00Z"), Some(t * 1000));
        assert_eq!(
            parse_precondition_millis("Thu, 02 Sep 2021 02:00:00 GMT"),
            Some(t * 1000)
        );
        assert_eq!(parse_local_datetime("2021-09-02T10:00:00"), None);
        assert!(parse_iso_date("2021-2-3").is_none() && parse_iso_date("2021-02-30").is_none());
    }

    #[test]
    fn the_clock_never_goes_backwards() {
        let mut clock = Clock { last: i64::MAX - 1 };
        assert_eq!(clock.now(), i64::MAX - 1);
        let mut clock = Clock::default();
        let a = clock.now();
        assert!(clock.now() >= a);
    }
}
