//! The shared JSON Schemas of the hub (the treaty between the bureaus), the custom formats they
//! assert, and the normalisers that turn what real systems send into the canonical forms those
//! formats accept.
//!
//! This crate has no dependencies so that it can be linked into the host (`hub`), into every
//! connector component (through `hub-sdk`) and into the simulators alike.
//!
//! - [`catalogue`]: the schema files under `schemas/` (`common` and the entities `worker`,
//!   `enterprise`, `job-posting`, `referral`, `secondment`), embedded, and the versioning rule.
//! - [`id_number`]: resident identity numbers, GB 11643-1999 (check character by ISO 7064
//!   MOD 11-2).
//! - [`uscc`]: unified social credit codes, GB 32100-2015.
//! - [`phone`]: mainland mobile numbers.
//! - [`date`]: the three date forms the bureaus' systems write, to ISO 8601 `YYYY-MM-DD`; local
//!   date-times to RFC 3339 with the China Standard Time offset `+08:00`, or with the fixed
//!   offset ([`date::Offset`]) of a system whose clock is kept in another zone.
//! - [`text`]: full-width forms, ideographic spaces and trailing blanks.
//! - [`divisions`] (feature `divisions`): the GB/T 2260 division-code history since 1981.

pub mod catalogue;
pub mod date;
#[cfg(feature = "divisions")]
pub mod divisions;
pub mod id_number;
pub mod phone;
pub mod text;
pub mod uscc;
