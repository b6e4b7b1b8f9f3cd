//! The run page `/runs/{id}`: one run, its counts per side and the dead letters it recorded.
//! Reads only.

use super::{duration_s, esc, num, page, page_not_found, reasons, status_label};
use crate::admin::AdminState;
use crate::admin::errors::Failure;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use std::fmt::Write as _;

/// Counts of a run's side shown on its page: (stats field, label in Chinese and English).
const SIDE_COUNTS: &[(&str, &str)] = &[
    ("read", "读取 read"),
    ("changed", "有变化 changed"),
    ("unchanged", "未变 unchanged"),
    ("echoes", "回读本系统写入 echoes of the hub's writes"),
    ("invalid", "无效（死信）invalid (dead letters)"),
    ("filtered", "范围外 outside the sync's filter"),
    ("deleted", "已删除 deleted"),
    ("created", "新建 created"),
    ("updated", "更新 updated"),
    ("ended", "已删除（原生删除）ended natively"),
    ("linked", "已关联现有记录 linked to a record it held"),
    ("rejected", "被拒（死信）refused (dead letters)"),
    ("conflicts", "冲突 conflicts"),
    ("retries", "待重试 to retry"),
];

/// The run-detail page `/runs/{id}`: the run's sync, trigger, status, start, end, duration,
/// error, its counts per side (each side named by its plugin) and the dead letters it
/// recorded. HTML; 404 page for an unknown run.
pub(in crate::admin) async fn run_page(
    State(s): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let view = s.view();
    let Ok(id) = id.parse::<i64>() else {
        return Ok(page_not_found(&format!("没有这次运行 no run {id:?}")));
    };
    let Some(r) = view.store.run(id).await? else {
        return Ok(page_not_found(&format!("没有这次运行 no run {id}")));
    };
    let sync = view.syncs.get(&r.sync);
    let side_name = |side: &str| match (sync, side) {
        (Some(v), "a") => format!("{} ({})", esc(&v.a.plugin), esc(&v.a.stream)),
        (Some(v), _) => format!("{} ({})", esc(&v.b.plugin), esc(&v.b.stream)),
        (None, s) => s.to_string(),
    };
    let mut b = format!(
        "<p><a href=\"/\">← 同步状态 Sync status</a></p><h1>hub · 运行 Run {} · {}</h1>",
        r.id,
        esc(&r.sync)
    );
    let _ = write!(
        b,
        "<table id=\"run\"><tr><th>状态 Status</th><td><span class=\"{}\">{}</span></td></tr>\
         <tr><th>触发 Trigger</th><td>{}</td></tr><tr><th>开始 Started</th><td>{}</td></tr>\
         <tr><th>结束 Finished</th><td>{}</td></tr><tr><th>耗时 Duration</th><td>{:.2} s</td></tr>\
         <tr><th>原因 Error</th><td class=\"bad run-error\">{}</td></tr></table>",
        r.status.as_str(),
        status_label(r.status),
        esc(&r.trigger.to_string()),
        esc(&format!(
            "{} ({})",
            crate::local_time::for_people(&r.started_at, view.zone),
            view.zone.name()
        )),
        esc(&r
            .finished_at
            .as_deref()
            .map_or("—".into(), |t| crate::local_time::for_people(
                t, view.zone
            ))),
        duration_s(&r),
        esc(r.error.as_deref().unwrap_or("—")),
    );
    let _ = write!(
        b,
        "<h2>各方计数 Counts per side</h2><table id=\"counts\"><tr><th></th><th>a: {}</th><th>b: {}</th></tr>",
        side_name("a"),
        side_name("b")
    );
    for (field, label) in SIDE_COUNTS {
        let _ = write!(
            b,
            "<tr data-count=\"{field}\"><th>{label}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            num(&r.stats, "a", field),
            num(&r.stats, "b", field)
        );
    }
    b.push_str("</table>");
    let dead = view.store.run_dead_letters(id).await?;
    let _ = write!(
        b,
        "<h2>本次运行的死信 Dead letters of this run ({})</h2>",
        dead.len()
    );
    if dead.is_empty() {
        b.push_str("<p class=\"note\">无 None</p>");
    } else {
        b.push_str("<table id=\"run-dead-letters\"><tr><th>#</th><th>方 Side</th><th>阶段 Stage</th><th>键 Key (masked)</th><th>原因 Reason</th><th>状态 Status</th></tr>");
        for d in dead.iter().take(200) {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.id,
                side_name(d.side.as_str()),
                d.stage.as_str(),
                esc(d.key_masked.as_deref().unwrap_or("—")),
                esc(&reasons(&d.errors)),
                d.status.as_str()
            );
        }
        b.push_str("</table>");
    }
    Ok(Html(page(&format!("hub · 运行 Run {id}"), &b, false)).into_response())
}
