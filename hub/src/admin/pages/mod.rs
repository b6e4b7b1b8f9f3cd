//! The HTML pages for people, server-rendered (no script): the status page ([`status`]), a
//! run's page ([`run`]), a sync's reconciliation ([`reconcile`]), a conflict with its form
//! ([`conflict`]) and the statistics ([`statistics`]); here what they share: the page frame and
//! its one stylesheet ([`STYLE`]), HTML escaping ([`esc`]), error pages and the words for
//! people (statuses, directions, counts). Pages read through the API's queries
//! ([`super::api`]); only the conflict page writes, and only through the API's own decision
//! and the audit log of what it showed.

pub(super) mod conflict;
pub(super) mod reconcile;
pub(super) mod run;
pub(super) mod statistics;
pub(super) mod status;

use crate::store::{RunRecord, RunStatus};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// A dead letter's reasons as one line: `pointer: 中文 English` each
/// ([`crate::dead_letter_reasons::for_people`]), joined by `; `.
pub(super) fn reasons(errors: &[crate::schema::Violation]) -> String {
    errors
        .iter()
        .map(crate::dead_letter_reasons::for_people)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Escapes text for HTML: `s` for an HTML page: control characters (and the other characters
/// [`crate::control_chars::is_unsafe`] names) written as visible escapes first (`\n`,
/// `\u{1b}`), then `&`, `<`, `>`, `"` and `'` as character references.
pub(crate) fn esc(s: &str) -> String {
    let s = crate::control_chars::escape(s);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A whole page; `refresh` reloads it every 30 s (the status page, never the sign-in form,
/// where it would wipe a token being typed).
pub(super) fn page(title: &str, body: &str, refresh: bool) -> String {
    let refresh = if refresh {
        "<meta http-equiv=\"refresh\" content=\"30\">"
    } else {
        ""
    };
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">{refresh}<title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    )
}

/// The pages' one stylesheet, inline; the Content-Security-Policy allows it by its SHA-256
/// (worked out from this text, [`super::security::content_security_policy`]), so editing it needs
/// nothing else. Tables scroll inside their own box and charts scale to the width given them
/// (`viewBox`), so the page body never scrolls sideways, down to phones and a 700-pixel window.
pub(super) const STYLE: &str = "body{font:14px/1.45 system-ui,'Noto Sans CJK SC',sans-serif;margin:24px;color:#1b1f24;background:#fafbfc}\
h1{font-size:20px;margin-right:120px}h2{font-size:16px;margin:28px 0 6px}\
table{border-collapse:collapse;margin:6px 0;display:block;max-width:100%;overflow-x:auto}\
td,th{border-bottom:1px solid #d8dee4;padding:4px 10px;text-align:left;vertical-align:top}th{background:#eef1f4}\
.ok{color:#1a7f37}.partial{color:#9a6700}.failed,.bad{color:#cf222e}.interrupted{color:#9a6700}.running{color:#0969da}\
.note{color:#57606a}.num{text-align:right;font-variant-numeric:tabular-nums}.run-error,.load-error,#problems li{overflow-wrap:anywhere}\
.charts{display:flex;flex-wrap:wrap;gap:12px 20px}figure{margin:0;flex:1 1 380px;min-width:0;max-width:640px}\
figcaption{color:#57606a;margin:0 0 4px}\
svg{display:block;width:100%;height:auto;background:#fff;border:1px solid #d8dee4;font-family:system-ui,'Noto Sans CJK SC',sans-serif}\
svg .x-tick,svg .y-tick{fill:#57606a}svg a:hover rect.read,svg a:hover rect.written{opacity:.7}\
#logout{position:absolute;top:24px;right:24px}\
@media (max-width:760px){body{margin:16px 12px}#logout{top:16px;right:12px}td,th{padding:4px 5px}}";

/// A sync's direction for people, its sides named by their plugins (the systems), not `a`/`b`:
/// `单向 one way: huiyang-esms → zhenfeng-registry` for `a_to_b` (a is huiyang-esms), the
/// arrow reversed for `b_to_a`, `双向 both ways: a ⇄ b` for `both`.
pub(super) fn direction_for_people(direction: &str, a: &str, b: &str) -> String {
    match direction {
        "a_to_b" => format!("单向 one way: {a} → {b}"),
        "b_to_a" => format!("单向 one way: {b} → {a}"),
        _ => format!("双向 both ways: {a} ⇄ {b}"),
    }
}

/// A run's status for people, Chinese and English (`?` for `crashed`, a status of older
/// histories).
pub(crate) fn status_label(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Ok => "正常 ok",
        RunStatus::Partial => "部分 partial",
        RunStatus::Failed => "失败 failed",
        RunStatus::Running => "运行中 running",
        RunStatus::Interrupted => "中断 interrupted",
        RunStatus::Crashed => "?",
    }
}

pub(super) fn num(stats: &Option<serde_json::Value>, side: &str, field: &str) -> u64 {
    stats
        .as_ref()
        .and_then(|s| s.get(side))
        .and_then(|s| s.get(field))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// Records a run wrote: created or updated, both sides.
pub(crate) fn written(r: &RunRecord) -> u64 {
    ["a", "b"]
        .iter()
        .map(|s| num(&r.stats, s, "created") + num(&r.stats, s, "updated"))
        .sum()
}

/// Records a run read, both sides.
pub(crate) fn read(r: &RunRecord) -> u64 {
    ["a", "b"].iter().map(|s| num(&r.stats, s, "read")).sum()
}

/// A run's duration in seconds.
pub(crate) fn duration_s(r: &RunRecord) -> f64 {
    r.stats
        .as_ref()
        .and_then(|s| s.get("duration_ms"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
        / 1000.0
}

/// An HTML page answering 404 for a run page that does not exist.
pub(super) fn page_not_found(what: &str) -> Response {
    page_error(StatusCode::NOT_FOUND, "未找到 Not found", what)
}

/// An HTML page answering `status` (titled `title`, Chinese and English) with what is wrong,
/// and the way back to the status page: the pages' errors are pages, as the API's are JSON.
pub(super) fn page_error(status: StatusCode, title: &str, what: &str) -> Response {
    (
        status,
        Html(page(
            title,
            &format!(
                "<h1>hub · {}</h1><p class=\"bad\" id=\"error\">{}</p><p><a href=\"/\">← 同步状态 Sync status</a></p>",
                esc(title),
                esc(what)
            ),
            false,
        )),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_name_the_systems_and_say_one_way_or_both() {
        let (hy, zf) = ("huiyang-esms", "zhenfeng-registry");
        assert_eq!(
            direction_for_people("a_to_b", hy, zf),
            "单向 one way: huiyang-esms → zhenfeng-registry"
        );
        assert_eq!(
            direction_for_people("b_to_a", hy, zf),
            "单向 one way: zhenfeng-registry → huiyang-esms"
        );
        assert_eq!(
            direction_for_people("both", zf, hy),
            "双向 both ways: zhenfeng-registry ⇄ huiyang-esms"
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn control_characters_become_visible_escapes_on_pages() {
        assert_eq!(esc("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(esc("a\u{0}b"), "a\\u{0}b");
        assert_eq!(
            esc("<i>\u{1b}[2J\u{0}evil\nline\r</i>"),
            "&lt;i&gt;\\u{1b}[2J\\u{0}evil\\nline\\r&lt;/i&gt;"
        );
        assert_eq!(esc("贞丰县 ok"), "贞丰县 ok");
    }
}
