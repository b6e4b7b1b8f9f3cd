//! Calendar dates as the bureaus write them, to ISO 8601 calendar dates (`YYYY-MM-DD`, the
//! RFC 3339 `full-date` production), and local date-times to RFC 3339 `date-time` with the
//! offset of China Standard Time (UTC+8) or of the zone a system's clock is set to.
//!
//! Three forms are read: `2021-08-05`, `2021/8/5` and `2021年8月5日` (month and day with or
//! without a leading zero, digits half- or full-width, blanks around).
//!
//! A local time (one written without an offset) means nothing until its zone is known:
//! [`parse_date_time`] takes China Standard Time, as the bureaus' own systems do;
//! [`parse_date_time_in`] takes the [`Offset`] a connector is configured with (by convention
//! the config field `utc_offset`, read with [`Offset::from_config`]), for a system whose clock
//! is kept in UTC or another zone.

use crate::text;

/// A calendar date in the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year, 1..=9999.
    pub year: u32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31 as the month allows.
    pub day: u32,
}

impl Date {
    /// A date, or `None` when the day does not exist (30 February, month 13, year 0).
    pub fn new(year: u32, month: u32, day: u32) -> Option<Date> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month) && day >= 1)
            .then_some(())
            .filter(|_| day <= days_in_month(year, month))
            .map(|_| Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before), by the civil-from-days algorithm of
    /// H. Hinnant ("chrono-Compatible Low-Level Date Algorithms").
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01 (inverse of [`Date::days_since_epoch`]).
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u32;
        Date { year, month, day }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// True for Gregorian leap years.
