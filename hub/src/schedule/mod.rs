//! Scheduled sync runs: when a sync runs, and running it then.
//!
//! The schedule owns the crontab expressions of `[syncs.NAME] schedule` and their fire times
//! ([`cron`]: parsing crontab(5) text, time zones and daylight-saving transitions), the time
//! source schedules go by ([`clock`]: the system clock, the state store's clock, and a manual
//! clock for tests), and the loop that runs one sync on its schedule ([`drive`]: overlap,
//! catch-up, jitter, pause, manual triggers and claiming fire times among daemons). It starts
//! sync runs through a [`Runner`] and keeps its state in the state store; it does not know what
//! a run does (that is the sync engine's).
//!
//! **Owns** when a run starts (fire times, claims, jitter, pause, triggers). **May not touch**
//! a run's records, connectors or links: it calls its [`Runner`] and reads or writes only the
//! store's schedule, run and lease rows.

pub mod clock;
pub mod cron;
pub mod drive;

#[cfg(any(test, feature = "test-support"))]
pub use self::clock::ManualClock;
pub use self::clock::{BoxFuture, Clock, StoreClock, SystemClock};
pub use self::cron::{DEFAULT_TIMEZONE, Field, FieldProblem, LAST_YEAR, Schedule, ScheduleError};
pub use self::drive::{CLAIM_SPREAD, CONTROL_POLL, Policy, Runner, drive, jitter_delay};
