//! The state key and what is derived from it: keyed hashes of record keys and contents, and
//! sealing of record snapshots.
//!
//! The state database never holds an identity number (or any personal data) in clear:
//! - a record's natural key is stored as HMAC-SHA256 (RFC 2104) of its canonical JSON;
//! - a record's content hash is HMAC-SHA256 too (so it cannot be tested against guesses);
//! - record snapshots, needed for field-level merges and dead-letter replay, are sealed with
//!   ChaCha20-Poly1305 (RFC 8439), a fresh random 96-bit nonce per seal, and the row's context
//!   as associated data so a sealed value cannot be moved to another row.
//!
//! - the audit log's hash chain is HMAC-SHA256 too (see [`crate::audit`]), so that someone
//!   without the state key cannot rewrite an entry and recompute the chain after it.
//!
//! The four keys are derived from one 32-byte state key with HKDF-SHA256 (RFC 5869): salt
//! `hub state v1`, info `key-hash`, `content-hash`, `seal` and `audit-chain`.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::path::Path;

/// Length of the state key in bytes.
pub const KEY_LEN: usize = 32;

/// A sealed value failed to open: wrong state key, or the database was altered.
#[derive(Debug, thiserror::Error)]
#[error(
    "a sealed record in the state store does not open with this state key (wrong key, or the row was altered)"
)]
pub struct OpenError;

/// Keys derived from the state key.
#[derive(Clone)]
pub struct Keys {
    key_hash: [u8; 32],
    content_hash: [u8; 32],
    audit: [u8; 32],
    seal: ChaCha20Poly1305,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Derives the keys from a 32-byte state key.
    pub fn derive(state_key: &[u8; KEY_LEN]) -> Keys {
        let hk = Hkdf::<Sha256>::new(Some(b"hub state v1"), state_key);
        let mut key_hash = [0u8; 32];
        let mut content_hash = [0u8; 32];
        let mut seal = [0u8; 32];
        let mut audit = [0u8; 32];
        hk.expand(b"key-hash", &mut key_hash)
            .expect("32 bytes is a valid HKDF length");
        hk.expand(b"content-hash", &mut content_hash)
            .expect("32 bytes is a valid HKDF length");
        hk.expand(b"seal", &mut seal)
            .expect("32 bytes is a valid HKDF length");
        hk.expand(b"audit-chain", &mut audit)
            .expect("32 bytes is a valid HKDF length");
        Keys {
            key_hash,
            content_hash,
            audit,
            seal: ChaCha20Poly1305::new(&seal.into()),
        }
    }

    /// The key of the audit log's hash chain (HKDF info `audit-chain`).
    pub fn audit_key(&self) -> crate::audit::AuditKey {
        crate::audit::AuditKey::new(self.audit)
    }

