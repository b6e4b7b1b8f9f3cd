//! Messages into the hub's log (`tracing`), tagged with the plugin's name by the host.
//!
//! Do not log personal data (names, identity numbers, phones): the host masks identity and
//! phone numbers as a safety net, not as permission.

use crate::bindings::hub::connector::host;
use crate::bindings::hub::connector::types::Level;

/// Logs `message` at `level`.
pub fn log(level: Level, message: &str) {
    host::log(level, message);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

/// Logs at info level.
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// Logs at error level.
pub fn error(message: &str) {
    log(Level::Error, message)
}
