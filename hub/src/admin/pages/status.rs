//! The status page `/`: every sync's state, last and next run, its run charts
//! ([`crate::admin::charts`]), the problems, and the dead letters and conflicts waiting. Reads
//! only.

use super::{
    direction_for_people, duration_s, esc, page, page_error, read, reasons, status_label, written,
};
use crate::admin::api::syncs::{SyncInfo, sync_info};
use crate::admin::errors::{Failure, bad_request, query_params};
use crate::admin::{AdminState, View};
use crate::store::{RunStatus, RunTrigger};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How many of a sync's last runs its chart shows.
const CHART_RUNS: u32 = 20;
/// How many days its daily totals cover.
const CHART_DAYS: u32 = 30;

/// The status page `/`: every sync with its state, last and next run; per sync, the chart of
/// its last runs beside its daily totals over the last [`CHART_DAYS`] days (days in the
/// deployment's zone); the problems; the dead letters and conflicts waiting. `?wrote=1` shows
/// only runs that wrote records in the run charts (`?wrote=0`, the default, all runs); any
/// other value, or another parameter, is a 400 page saying what is wrong.
pub(in crate::admin) async fn status_page(
    State(s): State<AdminState>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let wrote_only = match query_params(&uri, &["wrote"]).and_then(|q| wrote_filter(&q)) {
        Ok(w) => w,
        Err(Failure(code, what)) => return Ok(page_error(code, "请求有误 Bad request", &what)),
    };
    let view = s.view();
    let mut b = String::from(
        "<form id=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">退出 Sign out</button></form><h1>hub · 同步状态 Sync status</h1>",
    );
    let _ = write!(
        b,
        "<p class=\"note\">{} ({}) · 时间均为 {} 时间 all times in {} · 每 30 秒刷新 refreshes every 30 s · <a id=\"statistics-link\" href=\"/statistics\">数据统计 Statistics</a></p>",
        crate::local_time::now_for_people(view.zone),
        view.zone.name(),
        view.zone.name(),
        view.zone.name()
    );
    b.push_str(&problems_box(&view.all_problems()));
    b.push_str(
        "<table id=\"syncs\"><tr><th>同步 Sync</th><th>状态 State</th><th>上次运行 Last run</th><th>读取 Read</th><th>写入 Written</th><th>下次运行 Next run</th><th>死信 Dead letters</th><th>冲突 Conflicts</th></tr>",
    );
    let failed_checks = view.checks.failed();
    let mut charts = run_filter_links(wrote_only);
    for name in view.syncs.keys() {
        let info = sync_info(name, &view).await?;
        b.push_str(&sync_row(name, &info, &failed_checks, view.zone));
        charts.push_str(&sync_charts(&view, name, wrote_only).await?);
    }
    for (name, why) in &view.not_loaded {
        let _ = write!(
            b,
            "<tr data-sync=\"{}\" class=\"not-loaded\"><td><b>{}</b></td><td><span class=\"bad\">未加载 not loaded</span></td><td colspan=\"6\" class=\"bad load-error\">{}</td></tr>",
            esc(name),
            esc(name),
            esc(why)
        );
    }
    b.push_str("</table>");
    b.push_str(&charts);
    waiting(&view, &mut b).await?;
    Ok(Html(page("hub · 同步状态 Sync status", &b, true)).into_response())
}

/// A sync's row of the status page's table: its name, direction, state (with its plugins'
/// failed checks), last run, counts, next run, dead letters and conflicts.
fn sync_row(
    name: &str,
    info: &SyncInfo,
    failed_checks: &BTreeMap<String, String>,
    zone: chrono_tz::Tz,
) -> String {
    let state = if let Some(p) = &info.running {
        format!("<span class=\"running\">{}</span>", esc(&running_words(p)))
    } else if !info.enabled {
        "停用 disabled".into()
    } else if info.paused {
        "暂停 paused".into()
    } else {
        "按计划 scheduled".into()
    };
    let state = state + &plugin_check_notes(failed_checks, info);
    let (last, nread, nwritten) = match &info.last_run {
        Some(r) => (
            format!(
                "<span class=\"{}\">{}</span> {} (<a href=\"/runs/{}\">run {}</a>, {:.2} s){}{}",
                r.status.as_str(),
                status_label(r.status),
                esc(&crate::local_time::for_people(&r.started_at, zone)),
                r.id,
                r.id,
                duration_s(r),
                if let RunTrigger::Resync { .. } = r.trigger {
                    format!(
                        " <span class=\"note trigger\">重新同步 {}</span>",
                        esc(&r.trigger.to_string())
                    )
                } else {
                    String::new()
                },
                r.error
                    .as_deref()
                    .map(|e| format!("<div class=\"bad run-error\">{}</div>", esc(e)))
                    .unwrap_or_default()
            ),
            read(r),
            written(r),
        ),
        None => ("—".into(), 0, 0),
    };
    format!(
        "<tr data-sync=\"{n}\"><td><b>{n}</b> <a class=\"reconcile\" href=\"/syncs/{n}/reconcile\">对账 reconcile</a><br><span class=\"note direction\">{way}</span></td><td>{state}</td><td>{last}</td><td class=\"num read\">{nread}</td><td class=\"num written\">{nwritten}</td><td>{next}</td><td class=\"num dead\">{dl}</td><td class=\"num conflicts\">{cf}</td></tr>",
        n = esc(name),
        way = esc(&direction_for_people(
            &info.direction,
            &info.a.plugin,
            &info.b.plugin
        )),
        next = info
            .next_runs
            .first()
            .map(|t| esc(&crate::local_time::for_people(t, zone)))
            .unwrap_or_else(|| "—".into()),
        dl = info.dead_letters,
        cf = info.conflicts,
    )
}