    /// Loads the state key from `path` (64 hex digits), creating it with 32 random bytes (mode
    /// 0600) if the file does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Keys> {
        use anyhow::Context as _;
        if !path.exists() {
            let key: [u8; KEY_LEN] = rand::random();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("failed to create {}", dir.display()))?;
            }
            write_private(path, hex::encode(key).as_bytes())
                .with_context(|| format!("failed to write the state key {}", path.display()))?;
        }
        Keys::load(path)
    }

    /// Loads an existing state key from `path` (64 hex digits); unlike
    /// [`Keys::load_or_create`], a missing file is an error naming it (for commands that must
    /// check what the daemon wrote).
    /// A key file that group or others may read is refused, saying how to fix it.
    pub fn load(path: &Path) -> anyhow::Result<Keys> {
        use anyhow::Context as _;
        refuse_shared(path)?;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read the state key {}", path.display()))?;
        Keys::from_hex(text.trim()).with_context(|| format!("state key {}", path.display()))
    }

    /// Keys from a state key written as 64 hex digits.
    pub fn from_hex(hex_key: &str) -> anyhow::Result<Keys> {
        let bytes = hex::decode(hex_key).map_err(|_| anyhow::anyhow!("must be 64 hex digits"))?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("must be 64 hex digits (32 bytes)"))?;
        Ok(Keys::derive(&key))
    }

    /// A check value of these keys: the key hash of the fixed text `hub state key check`. Two
    /// key sets give the same check value only if they are the same keys (HMAC-SHA256).
    pub fn key_check(&self) -> String {
        self.key_hash(&[&Value::String("hub state key check".into())])
    }

    /// HMAC-SHA256 of a record key (the values at the key's JSON pointers, in order), as 64 hex
    /// digits. Equal keys give equal hashes; the key cannot be recovered from it.
    pub fn key_hash(&self, key_values: &[&Value]) -> String {
        let canonical = canonical_json(&Value::Array(
            key_values.iter().map(|v| (*v).clone()).collect(),
        ));
        hex::encode(hmac(&self.key_hash, canonical.as_bytes()))
    }

    /// HMAC-SHA256 of a record's content: its canonical JSON with `null` members removed (so an
    /// absent field and a `null` one hash the same), as 64 hex digits.
    pub fn content_hash(&self, record: &Value) -> String {
        self.content_hash_of_text(canonical_json_without_nulls(record).as_bytes())
    }

    /// HMAC-SHA256 of `text` under the content-hash key, as 64 hex digits: [`Keys::content_hash`]
    /// of a record whose [`canonical_json_without_nulls`] is `text`.
    pub fn content_hash_of_text(&self, text: &[u8]) -> String {
        hex::encode(hmac(&self.content_hash, text))
    }

    /// Seals `plaintext` bound to `context` (e.g. `sync/key-hash/side`): nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .seal
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 seals any message under 256 GiB");
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Opens what [`Keys::seal`] produced with the same `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < 12 + 16 {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| OpenError)?;
        self.seal
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError)
    }

    /// Seals a JSON record.
    pub fn seal_json(&self, context: &str, record: &Value) -> Vec<u8> {
        self.seal(context, canonical_json(record).as_bytes())
    }

    /// Opens a sealed JSON record.
    pub fn open_json(&self, context: &str, sealed: &[u8]) -> Result<Value, OpenError> {
        let bytes = self.open(context, sealed)?;
        serde_json::from_slice(&bytes).map_err(|_| OpenError)
    }
}

fn hmac(key: &[u8; 32], msg: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

#[cfg(unix)]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

/// An error if group or others have any permission on the file at `path` (a state key must be
/// the daemon user's alone), naming the file, its mode and the fix.
#[cfg(unix)]
pub fn refuse_shared(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // reading it reports the problem
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "the state key {} can be read by other users (mode {mode:04o}): refused; make it the daemon user's alone with `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

