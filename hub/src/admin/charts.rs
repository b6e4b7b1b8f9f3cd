//! The status page's charts: server-rendered SVG (no script; the page's Content-Security-Policy
//! allows none), scaled by their `viewBox` to the width the page gives them.
//!
//! Each sync gets two bar charts side by side (one above the other on a narrow screen): its
//! last runs, and its daily totals over the last 30 days (days in the deployment's zone). Both
//! draw the records read (light) and written (dark) on one labelled y scale per chart, the
//! times on a labelled x axis in the deployment's zone, and mark failed runs (and days with a
//! failed run) with a tinted band and a `✗`, said in words in each bar's title too, not by
//! colour alone. Every bar group has a `<title>` with its exact numbers; a run's links to its
//! run page.
//!
//! Draws only: it is given the runs and the daily totals ([`super::pages::status`] reads them
//! from the store) and returns SVG text.

use super::pages::{duration_s, esc, read, status_label, written};
use crate::store::{RunRecord, RunStatus, RunTotals};
use std::fmt::Write as _;

/// Width of a chart's coordinate system (`viewBox`), in user units.
const W: f64 = 560.0;
/// Left margin: the y axis's labels.
const LEFT: f64 = 52.0;
/// Right margin.
const RIGHT: f64 = 10.0;
/// Top of the plot: the legend above it, and the `✗` of failed runs between the two.
const TOP: f64 = 32.0;
/// Height of the plot.
const PLOT_H: f64 = 150.0;
/// Height below the plot: two lines of x labels and the x axis's title.
const BOTTOM: f64 = 52.0;
/// The least room an x label needs; labels are left out at even steps to keep it.
const LABEL_PX: f64 = 40.0;
/// The least room for `✗ 失败 failed` over a failed slot; narrower ones get the `✗` alone.
const FAILED_WORD_PX: f64 = 80.0;
/// The light bars (records read).
const READ_FILL: &str = "#9ecbff";
/// The dark bars (records written).
const WRITTEN_FILL: &str = "#0969da";

/// The y axis of a chart whose largest value is `max`: `(step, top)`, the step between ticks
/// (1, 2 or 5 × a power of ten, the smallest with at most 5 steps up to `max`) and the top
/// tick (the first multiple of the step at or above `max`; at least 1).
pub(crate) fn axis(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let mut power = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = m * power;
            if step.saturating_mul(5) >= max {
                return (step, max.div_ceil(step) * step);
            }
        }
        power = power.saturating_mul(10);
    }
}

/// A tick's label: the number itself below 10,000, then in thousands (`25k`) and millions
/// (`1.5M`), to fit the left margin.
pub(crate) fn compact(n: u64) -> String {
    match n {
        0..10_000 => n.to_string(),
        10_000..1_000_000 => format!("{}k", trim(n as f64 / 1e3)),
        _ => format!("{}M", trim(n as f64 / 1e6)),
    }
}

/// `x` with at most one decimal, without a trailing `.0`.
fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// One bar group of a chart: a run, or a day.
pub(crate) struct Slot {
    /// Records read.
    pub read: u64,
    /// Records written.
    pub written: u64,
    /// Its x label, one string a line (drawn when the slot is one of those labelled).
    pub label: Vec<String>,
    /// What it is, in words: its title, shown on hover and read by screen readers.
    pub title: String,
    /// A failed run, or a day with one: marked with a tinted band and a `✗`.
    pub failed: bool,
    /// Where a click on it goes.
    pub href: Option<String>,
}

/// What a chart says of itself.
pub(crate) struct Chart<'a> {
    /// Its title.
    pub title: &'a str,
    /// A summary in words.
    pub desc: &'a str,
    /// The x axis's title.
    pub x_title: &'a str,
}

