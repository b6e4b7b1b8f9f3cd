//! Crash points: fault injection for tests, at every step of a sync run where a process could
//! die with work half done.
//!
//! A test gives the engine a [`CrashHook`] (`Engine::with_crash_hook`, only with the
//! `test-support` feature); at each [`CrashPoint`] the engine asks it, and when it answers
//! `true` the run stops there as if the process had been killed: nothing more is written to the
//! store (the run is not finished in the history, the lease is not given back) and the run
//! returns [`Crashed`]. A daemon never sets a hook.
//!
//! The points lie between the store's transactions. A crash inside one is the crash point just
//! before it, since each commits all or nothing (SQLite's and PostgreSQL's own guarantee); the
//! real processes killed inside their commits are `bench/chaos`'s.

use crate::store::Side;
use std::sync::Arc;

/// A step of a run where a crash can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// A batch was read from the side; nothing of it is staged yet.
    AfterRead(Side),
    /// A read batch is staged in memory; its commit (links, dead letters, cursor) has not begun.
    BeforeCursorCommit(Side),
    /// The intents of a batch of writes to the side are stored; the write call is not made.
    BeforeWrite(Side),
    /// A write call to the side returned; its results are not stored.
    AfterWrite(Side),
}

/// Asked at every crash point; `true` crashes the run there.
pub type CrashHook = Arc<dyn Fn(CrashPoint) -> bool + Send + Sync>;

/// A crash hook held by the engine (shown as `CrashHook` by `Debug`).
#[derive(Clone)]
pub(crate) struct Held(pub(crate) CrashHook);

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CrashHook")
    }
}

/// The error of a run stopped at a crash point.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("crash injected at {0:?}")]
pub struct Crashed(pub CrashPoint);
