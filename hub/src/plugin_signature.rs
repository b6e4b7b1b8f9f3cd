//! Signed plugins: detached minisign signatures of the connector components.
//!
//! Format: minisign (<https://jedisct1.github.io/minisign/>): an Ed25519 signature (RFC 8032)
//! of the BLAKE2b-512 hash (RFC 7693) of the file, plus a signature of that signature and a
//! trusted comment. A component `NAME.wasm` is signed by `NAME.wasm.minisig` beside it, as the
//! `minisign` tool writes it. Keys are minisign keys too: a public key is the base64 line of a
//! `minisign.pub` file (`RW…`, 56 characters), and its key ID the 16 hex digits minisign shows.
//! Verification goes through the `minisign-verify` crate, signing through `minisign`.
//!
//! With `hub.require_signed = true` a plugin loads only if its signature exists, was made by one
//! of `hub.trusted_keys` and matches the file's bytes ([`SignaturePolicy::check`], called by
//! [`crate::runtime::Runtime`] on the very bytes it compiles); `hub run` refuses to start, and a
//! SIGHUP reload leaves the running configuration in place, while any plugin is refused
//! ([`refusals`]).

use crate::config::{Config, HubConfig};
use anyhow::Context;
use base64::Engine as _;
use std::path::{Path, PathBuf};

/// The file name suffix of a detached signature (`NAME.wasm` → `NAME.wasm.minisig`).
pub const SIGNATURE_SUFFIX: &str = ".minisig";

/// Where the detached signature of `file` is: the same path with `.minisig` appended.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut p = file.as_os_str().to_owned();
    p.push(SIGNATURE_SUFFIX);
    PathBuf::from(p)
}

/// The key ID of a minisign key or signature from its decoded bytes (2 bytes of algorithm,
/// then the 8-byte key number, little-endian): 16 upper-case hex digits, as minisign prints it.
fn key_id_of(bytes: &[u8]) -> Option<String> {
    let n: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(format!("{:016X}", u64::from_le_bytes(n)))
}

/// A public key the deployment trusts to sign plugins.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    /// Its key ID (16 hex digits).
    pub id: String,
    key: minisign_verify::PublicKey,
}

impl TrustedKey {
    /// Parses a minisign public key: the base64 line (`RW…`), or the whole text of a
    /// `minisign.pub` file (an `untrusted comment:` line, then the base64 line). Errors say
    /// what is wrong, without the key.
    pub fn parse(text: &str) -> Result<TrustedKey, String> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .unwrap_or("");
        let key = minisign_verify::PublicKey::from_base64(line).map_err(|e| {
            format!("not a minisign public key (the base64 line of a minisign.pub file): {e}")
        })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(line)
            .map_err(|e| format!("not a minisign public key: {e}"))?;
        let id = key_id_of(&bytes).ok_or("not a minisign public key: too short")?;
        Ok(TrustedKey { id, key })
    }
}

/// The keys a deployment with `require_signed = true` accepts plugin signatures from.
#[derive(Clone, Debug)]
pub struct SignaturePolicy {
    keys: Vec<TrustedKey>,
    /// Where the keys come from, for messages (`hub.trusted_keys`, `--pubkey`).
    from: &'static str,
}

impl SignaturePolicy {
    /// The policy of `[hub]`: `None` unless `require_signed` is set. An error (naming the
    /// key's place in `trusted_keys`) for a key that does not parse, or for no key at all; the
    /// config check refuses both before this is called.
    pub fn of(hub: &HubConfig) -> Result<Option<SignaturePolicy>, String> {
        if !hub.require_signed {
            return Ok(None);
        }
        let mut keys = Vec::new();
        for (i, k) in hub.trusted_keys.iter().enumerate() {
            keys.push(
                TrustedKey::parse(k.get_ref())
                    .map_err(|e| format!("hub.trusted_keys[{i}]: {e}"))?,
            );
        }
        if keys.is_empty() {
            return Err(NO_TRUSTED_KEYS.into());
        }
        Ok(Some(SignaturePolicy {
            keys,
            from: "hub.trusted_keys",
        }))
    }

