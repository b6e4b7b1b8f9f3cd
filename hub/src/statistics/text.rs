//! The statistics for people (`hub stats`, and the demo's closing figures): a block of aligned
//! tables per section, labels in Chinese with English beside, then where the figures came from.

use super::model::{
    Count, OUTCOMES, OutcomeRow, PostingStats, ReferralStats, SecondmentStats, Section, Statistics,
    StayRow, TOP_EMPLOYERS, WorkerStats,
};

/// Columns a label takes in a terminal: two for a CJK character, one otherwise.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// `s` padded with spaces to `w` terminal columns.
fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// A table: a header and rows of cells, the first `left` columns left-aligned, the others right.
fn table_aligned(out: &mut String, header: &[&str], rows: &[Vec<String>], left: usize) {
    let cols = header.len();
    let mut w: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            w[i] = w[i].max(width(c));
        }
    }
    let line = |cells: Vec<String>| -> String {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                s.push_str(&pad(c, w[0]));
            } else if i < left {
                s.push_str("  ");
                s.push_str(&pad(c, w[i]));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(w[i].saturating_sub(width(c))));
                s.push_str(c);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header.iter().map(|h| h.to_string()).collect()));
    for r in rows {
        out.push_str(&line(r.clone()));
    }
}

/// A table whose first column is left-aligned, the others right ([`table_aligned`]).
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    table_aligned(out, header, rows, 1);
}

/// A count grouped in thousands for people (`1,322`).
fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Statistics {
    /// The statistics for people: a block per section, labels in Chinese with English beside,
    /// then where the figures came from.
    pub fn text(&self) -> String {
        let mut s = format!(
            "数据统计 Statistics  ({}, {})\n",
            crate::local_time::for_people(&self.generated_at, self.zone()),
            self.zone
        );
        if let Some(w) = &self.workers {
            workers_text(&mut s, w);
        }
        if let Some(sd) = &self.secondments {
            secondments_text(&mut s, sd);
        }
        if let Some(p) = &self.job_postings {
            postings_text(&mut s, p);
        }
        if let Some(r) = &self.referrals {
            referrals_text(&mut s, r);
        }
        self.sources_text(&mut s);
        s
    }

    fn zone(&self) -> chrono_tz::Tz {
        self.zone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

    /// The sources block: where each section came from, then the sections missing.
    fn sources_text(&self, s: &mut String) {
        s.push_str("\n来源 Sources\n");
        let rows: Vec<Vec<String>> = self
            .sources
            .iter()
            .map(|src| {
                vec![
                    src.section.as_str().to_string(),
                    src.from.clone(),
                    n(src.visited),
                    n(src.counted),
                    n(src.unsettled),
                    n(src.ended),
                ]
            })
            .collect();
        table_aligned(
            s,
            &[
                "部分 section",
                "来自 from",
                "读取 visited",
                "计入 counted",
                "未同步 unsettled",
                "已结束 ended",
            ],
            &rows,
            2,
        );
        for m in &self.missing {
            s.push_str(&format!("  缺少 missing: {m}\n"));
        }
    }
}

/// Labelled counts as table rows: the label, the count.
fn count_rows(rows: &[Count]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|c| vec![c.label.clone(), n(c.count)])
        .collect()
}

/// The workers block: by status, by employer, by township, per month.
fn workers_text(s: &mut String, w: &WorkerStats) {
    s.push_str(&format!("\n{}: {}\n", Section::Workers.label(), n(w.total)));
    s.push_str(" 按务工状态 by employment status\n");
    table(
        s,
        &["状态 status", "人数 workers"],
        &count_rows(&w.by_status),
    );
    s.push_str(&format!(
        " 按用工单位 by employer (在岗 employed; top {TOP_EMPLOYERS} and the rest)\n"
    ));
    table(
        s,
        &["单位 employer", "人数 workers"],
        &count_rows(&w.by_employer),
    );
    s.push_str(" 按户籍乡镇 by hometown township\n");
    table(
        s,
        &["乡镇 township", "人数 workers"],
        &count_rows(&w.by_township),
    );
    s.push_str(" 按月 per month (新增: 登记日期 registered; 返乡: returned home)\n");
    let rows: Vec<Vec<String>> = w
        .by_month
        .iter()
        .map(|m| vec![m.month.clone(), n(m.new), n(m.returned)])
        .collect();
    table(s, &["月份 month", "新增 new", "返乡 returned"], &rows);
}

