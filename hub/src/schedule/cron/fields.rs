//! Expanding crontab text into value sets: each field's numbers, names, ranges and steps read
//! as Vixie/ISC cron reads them ([`Spec`]), the `@`-shortcuts, and the canonical value lists
//! handed to the cron crate, which never sees an operator's text.

use super::{Field, FieldProblem, ScheduleError};
use std::str::FromStr;

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// Longest possible length of each month, index 0 = January (February counts leap years).
const MAX_DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Field {
    /// The names this field accepts and the value of the first one.
    fn names(self) -> Option<(&'static [&'static str], u32)> {
        match self {
            Field::Month => Some((&MONTH_NAMES, 1)),
            Field::DayOfWeek => Some((&DAY_NAMES, 0)),
            _ => None,
        }
    }
}

/// A crontab expression expanded to value sets (bit `v` set = value `v` selected).
#[derive(Debug)]
pub(super) struct Spec<'a> {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Bits 0–6, Sunday = 0 (7 already folded onto 0).
    days_of_week: u64,
    /// Vixie's `DOM_STAR || DOW_STAR`: the day fields combine with AND rather than OR.
    day_and: bool,
    /// Vixie's `MIN_STAR || HR_STAR`.
    pub(super) wildcard: bool,
    dom_text: &'a str,
    month_text: &'a str,
}

impl<'a> Spec<'a> {
    pub(super) fn parse(expression: &'a str) -> Result<Spec<'a>, ScheduleError> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        match fields.as_slice() {
            [] => Err(ScheduleError::Empty),
            [first, rest @ ..] if first.starts_with('@') => {
                let expanded = expand_shortcut(first, expression)?;
                if !rest.is_empty() {
                    return Err(ScheduleError::Shortcut {
                        text: expression.to_owned(),
                        reason: "a shortcut must be the whole expression",
                    });
                }
                let fields: Vec<&'static str> = expanded.split_whitespace().collect();
                match fields.as_slice() {
                    &[minute, hour, dom, month, dow] => {
                        Spec::from_fields(None, minute, hour, dom, month, dow)
                    }
                    _ => Err(ScheduleError::Engine {
                        expr: expression.to_owned(),
                        translated: expanded.to_owned(),
                        message: "shortcut expansion is not five fields".to_owned(),
                    }),
                }
            }
            &[minute, hour, dom, month, dow] => {
                Spec::from_fields(None, minute, hour, dom, month, dow)
            }
            &[second, minute, hour, dom, month, dow] => {
                Spec::from_fields(Some(second), minute, hour, dom, month, dow)
            }
            other => Err(ScheduleError::FieldCount {
                expr: expression.to_owned(),
                found: other.len(),
            }),
        }
    }