    /// A policy trusting exactly `keys`, which messages say come from `from`.
    pub fn new(keys: Vec<TrustedKey>, from: &'static str) -> SignaturePolicy {
        SignaturePolicy { keys, from }
    }

    /// Checks the detached signature of the component `file`, whose content is `bytes`.
    /// Returns the ID of the trusted key that signed it; or why the component is refused: the
    /// signature is missing or unreadable, was made by a key not among the trusted ones, or
    /// does not match the bytes (each message names the signature file and ends `refused`).
    pub fn check(&self, file: &Path, bytes: &[u8]) -> Result<String, String> {
        let sig_path = signature_path(file);
        let text = match std::fs::read_to_string(&sig_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "no signature {}: hub.require_signed is set, so only signed plugins load (sign it with `hub plugin sign --key SECRET_KEY {}`): refused",
                    sig_path.display(),
                    file.display()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "cannot read signature {}: {e}: refused",
                    sig_path.display()
                ));
            }
        };
        let (sig, sig_key_id) = decode_signature(&text).map_err(|e| {
            format!(
                "signature {} is not a minisign signature ({e}): refused",
                sig_path.display()
            )
        })?;
        let Some(key) = self.keys.iter().find(|k| k.id == sig_key_id) else {
            let trusted: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
            return Err(format!(
                "signature {} was made by key {sig_key_id}, which is not among {} ({}): refused",
                sig_path.display(),
                self.from,
                trusted.join(", ")
            ));
        };
        key.key.verify(bytes, &sig, false).map_err(|e| match e {
            minisign_verify::Error::UnexpectedAlgorithm => format!(
                "signature {} is in minisign's legacy (not prehashed) form; sign again with `hub plugin sign` or `minisign -S`: refused",
                sig_path.display()
            ),
            _ => format!(
                "signature {} by trusted key {} does not match the file's bytes (the file changed after it was signed, or the signature belongs to another file): refused",
                sig_path.display(),
                key.id
            ),
        })?;
        Ok(key.id.clone())
    }
}

/// The message for `require_signed = true` without a trusted key.
pub const NO_TRUSTED_KEYS: &str =
    "hub.require_signed is true but hub.trusted_keys is empty: no plugin could load";

/// Decodes a `.minisig` text and the ID of the key that made it.
fn decode_signature(text: &str) -> Result<(minisign_verify::Signature, String), String> {
    let sig = minisign_verify::Signature::decode(text).map_err(|e| e.to_string())?;
    let line = text.lines().nth(1).unwrap_or("").trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(line)
        .map_err(|e| e.to_string())?;
    let id = key_id_of(&bytes).ok_or("signature line too short")?;
    Ok((sig, id))
}

/// With `require_signed = true`: one located line per plugin of `config` that is refused
/// (`FILE:LINE:COL: plugin NAME: cannot load PATH: REASON`), in the plugins' order; empty if
/// every plugin is signed by a trusted key, or signatures are not required. `hub run` and a
/// SIGHUP reload stop at any line here (the runtime checks again the bytes it compiles).
pub fn refusals(config: &Config) -> Vec<String> {
    refusals_among(config, |_| true)
}

/// [`refusals`] for the plugins whose names `wanted` accepts only (`hub sync NAME --once`:
/// the two plugins of that sync).
pub fn refusals_among(config: &Config, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let policy = match SignaturePolicy::of(&config.hub) {
        Ok(Some(p)) => p,
        Ok(None) => return Vec::new(),
        Err(e) => return vec![format!("{}: {e}", config.file.display())],
    };
    let mut out = Vec::new();
    for (name, pc) in config.plugins.iter().filter(|(n, _)| wanted(n)) {
        let path = config.plugin_path(pc);
        let checked = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| policy.check(&path, &bytes));
        if let Err(why) = checked {
            out.push(format!(
                "{}: plugin {name}: cannot load {}: {why}",
                config.location(pc.path.span()),
                path.display()
            ));
        }
    }
    out
}