pub fn is_leap_year(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1..=12) of `year`; 0 for a month outside 1..=12.
pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Reads a date in any of the three forms and checks that the day exists.
///
/// ```
/// use hub_schemas::date::parse;
/// assert_eq!(parse("2021年8月5日").unwrap().to_string(), "2021-08-05");
/// assert_eq!(parse("2021/8/5").unwrap().to_string(), "2021-08-05");
/// assert!(parse("2021-02-30").is_none());
/// ```
pub fn parse(raw: &str) -> Option<Date> {
    let s = text::to_half_width(raw);
    let s = text::trim(&s);
    let (y, rest, sep_end) = if let Some((y, rest)) = s.split_once('年') {
        (y, rest.strip_suffix('日')?, '月')
    } else if s.contains('/') {
        let (y, rest) = s.split_once('/')?;
        (y, rest, '/')
    } else {
        let (y, rest) = s.split_once('-')?;
        (y, rest, '-')
    };
    let (m, d) = rest.split_once(sep_end)?;
    let num = |p: &str, max_len: usize| -> Option<u32> {
        let p = text::trim(p);
        (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let y = text::trim(y);
    if y.len() != 4 {
        return None;
    }
    Date::new(num(y, 4)?, num(m, 2)?, num(d, 2)?)
}

/// Normalises a date to `YYYY-MM-DD`; text that is not a real date in one of the three forms is
/// returned trimmed but otherwise unchanged, so that schema validation can reject it with the
/// value the system sent.
pub fn normalise(raw: &str) -> String {
    match parse(raw) {
        Some(d) => d.to_string(),
        None => text::trim(raw).to_string(),
    }
}

/// Offset of China Standard Time from UTC, in minutes (UTC+8, no daylight saving since 1991).
pub const CST_OFFSET_MINUTES: i32 = 8 * 60;

/// A fixed offset from UTC, whole minutes east of Greenwich: the zone a system's local times
/// are in. Fixed: a zone with daylight saving (which none of the bureaus' systems use) changes
/// its offset twice a year, and cannot be given as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Offset(i32);

impl Offset {
    /// UTC, `Z`.
    pub const UTC: Offset = Offset(0);
    /// China Standard Time, `+08:00` (no daylight saving since 1991): what a local time means
    /// when nothing else is said.
    pub const CST: Offset = Offset(CST_OFFSET_MINUTES);

    /// The offset of `minutes` east of UTC (negative west), or `None` outside -1439..=1439 (the
    /// RFC 3339 `time-offset` range, `-23:59` to `+23:59`).
    pub const fn from_minutes(minutes: i32) -> Option<Offset> {
        if minutes > -24 * 60 && minutes < 24 * 60 {
            Some(Offset(minutes))
        } else {
            None
        }
    }

    /// Minutes east of UTC (negative west): 480 for China Standard Time.
    pub const fn minutes(self) -> i32 {
        self.0
    }

    /// Reads an RFC 3339 `time-offset`: `Z` (or `z`), or `+HH:MM` / `-HH:MM` with two-digit
    /// hours up to 23 and minutes up to 59 (`-00:00` is UTC); blanks around are ignored.
    /// `None` for anything else (`+8`, `+0800`, `UTC`, `Asia/Shanghai`).
    ///
    /// ```
    /// use hub_schemas::date::Offset;
    /// assert_eq!(Offset::parse("+08:00"), Some(Offset::CST));
    /// assert_eq!(Offset::parse("Z"), Some(Offset::UTC));
    /// assert_eq!(Offset::parse("-05:30").map(Offset::minutes), Some(-330));
    /// assert_eq!(Offset::parse("+8"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Offset> {
        let t = text.trim();
        if t == "Z" || t == "z" {
            return Some(Offset::UTC);
        }
        let sign = match t.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = t[1..].split_once(':')?;
        let two = |p: &str| {
            (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse::<i32>().ok())
                .flatten()
        };
        let (h, m) = (two(h)?, two(m)?);
        if h > 23 || m > 59 {
            return None;
        }
        Some(Offset(sign * (h * 60 + m)))
    }

    /// The offset a connector's config gives in its `utc_offset` field (the convention for
    /// systems whose local times are not China Standard Time): [`Offset::CST`] when the field is
    /// absent, else [`Offset::parse`] of it; `Err` is a message for a `config` error.
    ///
    /// ```
    /// use hub_schemas::date::Offset;
    /// assert_eq!(Offset::from_config(None), Ok(Offset::CST));
    /// assert_eq!(Offset::from_config(Some("+00:00")), Ok(Offset::UTC));
    /// assert_eq!(
    ///     Offset::from_config(Some("UTC")).unwrap_err(),
    ///     "utc_offset \"UTC\" is not an offset from UTC: write Z, +08:00 or -05:00"
    /// );
    /// ```
    pub fn from_config(utc_offset: Option<&str>) -> Result<Offset, String> {
        match utc_offset {
            None => Ok(Offset::CST),
            Some(t) => Offset::parse(t).ok_or_else(|| {
                format!("utc_offset {t:?} is not an offset from UTC: write Z, +08:00 or -05:00")
            }),
        }
    }
}

impl std::fmt::Display for Offset {
    /// `Z` for UTC, else `±HH:MM`, as [`DateTime`] writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_offset(f, self.0)
    }
}

/// A date and time of day with its offset from UTC: the RFC 3339 `date-time` production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// The calendar date.
    pub date: Date,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59 (leap seconds are not read).
    pub second: u32,
    /// Fraction of the second in nanoseconds, 0..=999_999_999.
    pub nanosecond: u32,
    /// Offset from UTC in minutes, -1439..=1439 (480 for China Standard Time).
    pub offset_minutes: i32,
}

