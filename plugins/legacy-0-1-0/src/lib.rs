//! A connector built against contract 0.1.0 (`wit/connector/v0.1.0`), the first release: the
//! hub, which implements 0.1.1, must keep loading it. It offers one empty stream.

wit_bindgen::generate!({ world: "plugin", path: "../../wit/connector/v0.1.0" });

const NAME: &str = "legacy";
const CONTRACT: &str = "0.1.0";

include!("connector.rs");

#[cfg(target_arch = "wasm32")]
export!(Connector);
