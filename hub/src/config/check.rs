//! Cross-checks of a parsed configuration that serde cannot do: time zones, origins, limits,
//! plugin pins, JSON pointers, schedules, admin tokens, TLS files, the state store URL. Each
//! problem comes with the span of the file it concerns, so its error names file and line.
//! Reads the [`Config`] only; never touches files, secrets or the network.

use super::{Config, PluginConfig, SyncConfig, line_col};
use std::collections::BTreeMap;
use std::ops::Range;

/// One problem: the span of the file it concerns (`None`: no single place) and what is wrong.
pub(super) type Problem = (Option<Range<usize>>, String);

/// Whether `p` is a JSON pointer (RFC 6901) naming a field, not the whole record.
fn is_pointer(p: &str) -> bool {
    p.starts_with('/') && p.len() > 1
}

/// Cross-checks that serde cannot do. Each problem comes with the span it concerns; problems
/// are listed in the order of the file's sections: `[hub]`, `[plugins]`, `[syncs]`, `[admin]`,
/// then the state store, telemetry and lease.
pub(super) fn check(config: &Config) -> Vec<Problem> {
    let mut errs = Vec::new();
    check_zone_and_signing(config, &mut errs);
    for (name, p) in &config.plugins {
        check_plugin(name, p, &mut errs);
    }
    for (name, s) in &config.syncs {
        check_sync(config, name, s, &mut errs);
    }
    check_admin(config, &mut errs);
    check_store_telemetry_and_lease(config, &mut errs);
    errs
}

/// `[hub] timezone`, `trusted_keys` and `require_signed`.
fn check_zone_and_signing(config: &Config, errs: &mut Vec<Problem>) {
    let zone = &config.hub.timezone;
    if zone.get_ref().parse::<chrono_tz::Tz>().is_err() {
        errs.push((
            Some(zone.span()),
            format!(
                "hub.timezone: {:?} is not an IANA time zone name such as Asia/Shanghai",
                zone.get_ref()
            ),
        ));
    }
    for (i, k) in config.hub.trusted_keys.iter().enumerate() {
        if let Err(e) = crate::plugin_signature::TrustedKey::parse(k.get_ref()) {
            errs.push((Some(k.span()), format!("hub.trusted_keys[{i}]: {e}")));
        }
    }
    if config.hub.require_signed && config.hub.trusted_keys.is_empty() {
        errs.push((None, crate::plugin_signature::NO_TRUSTED_KEYS.to_string()));
    }
}

/// `[plugins.NAME]`: allowed origins, limits, rate limit and the component's sha256 pin.
fn check_plugin(name: &str, p: &PluginConfig, errs: &mut Vec<Problem>) {
    for h in &p.allow_hosts {
        if let Err(e) = crate::runtime::http::Origin::parse(h.get_ref()) {
            errs.push((Some(h.span()), format!("plugins.{name}.allow_hosts: {e}")));
        }
    }
    let l = &p.limits;
    let sizes = [
        l.memory_mib,
        l.cpu_ms_per_call,
        l.call_timeout_secs,
        l.http_timeout_secs,
        l.max_response_mib,
        l.max_record_kib,
        l.max_cursor_kib,
    ];
    let counts = [l.tables, l.table_elements, l.instances, l.max_open_bodies];
    if sizes.contains(&0) || counts.contains(&0) {
        errs.push((
            Some(p.path.span()),
            format!("plugins.{name}.limits: every limit must be greater than 0"),
        ));
    }
    if let Some(rate) = &p.rate_limit {
        let r = rate.get_ref();
        if !(r.requests_per_second.is_finite() && r.requests_per_second > 0.0) {
            errs.push((
                Some(rate.span()),
                format!(
                    "plugins.{name}.rate_limit.requests_per_second: must be a number of requests per second greater than 0, not {}",
                    r.requests_per_second
                ),
            ));
        }
        if r.burst == 0 {
            errs.push((
                Some(rate.span()),
                format!(
                    "plugins.{name}.rate_limit.burst: must be at least 1 (requests that may go at once)"
                ),
            ));
        }
    }
    if let Some(pin) = &p.sha256
        && (pin.get_ref().len() != 64 || !pin.get_ref().bytes().all(|b| b.is_ascii_hexdigit()))
    {
        errs.push((
            Some(pin.span()),
            format!("plugins.{name}.sha256: must be 64 hex digits"),
        ));
    }
}