/// A grouped bar chart of `slots` (oldest left), read and written side by side on one y
/// scale, labelled; the newest slot's x label is always drawn, and others at even steps as
/// room allows.
pub(crate) fn bar_chart(chart: &Chart<'_>, slots: &[Slot]) -> String {
    let h = TOP + PLOT_H + BOTTOM;
    let bottom = TOP + PLOT_H;
    let plot_w = W - LEFT - RIGHT;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" font-size=\"11\"><title>{}</title><desc>{}</desc>",
        esc(chart.title),
        esc(chart.desc)
    );
    // The y scale, its title and the legend (Chinese first, English beside).
    let (step, top) = axis(
        slots
            .iter()
            .map(|s| s.read.max(s.written))
            .max()
            .unwrap_or(0),
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"13\" class=\"axis-title\">记录数 records</text>\
         <text x=\"{}\" y=\"13\" text-anchor=\"end\" class=\"legend\"><tspan fill=\"{READ_FILL}\">■</tspan> 读取 read <tspan fill=\"{WRITTEN_FILL}\">■</tspan> 写入 written <tspan fill=\"#cf222e\" font-weight=\"bold\">✗</tspan> 失败 failed</text>",
        W - RIGHT
    );
    let y_of = |v: u64| bottom - v as f64 / top as f64 * PLOT_H;
    for tick in (0..=top).step_by(usize::try_from(step).unwrap_or(usize::MAX)) {
        let y = y_of(tick);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#d8dee4\" stroke-width=\"0.5\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" class=\"y-tick\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            compact(tick)
        );
    }
    let slot_w = plot_w / slots.len().max(1) as f64;
    let bar_w = (slot_w * 0.36).min(16.0);
    // Label every `every`th slot counting back from the newest, so labels never overlap.
    let every = ((LABEL_PX / slot_w).ceil() as usize).max(1);
    for (i, s) in slots.iter().enumerate() {
        let x = LEFT + i as f64 * slot_w;
        let mid = x + slot_w / 2.0;
        // A value above 0 is at least 2 units high: one record among thousands still shows.
        let height = |v: u64| {
            if v == 0 {
                0.0
            } else {
                (bottom - y_of(v)).max(2.0)
            }
        };
        let (hr, hw) = (height(s.read), height(s.written));
        let class = if s.failed { "slot failed" } else { "slot" };
        let mut g = format!(
            "<g class=\"{class}\"><title>{}</title><rect x=\"{x:.1}\" y=\"{TOP}\" width=\"{slot_w:.1}\" height=\"{PLOT_H}\" fill=\"{}\"/>\
             <rect class=\"read\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{hr:.1}\" fill=\"{READ_FILL}\"/>\
             <rect class=\"written\" x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{hw:.1}\" fill=\"{WRITTEN_FILL}\"/>",
            esc(&s.title),
            if s.failed { "#ffebe9" } else { "transparent" },
            mid - bar_w - 0.5,
            bottom - hr,
            mid + 0.5,
            bottom - hw,
        );
        if s.failed {
            // The sign, and the word where the slot has room for it.
            let mark = if slot_w >= FAILED_WORD_PX {
                "✗ 失败 failed"
            } else {
                "✗"
            };
            let _ = write!(
                g,
                "<text x=\"{mid:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#cf222e\" font-weight=\"bold\" class=\"failed-mark\">{mark}</text>",
                TOP - 3.0
            );
        }
        if (slots.len() - 1 - i).is_multiple_of(every) {
            for (line, text) in s.label.iter().enumerate() {
                let _ = write!(
                    g,
                    "<text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"x-tick\">{}</text>",
                    bottom + 14.0 + 13.0 * line as f64,
                    esc(text)
                );
            }
        }
        g.push_str("</g>");
        match &s.href {
            Some(href) => {
                let _ = write!(svg, "<a href=\"{}\">{g}</a>", esc(href));
            }
            None => svg.push_str(&g),
        }
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{bottom}\" stroke=\"#57606a\"/>\
         <line x1=\"{LEFT}\" x2=\"{}\" y1=\"{bottom}\" y2=\"{bottom}\" stroke=\"#57606a\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" class=\"axis-title\">{}</text></svg>",
        W - RIGHT,
        LEFT + plot_w / 2.0,
        h - 6.0,
        esc(chart.x_title)
    );
    svg
}

/// Whether a run failed (`failed`, or `crashed`): marked on the charts.
fn run_failed(r: &RunRecord) -> bool {
    matches!(r.status, RunStatus::Failed | RunStatus::Crashed)
}