/// Elsewhere file modes are not checked.
#[cfg(not(unix))]
pub fn refuse_shared(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// JSON with object members sorted by key and no insignificant white space (the member order
/// of RFC 8785, JCS, for the ASCII and CJK keys the schemas use).
pub fn canonical_json(v: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_canonical(v, &mut out, false);
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// [`canonical_json`] of [`strip_nulls`]`(v)`, without building the stripped copy.
pub fn canonical_json_without_nulls(v: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_canonical(v, &mut out, true);
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Orders member names by their UTF-16 code units (RFC 8785, 3.2.3). For names without
/// characters beyond U+FFFF (no UTF-8 lead byte 0xF0 or above) that is their byte order.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    let astral = |s: &str| s.bytes().any(|c| c >= 0xF0);
    if astral(a) || astral(b) {
        a.encode_utf16().cmp(b.encode_utf16())
    } else {
        a.cmp(b)
    }
}

/// Writes `v` as canonical JSON; with `skip_nulls`, object members whose value is `null` are
/// left out at every depth (array elements are kept).
fn write_canonical(v: &Value, out: &mut Vec<u8>, skip_nulls: bool) {
    match v {
        Value::Object(m) => {
            let mut members: Vec<(&String, &Value)> = m
                .iter()
                .filter(|(_, v)| !(skip_nulls && v.is_null()))
                .collect();
            // Already in order when the map keeps its keys sorted (serde_json's default map).
            if !members.is_sorted_by(|a, b| utf16_order(a.0, b.0).is_le()) {
                members.sort_by(|a, b| utf16_order(a.0, b.0));
            }
            out.push(b'{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k).expect("writing to a Vec cannot fail");
                out.push(b':');
                write_canonical(v, out, skip_nulls);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out, skip_nulls);
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other).expect("writing to a Vec cannot fail"),
    }
}

/// The value with `null` object members removed, recursively.
pub fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn a_new_state_key_is_0600_and_one_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.key");
        let made = Keys::load_or_create(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        for e in [
            Keys::load_or_create(&path).err().unwrap(),
            Keys::load(&path).err().unwrap(),
        ] {
            assert_eq!(
                e.to_string(),
                format!(
                    "the state key {} can be read by other users (mode 0644): refused; make it the daemon user's alone with `chmod 600 {}`",
                    path.display(),
                    path.display()
                )
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(Keys::load(&path).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Keys::load(&path).unwrap().key_check(), made.key_check());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_store_is_created_0600() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let store = crate::store::Store::open(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        store.close().await;
        assert_eq!(mode(&db), 0o600);
    }

    fn keys() -> Keys {
        Keys::derive(&[7u8; 32])
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn canonical_json_sorts_members_and_drops_white_space() {
        let v: Value =
            serde_json::from_str(r#"{ "b": 1, "a": {"y": null, "x": [1, "二"]} }"#).unwrap();
        assert_eq!(canonical_json(&v), r#"{"a":{"x":[1,"二"],"y":null},"b":1}"#);
    }

    #[test]
    fn members_sort_by_utf16_code_units_as_rfc_8785_sorts_them() {
        // RFC 8785, 3.2.3: the emoji U+1F600 (surrogates D83D DE00) sorts before U+FB33,
        // which code point (and UTF-8 byte) order would put first.
        let v = json!({"\u{20ac}": "Euro Sign", "\r": "Carriage Return", "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\u{1f600}": "Emoji: Grinning Face", "\u{80}": "Control", "\u{f6}": "Latin Small Letter O With Diaeresis"});
        assert_eq!(
            canonical_json(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn canonical_json_without_nulls_drops_null_members_at_every_depth_but_not_array_elements() {
        let v = json!({"b": null, "a": [{"y": null, "x": 1}, null], "c": {"d": null}});
        assert_eq!(
            canonical_json_without_nulls(&v),
            r#"{"a":[{"x":1},null],"c":{}}"#
        );
        assert_eq!(
            canonical_json_without_nulls(&v),
            canonical_json(&strip_nulls(&v))
        );
    }

    #[test]
    fn content_hash_ignores_member_order_and_nulls_but_not_values() {
        let k = keys();
        let a = json!({"name": "王芳", "phone": null, "status": "employed"});
        let b = json!({"status": "employed", "name": "王芳"});
        let c = json!({"status": "seeking", "name": "王芳"});
        assert_eq!(k.content_hash(&a), k.content_hash(&b));
        assert_ne!(k.content_hash(&a), k.content_hash(&c));
        assert_eq!(k.content_hash(&a).len(), 64);
    }

    #[test]
    fn key_hashes_depend_on_the_state_key_and_never_contain_the_key() {
        let id = json!("11010519491231002X");
        let h = keys().key_hash(&[&id]);
        assert_eq!(h, keys().key_hash(&[&id]));
        assert_ne!(h, Keys::derive(&[8u8; 32]).key_hash(&[&id]));
        assert!(!h.contains("11010519491231002"));
    }

    #[test]
    fn sealed_records_open_only_with_their_context_and_key() {
        let k = keys();
        let rec = json!({"idNumber": "11010519491231002X", "name": "王芳"});
        let sealed = k.seal_json("workers/abc/a", &rec);
        assert!(!String::from_utf8_lossy(&sealed).contains("11010519491231002"));
        assert_eq!(k.open_json("workers/abc/a", &sealed).unwrap(), rec);
        assert!(k.open_json("workers/abc/b", &sealed).is_err());
        assert!(
            Keys::derive(&[8u8; 32])
                .open_json("workers/abc/a", &sealed)
                .is_err()
        );
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(k.open_json("workers/abc/a", &tampered).is_err());
        // Two seals of the same record differ (fresh nonce).
        assert_ne!(sealed, k.seal_json("workers/abc/a", &rec));
    }
}