/// Reads a minisign secret key file; an encrypted one asks for its password on the terminal.
fn read_secret_key(path: &Path) -> anyhow::Result<minisign::SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret key {}", path.display()))?;
    let boxed = || minisign::SecretKeyBox::from_string(&text);
    let sk = boxed()
        .and_then(|b| b.into_unencrypted_secret_key())
        .or_else(|_| boxed().and_then(|b| b.into_secret_key(None)))
        .map_err(|e| {
            anyhow::anyhow!("{}: not a usable minisign secret key: {e}", path.display())
        })?;
    Ok(sk)
}

/// `hub plugin sign --key SECRET_KEY FILE`: writes `FILE.minisig` (minisign format, prehashed,
/// the trusted comment `timestamp:UNIX_SECONDS\tfile:NAME` as minisign writes it). Returns the
/// signature's path and the signing key's ID.
pub fn sign_file(secret_key: &Path, file: &Path) -> anyhow::Result<(PathBuf, String)> {
    let sk = read_secret_key(secret_key)?;
    let data =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let trusted = format!("timestamp:{now}\tfile:{name}");
    let sig = minisign::sign(
        None,
        &sk,
        data,
        Some(&trusted),
        Some("signature from hub plugin sign"),
    )
    .map_err(|e| anyhow::anyhow!("cannot sign {}: {e}", file.display()))?;
    let text = sig.into_string();
    let (_, id) = decode_signature(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = signature_path(file);
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    Ok((out, id))
}

/// `hub plugin verify --pubkey KEY FILE`: checks `FILE.minisig` against `KEY` (the base64 line
/// of a minisign public key, or the path of a `minisign.pub` file). Returns the key ID, or the
/// refusal [`SignaturePolicy::check`] gives.
pub fn verify_file(pubkey: &str, file: &Path) -> Result<String, String> {
    let text = match std::fs::read_to_string(pubkey) {
        Ok(t) => t,
        Err(_) => pubkey.to_string(),
    };
    let key = TrustedKey::parse(&text).map_err(|e| format!("--pubkey: {e}"))?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    SignaturePolicy::new(vec![key], "--pubkey").check(file, &bytes)
}

/// `hub plugin keygen OUT`: a new unencrypted minisign key pair, the secret key in `OUT.key`
/// (created 0600, refused if it exists) and the public key in `OUT.pub`. Returns the public
/// key's base64 line (for `hub.trusted_keys`) and its ID.
pub fn keygen(out: &Path) -> anyhow::Result<(String, String)> {
    let kp = minisign::KeyPair::generate_unencrypted_keypair()
        .map_err(|e| anyhow::anyhow!("cannot generate a key pair: {e}"))?;
    let pk_box = kp.pk.to_box().map_err(|e| anyhow::anyhow!("{e}"))?;
    let sk_box = kp
        .sk
        .to_box(Some("hub plugin signing secret key (unencrypted)"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = out.as_os_str().to_owned();
    let (mut sk_path, mut pk_path) = (base.clone(), base);
    sk_path.push(".key");
    pk_path.push(".pub");
    let (sk_path, pk_path) = (PathBuf::from(sk_path), PathBuf::from(pk_path));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&sk_path)
        .with_context(|| format!("cannot create {}", sk_path.display()))?;
    std::io::Write::write_all(&mut f, sk_box.into_string().as_bytes())?;
    let pk_text = pk_box.into_string();
    std::fs::write(&pk_path, &pk_text)
        .with_context(|| format!("cannot write {}", pk_path.display()))?;
    let key = TrustedKey::parse(&pk_text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let line = pk_text.lines().nth(1).unwrap_or("").trim().to_string();
    Ok((line, key.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key pair written by `keygen` into `dir` as `NAME.key`/`NAME.pub`.
    fn pair(dir: &Path, name: &str) -> (PathBuf, TrustedKey) {
        let (line, id) = keygen(&dir.join(name)).unwrap();
        let k = TrustedKey::parse(&line).unwrap();
        assert_eq!(k.id, id);
        (dir.join(format!("{name}.key")), k)
    }

    #[test]
    fn a_signature_by_a_trusted_key_is_accepted_and_each_fault_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, trusted) = pair(dir.path(), "dev");
        let (other_sk, other) = pair(dir.path(), "other");
        let wasm = dir.path().join("c.wasm");
        std::fs::write(&wasm, b"\0asm component bytes").unwrap();
        let policy = SignaturePolicy::new(vec![trusted.clone()], "hub.trusted_keys");
        let sig = dir.path().join("c.wasm.minisig");

        // Missing.
        let e = policy.check(&wasm, b"\0asm component bytes").unwrap_err();
        assert_eq!(
            e,
            format!(
                "no signature {}: hub.require_signed is set, so only signed plugins load (sign it with `hub plugin sign --key SECRET_KEY {}`): refused",
                sig.display(),
                wasm.display()
            )
        );

        // Signed by the trusted key: accepted, the file as minisign names it.
        let (written, id) = sign_file(&sk, &wasm).unwrap();
        assert_eq!(
            (written.as_path(), id.as_str()),
            (sig.as_path(), trusted.id.as_str())
        );
        assert_eq!(
            policy.check(&wasm, b"\0asm component bytes"),
            Ok(trusted.id.clone())
        );
        let text = std::fs::read_to_string(&sig).unwrap();
        assert!(
            text.lines().nth(2).unwrap().ends_with("\tfile:c.wasm"),
            "{text}"
        );

        // One byte changed after signing.
        let e = policy.check(&wasm, b"\0asm component bytez").unwrap_err();
        assert_eq!(
            e,
            format!(
                "signature {} by trusted key {} does not match the file's bytes (the file changed after it was signed, or the signature belongs to another file): refused",
                sig.display(),
                trusted.id
            )
        );

        // Signed by a key the deployment does not trust.
        sign_file(&other_sk, &wasm).unwrap();
        assert_ne!(other.id, trusted.id);
        let e = policy.check(&wasm, b"\0asm component bytes").unwrap_err();
        assert_eq!(
            e,
            format!(
                "signature {} was made by key {}, which is not among hub.trusted_keys ({}): refused",
                sig.display(),
                other.id,
                trusted.id
            )
        );

        // Not a signature at all.
        std::fs::write(&sig, "hello\n").unwrap();
        let e = policy.check(&wasm, b"\0asm component bytes").unwrap_err();
        assert!(
            e.starts_with(&format!(
                "signature {} is not a minisign signature (",
                sig.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn minisigns_own_test_vector_verifies_and_its_key_id_reads_as_minisign_prints_it() {
        // From minisign-verify's tests: the signature of b"test" by this key, made by minisign.
        let pk = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";
        let sig = "untrusted comment: signature from minisign secret key\nRUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\ntrusted comment: timestamp:1556193335\tfile:test\ny/rUw2y8/hOUYjZU71eHp/Wo1KZ40fGy2VJEDl34XMJM+TX48Ss/17u3IvIfbVR1FkZZSNCisQbuQY+bHwhEBg==\n";
        let key = TrustedKey::parse(pk).unwrap();
        // The key number's bytes are 1f e8 b4 42 18 0f 62 e7, read little-endian.
        assert_eq!(key.id, "E7620F1842B4E81F");
        let (s, id) = decode_signature(sig).unwrap();
        assert_eq!(id, key.id);
        assert!(key.key.verify(b"test", &s, false).is_ok());
        assert!(key.key.verify(b"tesT", &s, false).is_err());
    }

    #[test]
    fn a_public_key_file_parses_like_its_base64_line_and_junk_is_refused() {
        let text = "untrusted comment: minisign public key E7620F1842B4E81F\nRWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3\n";
        assert_eq!(TrustedKey::parse(text).unwrap().id, "E7620F1842B4E81F");
        let e = TrustedKey::parse("RWQnot-a-key").unwrap_err();
        assert!(e.starts_with("not a minisign public key"), "{e}");
    }
}
