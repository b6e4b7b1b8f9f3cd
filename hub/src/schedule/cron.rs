//! Crontab schedules for hub's scheduled sync runs.
//!
//! Operators write standard crontab(5) time specifications, read exactly as Vixie/ISC cron 4.1
//! reads them. The [`cron`] crate (0.17) does the calendar search, but its syntax and semantics
//! are Quartz-like, so nothing written by an operator is ever handed to it directly: this module
//! parses the crontab text itself, expands every field to an explicit set of values, and gives
//! the cron crate only canonical comma lists it cannot misread.
//!
//! # Syntax (crontab(5), Vixie/ISC cron 4.1)
//!
//! Five whitespace-separated fields, or six with a leading seconds field (an extension; Vixie cron
//! has no seconds, and five fields mean second 0):
//!
//! | field        | values | names   |
//! |--------------|--------|---------|
//! | second (opt) | 0–59   |         |
//! | minute       | 0–59   |         |
//! | hour         | 0–23   |         |
//! | day-of-month | 1–31   |         |
//! | month        | 1–12   | JAN–DEC |
//! | day-of-week  | 0–7    | SUN–SAT |
//!
//! Each field is a comma list of elements; an element is `*`, a number, a three-letter name
//! (case-insensitive; allowed in ranges and lists too, as Vixie's parser allows), a range `a-b`
//! (inclusive, never wrapping), or any of those followed by a step `/n`: `*/n` is min–max step
//! n, `a-b/n` is a–b step n, and `a/n` is a–max step n. Day-of-week 0 and 7 are both Sunday, so
//! `5-7` is Friday–Sunday and `0-6`, `1-7` and `*` are all seven days. A step larger than the
//! field's span is accepted, as in Vixie cron, and selects only the first value (`*/90` in the
//! minute field means minute 0, not "every 90 minutes").
//!
//! Shortcuts: `@yearly` = `@annually` = `0 0 1 1 *`, `@monthly` = `0 0 1 * *`, `@weekly` =
//! `0 0 * * 0`, `@daily` = `@midnight` = `0 0 * * *`, `@hourly` = `0 * * * *`. They are
//! case-sensitive, as in Vixie cron, and must be the whole expression. `@reboot` is refused: it
//! means "when the daemon starts", which is not a time a schedule can compute.
//!
//! Refused at parse time, with a [`ScheduleError`] naming the field and the text: Quartz's `L`,
//! `W`, `#` and `?`; values out of range; reversed ranges; step 0; empty list elements; a field
//! count other than five or six; and expressions that can never fire (`0 0 30 2 *`,
//! `0 0 31 4,6,9,11 *`). Nothing is approximated.
//!
//! Note on `a/n`: Paul Vixie's tree and cronie reject a single value with a step; FreeBSD cron,
//! robfig/cron and Quartz read it as `a-max/n`, which is what this module does.
//!
//! # Day-of-month and day-of-week
//!
//! As in Vixie cron's `find_jobs`: when the day-of-month field or the day-of-week field begins
//! with `*` (a purely textual test, so `*/2` counts as starred), a day must match both fields;
//! when neither begins with `*`, a day matching either field fires. `0 0 13 * FRI` therefore runs
//! on every 13th and on every Friday, while `0 0 */2 * MON` runs only on odd-numbered Mondays.
//!
//! # Time zones and daylight-saving transitions
//!
//! Every schedule has an IANA zone (default [`DEFAULT_TIMEZONE`], `Asia/Shanghai`), used instead
//! of the process's `TZ`; all fields, including day-of-week, are matched against the wall clock
//! of that zone. Where the zone's clocks jump, the policy is ISC cron's, which distinguishes, by
//! the text of the minute and hour fields, two kinds of schedule:
//!
//! * **wildcard** schedules — the minute or the hour field begins with `*` (also `@hourly`):
//!   a schedule fires at every instant whose wall-clock time matches. Wall times inside a
//!   spring-forward gap never occur, so they are skipped with no catch-up; wall times repeated by
//!   a fall-back occur twice and fire twice (`30 * * * *` stays hourly in absolute time, and
//!   `*/15 * * * *` keeps running through the repeated hour).
//! * **fixed-time** schedules — everything else (also `@daily`, `@weekly`, `@monthly`, `@yearly`):
//!   a matching wall time inside a gap fires once at the first instant after the gap (the
//!   transition instant, e.g. 03:00 EDT for `30 2 * * *` on the US spring-forward day), and
//!   several matching gap times plus a match at that instant all coalesce into that one fire.
//!   A matching wall time that occurs twice fires only at its first occurrence (01:30 EDT, not
//!   01:30 EST).
//!
//! ISC cron runs a fixed-time job once per skipped matching minute, all just after the jump;
//! this module coalesces them into one run, because [`Schedule::next_after`] yields instants and
//! two sync runs at one instant mean one run. ISC cron also applies its catch-up only to jumps of
//! less than three hours; here the policy holds for a transition of any size (a fixed-time
//! schedule matching Samoa's skipped 2011-12-30 fires when the clocks resume).
//!
//! # The cron crate, and how it is used
//!
//! The cron crate expects `sec min hour day-of-month month day-of-week [year]`, numbers
//! day-of-week 1–7 from Sunday (so crontab's `0` is rejected and its `1`, Monday, would mean
//! Sunday), accepts `?`, long day names and `a/n`, rejects steps above the field maximum, and
//! always ANDs day-of-month with day-of-week. It searches local years 1970–2100 only. In a
//! [`chrono_tz::Tz`] it skips wall times that fall in a gap and, for a repeated wall time, yields
//! both instants — and a search starting inside the second pass can return the first-pass
//! instant, which lies before the starting point.
//!
//! So the cron crate is only used on *naive wall-clock time* (driven with [`Utc`], which has no
//! transitions), fed explicit value lists with day-of-week shifted by one; the Vixie OR rule is
//! two cron schedules (day-of-month only, day-of-week only) whose next wall times are merged; and
//! the mapping from wall time to instant, with the policy above, is done here with chrono-tz.
//! Consequently no fire time lies after local year 2100: [`Schedule::next_after`] returns
//! `None` from there on.

mod fields;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{GapInfo, Tz};
use fields::Spec;

/// The zone used when a schedule names none: [`Schedule::parse`] with an empty `tz`.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// The last local calendar year in which a schedule can fire (the cron crate's year range ends
/// here).
pub const LAST_YEAR: i32 = 2100;

/// One field of a crontab time specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Optional leading field, 0–59 (an extension to crontab(5)).
    Second,
    /// 0–59.
    Minute,
    /// 0–23.
    Hour,
    /// 1–31.
    DayOfMonth,
    /// 1–12 or JAN–DEC.
    Month,
    /// 0–7 or SUN–SAT; 0 and 7 are both Sunday.
    DayOfWeek,
}

impl Field {
    /// Inclusive `(min, max)` of the values crontab(5) accepts in this field.
    #[must_use]
    pub const fn bounds(self) -> (u32, u32) {
        match self {
            Field::Second | Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Second => "second",
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        })
    }
}