/// The box of what keeps the deployment from running as configured (none when nothing does).
fn problems_box(problems: &[String]) -> String {
    let mut b = String::new();
    if !problems.is_empty() {
        let _ = write!(
            b,
            "<div id=\"problems\" class=\"bad\"><b>部分未运行 Degraded: {}</b><ul>",
            if problems.len() == 1 {
                "1 problem".to_string()
            } else {
                format!("{} problems", problems.len())
            }
        );
        for p in problems {
            let _ = write!(b, "<li>{}</li>", esc(p));
        }
        b.push_str("</ul></div>");
    }
    b
}

/// The dead letters and the conflicts waiting for a person, at most 50 of each.
async fn waiting(view: &View, b: &mut String) -> Result<(), Failure> {
    let dead = view.store.dead_letters(None).await?;
    let _ = write!(
        b,
        "<h2>待处理死信 Dead letters waiting ({})</h2>",
        dead.len()
    );
    if !dead.is_empty() {
        b.push_str("<table id=\"dead-letters\"><tr><th>#</th><th>同步 Sync</th><th>阶段 Stage</th><th>键 Key (masked)</th><th>原因 Reason</th><th>次数 Seen</th></tr>");
        for d in dead.iter().take(50) {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                d.id,
                esc(&d.sync),
                d.side.as_str(),
                d.stage.as_str(),
                esc(d.key_masked.as_deref().unwrap_or("—")),
                esc(&reasons(&d.errors)),
                d.occurrences
            );
        }
        b.push_str("</table>");
    }
    let conflicts = view.store.conflicts(None, false).await?;
    let _ = write!(
        b,
        "<h2>待处理冲突 Conflicts waiting ({})</h2>",
        conflicts.len()
    );
    if !conflicts.is_empty() {
        b.push_str("<table id=\"conflicts\"><tr><th>#</th><th>同步 Sync</th><th>键 Key (masked)</th><th>拒绝方 Refused by / 待定 Parked</th><th>原因 Reason</th><th>次数 Attempts</th><th>已选 Taking</th></tr>");
        for c in conflicts.iter().take(50) {
            let _ = write!(
                b,
                "<tr><td><a class=\"conflict\" href=\"/conflicts/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                c.id,
                c.id,
                esc(&c.sync),
                esc(c.key_masked.as_deref().unwrap_or("—")),
                match c.kind {
                    crate::store::ConflictKind::Write => c.side.as_str(),
                    crate::store::ConflictKind::Park => "待定 parked",
                },
                esc(&c.reason),
                c.attempts,
                match (c.take, &c.take_fields) {
                    (_, Some(_)) => "fields",
                    (Some(t), None) => t.as_str(),
                    (None, None) => "—",
                }
            );
        }
        b.push_str("</table>");
    }
    Ok(())
}

/// `?wrote=` of the status page: `1` only runs that wrote records, `0` (or absent) all runs;
/// anything else 400 saying which values it takes.
fn wrote_filter(q: &BTreeMap<String, String>) -> Result<bool, Failure> {
    match q.get("wrote").map(String::as_str) {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(bad_request(format!(
            "query parameter wrote must be 1 (only runs that wrote records) or 0 (all runs), not {other:?}"
        ))),
    }
}

/// The links that switch the run charts between all runs and the runs that wrote records
/// (plain links: the page works without script); the one shown now is marked current.
fn run_filter_links(wrote_only: bool) -> String {
    let link = |current: bool, href: &str, text: &str| {
        if current {
            format!("<b aria-current=\"page\">{text}</b>")
        } else {
            format!("<a href=\"{href}\">{text}</a>")
        }
    };
    format!(
        "<p id=\"run-filter\" class=\"note\">运行图 Run charts: {} · {}</p>",
        link(!wrote_only, "/?wrote=0", "全部运行 all runs"),
        link(
            wrote_only,
            "/?wrote=1",
            "只看有写入的运行 only runs that wrote records"
        )
    )
}

