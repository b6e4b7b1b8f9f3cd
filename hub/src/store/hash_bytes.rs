//! The hashes of the `links` and `audit` tables kept as bytes (migration 0013).
//!
//! The hub's key and content hashes are HMAC-SHA256 (RFC 2104, FIPS 180-4): 32 bytes, which
//! the engine and every report handle as 64 lower-case hex digits. The two tables that grow
//! with every record (a link per key, an audit entry per write) keep them as the 32 bytes
//! instead: half the size in the row and in the primary key's index, about 230 bytes a link
//! (docs/performance.md). Hex order is byte order, so `ORDER BY key_hash` and `key_hash > $n`
//! page the same. The other tables (dead letters, conflicts) keep the hex text: they hold a
//! row per problem, not per record.
//!
//! A value that is not 64 lower-case hex digits (the `=` the link seal writes for "the side's
//! hash", short keys in tests) is kept as its UTF-8 bytes; such a value must not be 32 bytes
//! long, or it reads back as hex.

/// The bytes of a hash column for `h`: 64 lower-case hex digits → their 32 bytes; anything
/// else → its UTF-8 bytes.
pub(super) fn to_bytes(h: &str) -> Vec<u8> {
    match hex::decode(h) {
        Ok(b) if b.len() == 32 && !h.bytes().any(|c| c.is_ascii_uppercase()) => b,
        _ => {
            debug_assert_ne!(
                h.len(),
                32,
                "a 32-byte text in a hash column reads back as hex"
            );
            h.as_bytes().to_vec()
        }
    }
}

/// [`to_bytes`] of an optional hash.
pub(super) fn opt_to_bytes(h: Option<&str>) -> Option<Vec<u8>> {
    h.map(to_bytes)
}

/// The hash a column's bytes hold: 32 bytes → 64 lower-case hex digits; anything else → the
/// bytes as UTF-8 text (lossy: a hash column holds only what [`to_bytes`] wrote).
pub(super) fn from_bytes(b: &[u8]) -> String {
    if b.len() == 32 {
        hex::encode(b)
    } else {
        String::from_utf8_lossy(b).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hex_hash_is_kept_as_its_32_bytes_and_reads_back_as_the_same_digits() {
        // SHA-256 of "abc" (FIPS 180-4, appendix B.1).
        let h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let b = to_bytes(h);
        assert_eq!(b.len(), 32);
        assert_eq!(&b[..4], &[0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(b[31], 0xad);
        assert_eq!(from_bytes(&b), h);
    }

    #[test]
    fn other_text_is_kept_as_it_is() {
        for t in [
            "=",
            "k1",
            "",
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        ] {
            assert_eq!(to_bytes(t), t.as_bytes(), "{t:?}");
            assert_eq!(from_bytes(t.as_bytes()), t, "{t:?}");
        }
    }

    #[test]
    fn byte_order_is_hex_order() {
        let lo = "0f".repeat(32);
        let hi = format!("{}{}", "10", "00".repeat(31));
        assert!(lo < hi);
        assert!(to_bytes(&lo) < to_bytes(&hi));
    }
}
