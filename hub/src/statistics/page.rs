//! The statistics page's body (`/statistics`, wrapped by the admin server's page): a chart per
//! figure, server-rendered SVG as the status page's run charts ([`crate::admin::charts`]: no
//! script, scaled by the `viewBox`), each followed by its table with the exact numbers, and
//! links to the CSV export in both encodings.
//!
//! The charts are horizontal bars (the labels are long Chinese names): one bar per row, its
//! parts stacked in the series' colours (statuses, outcomes), or two bars side by side for
//! measures that do not add up (new and returned per month). A legend names each series in
//! Chinese and English; every bar has a `<title>` with its exact numbers; the x axis is
//! labelled with ticks from [`crate::admin::charts::axis`].

use super::{
    Count, OUTCOMES, PostingStats, ReferralStats, SecondmentStats, Section, Statistics, StayRow,
    WorkerStats,
};
use crate::admin::charts::{axis, compact};
use crate::admin::pages::esc;
use std::fmt::Write as _;

/// Width of a chart's coordinate system (`viewBox`), in user units.
const W: f64 = 560.0;
/// Left margin: the row labels.
const LEFT: f64 = 210.0;
/// Right margin: the total beside each bar.
const RIGHT: f64 = 44.0;
/// Top: the legend.
const TOP: f64 = 26.0;
/// Height of one row.
const ROW_H: f64 = 20.0;
/// Below the rows: the x ticks and the axis title.
const BOTTOM: f64 = 34.0;
/// The most characters of a row label drawn (the title holds it whole).
const LABEL_CHARS: usize = 14;

/// Colours of the series, in order (distinguishable, and named in the legend and titles).
const FILLS: [&str; 5] = ["#0969da", "#9ecbff", "#1a7f37", "#cf222e", "#8c959f"];

/// How a row's values are drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One bar, its parts one after the other (they add up).
    Stacked,
    /// One thin bar per value, one under the other (they do not add up).
    Grouped,
}

/// A chart: its id (the `figure`'s), caption, series and rows.
struct HChart<'a> {
    id: &'a str,
    caption: String,
    x_title: &'a str,
    series: Vec<&'a str>,
    rows: Vec<(String, Vec<u64>)>,
    layout: Layout,
}

/// Cuts a label to [`LABEL_CHARS`] characters, with `…` when cut.
fn short(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let mut s: String = label.chars().take(LABEL_CHARS - 1).collect();
    s.push('…');
    s
}

