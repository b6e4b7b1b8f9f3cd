//! The `hub:connector` contract versions this host speaks, one module per line (as Zed's
//! extension host keeps a `since_v0_x` module per extension API version).
//!
//! - [`v0_2`] is the host's own line (`wit/connector/v0.2.0`): its types are the types the
//!   rest of the hub speaks ([`crate::runtime::Batch`], [`crate::runtime::WriteResult`], ...),
//!   and the host interface is implemented there.
//! - [`v0_1`] adapts components built against 0.1.0, 0.1.1 and 0.1.2 (wasmtime links a
//!   component's `@0.1.0` imports to the `@0.1.2` host functions, semver-compatible): its host
//!   functions call the 0.2 ones, and its exports' answers are converted to 0.2 types (see
//!   [`v0_1::ADAPTS`] for what a 0.1 component cannot say).
//!
//! A new line gets a module of its own here; the older modules convert into the newest.

// The bindings wasmtime's `bindgen!` generates from the WIT files have no doc comments of their
// own: the WIT files' comments are their documentation.
#[allow(missing_docs)]
pub mod v0_1;
#[allow(missing_docs)]
pub mod v0_2;

use super::HostState;
use super::host::Version;
use wasmtime::component::{Component, ComponentExportIndex};

/// The contract lines this host loads, newest first: the newest version of each it implements.
pub const LINES: [Version; 2] = [Version(0, 2, 0), Version(0, 1, 2)];

/// The linked component, ready to instantiate, in the bindings of its contract line.
#[derive(Clone)]
pub(super) enum Pre {
    /// Built against 0.1.x; `normal_form` is its optional `normal-form` export (0.1.2).
    V0_1 {
        pre: v0_1::PluginPre<HostState>,
        normal_form: Option<ComponentExportIndex>,
    },
    /// Built against 0.2.x.
    V0_2(v0_2::PluginPre<HostState>),
}

impl Pre {
    /// The bindings of `version`'s line over a linked component.
    ///
    /// # Errors
    /// The component does not export what its line's world requires, said by wasmtime.
    pub(super) fn new(
        version: Version,
        component: &Component,
        pre: wasmtime::component::InstancePre<HostState>,
    ) -> wasmtime::Result<Pre> {
        if version.1 == 1 {
            let normal_form = component
                .get_export_index(None, v0_1::NORMAL_FORM_INTERFACE)
                .and_then(|i| component.get_export_index(Some(&i), "normal-form"));
            Ok(Pre::V0_1 {
                pre: v0_1::PluginPre::new(pre)?,
                normal_form,
            })
        } else {
            Ok(Pre::V0_2(v0_2::PluginPre::new(pre)?))
        }
    }

    /// The linked component without its bindings.
    pub(super) fn instance_pre(&self) -> &wasmtime::component::InstancePre<HostState> {
        match self {
            Pre::V0_1 { pre, .. } => pre.instance_pre(),
            Pre::V0_2(pre) => pre.instance_pre(),
        }
    }
}

/// What the host adapts for a component built against `version`, for people (`hub plugin
/// inspect`): `None` when the component speaks the host's own version.
pub fn adaptation(version: Version) -> Option<String> {
    match (version.0, version.1) {
        (0, 2) => None,
        (0, 1) => {
            let mut missing: Vec<&str> = Vec::new();
            if version.2 < 1 {
                missing.push("send-streaming (0.1.1): not called");
            }
            if version.2 < 2 {
                missing.push("normal-form: taken as storing what was sent");
            }
            missing.extend(v0_1::ADAPTS);
            Some(format!(
                "contract 0.1 adapter (host 0.2.0): {}",
                missing.join("; ")
            ))
        }
        _ => None,
    }
}

/// An instance's exports, in the bindings of its contract line.
pub(super) enum Exports {
    /// A 0.1.x component; `normal_form` its optional `normal-form` function (0.1.2), if it has
    /// one of the right type.
    V0_1 {
        plugin: v0_1::Plugin,
        normal_form: Option<v0_1::NormalFormFunc>,
    },
    /// A 0.2.x component.
    V0_2(v0_2::Plugin),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_older_component_is_told_what_the_host_adapts_and_a_0_2_one_nothing() {
        assert_eq!(adaptation(Version(0, 2, 0)), None);
        assert_eq!(
            adaptation(Version(0, 1, 2)).unwrap(),
            "contract 0.1 adapter (host 0.2.0): no native deletes (ends in field form only); no read totals; a duplicate create comes as rejected (linked on a later read)"
        );
        let a = adaptation(Version(0, 1, 1)).unwrap();
        assert!(
            a.contains("normal-form: taken as storing what was sent")
                && !a.contains("send-streaming"),
            "{a}"
        );
        let a = adaptation(Version(0, 1, 0)).unwrap();
        assert!(
            a.contains("send-streaming (0.1.1): not called")
                && a.contains("normal-form: taken as storing what was sent"),
            "{a}"
        );
    }

    #[test]
    fn the_lines_the_host_loads_are_0_2_and_0_1() {
        let fits = |v: Version| LINES.iter().any(|l| v.runs_on(*l));
        assert!(fits(Version(0, 1, 0)) && fits(Version(0, 1, 1)) && fits(Version(0, 1, 2)));
        assert!(fits(Version(0, 2, 0)));
        assert!(!fits(Version(0, 1, 3)), "newer than the 0.1 adapter");
        assert!(!fits(Version(0, 2, 1)), "newer than the host");
        assert!(!fits(Version(0, 3, 0)) && !fits(Version(1, 0, 0)));
    }
}