/// A sync's charts: its last [`CHART_RUNS`] runs (with `wrote_only`, the last that wrote
/// records) beside its daily totals over the last [`CHART_DAYS`] days.
async fn sync_charts(view: &View, name: &str, wrote_only: bool) -> Result<String, Failure> {
    let (runs, what, none) = if wrote_only {
        (
            view.store.runs_that_wrote(name, CHART_RUNS).await?,
            format!(
                "最近 {CHART_RUNS} 次有写入的运行 the last {CHART_RUNS} runs that wrote records"
            ),
            "没有写入记录的运行 No runs that wrote records",
        )
    } else {
        (
            view.store.runs(Some(name), CHART_RUNS).await?,
            format!("最近 {CHART_RUNS} 次运行 the last {CHART_RUNS} runs"),
            "尚无运行 No runs yet",
        )
    };
    let runs_chart = if runs.iter().any(|r| r.status != RunStatus::Running) {
        crate::admin::charts::runs_chart(&runs, view.zone, &what)
    } else {
        format!("<p class=\"note\">{none}</p>")
    };
    let days = crate::local_time::last_days(view.zone, chrono::Utc::now(), CHART_DAYS);
    let since = days
        .first()
        .map_or_else(chrono::Utc::now, |(_, start)| *start);
    let totals = view.store.run_totals(name, since).await?;
    let days_chart = if totals.is_empty() {
        format!(
            "<p class=\"note\">最近 {CHART_DAYS} 天无运行 No runs in the last {CHART_DAYS} days</p>"
        )
    } else {
        crate::admin::charts::days_chart(&crate::admin::charts::per_day(&totals, &days), view.zone)
    };
    Ok(format!(
        "<h2>{n} · 运行 Runs</h2><div class=\"charts\" data-sync=\"{n}\">\
         <figure class=\"runs-chart\"><figcaption>{what}</figcaption>{runs_chart}</figure>\
         <figure class=\"days-chart\"><figcaption>最近 {CHART_DAYS} 天每日合计 daily totals, last {CHART_DAYS} days</figcaption>{days_chart}</figure></div>",
        n = esc(name),
        what = esc(&what),
    ))
}

/// Notes for a sync's row when a plugin it uses failed its last live check (none otherwise).
fn plugin_check_notes(failed: &BTreeMap<String, String>, info: &SyncInfo) -> String {
    let mut plugins = vec![&info.a.plugin, &info.b.plugin];
    plugins.dedup();
    plugins
        .into_iter()
        .filter(|p| failed.contains_key(*p))
        .map(|p| {
            format!(
                "<div class=\"bad plugin-check\">✗ 插件检查失败 check failed: {}</div>",
                esc(p)
            )
        })
        .collect()
}

/// A run in progress in words: its phase, the records handled of how many (when known, `约`
/// "about" for a connector's estimate) and the time left at the rate so far, e.g. `运行中 running
/// · 读取 reading a · 1200 / 约 about 5000 条 records · 约 40 秒 s left`.
fn running_words(p: &crate::sync::RunProgress) -> String {
    let phase = match p.phase.as_str() {
        "read a" => "读取 reading a".to_string(),
        "read b" => "读取 reading b".to_string(),
        "write" => "写入 writing".to_string(),
        "start" => "开始 starting".to_string(),
        other => other.to_string(),
    };
    let of = match p.total {
        Some(t) if p.total_estimated => format!(" / 约 about {t}"),
        Some(t) => format!(" / {t}"),
        None => String::new(),
    };
    let left = p
        .eta_seconds
        .map(|s| format!(" · 约 {s:.0} 秒 s left"))
        .unwrap_or_default();
    format!(
        "运行中 running · {phase} · {}{of} 条 records{left}",
        p.records
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_in_progress_says_its_phase_how_far_of_how_many_and_the_time_left() {
        let p = crate::sync::RunProgress {
            run_id: 7,
            phase: "read a".into(),
            records: 1200,
            total: Some(5000),
            total_estimated: true,
            records_per_second: 95.0,
            eta_seconds: Some(40.0),
            started_at: "2026-12-06T08:00:00Z".into(),
        };
        assert_eq!(
            running_words(&p),
            "运行中 running · 读取 reading a · 1200 / 约 about 5000 条 records · 约 40 秒 s left"
        );
        let exact = crate::sync::RunProgress {
            phase: "write".into(),
            total_estimated: false,
            ..p.clone()
        };
        assert_eq!(
            running_words(&exact),
            "运行中 running · 写入 writing · 1200 / 5000 条 records · 约 40 秒 s left"
        );
        // A read whose connector says nothing of what waits: no total, no time left.
        let unknown = crate::sync::RunProgress {
            phase: "read b".into(),
            total: None,
            eta_seconds: None,
            ..p
        };
        assert_eq!(
            running_words(&unknown),
            "运行中 running · 读取 reading b · 1200 条 records"
        );
    }
}