/// The chart as a `figure` with its caption and SVG.
fn hchart(c: &HChart<'_>) -> String {
    let per_row = match c.layout {
        Layout::Stacked => 1,
        Layout::Grouped => c.series.len(),
    };
    let row_h = ROW_H.max(8.0 * per_row as f64 + 6.0);
    let h = TOP + row_h * c.rows.len().max(1) as f64 + BOTTOM;
    let plot_w = W - LEFT - RIGHT;
    let max = c
        .rows
        .iter()
        .map(|(_, v)| match c.layout {
            Layout::Stacked => v.iter().sum(),
            Layout::Grouped => v.iter().copied().max().unwrap_or(0),
        })
        .max()
        .unwrap_or(0);
    let (step, top) = axis(max);
    let x_of = |v: u64| LEFT + v as f64 / top as f64 * plot_w;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" font-size=\"11\"><title>{}</title>",
        esc(&c.caption)
    );
    // The legend, one entry per series.
    let mut legend = String::new();
    for (i, s) in c.series.iter().enumerate() {
        let _ = write!(
            legend,
            "<tspan fill=\"{}\">■</tspan> {} ",
            FILLS[i % FILLS.len()],
            esc(s)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"14\" text-anchor=\"end\" class=\"legend\">{}</text>",
        W - 4.0,
        legend.trim_end()
    );
    let bottom = TOP + row_h * c.rows.len().max(1) as f64;
    for tick in (0..=top).step_by(usize::try_from(step).unwrap_or(usize::MAX)) {
        let x = x_of(tick);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{bottom:.1}\" stroke=\"#d8dee4\" stroke-width=\"0.5\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"x-tick\">{}</text>",
            bottom + 13.0,
            compact(tick)
        );
    }
    for (i, (label, values)) in c.rows.iter().enumerate() {
        let y = TOP + row_h * i as f64;
        let parts: Vec<String> = c
            .series
            .iter()
            .zip(values)
            .map(|(s, v)| format!("{s} {v}"))
            .collect();
        let _ = write!(
            svg,
            "<g class=\"bar\"><title>{}: {}</title><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"y-tick\">{}</text>",
            esc(label),
            esc(&parts.join(", ")),
            LEFT - 6.0,
            y + row_h / 2.0 + 4.0,
            esc(&short(label))
        );
        let width = |v: u64| {
            if v == 0 {
                0.0
            } else {
                (x_of(v) - LEFT).max(1.5)
            }
        };
        match c.layout {
            Layout::Stacked => {
                let mut x = LEFT;
                for (k, v) in values.iter().enumerate() {
                    let w = width(*v);
                    let _ = write!(
                        svg,
                        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                        y + 3.0,
                        row_h - 6.0,
                        FILLS[k % FILLS.len()]
                    );
                    x += w;
                }
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"total\">{}</text>",
                    x + 4.0,
                    y + row_h / 2.0 + 4.0,
                    values.iter().sum::<u64>()
                );
            }
            Layout::Grouped => {
                for (k, v) in values.iter().enumerate() {
                    let w = width(*v);
                    let by = y + 3.0 + 8.0 * k as f64;
                    let _ = write!(
                        svg,
                        "<rect x=\"{LEFT}\" y=\"{by:.1}\" width=\"{w:.1}\" height=\"7\" fill=\"{}\"/>\
                         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"8\" class=\"total\">{v}</text>",
                        FILLS[k % FILLS.len()],
                        LEFT + w + 3.0,
                        by + 6.5
                    );
                }
            }
        }
        svg.push_str("</g>");
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{bottom:.1}\" stroke=\"#57606a\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"axis-title\">{}</text></svg>",
        LEFT + plot_w / 2.0,
        h - 4.0,
        esc(c.x_title)
    );
    format!(
        "<figure id=\"{}\"><figcaption>{}</figcaption>{svg}</figure>",
        c.id,
        esc(&c.caption)
    )
}

