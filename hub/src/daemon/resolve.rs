//! Resolving a deployment's syncs against the schema catalogue and the loaded plugins: each
//! sync's endpoints, streams, key, merge rules and deletes ([`resolve_syncs`]), with its
//! `where`, `merge`, `deletes` and `key` pointers checked against its schema. Pure: it reads
//! the configuration and the plugins' manifests, and opens nothing.

use crate::config::{Config, Direction};
use crate::runtime::Plugin;
use crate::schedule::Policy;
use crate::schedule::Schedule;
use crate::schema::Catalogue;
use crate::sync::{EndpointSpec, SyncSpec};
use anyhow::Context as _;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A sync ready to run on its schedule.
#[derive(Debug, Clone)]
pub struct ScheduledSync {
    /// What to run.
    pub spec: SyncSpec,
    /// When.
    pub schedule: Schedule,
    /// Overlap, catch-up and jitter.
    pub policy: Policy,
    /// Disabled syncs are built and checked but not scheduled.
    pub enabled: bool,
}

/// A TOML value of the configuration as JSON (a table or array as its TOML text).
fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => Value::String(other.to_string()),
    }
}

/// Resolves every sync of the config against the catalogue and the loaded plugins: each name
/// with its runnable form, or its problems (located lines). An error only for what the config
/// check should have refused already (a schedule that does not parse).
pub fn resolve_syncs(
    config: &Config,
    plugins: &BTreeMap<String, Arc<Plugin>>,
) -> anyhow::Result<BTreeMap<String, Result<ScheduledSync, String>>> {
    let catalogue = Catalogue::builtin()?;
    let mut out = BTreeMap::new();
    for (name, sc) in &config.syncs {
        let resolved = resolve(name, sc, &catalogue, plugins)
            .map_err(|e| {
                format!(
                    "{}: sync {name} cannot run: {e:#}",
                    config.location(sc.schema.span())
                )
            })
            .and_then(|spec| check_pointers(config, name, sc, &spec).map(|()| spec));
        let sync = match resolved {
            Ok(spec) => {
                let schedule = Schedule::parse(sc.schedule.get_ref(), sc.timezone.get_ref())
                    .with_context(|| format!("syncs.{name}.schedule"))?;
                let policy = Policy {
                    overlap: sc.overlap,
                    catch_up_window: sc.catch_up_window,
                    jitter: sc.jitter,
                };
                Ok(ScheduledSync {
                    spec,
                    schedule,
                    policy,
                    enabled: sc.enabled,
                })
            }
            Err(problem) => {
                tracing::error!("{problem}");
                Err(problem)
            }
        };
        out.insert(name.clone(), sync);
    }
    Ok(out)
}
/// The subschemas a JSON pointer (as tokens) can reach in `node`, following `$ref`s into the
/// catalogue's files, `properties`, and the branches of `anyOf`, `oneOf` and `allOf`.
fn reach<'a>(
    node: &'a Value,
    doc: &'a Value,
    tokens: &[String],
    docs: &'a BTreeMap<String, Value>,
    out: &mut Vec<&'a Value>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let (file, frag) = r.split_once('#').unwrap_or((r, ""));
        let target_doc = if file.is_empty() {
            Some(doc)
        } else {
            docs.get(file.trim_end_matches(".json"))
        };
        if let Some(target) = target_doc.and_then(|d| d.pointer(frag).map(|t| (d, t))) {
            reach(target.1, target.0, tokens, docs, out, depth + 1);
        }
        return;
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        for branch in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            reach(branch, doc, tokens, docs, out, depth + 1);
        }
    }
    match tokens.split_first() {
        None => out.push(node),
        Some((first, rest)) => {
            if let Some(child) = node.get("properties").and_then(|p| p.get(first.as_str())) {
                reach(child, doc, rest, docs, out, depth + 1);
            }
        }
    }
}

/// True if `v` can be a value of one of the subschemas (by `type` or `enum`).
fn fits(v: &Value, subschemas: &[&Value]) -> bool {
    subschemas.iter().any(|s| {
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            return e.contains(v);
        }
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => return false,
        };
        types.iter().any(|t| match *t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            _ => false,
        })
    })
}