/// Why one field of an expression was refused; carried by [`ScheduleError::Field`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldProblem {
    /// `1,,2` or a leading/trailing comma.
    #[error("empty list element (stray comma?)")]
    EmptyElement,
    /// Quartz's `L`, `W`, `#` or `?`.
    #[error("{token:?} uses {meaning}, which crontab(5) does not define")]
    Unsupported {
        /// The offending element or value.
        token: String,
        /// What the marker means in Quartz.
        meaning: &'static str,
    },
    /// A value (or a step too large to represent) outside the field's range.
    #[error("{token:?} is out of range; allowed values are {min}-{max}")]
    OutOfRange {
        /// The offending value as written.
        token: String,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// `a-b` with `a > b`; ranges never wrap.
    #[error(
        "range {token:?} ({start}-{end}) is reversed; crontab ranges run low to high and do not wrap"
    )]
    ReversedRange {
        /// The offending range as written.
        token: String,
        /// Start value.
        start: u32,
        /// End value.
        end: u32,
    },
    /// A day-of-week range ending on Sunday written as 0 (`FRI-SUN`, `5-0`).
    #[error(
        "range {token:?} ({start}-0) is reversed; Sunday is 0 at the start of the week, so to run through Sunday write {start}-7"
    )]
    ReversedToSunday {
        /// The offending range as written.
        token: String,
        /// Start value.
        start: u32,
    },
    /// `*/0`, `1-5/0`.
    #[error("step 0 in {token:?}; a step must be 1 or more")]
    ZeroStep {
        /// The offending element.
        token: String,
    },
    /// A name in a field without names.
    #[error(
        "{token:?}: names are allowed only in the month (JAN-DEC) and day-of-week (SUN-SAT) fields"
    )]
    NameNotAllowed {
        /// The offending name.
        token: String,
    },
    /// A word that is not one of the field's three-letter names.
    #[error("{token:?} is not a {kind} name; use one of {list}")]
    UnknownName {
        /// The offending word.
        token: String,
        /// `"month"` or `"day-of-week"`.
        kind: &'static str,
        /// The accepted names.
        list: &'static str,
    },
    /// Anything else that is not `*`, a number, a name, a range or a step.
    #[error(
        "cannot read {token:?}: expected *, a number, a name, a range a-b, or one of those with a step /n"
    )]
    Malformed {
        /// The offending element.
        token: String,
    },
}

/// Why [`Schedule::parse`] refused an expression or a zone. Every message names the field (where
/// there is one) and quotes the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The expression is empty or whitespace.
    #[error(
        "empty cron expression: expected five fields (minute hour day-of-month month day-of-week), six with a leading second field, or an @-shortcut"
    )]
    Empty,
    /// Neither five nor six fields.
    #[error(
        "cron expression {expr:?} has {found} fields; expected five (minute hour day-of-month month day-of-week) or six (second minute hour day-of-month month day-of-week)"
    )]
    FieldCount {
        /// The expression as given (trimmed).
        expr: String,
        /// How many whitespace-separated fields it has.
        found: usize,
    },
    /// One field is invalid.
    #[error("{field} field {text:?}: {problem}")]
    Field {
        /// Which field.
        field: Field,
        /// The whole field as written.
        text: String,
        /// What is wrong with it.
        problem: FieldProblem,
    },
    /// `@reboot`, an unknown `@word`, or a shortcut followed by more text.
    #[error("shortcut {text:?}: {reason}")]
    Shortcut {
        /// The expression as given (trimmed).
        text: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The day-of-month values exist in none of the months (and the day-of-week field cannot
    /// rescue it, because one of the two day fields begins with `*`).
    #[error(
        "day-of-month field {day_of_month:?} with month field {month:?} can never fire: none of those months has any of those days (February has at most 29, April, June, September and November 30)"
    )]
    NeverFires {
        /// The day-of-month field as written.
        day_of_month: String,
        /// The month field as written.
        month: String,
    },
    /// The zone is not an IANA name known to chrono-tz.
    #[error(
        "time zone {name:?} is not an IANA time zone name (for example \"Asia/Shanghai\" or \"Europe/Berlin\")"
    )]
    UnknownTimeZone {
        /// The zone as given.
        name: String,
    },
    /// The cron crate refused the canonical translation; a bug in this module, not in the input.
    #[error(
        "internal error: the cron engine rejected {translated:?}, the translation of {expr:?}: {message}"
    )]
    Engine {
        /// The expression as given (trimmed).
        expr: String,
        /// The cron-crate expression built from it.
        translated: String,
        /// The cron crate's message.
        message: String,
    },
}

/// A parsed crontab schedule bound to a time zone.
///
/// Built by [`Schedule::parse`]; see the module documentation for the syntax (crontab(5) of
/// Vixie/ISC cron 4.1, plus an optional seconds field), the day-of-month/day-of-week rule and the
/// daylight-saving policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The expression as given, trimmed.
    expression: String,
    /// Zone whose wall clock the fields are matched against.
    tz: Tz,
    /// Wall-clock searches, evaluated on naive local time expressed as UTC. One schedule, or two
    /// (day-of-month only, day-of-week only) whose union is Vixie's OR rule.
    engines: Vec<cron::Schedule>,
    /// Vixie's `MIN_STAR | HR_STAR`: the minute or hour field begins with `*`.
    wildcard: bool,
}

impl Schedule {
    /// Parses a crontab(5) expression (five fields, six with a leading seconds field, or an
    /// `@`-shortcut) and binds it to the IANA zone `tz` (for example `"Europe/Berlin"`; an empty
    /// or all-whitespace `tz` means [`DEFAULT_TIMEZONE`]).
    ///
    /// # Errors
    ///
    /// [`ScheduleError`] for any syntax crontab(5) does not define, any value or range Vixie cron
    /// would reject, an expression that can never fire, `@reboot`, or an unknown zone.
    pub fn parse(expr: &str, tz: &str) -> Result<Schedule, ScheduleError> {
        let expression = expr.trim();
        let spec = Spec::parse(expression)?;
        let engines = spec.engines(expression)?;
        let tz = parse_timezone(tz)?;
        Ok(Schedule {
            expression: expression.to_owned(),
            tz,
            engines,
            wildcard: spec.wildcard,
        })
    }

