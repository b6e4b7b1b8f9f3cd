//! The admin API's defences that are not routes: token comparison in constant time, sign-in
//! sessions, the throttle on failed sign-ins, and the security headers of every answer.
//!
//! Pure mechanisms: no route, no handler, no state store; [`super::auth`] applies them to
//! requests.

use axum::http::{HeaderValue, header};
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq as _;

pub use crate::config::Role;

/// How long a sign-in lasts: a working day.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

/// Failed sign-ins (wrong token in the form or in a bearer header) one address may make per
/// [`FAILURE_WINDOW`] before it is refused outright.
pub const MAX_FAILURES: usize = 5;

/// The window [`MAX_FAILURES`] counts in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// `a == b` in time that depends on neither content nor length: both are hashed (SHA-256)
/// and the fixed-length digests compared with [`subtle::ConstantTimeEq`], so how much of a
/// guess is right, and whether its length is, does not show in the answer's timing.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

/// Who a request comes from: the name and role of the token it presented (in its bearer
/// header, or at the sign-in of its session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name (`[[admin.tokens]] name`; `admin` for `[admin] token`).
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// The SHA-256 digest of a token, as [`Tokens`] and [`Sessions`] keep it (never the token).
pub type TokenDigest = [u8; 32];

/// The admin API's tokens: each a name, a role and the SHA-256 of its secret. Replaced as a
/// whole on reload ([`crate::admin::Server::update_tokens`]).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<(Principal, TokenDigest)>,
}

impl Tokens {
    /// Tokens from `(name, role, secret)`, in that order.
    pub fn new(list: impl IntoIterator<Item = (String, Role, String)>) -> Tokens {
        Tokens {
            entries: list
                .into_iter()
                .map(|(name, role, secret)| {
                    (
                        Principal { name, role },
                        Sha256::digest(secret.as_bytes()).into(),
                    )
                })
                .collect(),
        }
    }

    /// One operator token named `admin` (today's `[admin] token`).
    pub fn single(secret: &str) -> Tokens {
        Tokens::new([("admin".to_string(), Role::Operator, secret.to_string())])
    }

    /// The token `presented` matches, and its digest: compared with every token in constant
    /// time (all are compared, whichever matches), so the answer's timing says nothing of
    /// which token or how much of one was guessed.
    pub fn find(&self, presented: &[u8]) -> Option<(Principal, TokenDigest)> {
        let d: TokenDigest = Sha256::digest(presented).into();
        let mut found = None;
        for (p, digest) in &self.entries {
            if bool::from(d.ct_eq(digest)) && found.is_none() {
                found = Some((p.clone(), *digest));
            }
        }
        found
    }

    /// The holder of the token with digest `d`, if it is still configured (a session signed
    /// in with a token withdrawn since has none).
    pub fn by_digest(&self, d: &TokenDigest) -> Option<Principal> {
        self.entries
            .iter()
            .find(|(_, digest)| bool::from(d.ct_eq(digest)))
            .map(|(p, _)| p.clone())
    }

    /// How many tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No tokens at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The signed-in browsers: random session ids (32 bytes, hex, in the cookie) with their
/// expiry and the digest of the token they signed in with, kept in memory only, by the
/// SHA-256 of the id (a lookup's timing says nothing of ids). A daemon restart signs everyone
/// out.
#[derive(Debug)]
pub struct Sessions {
    lifetime: Duration,
    live: Mutex<HashMap<[u8; 32], (Instant, TokenDigest)>>,
}

impl Sessions {
    /// No sessions yet; each lasts `lifetime`.
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            lifetime,
            live: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lasts (the cookie's `Max-Age`).
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// A new session of the token with digest `token`: its id, for the cookie.
    pub fn open(&self, token: TokenDigest) -> String {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|_, (expires, _)| *expires > now);
        live.insert(Sha256::digest(&id).into(), (now + self.lifetime, token));
        id
    }

    /// Whether `id` is a session that has not expired (expired ones are forgotten).
    pub fn is_live(&self, id: &str) -> bool {
        self.token_of(id).is_some()
    }

    /// The digest of the token session `id` signed in with, if the session has not expired.
    pub fn token_of(&self, id: &str) -> Option<TokenDigest> {
        let now = Instant::now();
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|_, (expires, _)| *expires > now);
        live.get(&<[u8; 32]>::from(Sha256::digest(id)))
            .map(|(_, t)| *t)
    }

    /// The form token of session `id` (64 hex digits): the SHA-256 of a domain tag and the
    /// session id. A page's form carries it and the POST must send it back, so only a page
    /// this server gave the session can post (the cookie alone cannot: it is `SameSite=Strict`
    /// and this is a second, independent check).
    pub fn form_token(id: &str) -> String {
        hex::encode(Sha256::digest(format!("hub admin form\n{id}").as_bytes()))
    }

    /// Ends session `id` (signing out); an unknown id changes nothing.
    pub fn close(&self, id: &str) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&<[u8; 32]>::from(Sha256::digest(id)));
    }
}

