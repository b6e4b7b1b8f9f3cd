//! Sync fidelity (issue 5): the model-based randomized test and the named regressions, each
//! against both simulators through the real connectors.

mod model;
mod regressions;
mod world;