/// Stays by status as table rows: the label, planned, serving, completed, total.
fn stay_rows(rows: &[StayRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            vec![
                r.label.clone(),
                n(r.planned),
                n(r.serving),
                n(r.completed),
                n(r.total),
            ]
        })
        .collect()
}

/// The secondments block: stays by host facility (with the sum) and by batch.
fn secondments_text(s: &mut String, sd: &SecondmentStats) {
    s.push_str(&format!(
        "\n{}: {} 人次 stays, {} 人 clinicians\n",
        Section::Secondments.label(),
        n(sd.stays),
        n(sd.clinicians)
    ));
    let header = [
        "",
        "计划 planned",
        "在岗 serving",
        "已完成 completed",
        "合计 total",
    ];
    s.push_str(" 按派驻医院 by host facility\n");
    let mut h = header;
    h[0] = "派驻医院 host facility";
    let mut body = stay_rows(&sd.by_facility);
    body.extend(stay_rows(std::slice::from_ref(&sd.all)));
    table(s, &h, &body);
    s.push_str(" 按批次 by batch\n");
    h[0] = "批次 batch";
    table(s, &h, &stay_rows(&sd.by_batch));
}

/// The job-postings block: postings and headcount, open and closed, by enterprise.
fn postings_text(s: &mut String, p: &PostingStats) {
    s.push_str(&format!(
        "\n{}: {} 个 postings ({} 开放 open, {} 关闭 closed)\n",
        Section::JobPostings.label(),
        n(p.all.open + p.all.closed),
        n(p.all.open),
        n(p.all.closed)
    ));
    s.push_str(" 按企业 by enterprise\n");
    let mut body: Vec<Vec<String>> = p
        .by_enterprise
        .iter()
        .chain(std::iter::once(&p.all))
        .map(|r| {
            vec![
                r.label.clone(),
                n(r.open),
                n(r.headcount_open),
                n(r.closed),
                n(r.headcount_closed),
            ]
        })
        .collect();
    body.shrink_to_fit();
    table(
        s,
        &[
            "企业 enterprise",
            "开放 open",
            "招聘人数 headcount",
            "关闭 closed",
            "招聘人数 headcount",
        ],
        &body,
    );
}

/// The referrals block: what was read and left out, then by outcome and by enterprise.
fn referrals_text(s: &mut String, r: &ReferralStats) {
    let others = r
        .not_zhenfeng_workers
        .map(|o| format!(", {} 非贞丰务工人员 not Zhenfeng workers", n(o)))
        .unwrap_or_default();
    s.push_str(&format!(
        "\n{}: {} 条 counted (读取 read {}, 已删除 deleted {}, 无效 invalid {}{others})\n",
        Section::Referrals.label(),
        n(r.all.total),
        n(r.read),
        n(r.deleted),
        n(r.invalid)
    ));
    s.push_str(" 按结果 by outcome\n");
    let rows: Vec<Vec<String>> = OUTCOMES
        .iter()
        .zip(r.all.counts())
        .map(|((_, label), c)| vec![label.to_string(), n(c)])
        .collect();
    table(s, &["结果 outcome", "人次 referrals"], &rows);
    s.push_str(" 按企业 by enterprise\n");
    let mut header = vec!["企业 enterprise"];
    header.extend(OUTCOMES.iter().map(|(_, l)| *l));
    header.push("合计 total");
    let rows: Vec<Vec<String>> = r
        .by_enterprise
        .iter()
        .chain(std::iter::once(&r.all))
        .map(|row: &OutcomeRow| {
            let mut cells = vec![row.label.clone()];
            cells.extend(row.counts().into_iter().map(n));
            cells.push(n(row.total));
            cells
        })
        .collect();
    table(s, &header, &rows);
}
