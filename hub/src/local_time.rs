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

#[cfg(test)]
mod tests {
    use super::for_people;
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
