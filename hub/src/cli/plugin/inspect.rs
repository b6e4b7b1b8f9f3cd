//! `hub plugin inspect FILE.wasm`: what a connector component is and asks for, read without
//! granting it anything.

use crate::runtime::Runtime;
use std::path::Path;

/// What a connector author should hear about the schema versions its streams declare, against
/// this hub's catalogue (`hub schema list`): a schema the catalogue does not have, a version
/// it cannot read (another major, or not `MAJOR.MINOR.PATCH`), a version older than the
/// catalogue's (records are validated against the catalogue's version whatever a stream
/// declares, so it should declare that one), or a newer minor (records with fields this hub
/// does not know are refused). One line per stream concerned, in the manifest's order.
pub fn schema_warnings(m: &crate::runtime::Manifest) -> Vec<String> {
    use hub_schemas::catalogue::{Compatibility, Version};
    let catalogue = match crate::schema::Catalogue::builtin() {
        Ok(c) => c,
        Err(e) => return vec![format!("the hub's schema catalogue does not compile: {e}")],
    };
    let mut out = Vec::new();
    for s in &m.streams {
        let Ok(schema) = catalogue.get(&s.schema) else {
            let known: Vec<&str> = catalogue.names().collect();
            out.push(format!(
                "stream {} carries schema {:?}, which the catalogue does not have (it has {})",
                s.name,
                s.schema,
                known.join(", ")
            ));
            continue;
        };
        let older = matches!(
            (Version::parse(&s.schema_version), Version::parse(&schema.version)),
            (Some(spoken), Some(current)) if spoken < current
        );
        match schema.check_version(&s.schema_version) {
            Err(e) => out.push(format!("stream {}: {e}", s.name)),
            Ok(Compatibility::NewerMinor) => out.push(format!(
                "stream {} declares {} {}, newer than this hub's {}: records with fields this hub does not know will be refused",
                s.name, s.schema, s.schema_version, schema.version
            )),
            Ok(_) if older => out.push(format!(
                "stream {} declares {} {}, older than the catalogue's {}: declare {} (records are validated against {} whatever a stream declares; `hub schema list` shows the catalogue)",
                s.name,
                s.schema,
                s.schema_version,
                schema.version,
                schema.version,
                schema.version
            )),
            Ok(_) => {}
        }
    }
    out
}

/// Prints the inspection of a component file; `json` prints one JSON object instead. Returns
/// whether this hub can load it.
pub async fn inspect(path: &Path, json: bool) -> anyhow::Result<bool> {
    let rt = Runtime::new(None)?;
    let (i, component) = rt.inspect(path)?;
    let manifest = match (&i.loadable, component) {
        (Ok(()), Some(c)) => Some(rt.manifest_of("inspect", &c, i.needs_link_all_wasi).await),
        _ => None,
    };
    if json {
        let m = manifest.as_ref().map(|m| match m {
            Ok(m) => serde_json::json!({
                "name": m.name, "version": m.version, "system": m.system,
                "streams": m.streams.iter().map(|s| serde_json::json!({
                    "name": s.name, "schema": s.schema, "schema_version": s.schema_version,
                    "read": s.can_read, "write": s.can_write, "delete": s.can_delete,
                    "max_write_batch": s.max_write_batch })).collect::<Vec<_>>(),
                "hosts": m.hosts, "secrets": m.secrets, "warnings": schema_warnings(m),
            }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        });
        let out = serde_json::json!({
            "file": path.display().to_string(), "sha256": i.sha256, "bytes": i.bytes,
            "contract": i.contract, "adaptation": i.adaptation,
            "needs_link_all_wasi": i.needs_link_all_wasi, "loadable": i.loadable.as_ref().err().map_or(serde_json::Value::Bool(true), |e| e.clone().into()),
            "imports": i.imports, "exports": i.exports, "manifest": m,
        });
        println!("{out}");
        return Ok(i.loadable.is_ok());
    }
    crate::say!("{}", path.display());
    crate::say!("  sha256    {}", i.sha256);
    crate::say!("  size      {} bytes", i.bytes);
    crate::say!(
        "  contract  hub:connector {}",
        i.contract.as_deref().unwrap_or("(none)")
    );
    match &i.loadable {
        Ok(()) if i.needs_link_all_wasi => crate::say!(
            "  loadable  yes, with link_all_wasi = true in its [plugins.NAME] table (it imports WASI interfaces beyond the hub's default subset; this hub implements {})",
            crate::runtime::CONTRACT_VERSION
        ),
        Ok(()) => crate::say!(
            "  loadable  yes (this hub implements {})",
            crate::runtime::CONTRACT_VERSION
        ),
        Err(e) => crate::say!("  loadable  NO: {e}"),
    }
    if let Some(a) = &i.adaptation {
        crate::say!("  adapted   {a}");
    }
    match &manifest {
        Some(Ok(m)) => {
            crate::say!("  connector {} {} — {}", m.name, m.version, m.system);
            for s in &m.streams {
                let mut can: Vec<String> = Vec::new();
                if s.can_read {
                    can.push("read".into());
                }
                if s.can_write {
                    can.push("write".into());
                }
                if s.can_delete {
                    can.push("delete".into());
                }
                if s.max_write_batch > 0 {
                    can.push(format!("at most {} records a write", s.max_write_batch));
                }
                let can = if can.is_empty() {
                    "-".to_string()
                } else {
                    can.join(", ")
                };
                crate::say!(
                    "  stream    {} ({} {}; {can})",
                    s.name,
                    s.schema,
                    s.schema_version
                );
            }
            crate::say!(
                "  hosts     {}",
                if m.hosts.is_empty() {
                    "(none)".into()
                } else {
                    m.hosts.join(", ")
                }
            );
            crate::say!(
                "  secrets   {}",
                if m.secrets.is_empty() {
                    "(none)".into()
                } else {
                    m.secrets.join(", ")
                }
            );
            for w in schema_warnings(m) {
                crate::say!("  warning   {w}");
            }
        }
        Some(Err(e)) => crate::say!("  manifest  cannot be read: {e}"),
        None => {}
    }
    crate::say!("  imports");
    for n in &i.imports {
        crate::say!("    {n}");
    }
    crate::say!("  exports");
    for n in &i.exports {
        crate::say!("    {n}");
    }
    Ok(i.loadable.is_ok())
}
