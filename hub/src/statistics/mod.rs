//! Statistics (数据统计): the figures both bureaus report from (`hub stats`, `GET
//! /api/statistics`, `GET /api/statistics/csv`, the page `/statistics`).
//!
//! Four sections ([`Section`]):
//! - **workers** (务工人员): Zhenfeng workers in Huiyang by employment status, by employer (the
//!   employed only; the 20 largest and the rest together), by hometown township (户籍乡镇), and
//!   per month the new (新增: by the month of `registeredOn`, the registry's 登记日期) and the
//!   returned (返乡: a record whose status is `returned_home`, by the month of the update time
//!   of the system holding it so: ZF-REG marks a resident who came home 务工状态 3 and HY-ESMS
//!   cannot say it (it holds `left`), so that is the registry's 更新时间, the time of its last
//!   change of the record: neither system keeps the day of the return, and a later change of
//!   the record, by a clerk or by the hub, moves it). Where the settled record says `left` and
//!   a side holds the registry's finer `returned_home` or `lost_contact`, that one counts
//!   ([`finer_status`]);
//! - **secondments** (医疗人才派驻): stays of clinicians by host facility and by batch, each
//!   split planned / serving now / completed (the `status` the roster settles), and how many
//!   clinicians (distinct people, counted in memory, never shown);
//! - **job-postings** (岗位): postings open and closed, and their headcount
//!   (`totalJobOpenings`), by enterprise;
//! - **referrals** (职业介绍): HY-ESMS's introductions of Zhenfeng workers to posts, by outcome
//!   (recommended, interviewed, hired, rejected, withdrawn) and by the posting's enterprise.
//!
//! Where the figures come from:
//! - workers, secondments and job postings: the **settled records in the state store**, every
//!   link of each loaded sync of schema `worker`, `secondment` and `job-posting` (keys held by
//!   more than one such sync count once): a link's base, the record both systems were brought
//!   to at its key's last complete reconcile, opened with the state key through
//!   [`crate::sync::link_seal::unseal`]. A key that never settled (a dead letter, a record
//!   refused by the schema) has no base and is not counted; a key ended by a soft delete on
//!   either side (a tombstone) is counted apart as ended. So the figures are the synced
//!   records, agreed by both systems, as of each sync's last run, and cost no system a request.
//! - referrals: **read on demand** through each loaded connector stream of schema `referral`
//!   (HY-ESMS's read-only `referrals`, contract 0.2), whole, from the beginning, as the
//!   reconciliation report reads ([`crate::sync::compare`]): no sync carries referrals, since
//!   no other system holds them (a sync needs a second end to write to, and the Zhenfeng side
//!   only wants the figures), so there is no settled copy to read, and keeping one only for
//!   counting would put personal data (who was introduced where) in the store for nothing.
//!   Each record is validated against the `referral` schema (an invalid one is counted, not
//!   used); soft-deleted ones are counted apart. A referral counts when its worker is a
//!   Zhenfeng worker of the workers section (matched by identity number, in memory); the others
//!   (job seekers who are not Zhenfeng workers) are counted as one figure. Its enterprise is
//!   the one of its posting in the job-postings section (`jobPosting.identifier`), or
//!   "未知岗位 unknown posting".
//!
//! No personal data is in the figures: no names, identity numbers or phones, never a row per
//! person; small counts are shown as they are. Months are in the deployment's zone.
//!
//! Nothing is written anywhere: the state store is only read, connectors are only read.
//!
//! **Owns** the figures and their CSV and pages' data. **May not touch** anything that writes:
//! no store row, no connector write, no link.

//!
//! The parts: [`model`] (the sections and their figures), [`figures`] (records in, figures
//! out), [`sources`] (reading the store and the connectors: [`Statistician`]), and one file
//! per rendering: [`text`] (for people), [`csv`] (for spreadsheets), [`page`] (the page's
//! charts and tables); the JSON is [`Statistics`] serialised.

mod csv;
mod figures;
mod model;
pub mod page;
mod sources;
mod text;

pub use csv::CsvEncoding;
pub use figures::{
    ReferralRecord, WorkerRecord, month_in, posting_stats, referral_stats, secondment_stats,
    worker_stats,
};
pub use model::{
    Count, MonthRow, OUTCOMES, OutcomeRow, PostingRow, PostingStats, ReferralStats,
    SecondmentStats, Section, SourceNote, Statistics, StayRow, TOP_EMPLOYERS, WORKER_STATUSES,
    WorkerStats,
};
pub use sources::{Statistician, finer_status, returned_at};

#[cfg(test)]
mod tests;
