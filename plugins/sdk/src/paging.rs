//! Paging: the three ways the bureaus' systems hand out long lists.
//!
//! - [`PageNumber`]: `?page=N&size=S` (HY-ESMS, most REST APIs); the last page is the first one
//!   shorter than `size`.
//! - [`Keyset`]: "changed since T" (`updatedSince`, `since`): resume from the last change time
//!   seen, skipping the records of that same instant already returned, so that a record that
//!   changes while the connector pages is neither skipped nor returned twice.
//! - [`fhir_next`]: a FHIR R4 `Bundle` (searchset) whose `link` with relation `next` is the next
//!   page's URL (FHIR R4 §3.1.1.4 Paging).

use serde_json::Value;

/// A page of a page-numbered list (pages count from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageNumber {
    /// Page number, from 1.
    pub page: u32,
    /// Records per page.
    pub size: u32,
}

impl PageNumber {
    /// The first page of `size` records (at least 1).
    pub fn first(size: u32) -> PageNumber {
        PageNumber { page: 1, size: size.max(1) }
    }

    /// The page after this one, given how many records this one held; `None` when it was the
    /// last (held fewer than `size`).
    pub fn next(self, got: usize) -> Option<PageNumber> {
        (got >= self.size as usize).then_some(PageNumber { page: self.page + 1, size: self.size })
    }
}

/// A keyset position over "changed since" reads: the change time reached, and the ids already
/// returned that carry exactly that time. Serialise it as the cursor ([`crate::cursor`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Keyset {
    /// The latest change time returned (as the system writes it; compared as text, so the
    /// system's format must sort: RFC 3339 with one offset, or `YYYY-MM-DD HH:MM:SS`).
    pub since: Option<String>,
    /// Ids returned whose change time is `since`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<String>,
}

impl Keyset {
    /// True if a record `(changed, id)` from a read "since `self.since`" (inclusive) is new:
    /// not one already returned at that same instant.
    pub fn is_new(&self, changed: &str, id: &str) -> bool {
        self.since.as_deref() != Some(changed) || !self.seen.iter().any(|s| s == id)
    }

    /// True if a record `(changed, id)` is to be returned when the system cannot filter by
    /// change time itself (a whole export): changed at or after `since`, and [`Keyset::is_new`].
    pub fn admits(&self, changed: &str, id: &str) -> bool {
        self.since.as_deref().is_none_or(|since| changed >= since) && self.is_new(changed, id)
    }

    /// Moves past a record returned; records must come in change order.
    pub fn advance(&mut self, changed: &str, id: &str) {
        if self.since.as_deref() != Some(changed) {
            self.since = Some(changed.to_string());
            self.seen.clear();
        }
        if !self.seen.iter().any(|s| s == id) {
            self.seen.push(id.to_string());
        }
    }
}

/// The URL of a FHIR R4 `Bundle`'s next page (`link[relation = "next"].url`), if any.
pub fn fhir_next(bundle: &Value) -> Option<String> {
    bundle
        .get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?
        .get("url")?
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_stop_at_the_first_short_page() {
        let p = PageNumber::first(100);
        assert_eq!(p.next(100), Some(PageNumber { page: 2, size: 100 }));
        assert_eq!(p.next(99), None);
        assert_eq!(PageNumber::first(0).size, 1);
    }

    #[test]
    fn a_keyset_skips_only_what_it_returned_at_the_same_instant() {
        let mut k = Keyset::default();
        assert!(k.is_new("2024-05-01T10:00:00+08:00", "7"));
        k.advance("2024-05-01T10:00:00+08:00", "7");
        k.advance("2024-05-01T10:00:01+08:00", "8");
        k.advance("2024-05-01T10:00:01+08:00", "9");
        assert_eq!(k.since.as_deref(), Some("2024-05-01T10:00:01+08:00"));
        assert_eq!(k.seen, ["8", "9"]);
        // Read again since 10:00:01: 8 and 9 were returned, 10 (same second) and 7 (changed
        // again later) are new.
        assert!(!k.is_new("2024-05-01T10:00:01+08:00", "8"));
        assert!(k.is_new("2024-05-01T10:00:01+08:00", "10"));
        assert!(k.is_new("2024-05-01T10:00:02+08:00", "7"));
        // From a whole export: what changed before `since` was returned by an earlier read.
        assert!(!k.admits("2024-05-01T10:00:00+08:00", "7"));
        assert!(k.admits("2024-05-01T10:00:01+08:00", "10") && !k.admits("2024-05-01T10:00:01+08:00", "9"));
        assert_eq!(crate::cursor::encode(&Keyset::default()), r#"{"since":null}"#);
    }

    #[test]
    fn the_fhir_next_link_is_found_by_relation() {
        let bundle = serde_json::json!({"resourceType": "Bundle", "link": [
            {"relation": "self", "url": "http://fhir.test/Practitioner?_count=2"},
            {"relation": "next", "url": "http://fhir.test/Practitioner?_count=2&_getpages=abc&_getpagesoffset=2"}]});
        assert_eq!(fhir_next(&bundle).as_deref(), Some("http://fhir.test/Practitioner?_count=2&_getpages=abc&_getpagesoffset=2"));
        assert_eq!(fhir_next(&serde_json::json!({"link": [{"relation": "self", "url": "x"}]})), None);
    }
}