/// Checks a sync's `where` and `merge` pointers against its schema: each must name a field the
/// schema has, and a `where` value must be of that field's type (a filter that can never match
/// would silently drop every record).
fn check_pointers(
    config: &Config,
    name: &str,
    sc: &crate::config::SyncConfig,
    spec: &SyncSpec,
) -> Result<(), String> {
    let docs: BTreeMap<String, Value> = hub_schemas::catalogue::FILES
        .iter()
        .filter_map(|f| {
            serde_json::from_str(f.text)
                .ok()
                .map(|v| (f.name.to_string(), v))
        })
        .collect();
    let root = docs
        .get(&spec.schema.name)
        .ok_or_else(|| format!("schema {} is not in the catalogue", spec.schema.name))?;
    let lookup = |ptr: &str| -> Vec<&Value> {
        let tokens: Vec<String> = ptr
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let mut out = Vec::new();
        reach(root, root, &tokens, &docs, &mut out, 0);
        out
    };
    let mut problems = Vec::new();
    for (side, ep) in [("a", &sc.a), ("b", &sc.b)] {
        for (ptr, v) in &ep.filter {
            let found = lookup(ptr);
            let v = toml_to_json(v);
            if found.is_empty() {
                problems.push(format!(
                    "{}: syncs.{name}.{side}.where: {ptr} is not a field of schema {}",
                    config.location(ep.plugin.span()),
                    spec.schema.name
                ));
            } else if !fits(&v, &found) {
                problems.push(format!("{}: syncs.{name}.{side}.where: {v} can never be the value of {ptr} (wrong type or not allowed)", config.location(ep.plugin.span())));
            }
        }
    }
    let deletes = sc.deletes.get_ref();
    for (side, form) in [("a", &deletes.a), ("b", &deletes.b)] {
        for (ptr, v) in form {
            let found = lookup(ptr);
            let v = toml_to_json(v);
            if found.is_empty() {
                problems.push(format!(
                    "{}: syncs.{name}.deletes.{side}: {ptr} is not a field of schema {}",
                    config.location(sc.deletes.span()),
                    spec.schema.name
                ));
            } else if !fits(&v, &found) {
                problems.push(format!("{}: syncs.{name}.deletes.{side}: {v} can never be the value of {ptr} (wrong type or not allowed)", config.location(sc.deletes.span())));
            }
        }
    }
    for (ptr, _) in &spec.rules {
        if lookup(ptr).is_empty() {
            problems.push(format!(
                "{}: syncs.{name}.merge: {ptr} is not a field of schema {}",
                config.location(sc.merge.span()),
                spec.schema.name
            ));
        }
    }
    for ptr in &spec.key {
        if lookup(ptr).is_empty() {
            problems.push(format!(
                "{}: syncs.{name}.key: {ptr} is not a field of schema {}",
                config.location(sc.schema.span()),
                spec.schema.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Resolves a sync against the catalogue and the loaded plugins.
fn resolve(
    name: &str,
    sc: &crate::config::SyncConfig,
    catalogue: &Catalogue,
    plugins: &BTreeMap<String, Arc<Plugin>>,
) -> anyhow::Result<SyncSpec> {
    let schema = catalogue.get(sc.schema.get_ref())?;
    let endpoint = |side: &str,
                    ep: &crate::config::Endpoint,
                    reads: bool,
                    writes: bool|
     -> anyhow::Result<EndpointSpec> {
        let plugin = plugins.get(ep.plugin.get_ref()).ok_or_else(|| {
            anyhow::anyhow!("{side}: plugin {} did not load", ep.plugin.get_ref())
        })?;
        let stream = plugin.stream(&ep.stream).ok_or_else(|| {
            let offered: Vec<&str> = plugin
                .manifest()
                .streams
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            anyhow::anyhow!(
                "{side}: plugin {} has no stream {:?} (it offers {})",
                plugin.name,
                ep.stream,
                offered.join(", ")
            )
        })?;
        if stream.schema != schema.name {
            anyhow::bail!(
                "{side}: stream {} carries schema {:?}, the sync needs {:?}",
                ep.stream,
                stream.schema,
                schema.name
            );
        }
        match schema.check_version(&stream.schema_version) {
            Ok(hub_schemas::catalogue::Compatibility::NewerMinor) => tracing::warn!(
                plugin = %plugin.name,
                stream = %ep.stream,
                "speaks {} {}, newer than the hub's {}: records with fields this hub does not know will be refused",
                schema.name,
                stream.schema_version,
                schema.version
            ),
            Ok(_) => {}
            Err(e) => anyhow::bail!("{side}: stream {}: {e}", ep.stream),
        }
        if reads && !stream.can_read {
            anyhow::bail!("{side}: stream {} cannot be read", ep.stream);
        }
        if writes && !stream.can_write {
            anyhow::bail!("{side}: stream {} cannot be written", ep.stream);
        }
        if writes && sc.deletes.get_ref().is_native(side) && !stream.can_delete {
            anyhow::bail!(
                "{side}: deletes.native names it, but stream {} of plugin {} cannot delete a record natively (its manifest does not say can-delete; contract 0.2): tell it in field form (deletes.{side} = {{ \"/pointer\" = value }})",
                ep.stream,
                plugin.name
            );
        }
        Ok(EndpointSpec {
            plugin: plugin.clone(),
            stream: ep.stream.clone(),
            filter: ep
                .filter
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        })
    };
    let (a_reads, b_reads) = match sc.direction {
        Direction::AToB => (true, false),
        Direction::BToA => (false, true),
        Direction::Both => (true, true),
    };
    let a = endpoint("a", &sc.a, a_reads, b_reads)?;
    let b = endpoint("b", &sc.b, b_reads, a_reads)?;
    let key = sc
        .key
        .as_ref()
        .map(|k| k.get_ref().clone())
        .unwrap_or_else(|| schema.key.clone());
    if key.is_empty() {
        anyhow::bail!(
            "schema {} declares no x-key and the sync gives no key",
            schema.name
        );
    }
    Ok(SyncSpec {
        name: name.to_string(),
        schema,
        key,
        direction: sc.direction,
        a,
        b,
        rules: sc.merge.get_ref().rules(),
        default_policy: sc.merge.get_ref().default,
        newest: crate::sync::NewestRule {
            clock_skew: sc.merge.get_ref().clock_skew,
            within_skew: sc.merge.get_ref().within_skew,
        },
        deletes: [&sc.deletes.get_ref().a, &sc.deletes.get_ref().b].map(|form| {
            form.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect()
        }),
        native_deletes: ["a", "b"].map(|side| sc.deletes.get_ref().is_native(side)),
        batch_size: *sc.batch_size.get_ref(),
    })
}