    fn from_fields(
        second: Option<&'a str>,
        minute: &'a str,
        hour: &'a str,
        dom: &'a str,
        month: &'a str,
        dow: &'a str,
    ) -> Result<Spec<'a>, ScheduleError> {
        // Parsed in field order, so the first bad field is the one reported.
        let seconds = match second {
            Some(text) => parse_field(Field::Second, text)?,
            None => 1,
        };
        let minutes = parse_field(Field::Minute, minute)?;
        let hours = parse_field(Field::Hour, hour)?;
        let days_of_month = parse_field(Field::DayOfMonth, dom)?;
        let months = parse_field(Field::Month, month)?;
        let mut days_of_week = parse_field(Field::DayOfWeek, dow)?;
        if days_of_week & (1 << 7) != 0 {
            // 7 is Sunday again.
            days_of_week = (days_of_week | 1) & !(1 << 7);
        }
        Ok(Spec {
            seconds,
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
            day_and: dom.starts_with('*') || dow.starts_with('*'),
            wildcard: minute.starts_with('*') || hour.starts_with('*'),
            dom_text: dom,
            month_text: month,
        })
    }

    /// Whether some selected month has some selected day of the month (in some year).
    fn day_of_month_can_fire(&self) -> bool {
        (1..=12u32).zip(MAX_DAYS_IN_MONTH).any(|(month, days)| {
            self.months & (1 << month) != 0
                && (1..=days).any(|d| self.days_of_month & (1 << d) != 0)
        })
    }

    /// The cron-crate schedules whose union is this spec.
    pub(super) fn engines(&self, expression: &str) -> Result<Vec<cron::Schedule>, ScheduleError> {
        let dom = list(self.days_of_month, 1, 31);
        // The cron crate numbers days of the week 1-7 from Sunday.
        let dow = list(self.days_of_week << 1, 1, 7);
        let day_pairs = if self.day_and {
            if !self.day_of_month_can_fire() {
                return Err(ScheduleError::NeverFires {
                    day_of_month: self.dom_text.to_owned(),
                    month: self.month_text.to_owned(),
                });
            }
            vec![(dom, dow)]
        } else {
            // Vixie's OR: a day fires if it matches day-of-month or day-of-week. The day-of-week
            // half always fires, so the expression as a whole always can.
            let mut pairs = vec![("*".to_owned(), dow)];
            if self.day_of_month_can_fire() {
                pairs.push((dom, "*".to_owned()));
            }
            pairs
        };
        day_pairs
            .into_iter()
            .map(|(dom, dow)| {
                let translated = format!(
                    "{} {} {} {} {} {}",
                    list(self.seconds, 0, 59),
                    list(self.minutes, 0, 59),
                    list(self.hours, 0, 23),
                    dom,
                    list(self.months, 1, 12),
                    dow,
                );
                cron::Schedule::from_str(&translated).map_err(|e| ScheduleError::Engine {
                    expr: expression.to_owned(),
                    message: e.to_string(),
                    translated,
                })
            })
            .collect()
    }
}

/// `*` when every value in `min..=max` is set, else the explicit comma list.
fn list(bits: u64, min: u32, max: u32) -> String {
    let values: Vec<String> = (min..=max)
        .filter(|v| bits & (1 << v) != 0)
        .map(|v| v.to_string())
        .collect();
    if values.len() == (min..=max).count() {
        "*".to_owned()
    } else {
        values.join(",")
    }
}

/// The five-field form of a Vixie shortcut.
fn expand_shortcut(word: &str, expression: &str) -> Result<&'static str, ScheduleError> {
    let refuse = |reason| ScheduleError::Shortcut {
        text: expression.to_owned(),
        reason,
    };
    match word {
        "@yearly" | "@annually" => Ok("0 0 1 1 *"),
        "@monthly" => Ok("0 0 1 * *"),
        "@weekly" => Ok("0 0 * * 0"),
        "@daily" | "@midnight" => Ok("0 0 * * *"),
        "@hourly" => Ok("0 * * * *"),
        "@reboot" => Err(refuse(
            "@reboot means \"once when the cron daemon starts\", which is not a time a schedule can compute; write a time-based expression instead",
        )),
        _ => Err(refuse(
            "unknown shortcut; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly (lower case)",
        )),
    }
}

/// Expands one field to a bit set of its values (day-of-week still 0–7).
fn parse_field(field: Field, text: &str) -> Result<u64, ScheduleError> {
    let mut bits = 0u64;
    for element in text.split(',') {
        let (start, end, step) =
            parse_element(field, element).map_err(|problem| ScheduleError::Field {
                field,
                text: text.to_owned(),
                problem,
            })?;
        let mut value = Some(start);
        while let Some(v) = value.filter(|&v| v <= end) {
            bits |= 1 << v;
            value = v.checked_add(step);
        }
    }
    Ok(bits)
}

const QUARTZ_LAST: &str = "Quartz's \"L\" (last day) marker";
const QUARTZ_WEEKDAY: &str = "Quartz's \"W\" (nearest weekday) marker";
const QUARTZ_NTH: &str = "Quartz's \"#\" (nth weekday of the month) marker";
const QUARTZ_ANY: &str = "Quartz's \"?\" (no specific value) marker";