/// A table of the rows under a header, numbers right-aligned.
fn table(id: &str, header: &[&str], rows: &[(String, Vec<u64>)]) -> String {
    let mut h = format!("<table id=\"{id}\"><tr>");
    for c in header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>");
    for (label, values) in rows {
        let _ = write!(h, "<tr><td>{}</td>", esc(label));
        for v in values {
            let _ = write!(h, "<td class=\"num\">{v}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    h
}

fn count_rows(counts: &[Count]) -> Vec<(String, Vec<u64>)> {
    counts
        .iter()
        .map(|c| (c.label.clone(), vec![c.count]))
        .collect()
}

fn stay_rows(rows: &[StayRow]) -> Vec<(String, Vec<u64>)> {
    rows.iter()
        .map(|r| (r.label.clone(), vec![r.planned, r.serving, r.completed]))
        .collect()
}

/// The page's body: a heading, the export links, then per section its charts and tables, and
/// where the figures came from. `zone_now` is the time it was made, for people.
pub fn body(st: &Statistics, made_at: &str) -> String {
    let mut h = format!(
        "<p><a href=\"/\">← 同步状态 Sync status</a></p><h1>hub · 数据统计 Statistics</h1>\
         <p class=\"note\">{} ({}) · 导出 Export: <a id=\"csv-utf8\" href=\"/statistics.csv\">CSV (UTF-8)</a> · \
         <a id=\"csv-gb18030\" href=\"/statistics.csv?encoding=gb18030\">CSV (GB 18030)</a></p>",
        esc(made_at),
        esc(&st.zone)
    );
    if let Some(w) = &st.workers {
        workers(&mut h, w, &st.zone);
    }
    if let Some(sd) = &st.secondments {
        secondments(&mut h, sd);
    }
    if let Some(p) = &st.job_postings {
        job_postings(&mut h, p);
    }
    if let Some(r) = &st.referrals {
        referrals(&mut h, r);
    }
    sources(&mut h, st);
    h
}

/// The workers section: charts by status, employer and township (stacked) and per month
/// (grouped), then their tables. `zone` names the months' zone.
fn workers(h: &mut String, w: &WorkerStats, zone: &str) {
    let people = ["人数 workers"];
    let _ = write!(
        h,
        "<h2 id=\"workers\">{} · {}</h2><div class=\"charts\">",
        Section::Workers.label(),
        w.total
    );
    for (id, caption, rows) in [
        (
            "workers-status",
            "按务工状态 By employment status",
            &w.by_status,
        ),
        (
            "workers-employer",
            "按用工单位 By employer (在岗 employed, top 20 and the rest)",
            &w.by_employer,
        ),
        (
            "workers-township",
            "按户籍乡镇 By hometown township",
            &w.by_township,
        ),
    ] {
        let rows = count_rows(rows);
        h.push_str(&hchart(&HChart {
            id,
            caption: caption.into(),
            x_title: "人数 workers",
            series: people.to_vec(),
            rows: rows.clone(),
            layout: Layout::Stacked,
        }));
    }
    let months: Vec<(String, Vec<u64>)> = w
        .by_month
        .iter()
        .map(|m| (m.month.clone(), vec![m.new, m.returned]))
        .collect();
    h.push_str(&hchart(&HChart {
        id: "workers-month",
        caption: format!("每月新增与返乡 New and returned per month ({zone})"),
        x_title: "人数 workers",
        series: vec!["新增 new", "返乡 returned"],
        rows: months.clone(),
        layout: Layout::Grouped,
    }));
    h.push_str("</div>");
    h.push_str(&table(
        "workers-status-table",
        &["务工状态 Employment status", "人数 Workers"],
        &count_rows(&w.by_status),
    ));
    h.push_str(&table(
        "workers-employer-table",
        &["用工单位 Employer", "人数 Workers"],
        &count_rows(&w.by_employer),
    ));
    h.push_str(&table(
        "workers-township-table",
        &["户籍乡镇 Township", "人数 Workers"],
        &count_rows(&w.by_township),
    ));
    h.push_str(&table(
        "workers-month-table",
        &["月份 Month", "新增 New", "返乡 Returned"],
        &months,
    ));
}

/// The secondments section: stays by host facility and by batch, stacked by status, then their
/// tables (the facility table with the sum).
fn secondments(h: &mut String, sd: &SecondmentStats) {
    let _ = write!(
        h,
        "<h2 id=\"secondments\">{} · {} 人次 stays, {} 人 clinicians</h2><div class=\"charts\">",
        Section::Secondments.label(),
        sd.stays,
        sd.clinicians
    );
    let series = vec!["计划 planned", "在岗 serving", "已完成 completed"];
    for (id, caption, rows) in [
        (
            "secondments-facility",
            "按派驻医院 By host facility",
            &sd.by_facility,
        ),
        ("secondments-batch", "按批次 By batch", &sd.by_batch),
    ] {
        h.push_str(&hchart(&HChart {
            id,
            caption: caption.into(),
            x_title: "人次 stays",
            series: series.clone(),
            rows: stay_rows(rows),
            layout: Layout::Stacked,
        }));
    }
    h.push_str("</div>");
    let mut facility = stay_rows(&sd.by_facility);
    facility.extend(stay_rows(std::slice::from_ref(&sd.all)));
    let header = [
        "派驻医院 Host facility",
        "计划 Planned",
        "在岗 Serving",
        "已完成 Completed",
    ];
    h.push_str(&table("secondments-facility-table", &header, &facility));
    let mut header = header;
    header[0] = "批次 Batch";
    h.push_str(&table(
        "secondments-batch-table",
        &header,
        &stay_rows(&sd.by_batch),
    ));
}

/// The job-postings section: postings and headcount by enterprise, stacked open and closed,
/// then their table (with the sum).
fn job_postings(h: &mut String, p: &PostingStats) {
    let _ = write!(
        h,
        "<h2 id=\"job-postings\">{} · {} ({} 开放 open, {} 关闭 closed)</h2><div class=\"charts\">",
        Section::JobPostings.label(),
        p.all.open + p.all.closed,
        p.all.open,
        p.all.closed
    );
    let rows: Vec<(String, Vec<u64>)> = p
        .by_enterprise
        .iter()
        .map(|r| (r.label.clone(), vec![r.open, r.closed]))
        .collect();
    h.push_str(&hchart(&HChart {
        id: "postings-enterprise",
        caption: "按企业 By enterprise".into(),
        x_title: "岗位 postings",
        series: vec!["开放 open", "关闭 closed"],
        rows,
        layout: Layout::Stacked,
    }));
    let heads: Vec<(String, Vec<u64>)> = p
        .by_enterprise
        .iter()
        .map(|r| (r.label.clone(), vec![r.headcount_open, r.headcount_closed]))
        .collect();
    h.push_str(&hchart(&HChart {
        id: "postings-headcount",
        caption: "招聘人数 Headcount by enterprise".into(),
        x_title: "人数 people",
        series: vec!["开放 open", "关闭 closed"],
        rows: heads,
        layout: Layout::Stacked,
    }));
    h.push_str("</div>");
    let rows: Vec<(String, Vec<u64>)> = p
        .by_enterprise
        .iter()
        .chain(std::iter::once(&p.all))
        .map(|r| {
            (
                r.label.clone(),
                vec![r.open, r.headcount_open, r.closed, r.headcount_closed],
            )
        })
        .collect();
    h.push_str(&table(
        "postings-table",
        &[
            "企业 Enterprise",
            "开放 Open",
            "招聘人数 Headcount",
            "关闭 Closed",
            "招聘人数 Headcount",
        ],
        &rows,
    ));
}

/// The referrals section: what was read and left out, charts by outcome and by enterprise
/// (stacked by outcome), then their tables (the enterprise table with the sum).
fn referrals(h: &mut String, r: &ReferralStats) {
    let others = r
        .not_zhenfeng_workers
        .map(|o| format!(", {o} 非贞丰务工人员 not Zhenfeng workers"))
        .unwrap_or_default();
    let _ = write!(
        h,
        "<h2 id=\"referrals\">{} · {}</h2><p class=\"note\">读取 read {}, 已删除 deleted {}, 无效 invalid {}{}</p><div class=\"charts\">",
        Section::Referrals.label(),
        r.all.total,
        r.read,
        r.deleted,
        r.invalid,
        esc(&others)
    );
    let outcomes: Vec<&str> = OUTCOMES.iter().map(|(_, l)| *l).collect();
    let by_outcome: Vec<(String, Vec<u64>)> = OUTCOMES
        .iter()
        .zip(r.all.counts())
        .map(|((_, l), c)| (l.to_string(), vec![c]))
        .collect();
    h.push_str(&hchart(&HChart {
        id: "referrals-outcome",
        caption: "按结果 By outcome".into(),
        x_title: "人次 referrals",
        series: vec!["人次 referrals"],
        rows: by_outcome.clone(),
        layout: Layout::Stacked,
    }));
    let by_firm: Vec<(String, Vec<u64>)> = r
        .by_enterprise
        .iter()
        .map(|row| (row.label.clone(), row.counts().to_vec()))
        .collect();
    h.push_str(&hchart(&HChart {
        id: "referrals-enterprise",
        caption: "按企业 By enterprise".into(),
        x_title: "人次 referrals",
        series: outcomes.clone(),
        rows: by_firm,
        layout: Layout::Stacked,
    }));
    h.push_str("</div>");
    h.push_str(&table(
        "referrals-outcome-table",
        &["结果 Outcome", "人次 Referrals"],
        &by_outcome,
    ));
    let mut header = vec!["企业 Enterprise"];
    header.extend(outcomes);
    header.push("合计 Total");
    let rows: Vec<(String, Vec<u64>)> = r
        .by_enterprise
        .iter()
        .chain(std::iter::once(&r.all))
        .map(|row| {
            let mut v = row.counts().to_vec();
            v.push(row.total);
            (row.label.clone(), v)
        })
        .collect();
    h.push_str(&table("referrals-enterprise-table", &header, &rows));
}

/// Where the figures came from: a table of the sources, then the sections missing.
fn sources(h: &mut String, st: &Statistics) {
    h.push_str("<h2>来源 Sources</h2><table id=\"sources\"><tr><th>部分 Section</th><th>来自 From</th><th>读取 Visited</th><th>计入 Counted</th><th>未同步 Unsettled</th><th>已结束 Ended</th></tr>");
    for s in &st.sources {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.section.as_str(),
            esc(&s.from),
            s.visited,
            s.counted,
            s.unsettled,
            s.ended
        );
    }
    h.push_str("</table>");
    if !st.missing.is_empty() {
        h.push_str("<ul id=\"missing\">");
        for m in &st.missing {
            let _ = write!(h, "<li class=\"bad\">缺少 Missing: {}</li>", esc(m));
        }
        h.push_str("</ul>");
    }
}