/// The chart of a sync's last runs (`runs` newest first, as the store gives them; runs in
/// progress left out), their start times in `zone`; `what` names them in the title (`最近 20 次
/// 运行 the last 20 runs`).
pub(crate) fn runs_chart(runs: &[RunRecord], zone: chrono_tz::Tz, what: &str) -> String {
    let runs: Vec<&RunRecord> = runs
        .iter()
        .rev()
        .filter(|r| r.status != RunStatus::Running)
        .collect();
    let slots: Vec<Slot> = runs
        .iter()
        .map(|r| {
            let at = crate::local_time::for_people(&r.started_at, zone);
            let error = r
                .error
                .as_deref()
                .map(|e| format!(" · {}", e.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            Slot {
                read: read(r),
                written: written(r),
                // `2026-12-04 10:26:10` as `12-04` over `10:26`.
                label: vec![
                    at.get(5..10).unwrap_or_default().to_string(),
                    at.get(11..16).unwrap_or_default().to_string(),
                ],
                title: format!(
                    "运行 run {} · {} · {at} · 读取 read {} · 写入 written {} · 耗时 duration {:.2} s{error}",
                    r.id,
                    status_label(r.status),
                    read(r),
                    written(r),
                    duration_s(r)
                ),
                failed: run_failed(r),
                href: Some(format!("/runs/{}", r.id)),
            }
        })
        .collect();
    let failed = slots.iter().filter(|s| s.failed).count();
    let desc = match (runs.first(), runs.last()) {
        (Some(first), Some(last)) => format!(
            "{} 次运行 runs from {} to {}, {failed} 失败 failed; 单次最多 most in one run: 读取 read {}, 写入 written {}",
            runs.len(),
            crate::local_time::for_people(&first.started_at, zone),
            crate::local_time::for_people(&last.started_at, zone),
            slots.iter().map(|s| s.read).max().unwrap_or(0),
            slots.iter().map(|s| s.written).max().unwrap_or(0),
        ),
        _ => "无 none".into(),
    };
    bar_chart(
        &Chart {
            title: &format!("{what}: 读取与写入的记录 records read and written"),
            desc: &desc,
            x_title: &format!("开始时间 start time ({})", zone.name()),
        },
        &slots,
    )
}

/// One day's totals of a sync's runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DayTotals {
    /// The day, in the deployment's zone.
    pub day: chrono::NaiveDate,
    /// Runs started that day.
    pub runs: i64,
    /// Of them, failed.
    pub failed: i64,
    /// Records read.
    pub read: i64,
    /// Records written.
    pub written: i64,
}

/// The store's quarter-hour totals ([`crate::store::Store::run_totals`]) summed per day of
/// `days` (each local date with the instant it begins, oldest first, as
/// [`crate::local_time::last_days`] gives them): every day of `days`, in order, those without
/// a run at 0.
pub(crate) fn per_day(
    totals: &[RunTotals],
    days: &[(chrono::NaiveDate, chrono::DateTime<chrono::Utc>)],
) -> Vec<DayTotals> {
    let mut out: Vec<DayTotals> = days
        .iter()
        .map(|(day, _)| DayTotals {
            day: *day,
            runs: 0,
            failed: 0,
            read: 0,
            written: 0,
        })
        .collect();
    for t in totals {
        // The last day that begins at or before the quarter hour.
        let Some(i) = days.iter().rposition(|(_, start)| *start <= t.start) else {
            continue;
        };
        let d = &mut out[i];
        d.runs += t.runs;
        d.failed += t.failed;
        d.read += t.read;
        d.written += t.written;
    }
    out
}

/// The chart of a sync's daily totals (`days` oldest first), each day labelled `MM-DD`.
pub(crate) fn days_chart(days: &[DayTotals], zone: chrono_tz::Tz) -> String {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let slots: Vec<Slot> = days
        .iter()
        .map(|d| Slot {
            read: count(d.read),
            written: count(d.written),
            label: vec![d.day.format("%m-%d").to_string()],
            title: format!(
                "{} · 运行 runs {}{} · 读取 read {} · 写入 written {}",
                d.day,
                d.runs,
                if d.failed > 0 {
                    format!(" (失败 failed {})", d.failed)
                } else {
                    String::new()
                },
                d.read,
                d.written
            ),
            failed: d.failed > 0,
            href: None,
        })
        .collect();
    let sum = |f: fn(&DayTotals) -> i64| days.iter().map(f).sum::<i64>();
    let desc = format!(
        "{} 天 days: 运行 runs {}, 失败 failed {}, 读取 read {}, 写入 written {}",
        days.len(),
        sum(|d| d.runs),
        sum(|d| d.failed),
        sum(|d| d.read),
        sum(|d| d.written)
    );
    bar_chart(
        &Chart {
            title: &format!(
                "最近 {} 天每日合计 daily totals of the last {} days",
                days.len(),
                days.len()
            ),
            desc: &desc,
            x_title: &format!("日期 day ({})", zone.name()),
        },
        &slots,
    )
}

/// The text of each element of class `class` in `svg` (whose class is its last attribute, as
/// here), in order: for tests.
#[cfg(test)]
pub(crate) fn texts_of<'s>(svg: &'s str, class: &str) -> Vec<&'s str> {
    svg.split(&format!("class=\"{class}\">"))
        .skip(1)
        .map(|t| t.split('<').next().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_y_axis_steps_by_1_2_or_5_times_a_power_of_ten_up_to_the_largest_value() {
        // (largest value, (step, top tick)), worked out by hand: at most 5 steps.
        for (max, want) in [
            (0, (1, 1)),
            (1, (1, 1)),
            (3, (1, 3)),
            (5, (1, 5)),
            (7, (2, 8)),
            (11, (5, 15)),
            (1322, (500, 1500)),
            (3000, (1000, 3000)),
            (3001, (1000, 4000)),
            (25_001, (10_000, 30_000)),
        ] {
            assert_eq!(axis(max), want, "{max}");
        }
        assert_eq!(
            [0, 500, 9_999, 10_000, 250_000, 1_000_000, 1_500_000].map(compact),
            ["0", "500", "9999", "10k", "250k", "1M", "1.5M"]
        );
    }

    #[test]
    fn quarter_hours_are_summed_into_the_local_days_they_fall_in() {
        let zone = chrono_tz::Asia::Shanghai;
        let now = "2026-12-04T02:26:10Z".parse().unwrap();
        let days = crate::local_time::last_days(zone, now, 3);
        let at = RunTotals::of;
        let totals = [
            // 23:45 on 12-02 in Shanghai, and 00:00 on 12-03: the two sides of midnight.
            at("2026-12-02T15:45:00Z", 2, 1, 3000, 0),
            at("2026-12-02T16:00:00Z", 1, 0, 40, 4),
            // 10:15 on 12-04.
            at("2026-12-04T02:15:00Z", 3, 0, 6, 2),
            // Before the first day (23:45 on 12-01): not counted.
            at("2026-12-01T15:45:00Z", 9, 9, 9, 9),
        ];
        let got: Vec<(String, i64, i64, i64, i64)> = per_day(&totals, &days)
            .into_iter()
            .map(|d| (d.day.to_string(), d.runs, d.failed, d.read, d.written))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-12-02", 2, 1, 3000, 0),
                ("2026-12-03", 1, 0, 40, 4),
                ("2026-12-04", 3, 0, 6, 2),
            ]
            .map(|(d, r, f, re, w)| (d.to_string(), r, f, re, w))
        );
    }

    fn slot(read: u64, written: u64, failed: bool, label: &str) -> Slot {
        Slot {
            read,
            written,
            label: vec![label.to_string()],
            title: format!("{label} title"),
            failed,
            href: None,
        }
    }

    /// The `(attribute value)` of each element `<tag ... class="class" ...>` in `svg`, in order.
    fn attr_of(svg: &str, class: &str, attr: &str) -> Vec<String> {
        svg.split(&format!("class=\"{class}\""))
            .skip(1)
            .map(|rest| {
                let tag_end = rest.find('>').unwrap();
                let tag = &rest[..tag_end];
                let start = tag.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
                tag[start..].split('"').next().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn bars_share_one_labelled_scale_and_failed_slots_are_marked_in_words_and_signs() {
        let svg = bar_chart(
            &Chart {
                title: "t",
                desc: "d",
                x_title: "x",
            },
            &[
                slot(3000, 1322, false, "a"),
                slot(3, 1, true, "b"),
                slot(0, 0, false, "c"),
            ],
        );
        // The scale: 0 to 3000 by 1000, 4 ticks labelled, on a plot 150 high from y = 32.
        assert_eq!(texts_of(&svg, "y-tick"), ["0", "1000", "2000", "3000"]);
        // Heights on that one scale: 3000 is the whole 150; 1322 is 66.1; 3 would be 0.15 and
        // 1 0.05, shown 2 high so that they can be seen; 0 is nothing.
        assert_eq!(attr_of(&svg, "read", "height"), ["150.0", "2.0", "0.0"]);
        assert_eq!(attr_of(&svg, "written", "height"), ["66.1", "2.0", "0.0"]);
        // The failed slot, and only it: a band, a ✗ and its title.
        assert_eq!(svg.matches("class=\"slot failed\"").count(), 1);
        assert_eq!(
            svg.matches("class=\"failed-mark\">✗ 失败 failed<").count(),
            1
        );
        assert!(svg.contains("<g class=\"slot failed\"><title>b title</title>"));
        // Three slots of 166 units each: every label fits.
        assert_eq!(texts_of(&svg, "x-tick"), ["a", "b", "c"]);
        assert!(svg.starts_with("<svg viewBox=\"0 0 560 234\""));
    }

    #[test]
    fn crowded_labels_are_thinned_from_the_newest_back() {
        // 30 slots of 16.6 units: a label needs 40, so every 3rd is drawn, counting back from
        // the newest (29, 26, …, 2).
        let slots: Vec<Slot> = (0..30)
            .map(|i| slot(i, 0, i == 4, &i.to_string()))
            .collect();
        let svg = bar_chart(
            &Chart {
                title: "t",
                desc: "d",
                x_title: "x",
            },
            &slots,
        );
        let want: Vec<String> = (0..10).map(|k| (2 + 3 * k).to_string()).collect();
        assert_eq!(texts_of(&svg, "x-tick"), want);
        // Too narrow for the word: the failed slot gets the sign alone (and its title).
        assert_eq!(svg.matches("class=\"failed-mark\">✗<").count(), 1);
    }
}