    /// Next fire time strictly after `after`, at whole-second precision, or `None` once the
    /// schedule has no fire time left (none is computed after local year [`LAST_YEAR`], nor
    /// before local year 1970). Around daylight-saving transitions the fire times follow the
    /// module's policy: wildcard schedules skip gap times and fire on both passes of a repeated
    /// hour; fixed-time schedules fire once at the end of a gap and once, at the first
    /// occurrence, for a repeated time.
    #[must_use]
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if after >= search_horizon()? {
            return None;
        }
        let mut cursor = self.search_start(after.max(search_floor()?))?;
        let mut best: Option<DateTime<Utc>> = None;
        while let Some(wall) = self.next_wall_after(cursor) {
            cursor = wall;
            let occurrence = self.occurrence(wall);
            // Earliest instants are non-decreasing in wall time, so once a wall time cannot map
            // before the best candidate, no later one can either.
            if let (Some(best), Some(earliest)) = (best, occurrence.earliest())
                && earliest > best
            {
                break;
            }
            for fire in occurrence.fires(self.wildcard).into_iter().flatten() {
                if fire > after && best.is_none_or(|b| fire < b) {
                    best = Some(fire);
                }
            }
            // Fixed-time fires are each wall time's earliest instant, hence already in order.
            if best.is_some() && !self.wildcard {
                break;
            }
        }
        best
    }

    /// The next `n` fire times after `after`, in the schedule's zone, in order (for
    /// `hub schedule --next N`). Shorter than `n` only when the schedule runs out (after local
    /// year [`LAST_YEAR`]).
    #[must_use]
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
        std::iter::successors(self.next_after(after), |&t| self.next_after(t))
            .take(n)
            .map(|t| t.with_timezone(&self.tz))
            .collect()
    }

    /// The expression as given to [`Schedule::parse`], trimmed.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The zone the expression is evaluated in.
    #[must_use]
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// Wall time from which to search for fires after `after`.
    fn search_start(&self, after: DateTime<Utc>) -> Option<NaiveDateTime> {
        let local = after.with_timezone(&self.tz);
        let wall = local.naive_local();
        if self.wildcard {
            // On the first pass through a repeated hour, the wall times before `wall` will occur
            // again after the transition; start far enough back to see their second occurrence.
            if let LocalResult::Ambiguous(a, b) = self.tz.from_local_datetime(&wall) {
                let (first, second) = if a <= b { (a, b) } else { (b, a) };
                if first == local {
                    return wall.checked_sub_signed(second.signed_duration_since(first));
                }
            }
        }
        Some(wall)
    }

    /// The earliest wall time strictly after `wall` that the fields match.
    fn next_wall_after(&self, wall: NaiveDateTime) -> Option<NaiveDateTime> {
        let wall = wall.and_utc();
        self.engines
            .iter()
            .filter_map(|engine| engine.after(&wall).next())
            .min()
            .map(|t| t.naive_utc())
    }

    /// How a wall time maps to instants in the schedule's zone.
    fn occurrence(&self, wall: NaiveDateTime) -> Occurrence {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => Occurrence::Once(t.to_utc()),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.to_utc(), b.to_utc());
                Occurrence::Twice(a.min(b), a.max(b))
            }
            LocalResult::None => Occurrence::Skipped {
                resumes: GapInfo::new(&wall, &self.tz)
                    .and_then(|gap| gap.end)
                    .map(|t| t.to_utc()),
            },
        }
    }
}

impl fmt::Display for Schedule {
    /// `"<expression> (<zone>)"`, e.g. `0 9 * * * (Asia/Shanghai)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.expression, self.tz.name())
    }
}

/// A wall time's instants in a zone.
#[derive(Debug, Clone, Copy)]
enum Occurrence {
    Once(DateTime<Utc>),
    /// Repeated by a fall-back: first and second occurrence.
    Twice(DateTime<Utc>, DateTime<Utc>),
    /// Inside a spring-forward gap; `resumes` is the first instant after it.
    Skipped {
        resumes: Option<DateTime<Utc>>,
    },
}

impl Occurrence {
    /// The earliest instant this wall time can fire at under either policy.
    fn earliest(self) -> Option<DateTime<Utc>> {
        match self {
            Occurrence::Once(t) | Occurrence::Twice(t, _) => Some(t),
            Occurrence::Skipped { resumes } => resumes,
        }
    }

    /// The instants this wall time fires at, under the wildcard or fixed-time policy.
    fn fires(self, wildcard: bool) -> [Option<DateTime<Utc>>; 2] {
        match self {
            Occurrence::Once(t) => [Some(t), None],
            Occurrence::Twice(first, second) => [Some(first), wildcard.then_some(second)],
            Occurrence::Skipped { resumes } => [resumes.filter(|_| !wildcard), None],
        }
    }
}

/// Instants from which nothing can fire any more (start of 2101-01-02 UTC lies after the end of
/// local year 2100 in every zone).
fn search_horizon() -> Option<DateTime<Utc>> {
    Some(
        NaiveDate::from_ymd_opt(LAST_YEAR + 1, 1, 2)?
            .and_hms_opt(0, 0, 0)?
            .and_utc(),
    )
}

/// Searches start no earlier than this (before local 1970-01-01 in every zone).
fn search_floor() -> Option<DateTime<Utc>> {
    Some(
        NaiveDate::from_ymd_opt(1969, 12, 30)?
            .and_hms_opt(0, 0, 0)?
            .and_utc(),
    )
}