/// Failed sign-ins per client address within a sliding window.
#[derive(Debug)]
pub struct Throttle {
    max: usize,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Throttle {
    /// At most `max` failures per `window` from one address.
    pub fn new(max: usize, window: Duration) -> Throttle {
        Throttle {
            max,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` while `client` has had `max` failures within the window: how long until the
    /// oldest of them leaves it. Right or wrong, nothing is checked for it until then.
    pub fn check(&self, client: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, times| {
            while times.front().is_some_and(|t| now - *t >= self.window) {
                times.pop_front();
            }
            !times.is_empty()
        });
        match failures.get(&client) {
            Some(times) if times.len() >= self.max => Err(times
                .front()
                .map_or(self.window, |t| self.window - (now - *t))),
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in of `client`.
    pub fn failed(&self, client: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(client)
            .or_default()
            .push_back(Instant::now());
    }
}

/// The address the throttle counts a client under: its IPv4 address (an IPv4-mapped IPv6
/// address as the IPv4 one), or the /64 network of an IPv6 address, since one host commonly
/// holds a whole /64 and could otherwise take a fresh address per guess. Behind a reverse
/// proxy every client is the proxy's address (forwarded headers are not trusted).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

/// Whole seconds for `Retry-After` (RFC 9110 §10.2.3): `wait` rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The Content-Security-Policy of the HTML pages: nothing may load or run but the one inline
/// stylesheet `style` (allowed by its SHA-256, CSP Level 3 §8.4), images from the page's own
/// origin or `data:`, forms posting to the page's own origin; no framing, no `<base>`.
pub fn content_security_policy(style: &str) -> HeaderValue {
    use base64::Engine as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).expect("a policy of ASCII words and base64 is a header value")
}

/// Adds the security headers to an answer: `X-Content-Type-Options: nosniff` and
/// `Referrer-Policy: no-referrer` on every one; `csp` and `X-Frame-Options: DENY` on HTML;
/// `Strict-Transport-Security` (one year) when served over TLS, where browsers honour it.
pub fn add_headers(headers: &mut axum::http::HeaderMap, csp: &HeaderValue, tls: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    if tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_equal_whatever_their_lengths() {
        let token = b"test-token-0123456789abcdef";
        assert!(same(token, b"test-token-0123456789abcdef"));
        assert!(!same(token, b"test-token-0123456789abcdeF"), "last byte");
        assert!(!same(token, b"Test-token-0123456789abcdef"), "first byte");
        assert!(!same(token, b"test-token-0123456789abcde"), "a prefix");
        assert!(!same(token, b"test-token-0123456789abcdef0"), "longer");
        assert!(!same(token, b""), "empty");
        assert!(same(b"", b""));
    }

    #[test]
    fn a_token_is_found_by_its_secret_and_named_with_its_role() {
        let tokens = Tokens::new([
            (
                "li.na".to_string(),
                Role::Viewer,
                "viewer-secret-0123456789".to_string(),
            ),
            (
                "wang".to_string(),
                Role::Operator,
                "operator-secret-0123456789".to_string(),
            ),
        ]);
        let (p, d) = tokens.find(b"viewer-secret-0123456789").unwrap();
        assert_eq!((p.name.as_str(), p.role), ("li.na", Role::Viewer));
        // The digest is the SHA-256 of the secret (sha256sum of the 24 bytes).
        assert_eq!(
            hex::encode(d),
            hex::encode(Sha256::digest(b"viewer-secret-0123456789"))
        );
        assert_eq!(tokens.by_digest(&d).unwrap().name, "li.na");
        assert_eq!(
            tokens.find(b"operator-secret-0123456789").unwrap().0.role,
            Role::Operator
        );
        assert!(tokens.find(b"operator-secret-012345678").is_none());
        assert!(tokens.find(b"").is_none());
        // Today's single token is an operator named admin.
        let single = Tokens::single("test-token-0123456789abcdef");
        assert_eq!(
            single.find(b"test-token-0123456789abcdef").unwrap().0,
            Principal {
                name: "admin".into(),
                role: Role::Operator
            }
        );
        // Rotated: the old digest no longer names anyone.
        let rotated = Tokens::new([(
            "li.na".to_string(),
            Role::Viewer,
            "viewer-secret-rotated-000".to_string(),
        )]);
        assert!(rotated.by_digest(&d).is_none());
    }

    #[test]
    fn a_session_lives_its_lifetime_and_ends_when_closed() {
        let sessions = Sessions::new(Duration::from_secs(3600));
        let (a, b) = (sessions.open([1; 32]), sessions.open([2; 32]));
        assert_eq!(sessions.token_of(&b), Some([2; 32]));
        assert_eq!(a.len(), 64, "32 random bytes, hex");
        assert_ne!(a, b);
        assert!(sessions.is_live(&a) && sessions.is_live(&b));
        assert!(!sessions.is_live(&"0".repeat(64)));
        sessions.close(&a);
        assert!(!sessions.is_live(&a));
        assert!(sessions.is_live(&b), "closing one leaves the other");
        let brief = Sessions::new(Duration::from_millis(50));
        let c = brief.open([1; 32]);
        assert!(brief.is_live(&c));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!brief.is_live(&c));
        assert!(
            brief.live.lock().unwrap().is_empty(),
            "expired ones are pruned"
        );
    }

    #[test]
    fn the_throttle_refuses_the_sixth_failure_in_a_window_per_address() {
        let t = Throttle::new(5, Duration::from_secs(60));
        let (ip, other): (IpAddr, IpAddr) =
            ("192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap());
        for _ in 0..5 {
            assert_eq!(t.check(ip), Ok(()));
            t.failed(ip);
        }
        let wait = t.check(ip).unwrap_err();
        assert!(
            wait <= Duration::from_secs(60) && wait > Duration::from_secs(59),
            "{wait:?}"
        );
        assert_eq!(retry_after_secs(wait), 60);
        assert_eq!(t.check(other), Ok(()), "another address is not held up");
        let brief = Throttle::new(2, Duration::from_millis(50));
        brief.failed(ip);
        brief.failed(ip);
        assert!(brief.check(ip).is_err());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(brief.check(ip), Ok(()), "the window passed");
        assert!(
            brief.failures.lock().unwrap().is_empty(),
            "and it is forgotten"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(59_001)), 60);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_64_bit_network_and_a_mapped_ipv4_as_ipv4() {
        let key = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:3::1"), "2001:db8:1:3::");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
    }
}
