//! The shared schema files, embedded so that a `hub` binary carries the catalogue it was built
//! with. Cross-file `$ref`s are resolved from this list, never from the network.

/// One schema file of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct SchemaFile {
    /// Short name used in configs and manifests, e.g. `worker`.
    pub name: &'static str,
    /// The file's `$id` (absolute URI under `https://schemas.hub.invalid/`; the `.invalid` TLD of
    /// RFC 2606 guarantees it never resolves on a network).
    pub id: &'static str,
    /// The JSON text of the schema (draft 2020-12).
    pub text: &'static str,
}

/// Base of every schema `$id`.
pub const BASE: &str = "https://schemas.hub.invalid/";

/// Every schema file, `common` first.
pub const FILES: &[SchemaFile] = &[
    SchemaFile { name: "common", id: "https://schemas.hub.invalid/common.json", text: include_str!("../common.json") },
    SchemaFile { name: "worker", id: "https://schemas.hub.invalid/worker.json", text: include_str!("../worker.json") },
];

/// The file with this short name.
pub fn get(name: &str) -> Option<&'static SchemaFile> {
    FILES.iter().find(|f| f.name == name)
}
