//! Sync fidelity (issue 5): the model-based randomized test and the named regressions, each
//! against both simulators through the real connectors.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

mod model;
mod regressions;
mod world;