impl std::fmt::Display for DateTime {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction]±HH:MM`, or `Z` for offset 0; the fraction without
    /// trailing zeros.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )?;
        if self.nanosecond > 0 {
            let frac = format!("{:09}", self.nanosecond);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        write_offset(f, self.offset_minutes)
    }
}

/// `Z` for 0, else `±HH:MM`.
fn write_offset(f: &mut std::fmt::Formatter<'_>, minutes: i32) -> std::fmt::Result {
    if minutes == 0 {
        return f.write_str("Z");
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Reads a date and time as the bureaus write them: the date in any of the three forms of
/// [`parse`], then `T` or blanks, then `HH:MM` or `HH:MM:SS` (hour with or without a leading
/// zero), an optional fraction `.d…` (1 to 9 digits), and an optional offset `Z` or `±HH:MM`.
/// A time without an offset is China Standard Time (UTC+8, no daylight saving), as every local
/// time of the bureaus' own systems is: [`parse_date_time_in`] with [`Offset::CST`]. `None` for
/// anything else or a time that does not exist.
///
/// ```
/// use hub_schemas::date::parse_date_time;
/// assert_eq!(parse_date_time("2021-09-02 10:00:00").unwrap().to_string(), "2021-09-02T10:00:00+08:00");
/// assert_eq!(parse_date_time("2021年9月2日 9:05").unwrap().to_string(), "2021-09-02T09:05:00+08:00");
/// assert_eq!(parse_date_time("2021-09-02T02:00:00.120Z").unwrap().to_string(), "2021-09-02T02:00:00.12Z");
/// ```
pub fn parse_date_time(raw: &str) -> Option<DateTime> {
    parse_date_time_in(raw, Offset::CST)
}

/// Reads a date and time as [`parse_date_time`] does, a time without an offset being in the
/// zone `local` (the system's clock: see [`Offset::from_config`]). A time written with its own
/// offset keeps it. The result is the same local time with `local`'s offset written next to it,
/// not converted.
///
/// ```
/// use hub_schemas::date::{Offset, parse_date_time_in};
/// assert_eq!(parse_date_time_in("2024/5/3 14:20", Offset::UTC).unwrap().to_string(), "2024-05-03T14:20:00Z");
/// assert_eq!(parse_date_time_in("2024/5/3 14:20", Offset::CST).unwrap().to_string(), "2024-05-03T14:20:00+08:00");
/// assert_eq!(parse_date_time_in("2024-05-03T14:20:00+08:00", Offset::UTC).unwrap().to_string(), "2024-05-03T14:20:00+08:00");
/// ```
pub fn parse_date_time_in(raw: &str, local: Offset) -> Option<DateTime> {
    let s = text::to_half_width(raw);
    let s = text::trim(&s);
    let split = s
        .find(['T', 't'])
        .map(|i| (&s[..i], &s[i + 1..]))
        .or_else(|| {
            let i = s.find(text::is_blank)?;
            Some((&s[..i], text::trim(&s[i..])))
        });
    let (d, t) = split?;
    let date = parse(d)?;
    // The offset: a trailing Z, or the last + or - (which cannot be part of a time).
    let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
        (c, Offset::UTC)
    } else if let Some(i) = t.rfind(['+', '-']) {
        (&t[..i], Offset::parse(&t[i..])?)
    } else {
        (t, local)
    };
    let offset_minutes = offset.minutes();
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (clock, None),
    };
    let mut parts = hms.split(':');
    let num = |p: Option<&str>, min_len: usize| -> Option<u32> {
        let p = p?;
        (p.len() >= min_len && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let hour = num(parts.next(), 1)?;
    let minute = num(parts.next(), 2)?;
    let second = match parts.next() {
        Some(p) => num(Some(p), 2)?,
        None if fraction.is_none() => 0,
        None => return None,
    };
    if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let nanosecond = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{f:0<9}").parse().ok()?
        }
        Some(_) => return None,
    };
    Some(DateTime {
        date,
        hour,
        minute,
        second,
        nanosecond,
        offset_minutes,
    })
}

/// Normalises a date and time to RFC 3339 with its offset (`+08:00` for local times, see
/// [`parse_date_time`]); text that is not a real date and time in one of those forms is returned
/// trimmed but otherwise unchanged, for schema validation to reject.
pub fn normalise_date_time(raw: &str) -> String {
    normalise_date_time_in(raw, Offset::CST)
}

