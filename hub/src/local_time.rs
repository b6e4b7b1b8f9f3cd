//! Times as people read them: in the deployment's zone (`[hub] timezone`, an IANA name, default
//! Asia/Shanghai like the syncs' schedules), as `2026-12-04 10:26:10` (ISO 8601 date and time to
//! the second; the page or the list heading names the zone once). The admin API writes RFC 3339
//! in UTC (`2026-12-04T02:26:10.123Z`), as the state store does.

/// `rfc3339` (as the state store writes times, e.g. `2026-12-04T02:26:10.123Z`) in `zone`:
/// `2026-12-04 10:26:10`. Text that is not RFC 3339 comes back unchanged.
pub fn for_people(rfc3339: &str, zone: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_string())
}

/// The time now in `zone`, as [`for_people`] writes times.
pub fn now_for_people(zone: chrono_tz::Tz) -> String {
    chrono::Utc::now()
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The `n` days in `zone` that end with the one holding `now`, oldest first: each local date
/// with the instant it begins (its first local time: midnight, or the first time after a
/// daylight-saving gap that skips midnight).
pub fn last_days(
    zone: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
    n: u32,
) -> Vec<(chrono::NaiveDate, chrono::DateTime<chrono::Utc>)> {
    use chrono::TimeZone as _;
    let today = now.with_timezone(&zone).date_naive();
    (0..n)
        .rev()
        .filter_map(|back| today.checked_sub_days(chrono::Days::new(u64::from(back))))
        .map(|day| {
            // The first quarter hour of the day that exists in the zone (every offset in use
            // is a whole number of quarter hours).
            let start = (0..96)
                .find_map(|q| {
                    zone.from_local_datetime(&day.and_hms_opt(q / 4, (q % 4) * 15, 0)?)
                        .earliest()
                })
                .map_or(now, |t| t.with_timezone(&chrono::Utc));
            (day, start)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{for_people, last_days};

    #[test]
    fn the_last_days_begin_at_local_midnight() {
        // 2026-12-04 02:26 UTC is 10:26 in Shanghai: the last 3 days there are 12-02 to 12-04,
        // each beginning at 16:00 UTC the day before.
        let now = "2026-12-04T02:26:10Z".parse().unwrap();
        let days: Vec<(String, String)> = last_days(chrono_tz::Asia::Shanghai, now, 3)
            .into_iter()
            .map(|(d, t)| (d.to_string(), t.to_rfc3339()))
            .collect();
        assert_eq!(
            days,
            [
                ("2026-12-02", "2026-12-01T16:00:00+00:00"),
                ("2026-12-03", "2026-12-02T16:00:00+00:00"),
                ("2026-12-04", "2026-12-03T16:00:00+00:00"),
            ]
            .map(|(d, t)| (d.to_string(), t.to_string()))
        );
        // In UTC the same instant is still 12-04, from 00:00.
        let utc = last_days(chrono_tz::UTC, now, 1);
        assert_eq!(utc[0].1.to_rfc3339(), "2026-12-04T00:00:00+00:00");
        // Santiago (Chile) moved its clocks from 00:00 to 01:00 on 2026-09-06: that day
        // begins at 01:00 local, 04:00 UTC (UTC−3 from then on).
        let chile = last_days(
            chrono_tz::America::Santiago,
            "2026-09-06T12:00:00Z".parse().unwrap(),
            1,
        );
        assert_eq!(
            (chile[0].0.to_string(), chile[0].1.to_rfc3339()),
            (
                "2026-09-06".to_string(),
                "2026-09-06T04:00:00+00:00".to_string()
            )
        );
    }
    use chrono_tz::{Asia::Shanghai, UTC};

    #[test]
    fn store_times_are_shown_in_the_deployments_zone() {
        // China Standard Time is UTC+8 all year (no daylight saving since 1991).
        assert_eq!(
            for_people("2026-12-04T02:26:10.123Z", Shanghai),
            "2026-12-04 10:26:10"
        );
        assert_eq!(
            for_people("2026-12-31T16:00:00Z", Shanghai),
            "2027-01-01 00:00:00"
        );
        assert_eq!(
            for_people("2026-12-04T10:26:10+08:00", UTC),
            "2026-12-04 02:26:10"
        );
        assert_eq!(for_people("not a time", Shanghai), "not a time");
    }
}