/// `[syncs.NAME]`: its endpoints, schedule, merge policies, delete forms, key and batch size.
fn check_sync(config: &Config, name: &str, s: &SyncConfig, errs: &mut Vec<Problem>) {
    for (side, ep) in [("a", &s.a), ("b", &s.b)] {
        check_endpoint(config, name, side, ep, errs);
    }
    if let Err(e) = crate::schedule::Schedule::parse(s.schedule.get_ref(), s.timezone.get_ref()) {
        let span = if s.timezone.span().is_empty()
            || s.timezone.get_ref().parse::<chrono_tz::Tz>().is_ok()
        {
            s.schedule.span()
        } else {
            s.timezone.span()
        };
        errs.push((Some(span), format!("syncs.{name}: {e}")));
    }
    let mut seen = BTreeMap::new();
    for (ptr, policy) in s.merge.get_ref().rules() {
        if !is_pointer(&ptr) {
            errs.push((
                Some(s.merge.span()),
                format!("syncs.{name}.merge: {ptr:?} is not a JSON pointer (RFC 6901)"),
            ));
        }
        if let Some(prev) = seen.insert(ptr.clone(), policy) {
            errs.push((
                Some(s.merge.span()),
                format!("syncs.{name}.merge: {ptr} is listed under both {prev:?} and {policy:?}"),
            ));
        }
    }
    check_deletes(name, s, errs);
    if let Some(key) = &s.key {
        for k in key.get_ref() {
            if !is_pointer(k) {
                errs.push((
                    Some(key.span()),
                    format!("syncs.{name}.key: {k:?} is not a JSON pointer (RFC 6901)"),
                ));
            }
        }
    }
    if *s.batch_size.get_ref() == 0 || *s.batch_size.get_ref() > 10_000 {
        errs.push((
            Some(s.batch_size.span()),
            format!("syncs.{name}.batch_size: must be 1..=10000"),
        ));
    }
}

/// One end (`side`) of a sync: its plugin exists and its `where` filter names fields by JSON
/// pointer with plain values.
fn check_endpoint(
    config: &Config,
    name: &str,
    side: &str,
    ep: &super::Endpoint,
    errs: &mut Vec<Problem>,
) {
    if !config.plugins.contains_key(ep.plugin.get_ref()) {
        errs.push((
            Some(ep.plugin.span()),
            format!(
                "syncs.{name}.{side}.plugin: no plugin {:?} in [plugins]",
                ep.plugin.get_ref()
            ),
        ));
    }
    for (ptr, v) in &ep.filter {
        if !is_pointer(ptr) {
            errs.push((
                Some(ep.plugin.span()),
                format!("syncs.{name}.{side}.where: {ptr:?} is not a JSON pointer (RFC 6901)"),
            ));
        }
        if matches!(
            v,
            toml::Value::Table(_) | toml::Value::Array(_) | toml::Value::Datetime(_)
        ) {
            errs.push((
                Some(ep.plugin.span()),
                format!("syncs.{name}.{side}.where.{ptr}: must be a string, number or boolean"),
            ));
        }
    }
}

/// `[syncs.NAME.deletes]`: `native` names sides, and each side's end form is JSON pointers
/// with plain values.
fn check_deletes(name: &str, s: &SyncConfig, errs: &mut Vec<Problem>) {
    for side in &s.deletes.get_ref().native {
        if side != "a" && side != "b" {
            errs.push((
                Some(s.deletes.span()),
                format!("syncs.{name}.deletes.native: {side:?} is not a side (\"a\" or \"b\")"),
            ));
        }
    }
    for (side, form) in [("a", &s.deletes.get_ref().a), ("b", &s.deletes.get_ref().b)] {
        for (ptr, v) in form {
            if !is_pointer(ptr) {
                errs.push((
                    Some(s.deletes.span()),
                    format!(
                        "syncs.{name}.deletes.{side}: {ptr:?} is not a JSON pointer (RFC 6901)"
                    ),
                ));
            }
            if matches!(
                v,
                toml::Value::Table(_) | toml::Value::Array(_) | toml::Value::Datetime(_)
            ) {
                errs.push((
                    Some(s.deletes.span()),
                    format!(
                        "syncs.{name}.deletes.{side}.{ptr}: must be a string, number or boolean"
                    ),
                ));
            }
        }
    }
}

