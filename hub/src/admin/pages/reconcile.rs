//! The reconciliation page `/syncs/{name}/reconcile`: the report of
//! [`crate::admin::api::syncs::reconciliation`] for people. Reads only (both systems, through
//! the engine).

use super::{esc, page, page_error, page_not_found};
use crate::admin::AdminState;
use crate::admin::api::syncs::reconciliation;
use crate::admin::errors::Failure;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::fmt::Write as _;

/// The reconciliation page `/syncs/{name}/reconcile`: the report of
/// `GET /api/syncs/{name}/reconcile` for people, each system named by its plugin: the counts,
/// what each side held, and the records that differ (at most 1,000 rows; the API and
/// `hub reconcile --csv` give them all). An error page with the API's status otherwise.
pub(in crate::admin) async fn reconcile_page(
    State(s): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    const MOST: usize = 1000;
    let view = s.view();
    let r = match reconciliation(&view, &name).await {
        Ok(r) => r,
        Err(Failure(StatusCode::NOT_FOUND, what)) => return Ok(page_not_found(&what)),
        Err(Failure(code, what)) => {
            return Ok(page_error(code, "无法对账 Cannot reconcile", &what));
        }
    };
    let (a, b) = (esc(&r.a.plugin), esc(&r.b.plugin));
    let c = &r.counts;
    let mut h = format!(
        "<p><a href=\"/\">← 同步状态 Sync status</a></p><h1>hub · 对账 Reconciliation · {}</h1>\
         <p class=\"note\">a: {a} ({}) · b: {b} ({}) · {} · {:.2} s</p>",
        esc(&r.sync),
        esc(&r.a.stream),
        esc(&r.b.stream),
        esc(&crate::local_time::for_people(&r.checked_at, view.zone)),
        r.duration_ms as f64 / 1000.0
    );
    h.push_str("<table id=\"reconcile-counts\">");
    for (id, label, n) in [
        ("equal", "两边一致 In both and equal".to_string(), c.equal),
        (
            "different",
            "两边不同 In both and different".into(),
            c.different,
        ),
        ("only-a", format!("仅在 a Only in a ({a})"), c.only_a),
        ("only-b", format!("仅在 b Only in b ({b})"), c.only_b),
        (
            "invalid",
            "无效 Invalid (schema or key, as read now)".into(),
            c.invalid,
        ),
        ("ended", "已结束 Ended (deleted on a side)".into(), c.ended),
        (
            "dead-letters",
            "死信 Dead letters (open)".into(),
            c.dead_letters,
        ),
        (
            "parked",
            "搁置 Parked (waiting for a person)".into(),
            c.parked,
        ),
    ] {
        let _ = write!(
            h,
            "<tr data-count=\"{id}\"><th>{label}</th><td class=\"num\">{n}</td></tr>"
        );
    }
    h.push_str("</table><h2>各方 Each side</h2><table id=\"reconcile-sides\"><tr><th></th><th>读取 Read</th><th>过滤外 Outside the filter</th><th>无效 Invalid</th><th>已删除 Deleted</th><th>重复键 Duplicate keys</th></tr>");
    for (side, x) in [("a", &r.a), ("b", &r.b)] {
        let _ = write!(
            h,
            "<tr><th>{side}: {}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&x.plugin),
            x.read,
            x.outside_filter,
            x.invalid,
            x.deleted,
            x.duplicate_keys
        );
    }
    h.push_str("</table>");
    let _ = write!(h, "<h2>差异 Records that differ ({})</h2>", r.records.len());
    if r.records.is_empty() {
        h.push_str("<p class=\"ok\">两个系统一致 The two systems agree.</p>");
    } else {
        let _ = write!(
            h,
            "<table id=\"reconcile-records\"><tr><th>键 Key (masked)</th><th>类别 Kind</th><th>{a} 编号 id</th><th>{b} 编号 id</th><th>字段 Fields</th></tr>"
        );
        for x in r.records.iter().take(MOST) {
            let _ = write!(
                h,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                x.kind.as_str(),
                esc(x.key_masked.as_deref().unwrap_or("—")),
                x.kind.label(),
                esc(x.a_id.as_deref().unwrap_or("—")),
                esc(x.b_id.as_deref().unwrap_or("—")),
                esc(&x.fields.join(", "))
            );
        }
        h.push_str("</table>");
        if r.records.len() > MOST {
            let _ = write!(
                h,
                "<p class=\"note\">前 {MOST} 条 The first {MOST} shown; <code>hub reconcile {} --csv</code> gives them all.</p>",
                esc(&r.sync)
            );
        }
    }
    Ok(Html(page(
        &format!("hub · 对账 Reconciliation · {}", r.sync),
        &h,
        false,
    ))
    .into_response())
}