/// One list element as `(start, end, step)`, all within the field's bounds.
fn parse_element(field: Field, element: &str) -> Result<(u32, u32, u32), FieldProblem> {
    let unsupported = |meaning| FieldProblem::Unsupported {
        token: element.to_owned(),
        meaning,
    };
    if element.is_empty() {
        return Err(FieldProblem::EmptyElement);
    }
    if element.contains('#') {
        return Err(unsupported(QUARTZ_NTH));
    }
    if element.contains('?') {
        return Err(unsupported(QUARTZ_ANY));
    }
    let malformed = || FieldProblem::Malformed {
        token: element.to_owned(),
    };
    let (min, max) = field.bounds();
    let (base, step) = match element.split_once('/') {
        None => (element, None),
        Some((base, step)) => {
            if step.is_empty() || !step.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            // A step too large for u32 behaves like any step beyond the field's span.
            let step = step.parse::<u32>().unwrap_or(u32::MAX);
            if step == 0 {
                return Err(FieldProblem::ZeroStep {
                    token: element.to_owned(),
                });
            }
            (base, Some(step))
        }
    };
    let (start, end) = if base == "*" {
        (min, max)
    } else if let Some((a, b)) = base.split_once('-') {
        let start = parse_value(field, a, element)?;
        let end = parse_value(field, b, element)?;
        if start > end {
            return Err(if field == Field::DayOfWeek && end == 0 {
                FieldProblem::ReversedToSunday {
                    token: base.to_owned(),
                    start,
                }
            } else {
                FieldProblem::ReversedRange {
                    token: base.to_owned(),
                    start,
                    end,
                }
            });
        }
        (start, end)
    } else {
        let value = parse_value(field, base, element)?;
        // `a/n` is `a-max/n`; a bare `a` is just `a`.
        (value, if step.is_some() { max } else { value })
    };
    Ok((start, end, step.unwrap_or(1)))
}

/// One number or name.
fn parse_value(field: Field, token: &str, element: &str) -> Result<u32, FieldProblem> {
    let (min, max) = field.bounds();
    let day_field = matches!(field, Field::DayOfMonth | Field::DayOfWeek);
    let unsupported = |meaning| FieldProblem::Unsupported {
        token: token.to_owned(),
        meaning,
    };
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
        let out_of_range = || FieldProblem::OutOfRange {
            token: token.to_owned(),
            min,
            max,
        };
        let value = token.parse::<u32>().map_err(|_| out_of_range())?;
        return if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(out_of_range())
        };
    }
    if !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphabetic()) {
        let upper = token.to_ascii_uppercase();
        if let Some((names, first)) = field.names()
            && let Some((_, value)) = names.iter().zip(first..).find(|(name, _)| **name == upper)
        {
            return Ok(value);
        }
        return Err(match upper.as_str() {
            "L" if day_field => unsupported(QUARTZ_LAST),
            "W" | "LW" if day_field => unsupported(QUARTZ_WEEKDAY),
            _ => match field {
                Field::Month => FieldProblem::UnknownName {
                    token: token.to_owned(),
                    kind: "month",
                    list: "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC",
                },
                Field::DayOfWeek => FieldProblem::UnknownName {
                    token: token.to_owned(),
                    kind: "day-of-week",
                    list: "SUN MON TUE WED THU FRI SAT",
                },
                _ => FieldProblem::NameNotAllowed {
                    token: token.to_owned(),
                },
            },
        });
    }
    // `15W`, `5L`: a number with a Quartz suffix.
    if day_field {
        let upper = token.to_ascii_uppercase();
        let digits_then = |suffix: char| {
            upper.strip_suffix(suffix).is_some_and(|digits| {
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            })
        };
        if digits_then('W') {
            return Err(unsupported(QUARTZ_WEEKDAY));
        }
        if digits_then('L') {
            return Err(unsupported(QUARTZ_LAST));
        }
    }
    Err(FieldProblem::Malformed {
        token: element.to_owned(),
    })
}
