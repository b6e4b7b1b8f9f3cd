//! Paging: the ways the bureaus' systems hand out long lists.
//!
//! - [`PageNumber`]: `?page=N&size=S` (HY-ESMS, most REST APIs); the last page is the first one
//!   shorter than `size`.
//! - [`Keyset`]: "changed since T" (`updatedSince`, `since`): resume from the last change time
//!   seen, skipping the records of that same instant already returned, so that a record that
//!   changes while the connector pages is neither skipped nor returned twice.
//! - [`PageToken`]: pages linked by opaque tokens (`{"items": [...], "next": "token"}`, `"next":
//!   null` on the last page): resume on the last page fetched, returning only what is new on it.
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
        PageNumber {
            page: 1,
            size: size.max(1),
        }
    }

    /// The page after this one, given how many records this one held; `None` when it was the
    /// last (held fewer than `size`).
    pub fn next(self, got: usize) -> Option<PageNumber> {
        (got >= self.size as usize).then_some(PageNumber {
            page: self.page + 1,
            size: self.size,
        })
    }

    /// What waits after this page of a list that says it holds `total` records (exact):
    /// `total - page * size`, 0 once past the end (see [`crate::prelude::Remaining::after_page`]).
    pub fn remaining(self, total: u64) -> crate::prelude::Remaining {
        crate::prelude::Remaining::after_page(total, self.page, self.size)
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

/// A position in a list handed out in pages linked by opaque tokens: each answer holds a page of
/// records and the token of the next page (`{"items": [...], "next": "opaque"}`), and the last
/// page says `"next": null`. Serialise it as the cursor ([`crate::cursor`]).
///
/// A token alone cannot resume after the last page: its `next` is `null`, and starting again
/// from the first page would read the whole list each run. So the position is the token of the
/// page being read (`None` for the first page, fetched without a token) and the records of that
/// page already returned, by id and version. The protocol, one page per `read`:
///
/// 1. fetch the page with [`PageToken::token`] (no token: the first page);
/// 2. [`PageToken::take`] the page: it gives the records not returned before (a record whose
///    version changed counts as new), at most `max`, notes them as returned, and, when the
///    page has nothing more to give, moves to the page's `next` token;
/// 3. return those records, the cursor ([`crate::cursor::encode`] of the `PageToken`) and
///    `more` as `take` says.
///
/// On the last page `take` stays on it: the next run fetches that page again with the same
/// token and returns only the records added to it (or changed on it) since; when it has filled
/// and gained a `next`, the read goes on from there. Nothing before the last page is read again.
///
/// It fits a list in creation order (new records come at the end) or in change order (a changed
/// record moves to the end), with tokens that stay valid from one run to the next (a position,
/// not a server-side session that expires: a system that refuses an old token needs
/// [`PageToken::default`], the whole list, again). A list in another order (by name) cannot be
/// resumed this way. The cursor holds the ids and versions of one page: keep pages to a few
/// hundred records (the host refuses a cursor over `max_cursor_kib`, 64 KiB by default).
///
/// ```ignore
/// let mut at: PageToken = hub_sdk::cursor::decode(cursor.as_deref())?.unwrap_or_default();
/// let mut req = Request::get(format!("{base}/api/people")).query("limit", "100");
/// if let Some(t) = &at.token {
///     req = req.query("after", t);
/// }
/// let resp = req.send()?;
/// if resp.status != 200 {
///     return Err(resp.error("read"));
/// }
/// let page: Page = resp.json("read")?; // {"items": [...], "next": "..." or null}
/// let (people, more) = at.take(&page.items, page.next, max as usize, |p| (p.id.to_string(), p.updated_at.clone()));
/// let records = people.into_iter().map(to_source_record).collect();
/// Ok(Batch { records, cursor: Some(hub_sdk::cursor::encode(&at)), more, remaining: None })
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageToken {
    /// The token to fetch the page with; `None` for the first page (fetched without a token).
    pub token: Option<String>,
    /// The records of that page already returned, as `(id, version)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<(String, String)>,
}

impl PageToken {
    /// Takes one page fetched with [`PageToken::token`]: its records, the page's `next` token
    /// (`None` for `null`, the last page), the most records to return (`max`, at least 1) and
    /// each record's `key`, `(id, version)`. The version is the record's change time or version
    /// as the system writes it, or `""` when it has none (a record changed on the last page is
    /// then not returned again).
    ///
    /// Returns the records to return now, in page order, and `more`: true when the page has
    /// more to give (more than `max` were new) or there is a next page; false on the last page,
    /// all given. Records returned are noted in `seen`; entries of records no longer on the
    /// page are dropped. See [`PageToken::turn`] for how the page ends. A page with more than
    /// `max` new records is fetched again for the rest by the next `read` (ask for pages of at
    /// most `max` records, or keep the page in the instance until it is done).
    pub fn take<'a, T>(
        &mut self,
        items: &'a [T],
        next: Option<String>,
        max: usize,
        key: impl Fn(&T) -> (String, String),
    ) -> (Vec<&'a T>, bool) {
        let keys: Vec<(String, String)> = items.iter().map(key).collect();
        self.seen
            .retain(|(id, _)| keys.iter().any(|(k, _)| k == id));
        let mut out = Vec::new();
        let mut left = false;
        for (item, (id, version)) in items.iter().zip(&keys) {
            if !self.is_new(id, version) {
                continue;
            }
            if out.len() >= max.max(1) {
                left = true;
                break;
            }
            self.advance(id, version);
            out.push(item);
        }
        let more = left || self.turn(next);
        (out, more)
    }

    /// True if the record `(id, version)` of this page was not returned yet: new on the page,
    /// or returned with another version.
    pub fn is_new(&self, id: &str, version: &str) -> bool {
        !self.seen.iter().any(|(i, v)| i == id && v == version)
    }

    /// Notes the record `(id, version)` of this page as returned (forgetting a version of it
    /// returned before).
    pub fn advance(&mut self, id: &str, version: &str) {
        self.seen.retain(|(i, _)| i != id);
        self.seen.push((id.to_string(), version.to_string()));
    }

    /// Ends this page, every record of it returned: with a `next` token, moves to that page
    /// (nothing of it returned yet) and returns true; on the last page (`next` is `None`, empty,
    /// or this page's own token, as some systems write it) stays on this page with what was
    /// returned of it, for the next run to fetch it again, and returns false.
    pub fn turn(&mut self, next: Option<String>) -> bool {
        match next.filter(|n| !n.is_empty() && Some(n) != self.token.as_ref()) {
            Some(n) => {
                *self = PageToken {
                    token: Some(n),
                    seen: Vec::new(),
                };
                true
            }
            None => false,
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
        assert!(
            k.admits("2024-05-01T10:00:01+08:00", "10")
                && !k.admits("2024-05-01T10:00:01+08:00", "9")
        );
        assert_eq!(
            crate::cursor::encode(&Keyset::default()),
            r#"{"since":null}"#
        );
    }

    /// A made-up REST API over a list in creation or change order: `GET /people?after=TOKEN`
    /// answers `size` people from the token's position and the token of the next page, `null`
    /// on the last. Its tokens are positions (`"p" + offset`), opaque to the connector.
    struct Api {
        /// (id, updated_at), in list order.
        people: Vec<(u32, String)>,
        size: usize,
        requests: std::cell::Cell<usize>,
    }

    impl Api {
        fn new(n: u32, size: usize) -> Api {
            Api {
                people: (1..=n)
                    .map(|i| (i, format!("2024-05-0{i}T10:00:00+08:00")))
                    .collect(),
                size,
                requests: Default::default(),
            }
        }

        fn get(&self, after: Option<&str>) -> (Vec<(u32, String)>, Option<String>) {
            self.requests.set(self.requests.get() + 1);
            let start: usize = after.map_or(0, |t| {
                t.strip_prefix('p')
                    .expect("a token of this API")
                    .parse()
                    .unwrap()
            });
            let end = (start + self.size).min(self.people.len());
            let next = (end < self.people.len()).then(|| format!("p{end}"));
            (self.people[start.min(end)..end].to_vec(), next)
        }

        /// A sync run: `read` calls, each on a fresh decode of the cursor text, until `more` is
        /// false. The ids returned, the cursor left, and the requests made.
        fn run(&self, cursor: Option<String>, max: usize) -> (Vec<u32>, Option<String>, usize) {
            self.requests.set(0);
            let mut cursor = cursor;
            let mut got = Vec::new();
            loop {
                let mut at: PageToken = crate::cursor::decode(cursor.as_deref())
                    .unwrap()
                    .unwrap_or_default();
                let (items, next) = self.get(at.token.as_deref());
                let (records, more) =
                    at.take(&items, next, max, |p| (p.0.to_string(), p.1.clone()));
                got.extend(records.iter().map(|p| p.0));
                cursor = Some(crate::cursor::encode(&at));
                if !more {
                    return (got, cursor, self.requests.get());
                }
                assert!(got.len() < 100, "a read that does not end");
            }
        }
    }

    #[test]
    fn page_tokens_resume_on_the_last_page_after_its_next_was_null() {
        // Five people, two a page: pages [1 2] next p2, [3 4] next p4, [5] next null.
        let mut api = Api::new(5, 2);
        let (got, cursor, requests) = api.run(None, 10);
        assert_eq!((got, requests), (vec![1, 2, 3, 4, 5], 3));
        let cursor = cursor.unwrap();
        assert_eq!(
            cursor,
            r#"{"token":"p4","seen":[["5","2024-05-05T10:00:00+08:00"]]}"#
        );
        // The next run, one person added: only the last page is fetched, only the new one read.
        api.people.push((6, "2024-05-06T10:00:00+08:00".into()));
        let (got, cursor, requests) = api.run(Some(cursor), 10);
        assert_eq!((got, requests), (vec![6], 1));
        // Nothing new: nothing read, the cursor stays usable.
        let (got, again, requests) = api.run(cursor.clone(), 10);
        assert_eq!((got, requests), (vec![], 1));
        assert_eq!(again, cursor);
    }

    #[test]
    fn page_tokens_go_on_when_the_last_page_fills_and_split_pages_over_reads() {
        let mut api = Api::new(5, 2);
        // One record per read: pages are fetched again for what is left of them.
        let (got, cursor, _) = api.run(None, 1);
        assert_eq!(got, [1, 2, 3, 4, 5]);
        // Two added: the last page [5 6] gains a next page [7].
        api.people.push((6, "2024-05-06T10:00:00+08:00".into()));
        api.people.push((7, "2024-05-07T10:00:00+08:00".into()));
        let (got, cursor, requests) = api.run(cursor, 10);
        assert_eq!((got, requests), (vec![6, 7], 2));
        assert_eq!(
            cursor.as_deref(),
            Some(r#"{"token":"p6","seen":[["7","2024-05-07T10:00:00+08:00"]]}"#)
        );
    }

    #[test]
    fn a_record_changed_on_the_last_page_is_read_again() {
        // In change order: a changed record moves to the end, onto the last page. Now
        // [1 3] [4 5] [2']: the last page's token p4 gives [2'] (5 moved to the page before).
        let mut api = Api::new(5, 2);
        let (_, cursor, _) = api.run(None, 10);
        let (two, _) = api.people.remove(1);
        api.people.push((two, "2024-05-09T10:00:00+08:00".into()));
        let (got, cursor, _) = api.run(cursor, 10);
        assert_eq!(got, [2]);
        assert_eq!(
            cursor.as_deref(),
            Some(r#"{"token":"p4","seen":[["2","2024-05-09T10:00:00+08:00"]]}"#)
        );
        // In creation order, changed in place: on the last page its new version is new; on an
        // earlier page it is not seen (such a list needs a "changed since" read: `Keyset`).
        let mut api = Api::new(5, 2);
        let (_, cursor, _) = api.run(None, 10);
        api.people[4].1 = "2024-05-09T10:00:00+08:00".into();
        api.people[0].1 = "2024-05-09T10:00:00+08:00".into();
        let (got, cursor, _) = api.run(cursor, 10);
        assert_eq!(got, [5]);
        assert_eq!(
            cursor.as_deref(),
            Some(r#"{"token":"p4","seen":[["5","2024-05-09T10:00:00+08:00"]]}"#)
        );
    }

    #[test]
    fn a_page_token_ends_at_null_an_empty_token_or_its_own() {
        for next in [None, Some(String::new()), Some("p4".to_string())] {
            let mut at = PageToken {
                token: Some("p4".into()),
                seen: Vec::new(),
            };
            assert!(!at.turn(next.clone()), "{next:?}");
            assert_eq!(at.token.as_deref(), Some("p4"));
        }
        let mut at = PageToken {
            token: Some("p4".into()),
            seen: vec![("5".into(), String::new())],
        };
        assert!(at.turn(Some("p6".into())));
        assert_eq!(
            at,
            PageToken {
                token: Some("p6".into()),
                seen: Vec::new()
            }
        );
        assert_eq!(
            crate::cursor::encode(&PageToken::default()),
            r#"{"token":null}"#
        );
        // An empty page with a next (some systems write them) goes on to it; `max` 0 reads one.
        let mut at = PageToken::default();
        assert_eq!(
            at.take(&[] as &[(u32, String)], Some("p2".into()), 10, |p| (
                p.0.to_string(),
                p.1.clone()
            )),
            (vec![], true)
        );
        let page = [(1, String::new()), (2, String::new())];
        let (got, more) = at.take(&page, None, 0, |p| (p.0.to_string(), p.1.clone()));
        assert_eq!((got.len(), more), (1, true));
    }

    #[test]
    fn the_fhir_next_link_is_found_by_relation() {
        let bundle = serde_json::json!({"resourceType": "Bundle", "link": [
            {"relation": "self", "url": "http://fhir.test/Practitioner?_count=2"},
            {"relation": "next", "url": "http://fhir.test/Practitioner?_count=2&_getpages=abc&_getpagesoffset=2"}]});
        assert_eq!(
            fhir_next(&bundle).as_deref(),
            Some("http://fhir.test/Practitioner?_count=2&_getpages=abc&_getpagesoffset=2")
        );
        assert_eq!(
            fhir_next(&serde_json::json!({"link": [{"relation": "self", "url": "x"}]})),
            None
        );
    }
}
