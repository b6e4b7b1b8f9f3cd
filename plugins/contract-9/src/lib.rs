//! A connector built against a contract 9.0.0 that does not exist (a copy of 0.1.0 with the
//! version changed, in `wit/`): the hub must refuse it at load, naming both versions.

wit_bindgen::generate!({ world: "plugin", path: "wit" });

const NAME: &str = "contract-9";
const CONTRACT: &str = "9.0.0";

include!("../../legacy-0-1-0/src/connector.rs");

#[cfg(target_arch = "wasm32")]
export!(Connector);
