//! What a sync run is asked to do: a sync resolved from the config against the catalogue and
//! the loaded plugins ([`SyncSpec`]), its two endpoints and the `newest_wins` clock rule.

use super::*;

/// One end of a sync, resolved.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    /// The plugin.
    pub plugin: Arc<Plugin>,
    /// Its stream.
    pub stream: String,
    /// Records take part only if the value at each pointer equals the given one.
    pub filter: Vec<(String, Value)>,
}

/// A sync, resolved from the config against the catalogue and the loaded plugins.
#[derive(Debug, Clone)]
pub struct SyncSpec {
    /// Its name.
    pub name: String,
    /// The shared schema.
    pub schema: Arc<Schema>,
    /// Natural key: JSON pointers.
    pub key: Vec<String>,
    /// Which way records flow.
    pub direction: Direction,
    /// Endpoint `a`.
    pub a: EndpointSpec,
    /// Endpoint `b`.
    pub b: EndpointSpec,
    /// Field rules: JSON pointer → policy.
    pub rules: Vec<(String, FieldPolicy)>,
    /// Policy for fields not in `rules`.
    pub default_policy: FieldPolicy,
    /// How `newest_wins` orders two changes by the systems' clocks.
    pub newest: NewestRule,
    /// How each side, `[a, b]`, shows an ended record besides its connector's delete flag:
    /// (JSON pointer, value) pairs, from `[syncs.NAME.deletes]` (empty: only connector deletes).
    pub deletes: [Vec<(String, Value)>; 2],
    /// `[a, b]`: the side is told of an end natively (`deletes.native`, contract 0.2), not in
    /// field form.
    pub native_deletes: [bool; 2],
    /// Records per read or write call.
    pub batch_size: u32,
}

/// How `newest_wins` orders two systems' changes of a field by their update times
/// (`[syncs.NAME.merge] clock_skew` and `within_skew`): times more than `clock_skew` apart
/// decide; closer ones (the clocks cannot tell which change came first), or a missing time, go
/// to `within_skew`. The default, no skew and `a_wins`, decides by the times alone, a tie for
/// `a`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NewestRule {
    /// How far apart the two systems' clocks may be.
    pub clock_skew: std::time::Duration,
    /// Who decides two changes within `clock_skew` of each other.
    pub within_skew: Concurrent,
}

impl SyncSpec {
    /// The endpoint of `side`.
    pub fn endpoint(&self, side: Side) -> &EndpointSpec {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// Sides records are read from.
    pub fn read_sides(&self) -> &'static [Side] {
        match self.direction {
            Direction::AToB => &[Side::A],
            Direction::BToA => &[Side::B],
            Direction::Both => &[Side::A, Side::B],
        }
    }

    /// Sides records are written to.
    pub fn write_sides(&self) -> &'static [Side] {
        match self.direction {
            Direction::AToB => &[Side::B],
            Direction::BToA => &[Side::A],
            Direction::Both => &[Side::A, Side::B],
        }
    }
}