fn parse_timezone(tz: &str) -> Result<Tz, ScheduleError> {
    let name = match tz.trim() {
        "" => DEFAULT_TIMEZONE,
        name => name,
    };
    Tz::from_str(name).map_err(|_| ScheduleError::UnknownTimeZone {
        name: tz.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveTime, TimeDelta, Timelike, Weekday};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("valid test instant")
    }

    fn sched(expr: &str, tz: &str) -> Schedule {
        Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{expr:?} in {tz:?}: {e}"))
    }

    /// `n` successive fire times from `after`, in UTC.
    fn fires(s: &Schedule, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        s.upcoming(after, n).iter().map(DateTime::to_utc).collect()
    }

    fn parse_err(expr: &str) -> String {
        match Schedule::parse(expr, "UTC") {
            Ok(s) => panic!("{expr:?} parsed as {s:?}, expected an error"),
            Err(e) => e.to_string(),
        }
    }

    /// Start instant for the table: Monday 2024-01-15 10:30:00 UTC. Weekdays used below (checked
    /// against `date -u -d ... +%a`): 2024-01-15 Mon, 01-19 Fri, 01-21 Sun, 01-29 Mon, 02-01 Thu,
    /// 02-05 Mon, 02-13 Tue, 02-29 Thu, 03-01 Fri, 04-01 Mon, 06-01 Sat, 2025-01-01 Wed.
    fn table_start() -> DateTime<Utc> {
        utc(2024, 1, 15, 10, 30, 0)
    }

    /// Year, month, day, hour, minute, second (UTC).
    type Ymdhms = (i32, u32, u32, u32, u32, u32);

    #[test]
    fn next_fire_table() {
        #[rustfmt::skip]
        let table: &[(&str, Ymdhms)] = &[
            ("* * * * *",              (2024, 1, 15, 10, 31, 0)),
            ("0 * * * *",              (2024, 1, 15, 11, 0, 0)),
            // 10:30 itself is not strictly after the start.
            ("30 * * * *",             (2024, 1, 15, 11, 30, 0)),
            ("*/15 * * * *",           (2024, 1, 15, 10, 45, 0)),
            // a/n = a-max/n: minutes 5,20,35,50.
            ("5/15 * * * *",           (2024, 1, 15, 10, 35, 0)),
            // minutes 0,7,...,56: 28 and 35 straddle 30.
            ("*/7 * * * *",            (2024, 1, 15, 10, 35, 0)),
            ("0 0 * * *",              (2024, 1, 16, 0, 0, 0)),
            ("0 9 * * *",              (2024, 1, 16, 9, 0, 0)),
            ("0 12 * * *",             (2024, 1, 15, 12, 0, 0)),
            ("30 10 * * *",            (2024, 1, 16, 10, 30, 0)),
            ("31 10 * * *",            (2024, 1, 15, 10, 31, 0)),
            // hours 0,5,10,15,20: 10:00 has passed.
            ("0 */5 * * *",            (2024, 1, 15, 15, 0, 0)),
            // hours 0,2,...,20 at :23; 10:23 has passed.
            ("23 0-20/2 * * *",        (2024, 1, 15, 12, 23, 0)),
            ("0 22 * * 1-5",           (2024, 1, 15, 22, 0, 0)),
            ("0 0 1 * *",              (2024, 2, 1, 0, 0, 0)),
            ("15 14 1 * *",            (2024, 2, 1, 14, 15, 0)),
            ("0 0 31 * *",             (2024, 1, 31, 0, 0, 0)),
            ("0 0 1 1 *",              (2025, 1, 1, 0, 0, 0)),
            ("0 4 8-14 * *",           (2024, 2, 8, 4, 0, 0)),
            // months 1,3,5,...: January's 1st has passed.
            ("0 0,12 1 */2 *",         (2024, 3, 1, 0, 0, 0)),
            // months 1,4,7,10.
            ("0 0 1 JAN-DEC/3 *",      (2024, 4, 1, 0, 0, 0)),
            ("0 0 1 jun *",            (2024, 6, 1, 0, 0, 0)),
            ("59 23 * 12 *",           (2024, 12, 1, 23, 59, 0)),
            // Of April, June, September, November, December only December has a 31st.
            ("0 0 31 4,6,9,11,12 *",   (2024, 12, 31, 0, 0, 0)),
            // 2024 is a leap year.
            ("0 0 29 2 *",             (2024, 2, 29, 0, 0, 0)),
            ("@yearly",                (2025, 1, 1, 0, 0, 0)),
            ("@annually",              (2025, 1, 1, 0, 0, 0)),
            ("@monthly",               (2024, 2, 1, 0, 0, 0)),
            ("@weekly",                (2024, 1, 21, 0, 0, 0)),
            ("@daily",                 (2024, 1, 16, 0, 0, 0)),
            ("@midnight",              (2024, 1, 16, 0, 0, 0)),
            ("@hourly",                (2024, 1, 15, 11, 0, 0)),
            ("0 9 * * MON-FRI",        (2024, 1, 16, 9, 0, 0)),
            ("0 9 * * 1-5",            (2024, 1, 16, 9, 0, 0)),
            ("0 9 * * SAT,SUN",        (2024, 1, 20, 9, 0, 0)),
            ("0 9 * * 0",              (2024, 1, 21, 9, 0, 0)),
            ("0 9 * * 7",              (2024, 1, 21, 9, 0, 0)),
            ("0 0 * * sun",            (2024, 1, 21, 0, 0, 0)),
            // 5-7 is Fri, Sat, Sun.
            ("0 9 * * 5-7",            (2024, 1, 19, 9, 0, 0)),
            // 1/2 on day-of-week is 1,3,5,7 = Mon, Wed, Fri, Sun.
            ("0 0 * * 1/2",            (2024, 1, 17, 0, 0, 0)),
            // */2 on day-of-week is 0,2,4,6 = Sun, Tue, Thu, Sat.
            ("0 0 * * */2",            (2024, 1, 16, 0, 0, 0)),
            ("0 0 * * FRI",            (2024, 1, 19, 0, 0, 0)),
            ("0 0 13 * *",             (2024, 2, 13, 0, 0, 0)),
            // OR: next 13th is Feb 13, next Friday Jan 19.
            ("0 0 13 * FRI",           (2024, 1, 19, 0, 0, 0)),
            // OR: the 16th (Tue) comes before Saturday the 20th.
            ("0 0 16 * SAT",           (2024, 1, 16, 0, 0, 0)),
            // OR: 1st or 15th or Monday; the 15th's midnight has passed, Monday 22nd is next.
            ("0 0 1,15 * MON",         (2024, 1, 22, 0, 0, 0)),
            // OR, not "first Monday": days 1-7 or any Monday.
            ("0 0 1-7 * MON",          (2024, 1, 22, 0, 0, 0)),
            // AND (day-of-week starts with *): days 1-7 on any weekday.
            ("0 0 1-7 * */1",          (2024, 2, 1, 0, 0, 0)),
            // AND (day-of-month starts with *): odd-numbered Mondays; Jan 22 is even.
            ("0 0 */2 * MON",          (2024, 1, 29, 0, 0, 0)),
            // OR (no leading *): odd days or Mondays; the 16th is even and a Tuesday.
            ("0 0 1-31/2 * MON",       (2024, 1, 17, 0, 0, 0)),
            // OR: February 29th or any Monday in February; Feb 5 is the first Monday.
            ("0 0 29 2 MON",           (2024, 2, 5, 0, 0, 0)),
            // OR with a full day-of-week set fires every day.
            ("0 0 1 * 0-6",            (2024, 1, 16, 0, 0, 0)),
            // Seconds field.
            ("*/10 * * * * *",         (2024, 1, 15, 10, 30, 10)),
            ("30 30 10 * * *",         (2024, 1, 15, 10, 30, 30)),
            ("0 30 10 * * *",          (2024, 1, 16, 10, 30, 0)),
            ("59 59 23 31 12 *",       (2024, 12, 31, 23, 59, 59)),
            // A step beyond the span selects only the first value, as in Vixie cron.
            ("*/90 * * * *",           (2024, 1, 15, 11, 0, 0)),
            ("  0   9\t* *  *  ",      (2024, 1, 16, 9, 0, 0)),
        ];
        assert!(table.len() >= 40);
        let start = table_start();
        let failures: Vec<String> = table
            .iter()
            .filter_map(|&(expr, (y, mo, d, h, mi, s))| {
                let want = utc(y, mo, d, h, mi, s);
                let got = sched(expr, "UTC").next_after(start);
                (got != Some(want)).then(|| format!("{expr:?}: want {want}, got {got:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn next_after_is_strict_and_subsecond() {
        let s = sched("* * * * * *", "UTC");
        let at = utc(2024, 1, 15, 10, 30, 0);
        assert_eq!(s.next_after(at), Some(utc(2024, 1, 15, 10, 30, 1)));
        let half = at + TimeDelta::milliseconds(500);
        assert_eq!(s.next_after(half), Some(utc(2024, 1, 15, 10, 30, 1)));
        let minutely = sched("* * * * *", "UTC");
        assert_eq!(minutely.next_after(half), Some(utc(2024, 1, 15, 10, 31, 0)));
    }

    #[test]
    fn sunday_is_zero_seven_and_names() {
        let start = table_start();
        let reference = fires(&sched("0 6 * * 0", "UTC"), start, 10);
        for expr in [
            "0 6 * * 7",
            "0 6 * * SUN",
            "0 6 * * sun",
            "0 6 * * Sun",
            "0 6 * * 0,7",
        ] {
            assert_eq!(fires(&sched(expr, "UTC"), start, 10), reference, "{expr}");
        }
        assert!(
            reference.iter().all(|t| t.weekday() == Weekday::Sun),
            "{reference:?}"
        );
        let every_day = fires(&sched("0 6 * * *", "UTC"), start, 21);
        for expr in [
            "0 6 * * 0-6",
            "0 6 * * 1-7",
            "0 6 * * 0-7",
            "0 6 * * SUN-SAT",
            "0 6 * * */1",
        ] {
            assert_eq!(fires(&sched(expr, "UTC"), start, 21), every_day, "{expr}");
        }
        let weekend = fires(&sched("0 6 * * FRI,SAT,SUN", "UTC"), start, 15);
        for expr in ["0 6 * * 5-7", "0 6 * * 5,6,0", "0 6 * * fri-sat,7"] {
            assert_eq!(fires(&sched(expr, "UTC"), start, 15), weekend, "{expr}");
        }
        let days: Vec<Weekday> = weekend.iter().take(3).map(Datelike::weekday).collect();
        assert_eq!(days, [Weekday::Fri, Weekday::Sat, Weekday::Sun]);
        let months = fires(&sched("0 0 1 3,6 *", "UTC"), start, 4);
        for expr in ["0 0 1 MAR,JUN *", "0 0 1 mar,Jun *", "0 0 1 3-6/3 *"] {
            assert_eq!(fires(&sched(expr, "UTC"), start, 4), months, "{expr}");
        }
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        // Every 13th and every Friday: January 2024 Fridays are 5, 12, 19, 26; the 13ths of
        // January, February and March fall on Sat, Tue, Wed. (The cron crate alone would give
        // only Friday the 13th: 2024-09-13.)
        let s = sched("0 0 13 * FRI", "UTC");
        let want: Vec<DateTime<Utc>> = [
            (1, 5),
            (1, 12),
            (1, 13),
            (1, 19),
            (1, 26),
            (2, 2),
            (2, 9),
            (2, 13),
            (2, 16),
            (2, 23),
            (3, 1),
            (3, 8),
            (3, 13),
            (3, 15),
        ]
        .iter()
        .map(|&(m, d)| utc(2024, m, d, 0, 0, 0))
        .collect();
        assert_eq!(fires(&s, utc(2024, 1, 1, 0, 0, 0), want.len()), want);

        // A leading * on either day field means AND, and a starred field selecting every day
        // then restricts nothing: every 13th (Jan 13 is a Saturday), every Friday.
        let and = sched("0 0 13 * */1", "UTC");
        assert_eq!(
            and.next_after(utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2024, 1, 13, 0, 0, 0))
        );
        let and = sched("0 0 */1 * FRI", "UTC");
        assert_eq!(
            and.next_after(utc(2024, 1, 1, 0, 0, 0)),
            Some(utc(2024, 1, 5, 0, 0, 0))
        );
        // AND with a starred step: odd-numbered Mondays (Jan 1, 15, 29, then Feb 5).
        let odd_mondays = sched("0 0 */2 * 1", "UTC");
        assert_eq!(
            fires(&odd_mondays, utc(2023, 12, 31, 0, 0, 0), 4),
            [
                utc(2024, 1, 1, 0, 0, 0),
                utc(2024, 1, 15, 0, 0, 0),
                utc(2024, 1, 29, 0, 0, 0),
                utc(2024, 2, 5, 0, 0, 0)
            ]
        );
    }

    /// Cross-check against an independent minute-by-minute scan with hand-written predicates.
    #[test]
    fn agrees_with_brute_force_scan() {
        type Pred = fn(&DateTime<Utc>) -> bool;
        #[rustfmt::skip]
        let cases: &[(&str, Pred)] = &[
            ("0 0 13 * FRI", |t| t.hour() == 0 && t.minute() == 0 && (t.day() == 13 || t.weekday() == Weekday::Fri)),
            ("0 0 */2 * MON", |t| t.hour() == 0 && t.minute() == 0 && t.day() % 2 == 1 && t.weekday() == Weekday::Mon),
            ("0 0 1-31/2 * MON", |t| t.hour() == 0 && t.minute() == 0 && (t.day() % 2 == 1 || t.weekday() == Weekday::Mon)),
            ("30 4 1,15 * 5", |t| t.hour() == 4 && t.minute() == 30 && (t.day() == 1 || t.day() == 15 || t.weekday() == Weekday::Fri)),
            ("0 9 * * 1-5", |t| t.hour() == 9 && t.minute() == 0 && t.weekday().number_from_monday() <= 5),
            ("15 */6 * * *", |t| t.hour() % 6 == 0 && t.minute() == 15),
            ("0 12 * JAN,JUL *", |t| t.hour() == 12 && t.minute() == 0 && (t.month() == 1 || t.month() == 7)),
            ("0 0 29 2 *", |t| t.hour() == 0 && t.minute() == 0 && t.month() == 2 && t.day() == 29),
            ("0 0 29 2 MON", |t| t.hour() == 0 && t.minute() == 0 && t.month() == 2 && (t.day() == 29 || t.weekday() == Weekday::Mon)),
            ("5/20 1 * * 5-7", |t| t.hour() == 1 && [5, 25, 45].contains(&t.minute()) && matches!(t.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun)),
            ("0 0 31 * *", |t| t.hour() == 0 && t.minute() == 0 && t.day() == 31),
            ("@weekly", |t| t.hour() == 0 && t.minute() == 0 && t.weekday() == Weekday::Sun),
            ("@monthly", |t| t.hour() == 0 && t.minute() == 0 && t.day() == 1),
            ("*/7 3 * * SUN", |t| t.hour() == 3 && t.minute() % 7 == 0 && t.weekday() == Weekday::Sun),
            ("0 0 1-7 * 1", |t| t.hour() == 0 && t.minute() == 0 && (t.day() <= 7 || t.weekday() == Weekday::Mon)),
            ("0 8-17/3 * * 0,6", |t| [8, 11, 14, 17].contains(&t.hour()) && t.minute() == 0 && matches!(t.weekday(), Weekday::Sat | Weekday::Sun)),
            ("0 0 31 1-12/2 *", |t| t.hour() == 0 && t.minute() == 0 && t.day() == 31 && t.month() % 2 == 1),
        ];
        let from = utc(2023, 12, 20, 0, 0, 0);
        let to = utc(2025, 3, 1, 0, 0, 0);
        for &(expr, pred) in cases {
            let mut want = Vec::new();
            let mut t = from + TimeDelta::minutes(1);
            while t <= to {
                if pred(&t) {
                    want.push(t);
                }
                t += TimeDelta::minutes(1);
            }
            let s = sched(expr, "UTC");
            let got: Vec<DateTime<Utc>> =
                std::iter::successors(s.next_after(from), |&t| s.next_after(t))
                    .take_while(|&t| t <= to)
                    .collect();
            assert!(!want.is_empty(), "{expr}");
            assert_eq!(got, want, "{expr}");
        }
    }

    #[test]
    fn time_zones() {
        // 09:00 in Shanghai (UTC+8, no DST) is 01:00 UTC.
        let s = sched("0 9 * * *", "Asia/Shanghai");
        assert_eq!(
            s.next_after(utc(2024, 1, 15, 0, 0, 0)),
            Some(utc(2024, 1, 15, 1, 0, 0))
        );
        assert_eq!(
            s.next_after(utc(2024, 1, 15, 1, 0, 0)),
            Some(utc(2024, 1, 16, 1, 0, 0))
        );
        // Default zone.
        let d = sched("0 9 * * *", "");
        assert_eq!(d.timezone(), chrono_tz::Asia::Shanghai);
        assert_eq!(
            d.next_after(utc(2024, 1, 15, 0, 0, 0)),
            Some(utc(2024, 1, 15, 1, 0, 0))
        );
        assert_eq!(sched("@daily", "  ").timezone().name(), DEFAULT_TIMEZONE);
        // Day-of-week is the zone's: 2024-01-14 23:00 UTC is already Monday 07:00 in Shanghai.
        let monday = sched("0 8 * * MON", "Asia/Shanghai");
        assert_eq!(
            monday.next_after(utc(2024, 1, 14, 23, 0, 0)),
            Some(utc(2024, 1, 15, 0, 0, 0))
        );
        // Local midnight in Los Angeles (UTC-8 in January) is 08:00 UTC.
        let la = sched("0 0 * * *", "America/Los_Angeles");
        assert_eq!(
            la.next_after(utc(2024, 1, 15, 10, 30, 0)),
            Some(utc(2024, 1, 16, 8, 0, 0))
        );
        // Half-hour offset: 09:00 IST (UTC+5:30) is 03:30 UTC.
        let ist = sched("0 9 * * *", "Asia/Kolkata");
        assert_eq!(
            ist.next_after(utc(2024, 1, 15, 0, 0, 0)),
            Some(utc(2024, 1, 15, 3, 30, 0))
        );
        // upcoming() reports in the schedule's zone.
        let up = s.upcoming(utc(2024, 1, 15, 0, 0, 0), 3);
        assert_eq!(up.len(), 3);
        for (t, day) in up.iter().zip(15..) {
            assert_eq!(t.timezone(), chrono_tz::Asia::Shanghai);
            assert_eq!(
                t.naive_local().time(),
                NaiveTime::from_hms_opt(9, 0, 0).expect("time")
            );
            assert_eq!(t.day(), day);
        }
        assert_eq!(up[0].to_rfc3339(), "2024-01-15T09:00:00+08:00");
        assert!(s.upcoming(utc(2024, 1, 15, 0, 0, 0), 0).is_empty());
    }

    // America/New_York 2024 (zdump): 2024-03-10 01:59:59 EST is followed by 03:00:00 EDT at
    // 07:00 UTC; 2024-11-03 01:59:59 EDT (05:59:59 UTC) is followed by 01:00:00 EST at 06:00 UTC,
    // so 01:00-01:59 occurs at 05:00-05:59 UTC (EDT) and again at 06:00-06:59 UTC (EST).

    #[test]
    fn dst_gap_fixed_time_fires_at_end_of_gap() {
        let ny = "America/New_York";
        // 02:30 does not exist on 03-10: fire at 03:00 EDT (07:00 UTC); next day 02:30 EDT.
        let s = sched("30 2 * * *", ny);
        assert_eq!(
            fires(&s, utc(2024, 3, 9, 12, 0, 0), 3),
            [
                utc(2024, 3, 10, 7, 0, 0),
                utc(2024, 3, 11, 6, 30, 0),
                utc(2024, 3, 12, 6, 30, 0)
            ]
        );
        // Several matches in the gap, and one at the gap's end, coalesce into one run.
        for expr in ["0,30 2 * * *", "0 2,3 * * *", "0,30 2-3 * * *"] {
            let s = sched(expr, ny);
            let got = fires(&s, utc(2024, 3, 10, 6, 0, 0), 1);
            assert_eq!(got, [utc(2024, 3, 10, 7, 0, 0)], "{expr}");
            let after = s.next_after(utc(2024, 3, 10, 7, 0, 0));
            assert!(after > Some(utc(2024, 3, 10, 7, 0, 0)), "{expr}: {after:?}");
        }
        assert_eq!(
            sched("0,30 2-3 * * *", ny).next_after(utc(2024, 3, 10, 7, 0, 0)),
            Some(utc(2024, 3, 10, 7, 30, 0))
        );
        // Europe/Berlin: 2024-03-31 02:00 CET -> 03:00 CEST at 01:00 UTC.
        let berlin = sched("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            fires(&berlin, utc(2024, 3, 30, 12, 0, 0), 2),
            [utc(2024, 3, 31, 1, 0, 0), utc(2024, 4, 1, 0, 30, 0)]
        );
        // America/Havana skips midnight: 2024-03-10 00:00 CST -> 01:00 CDT at 05:00 UTC.
        let havana = sched("@daily", "America/Havana");
        assert_eq!(
            fires(&havana, utc(2024, 3, 9, 12, 0, 0), 2),
            [utc(2024, 3, 10, 5, 0, 0), utc(2024, 3, 11, 4, 0, 0)]
        );
        // Pacific/Apia skipped all of 2011-12-30: 12-29 23:59:59 -10 (12-30 09:59:59 UTC) was
        // followed by 12-31 00:00 +14. Noon on the 29th is 22:00 UTC; the 30th's noon fires when
        // the clocks resume (10:00 UTC); noon on the 31st is 22:00 UTC on the 30th.
        let apia = sched("0 12 * * *", "Pacific/Apia");
        assert_eq!(
            fires(&apia, utc(2011, 12, 29, 0, 0, 0), 3),
            [
                utc(2011, 12, 29, 22, 0, 0),
                utc(2011, 12, 30, 10, 0, 0),
                utc(2011, 12, 30, 22, 0, 0)
            ]
        );
        // A wildcard schedule just loses the day.
        let apia_hourly = sched("0 * * * *", "Pacific/Apia");
        assert_eq!(
            fires(&apia_hourly, utc(2011, 12, 30, 9, 0, 0), 2),
            [utc(2011, 12, 30, 10, 0, 0), utc(2011, 12, 30, 11, 0, 0)]
        );
    }

    #[test]
    fn dst_gap_wildcard_skips_missing_times() {
        let ny = "America/New_York";
        // 01:30 EST, (02:30 does not exist), 03:30 EDT: hourly in absolute time.
        let s = sched("30 * * * *", ny);
        assert_eq!(
            fires(&s, utc(2024, 3, 10, 6, 0, 0), 3),
            [
                utc(2024, 3, 10, 6, 30, 0),
                utc(2024, 3, 10, 7, 30, 0),
                utc(2024, 3, 10, 8, 30, 0)
            ]
        );
        let quarter = sched("*/15 * * * *", ny);
        assert_eq!(
            fires(&quarter, utc(2024, 3, 10, 6, 40, 0), 3),
            [
                utc(2024, 3, 10, 6, 45, 0),
                utc(2024, 3, 10, 7, 0, 0),
                utc(2024, 3, 10, 7, 15, 0)
            ]
        );
        // Minute field starts with *: wildcard, so nothing on 03-10 at all.
        let two_am = sched("* 2 * * *", ny);
        assert_eq!(
            two_am.next_after(utc(2024, 3, 10, 5, 0, 0)),
            Some(utc(2024, 3, 11, 6, 0, 0))
        );
    }

    #[test]
    fn dst_overlap_fixed_time_fires_once_at_first_occurrence() {
        let ny = "America/New_York";
        let s = sched("30 1 * * *", ny);
        // 01:30 EDT = 05:30 UTC; 01:30 EST (06:30 UTC) is skipped; next is 11-04 01:30 EST.
        assert_eq!(
            fires(&s, utc(2024, 11, 2, 12, 0, 0), 2),
            [utc(2024, 11, 3, 5, 30, 0), utc(2024, 11, 4, 6, 30, 0)]
        );
        // Starting inside the second pass, before 01:30 EST, still skips it (the cron crate
        // alone would return 01:30 EDT here, which is before the start).
        assert_eq!(
            s.next_after(utc(2024, 11, 3, 6, 10, 0)),
            Some(utc(2024, 11, 4, 6, 30, 0))
        );
        // Europe/Berlin: 2024-10-27 02:00-02:59 occurs at 00:00 UTC (CEST) and 01:00 UTC (CET).
        let berlin = sched("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            fires(&berlin, utc(2024, 10, 26, 12, 0, 0), 2),
            [utc(2024, 10, 27, 0, 30, 0), utc(2024, 10, 28, 1, 30, 0)]
        );
        // Havana repeats midnight (01:00 CDT -> 00:00 CST at 05:00 UTC): @daily fires at the
        // first midnight, 04:00 UTC, only.
        let havana = sched("@daily", "America/Havana");
        assert_eq!(
            fires(&havana, utc(2024, 11, 2, 12, 0, 0), 2),
            [utc(2024, 11, 3, 4, 0, 0), utc(2024, 11, 4, 5, 0, 0)]
        );
    }

    #[test]
    fn dst_overlap_wildcard_fires_in_both_passes() {
        let ny = "America/New_York";
        let s = sched("30 * * * *", ny);
        // 00:30 EDT, 01:30 EDT, 01:30 EST, 02:30 EST: hourly in absolute time.
        assert_eq!(
            fires(&s, utc(2024, 11, 3, 4, 0, 0), 4),
            [
                utc(2024, 11, 3, 4, 30, 0),
                utc(2024, 11, 3, 5, 30, 0),
                utc(2024, 11, 3, 6, 30, 0),
                utc(2024, 11, 3, 7, 30, 0)
            ]
        );
        // From 01:50 EDT (first pass) the next is 01:00 EST, a wall time earlier than the start.
        let twenty = sched("*/20 * * * *", ny);
        assert_eq!(
            fires(&twenty, utc(2024, 11, 3, 5, 30, 0), 6),
            [
                utc(2024, 11, 3, 5, 40, 0),
                utc(2024, 11, 3, 6, 0, 0),
                utc(2024, 11, 3, 6, 20, 0),
                utc(2024, 11, 3, 6, 40, 0),
                utc(2024, 11, 3, 7, 0, 0),
                utc(2024, 11, 3, 7, 20, 0)
            ]
        );
        assert_eq!(
            twenty.next_after(utc(2024, 11, 3, 5, 50, 0)),
            Some(utc(2024, 11, 3, 6, 0, 0))
        );
        let hourly = sched("@hourly", ny);
        assert_eq!(
            fires(&hourly, utc(2024, 11, 3, 4, 30, 0), 3),
            [
                utc(2024, 11, 3, 5, 0, 0),
                utc(2024, 11, 3, 6, 0, 0),
                utc(2024, 11, 3, 7, 0, 0)
            ]
        );
    }

    /// Wall-clock matcher for the DST scan below.
    type WallPred = fn(&NaiveDateTime) -> bool;

    /// The documented DST policy re-implemented in the instant domain, independently of the
    /// wall-time search: scan every UTC minute, tracking the latest wall time seen so far. A wall
    /// time not later than that is a repeat (fires only for wildcard schedules); a jump of more
    /// than a minute skips wall times (a fixed-time schedule fires at the jump if any skipped
    /// wall time matched).
    fn policy_scan(
        tz: Tz,
        pred: WallPred,
        wildcard: bool,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let wall = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
        let minute = TimeDelta::minutes(1);
        let mut out = Vec::new();
        let mut latest = wall(from);
        let mut t = from + minute;
        while t <= to {
            let w = wall(t);
            if w <= latest {
                if wildcard && pred(&w) {
                    out.push(t);
                }
            } else {
                let skipped_match = !wildcard
                    && std::iter::successors(Some(latest + minute), |&x| Some(x + minute))
                        .take_while(|&x| x < w)
                        .any(|x| pred(&x));
                if pred(&w) || skipped_match {
                    out.push(t);
                }
                latest = w;
            }
            t += minute;
        }
        out
    }

    #[test]
    fn dst_policy_agrees_with_instant_scan() {
        #[rustfmt::skip]
        let cases: &[(&str, bool, WallPred)] = &[
            ("30 2 * * *", false, |w| w.hour() == 2 && w.minute() == 30),
            ("0,30 1,2 * * *", false, |w| (w.hour() == 1 || w.hour() == 2) && w.minute() % 30 == 0),
            ("0-59/30 1-3 * * *", false, |w| (1..=3).contains(&w.hour()) && w.minute() % 30 == 0),
            ("@daily", false, |w| w.hour() == 0 && w.minute() == 0),
            ("0 2 * * SUN", false, |w| w.hour() == 2 && w.minute() == 0 && w.weekday() == Weekday::Sun),
            ("15 0-3 * * *", false, |w| w.hour() <= 3 && w.minute() == 15),
            ("30 * * * *", true, |w| w.minute() == 30),
            ("*/20 * * * *", true, |w| w.minute() % 20 == 0),
            ("@hourly", true, |w| w.minute() == 0),
            ("* 2 * * *", true, |w| w.hour() == 2),
            ("45 */1 * * *", true, |w| w.minute() == 45),
        ];
        // Windows around each zone's 2024 transitions (zdump -v -c 2024,2025).
        let zones: &[(Tz, [(u32, u32); 2])] = &[
            (chrono_tz::America::New_York, [(3, 10), (11, 3)]),
            (chrono_tz::Europe::Berlin, [(3, 31), (10, 27)]),
            (chrono_tz::America::Havana, [(3, 10), (11, 3)]),
            // Lord Howe shifts by 30 minutes: back on 04-07, forward on 10-06.
            (chrono_tz::Australia::Lord_Howe, [(4, 7), (10, 6)]),
        ];
        for &(tz, days) in zones {
            for (month, day) in days {
                let from = utc(2024, month, day, 0, 0, 0) - TimeDelta::days(2);
                let to = from + TimeDelta::days(4);
                for &(expr, wildcard, pred) in cases {
                    let s = sched(expr, tz.name());
                    assert_eq!(s.wildcard, wildcard, "{expr}");
                    let want = policy_scan(tz, pred, wildcard, from, to);
                    let got: Vec<DateTime<Utc>> =
                        std::iter::successors(s.next_after(from), |&t| s.next_after(t))
                            .take_while(|&t| t <= to)
                            .collect();
                    assert_eq!(
                        got,
                        want,
                        "{expr} in {} around 2024-{month}-{day}",
                        tz.name()
                    );
                }
            }
        }
    }

    #[test]
    fn engine_horizon_and_floor() {
        let s = sched("0 0 1 1 *", "UTC");
        assert_eq!(
            fires(&s, utc(2099, 6, 1, 0, 0, 0), 5),
            [utc(2100, 1, 1, 0, 0, 0)],
            "nothing is computed after 2100"
        );
        assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC), None);
        assert_eq!(
            s.next_after(DateTime::<Utc>::MIN_UTC),
            Some(utc(1970, 1, 1, 0, 0, 0))
        );
        // After 2096 the next February 29th is in 2104 (2100 is not a leap year): out of range.
        let leap = sched("0 0 29 2 *", "UTC");
        assert_eq!(leap.next_after(utc(2096, 3, 1, 0, 0, 0)), None);
    }

    #[test]
    fn schedule_is_shareable_across_tasks() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Schedule>();
        assert_send_sync::<ScheduleError>();
    }

    #[test]
    fn accessors_and_display() {
        let s = sched("  0 9 * * MON-FRI ", "Europe/Berlin");
        assert_eq!(s.expression(), "0 9 * * MON-FRI");
        assert_eq!(s.timezone(), chrono_tz::Europe::Berlin);
        assert_eq!(s.to_string(), "0 9 * * MON-FRI (Europe/Berlin)");
        assert_eq!(sched("@daily", "").to_string(), "@daily (Asia/Shanghai)");
    }

    #[test]
    fn refusals_name_field_and_text() {
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("", "empty cron expression: expected five fields (minute hour day-of-month month day-of-week), six with a leading second field, or an @-shortcut"),
            ("* * * *", "cron expression \"* * * *\" has 4 fields; expected five (minute hour day-of-month month day-of-week) or six (second minute hour day-of-month month day-of-week)"),
            ("0 0 0 1 1 ? 2024", "cron expression \"0 0 0 1 1 ? 2024\" has 7 fields; expected five (minute hour day-of-month month day-of-week) or six (second minute hour day-of-month month day-of-week)"),
            ("0 0 L * *", "day-of-month field \"L\": \"L\" uses Quartz's \"L\" (last day) marker, which crontab(5) does not define"),
            ("0 0 * * 5L", "day-of-week field \"5L\": \"5L\" uses Quartz's \"L\" (last day) marker, which crontab(5) does not define"),
            ("0 0 15W * *", "day-of-month field \"15W\": \"15W\" uses Quartz's \"W\" (nearest weekday) marker, which crontab(5) does not define"),
            ("0 0 LW * *", "day-of-month field \"LW\": \"LW\" uses Quartz's \"W\" (nearest weekday) marker, which crontab(5) does not define"),
            ("0 0 * * 5#3", "day-of-week field \"5#3\": \"5#3\" uses Quartz's \"#\" (nth weekday of the month) marker, which crontab(5) does not define"),
            ("0 0 ? * MON", "day-of-month field \"?\": \"?\" uses Quartz's \"?\" (no specific value) marker, which crontab(5) does not define"),
            ("60 * * * *", "minute field \"60\": \"60\" is out of range; allowed values are 0-59"),
            ("0 24 * * *", "hour field \"24\": \"24\" is out of range; allowed values are 0-23"),
            ("0 0 0 * *", "day-of-month field \"0\": \"0\" is out of range; allowed values are 1-31"),
            ("0 0 1-32 * *", "day-of-month field \"1-32\": \"32\" is out of range; allowed values are 1-31"),
            ("0 0 * 13 *", "month field \"13\": \"13\" is out of range; allowed values are 1-12"),
            ("0 0 * 0 *", "month field \"0\": \"0\" is out of range; allowed values are 1-12"),
            ("0 0 * * 8", "day-of-week field \"8\": \"8\" is out of range; allowed values are 0-7"),
            ("60 0 0 * * *", "second field \"60\": \"60\" is out of range; allowed values are 0-59"),
            ("99999999999 * * * *", "minute field \"99999999999\": \"99999999999\" is out of range; allowed values are 0-59"),
            ("5-1 * * * *", "minute field \"5-1\": range \"5-1\" (5-1) is reversed; crontab ranges run low to high and do not wrap"),
            ("0 22-2 * * *", "hour field \"22-2\": range \"22-2\" (22-2) is reversed; crontab ranges run low to high and do not wrap"),
            ("0 0 * * FRI-SUN", "day-of-week field \"FRI-SUN\": range \"FRI-SUN\" (5-0) is reversed; Sunday is 0 at the start of the week, so to run through Sunday write 5-7"),
            ("*/0 * * * *", "minute field \"*/0\": step 0 in \"*/0\"; a step must be 1 or more"),
            ("0 1-5/0 * * *", "hour field \"1-5/0\": step 0 in \"1-5/0\"; a step must be 1 or more"),
            ("1,,2 * * * *", "minute field \"1,,2\": empty list element (stray comma?)"),
            ("1, * * * *", "minute field \"1,\": empty list element (stray comma?)"),
            ("1- * * * *", "minute field \"1-\": cannot read \"1-\": expected *, a number, a name, a range a-b, or one of those with a step /n"),
            ("*/ * * * *", "minute field \"*/\": cannot read \"*/\": expected *, a number, a name, a range a-b, or one of those with a step /n"),
            ("1-2-3 * * * *", "minute field \"1-2-3\": cannot read \"1-2-3\": expected *, a number, a name, a range a-b, or one of those with a step /n"),
            ("*/5/2 * * * *", "minute field \"*/5/2\": cannot read \"*/5/2\": expected *, a number, a name, a range a-b, or one of those with a step /n"),
            ("-5 * * * *", "minute field \"-5\": cannot read \"-5\": expected *, a number, a name, a range a-b, or one of those with a step /n"),
            ("0 0 * * MON/FRI", "day-of-week field \"MON/FRI\": cannot read \"MON/FRI\": expected *, a number, a name, a range a-b, or one of those with a step /n"),
            ("JAN * * * *", "minute field \"JAN\": \"JAN\": names are allowed only in the month (JAN-DEC) and day-of-week (SUN-SAT) fields"),
            ("0 0 * FOO *", "month field \"FOO\": \"FOO\" is not a month name; use one of JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC"),
            ("0 0 * * MONDAY", "day-of-week field \"MONDAY\": \"MONDAY\" is not a day-of-week name; use one of SUN MON TUE WED THU FRI SAT"),
            ("0 0 30 2 *", "day-of-month field \"30\" with month field \"2\" can never fire: none of those months has any of those days (February has at most 29, April, June, September and November 30)"),
            ("0 0 31 4,6,9,11 *", "day-of-month field \"31\" with month field \"4,6,9,11\" can never fire: none of those months has any of those days (February has at most 29, April, June, September and November 30)"),
            ("0 0 30,31 FEB *", "day-of-month field \"30,31\" with month field \"FEB\" can never fire: none of those months has any of those days (February has at most 29, April, June, September and November 30)"),
            ("0 0 31 APR */1", "day-of-month field \"31\" with month field \"APR\" can never fire: none of those months has any of those days (February has at most 29, April, June, September and November 30)"),
            ("@reboot", "shortcut \"@reboot\": @reboot means \"once when the cron daemon starts\", which is not a time a schedule can compute; write a time-based expression instead"),
            ("@fortnightly", "shortcut \"@fortnightly\": unknown shortcut; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly (lower case)"),
            ("@DAILY", "shortcut \"@DAILY\": unknown shortcut; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly (lower case)"),
            ("@daily 5", "shortcut \"@daily 5\": a shortcut must be the whole expression"),
        ];
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|&(expr, want)| {
                let got = parse_err(expr);
                (got != want).then(|| format!("{expr:?}:\n  want {want}\n  got  {got}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));

        // OR rule: a day-of-month that never occurs is fine when day-of-week can fire instead
        // (Mondays in February).
        assert!(Schedule::parse("0 0 30 2 MON", "UTC").is_ok());

        assert_eq!(
            Schedule::parse("0 9 * * *", "Mars/Olympus_Mons").map_err(|e| e.to_string()),
            Err("time zone \"Mars/Olympus_Mons\" is not an IANA time zone name (for example \"Asia/Shanghai\" or \"Europe/Berlin\")".to_owned())
        );
        assert!(matches!(
            Schedule::parse("0 0 * * 5#3", "UTC"),
            Err(ScheduleError::Field {
                field: Field::DayOfWeek,
                ..
            })
        ));
    }
}