/// `[admin]`: the listen address, named tokens (valid, unique names) and the TLS file pair.
fn check_admin(config: &Config, errs: &mut Vec<Problem>) {
    if let Err(e) = config
        .admin
        .listen
        .get_ref()
        .parse::<std::net::SocketAddr>()
    {
        let span = Some(config.admin.listen.span()).filter(|s| !s.is_empty());
        errs.push((
            span,
            format!(
                "admin.listen: {:?} is not host:port with an IP address ({e})",
                config.admin.listen.get_ref()
            ),
        ));
    }
    let mut token_names: BTreeMap<&str, std::ops::Range<usize>> = BTreeMap::new();
    for t in &config.admin.tokens {
        let name = t.name.get_ref().as_str();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            errs.push((
                Some(t.name.span()),
                format!("admin.tokens: name {name:?} must be letters, digits, '.', '_' or '-'"),
            ));
        } else if name == "admin" && config.admin.token.is_some() {
            errs.push((
                Some(t.name.span()),
                "admin.tokens: name \"admin\" is taken by [admin] token (an operator named admin); choose another".into(),
            ));
        } else if let Some(first) = token_names.insert(name, t.name.span()) {
            let (line, _) = line_col(&config.source, first.start);
            errs.push((
                Some(t.name.span()),
                format!("admin.tokens: name {name:?} is given twice (first at line {line})"),
            ));
        }
    }
    match (&config.admin.tls_cert, &config.admin.tls_key) {
        (Some(cert), None) => errs.push((
            Some(cert.span()),
            "admin.tls_key: missing: admin.tls_cert is set, and HTTPS needs the certificate's private key too (PEM file)".into(),
        )),
        (None, Some(key)) => errs.push((
            Some(key.span()),
            "admin.tls_cert: missing: admin.tls_key is set, and HTTPS needs the certificate chain too (PEM file)".into(),
        )),
        _ => {}
    }
}

/// `[hub] store` (scheme, then its TLS settings for PostgreSQL), `[telemetry] otlp_endpoint`
/// and `[hub] lease_ttl`, in that order.
fn check_store_telemetry_and_lease(config: &Config, errs: &mut Vec<Problem>) {
    if let Some(url) = config.hub.store.as_deref().filter(|u| !u.is_empty())
        && !["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
    {
        // The scheme only: the rest may carry a password.
        let scheme = url.split("://").next().unwrap_or(url);
        errs.push((
            None,
            format!(
                "hub.store: the scheme {scheme:?} is not a state store: sqlite://PATH or postgres://USER@HOST:PORT/DATABASE"
            ),
        ));
    }
    if let (Some(e), Some(endpoint)) =
        (&config.telemetry.otlp_endpoint, config.telemetry.endpoint())
        && !url::Url::parse(endpoint)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    {
        errs.push((
            Some(e.span()).filter(|s| !s.is_empty()),
            format!("telemetry.otlp_endpoint: {endpoint:?} is not an http:// or https:// URL of a collector (e.g. http://127.0.0.1:4318)"),
        ));
    }
    if let Some(url) = config
        .hub
        .store
        .as_deref()
        .filter(|u| u.starts_with("postgres"))
        && let Err(e) = crate::store::pg_tls::check_url(url, false)
    {
        errs.push((None, format!("hub.store: {e}")));
    }
    if config.hub.lease_ttl < std::time::Duration::from_secs(4) {
        errs.push((
            None,
            format!(
                "hub.lease_ttl: {:?} is too short (at least 4s: it is renewed every quarter of it)",
                config.hub.lease_ttl
            ),
        ));
    }
}