/// Normalises a date and time as [`normalise_date_time`] does, a local time being in the zone
/// `local` ([`parse_date_time_in`]).
pub fn normalise_date_time_in(raw: &str, local: Offset) -> String {
    match parse_date_time_in(raw, local) {
        Some(dt) => dt.to_string(),
        None => text::trim(raw).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_of_the_same_day_agree() {
        for s in [
            "2021-08-05",
            "2021/8/5",
            "2021/08/05",
            "2021年8月5日",
            "２０２１年８月５日",
            " 2021-8-5 ",
        ] {
            assert_eq!(parse(s), Date::new(2021, 8, 5), "{s}");
        }
    }

    #[test]
    fn impossible_days_are_refused() {
        for s in [
            "2021-02-29",
            "2021年2月30日",
            "2021/13/1",
            "2021-04-31",
            "0000-01-01",
            "21-8-5",
            "2021-08",
            "2021-08-05T00:00",
            "abc",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
        assert_eq!(parse("2020-02-29"), Date::new(2020, 2, 29));
        assert_eq!(parse("2000-02-29"), Date::new(2000, 2, 29));
        assert_eq!(parse("1900-02-29"), None);
    }

    #[test]
    fn normalise_keeps_what_it_cannot_read() {
        assert_eq!(normalise("2021/8/5"), "2021-08-05");
        assert_eq!(normalise(" 2021年2月30日 "), "2021年2月30日");
    }

    #[test]
    fn local_times_get_the_china_standard_time_offset() {
        for s in [
            "2021-09-02 10:00:00",
            "2021-09-02T10:00:00",
            "2021/9/2 10:00:00",
            "2021年9月2日 10:00:00",
            "２０２１-０９-０２　１０:００:００",
            " 2021-09-02  10:00 ",
            "2021-09-02T10:00:00+08:00",
            "2021-09-02t10:00:00",
        ] {
            assert_eq!(normalise_date_time(s), "2021-09-02T10:00:00+08:00", "{s:?}");
        }
        assert_eq!(
            normalise_date_time("2021-09-02T02:00:00z"),
            "2021-09-02T02:00:00Z"
        );
        assert_eq!(
            normalise_date_time("2021-09-02T10:00:00-05:30"),
            "2021-09-02T10:00:00-05:30"
        );
        assert_eq!(
            normalise_date_time("2021-09-02T10:00:00.500+08:00"),
            "2021-09-02T10:00:00.5+08:00"
        );
        assert_eq!(
            normalise_date_time("2021-09-02 7:05"),
            "2021-09-02T07:05:00+08:00"
        );
    }

    #[test]
    fn impossible_times_are_kept_as_sent() {
        for s in [
            "2021-09-02 24:00:00",
            "2021-09-02 10:60:00",
            "2021-09-02 10:00:60",
            "2021-02-29 10:00:00",
            "2021-09-02",
            "2021-09-02 10",
            "2021-09-02 10:0",
            "2021-09-02T10:00:00+8:00",
            "2021-09-02T10:00:00+24:00",
            "2021-09-02T10:00:00.+08:00",
            "2021-09-02T10:00:00.1234567890Z",
            "2021-09-02 10:00:00:00",
            "10:00:00",
        ] {
            assert_eq!(parse_date_time(s), None, "{s:?}");
            assert_eq!(normalise_date_time(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn a_local_time_takes_the_zone_it_is_given() {
        // A spreadsheet's 14:20 on 3 May 2024: in UTC that is 14:20Z (22:20 in China); in China
        // Standard Time it is 14:20+08:00 (06:20Z); 5 h 30 min east of UTC, 14:20+05:30.
        let ist = Offset::from_minutes(330).unwrap();
        assert_eq!(
            parse_date_time_in("2024/5/3 14:20", Offset::UTC)
                .unwrap()
                .to_string(),
            "2024-05-03T14:20:00Z"
        );
        assert_eq!(
            parse_date_time_in("2024/5/3 14:20", Offset::CST)
                .unwrap()
                .to_string(),
            "2024-05-03T14:20:00+08:00"
        );
        assert_eq!(
            parse_date_time_in("2024/5/3 14:20", ist)
                .unwrap()
                .to_string(),
            "2024-05-03T14:20:00+05:30"
        );
        let west = Offset::parse("-05:00").unwrap();
        assert_eq!(
            normalise_date_time_in("2024年5月3日 9:05:07", west),
            "2024-05-03T09:05:07-05:00"
        );
        // The default is China Standard Time, as before.
        assert_eq!(
            parse_date_time("2024/5/3 14:20"),
            parse_date_time_in("2024/5/3 14:20", Offset::CST)
        );
        assert_eq!(
            normalise_date_time("2024/5/3 14:20"),
            "2024-05-03T14:20:00+08:00"
        );
        // A time that says its offset keeps it, whatever the zone given.
        for local in [Offset::UTC, Offset::CST, west] {
            assert_eq!(
                normalise_date_time_in("2024-05-03T14:20:00+08:00", local),
                "2024-05-03T14:20:00+08:00"
            );
            assert_eq!(
                normalise_date_time_in("2024-05-03 06:20:00Z", local),
                "2024-05-03T06:20:00Z"
            );
            assert_eq!(
                normalise_date_time_in("2024-05-03 24:00", local),
                "2024-05-03 24:00"
            );
        }
        // The offset changes the instant: 14:20Z is 8 hours after 14:20+08:00.
        let minutes = |dt: DateTime| {
            dt.date.days_since_epoch() * 1440 + i64::from(dt.hour * 60 + dt.minute)
                - i64::from(dt.offset_minutes)
        };
        let utc = parse_date_time_in("2024/5/3 14:20", Offset::UTC).unwrap();
        let cst = parse_date_time_in("2024/5/3 14:20", Offset::CST).unwrap();
        assert_eq!(minutes(utc) - minutes(cst), 8 * 60);
    }

    #[test]
    fn offsets_are_read_as_rfc_3339_writes_them() {
        for (text, minutes) in [
            ("Z", 0),
            ("z", 0),
            ("+00:00", 0),
            ("-00:00", 0),
            (" +08:00 ", 480),
            ("-05:00", -300),
            ("+05:45", 345),
            ("+23:59", 1439),
            ("-23:59", -1439),
        ] {
            assert_eq!(
                Offset::parse(text).map(Offset::minutes),
                Some(minutes),
                "{text:?}"
            );
        }
        for text in [
            "",
            "+8",
            "+08",
            "+0800",
            "08:00",
            "+24:00",
            "+08:60",
            "UTC",
            "Asia/Shanghai",
            "+８:00",
            "+08:00:00",
        ] {
            assert_eq!(Offset::parse(text), None, "{text:?}");
        }
        assert_eq!(
            [Offset::UTC, Offset::CST, Offset::parse("-05:30").unwrap()].map(|o| o.to_string()),
            ["Z", "+08:00", "-05:30"]
        );
        assert_eq!(Offset::from_minutes(1440), None);
        assert_eq!(
            Offset::from_minutes(-1439).map(Offset::minutes),
            Some(-1439)
        );
        assert_eq!(Offset::from_config(None), Ok(Offset::CST));
        assert_eq!(Offset::from_config(Some("Z")), Ok(Offset::UTC));
        assert_eq!(
            Offset::from_config(Some("+8")),
            Err(
                "utc_offset \"+8\" is not an offset from UTC: write Z, +08:00 or -05:00"
                    .to_string()
            )
        );
    }

    #[test]
    fn epoch_days_match_known_dates() {
        // 2021-09-02 (the day the two employment data systems were connected) is day 18,872.
        assert_eq!(Date::new(2021, 9, 2).unwrap().days_since_epoch(), 18_872);
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(1969, 12, 31).unwrap().days_since_epoch(), -1);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_epoch(), 11_017);
        for d in [-719_162, -1, 0, 59, 11_016, 18_872, 2_932_896] {
            assert_eq!(Date::from_days_since_epoch(d).days_since_epoch(), d);
        }
    }
}
