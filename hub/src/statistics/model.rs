//! The figures' model: the sections ([`Section`]), the rows and counts each section reports,
//! and [`Statistics`], which holds them all. Plain data, serialised as the JSON of `GET
//! /api/statistics` and `hub stats --json`; computed by [`super::figures`] and read by
//! [`super::sources`], drawn by the renderings (text, CSV, the page).

/// How many employers the workers section names before "the rest".
pub const TOP_EMPLOYERS: usize = 20;

/// The referral outcomes, in the order they are shown, with their labels.
pub const OUTCOMES: [(&str, &str); 5] = [
    ("recommended", "推荐 recommended"),
    ("interviewed", "已面试 interviewed"),
    ("hired", "已录用 hired"),
    ("rejected", "未录用 rejected"),
    ("withdrawn", "撤回 withdrawn"),
];

/// The employment statuses of the `worker` schema, in the order they are shown.
pub const WORKER_STATUSES: [(&str, &str); 5] = [
    ("employed", "在岗 employed"),
    ("seeking", "待业 seeking"),
    ("returned_home", "返乡 returned home"),
    ("lost_contact", "失联 lost contact"),
    ("left", "离职 left"),
];

/// A section of the statistics.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Zhenfeng workers in Huiyang (schema `worker`).
    Workers,
    /// Medical secondments (schema `secondment`).
    Secondments,
    /// Job postings (schema `job-posting`).
    JobPostings,
    /// Referrals (schema `referral`, read from the connectors).
    Referrals,
}

impl Section {
    /// Every section, in the order they are shown.
    pub const ALL: [Section; 4] = [
        Section::Workers,
        Section::Secondments,
        Section::JobPostings,
        Section::Referrals,
    ];

    /// `workers`, `secondments`, `job-postings` or `referrals`.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Workers => "workers",
            Section::Secondments => "secondments",
            Section::JobPostings => "job-postings",
            Section::Referrals => "referrals",
        }
    }

    /// For people, Chinese and English.
    pub fn label(self) -> &'static str {
        match self {
            Section::Workers => "务工人员 Zhenfeng workers in Huiyang",
            Section::Secondments => "医疗人才派驻 Clinicians seconded",
            Section::JobPostings => "岗位 Job postings",
            Section::Referrals => "职业介绍 Referrals",
        }
    }

    /// The schema of the records the section counts.
    pub fn schema(self) -> &'static str {
        match self {
            Section::Workers => "worker",
            Section::Secondments => "secondment",
            Section::JobPostings => "job-posting",
            Section::Referrals => "referral",
        }
    }

    /// The section named `name`. Errors: another name, naming the known ones.
    pub fn parse(name: &str) -> Result<Section, String> {
        Section::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Section::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "no statistics section {name:?} (known: {})",
                    known.join(", ")
                )
            })
    }
}

/// One labelled count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Count {
    /// What is counted (a status, an employer, a township), as shown to people.
    pub label: String,
    /// How many.
    pub count: u64,
}

/// New and returned workers of one month.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MonthRow {
    /// The month, `YYYY-MM`, in the deployment's zone.
    pub month: String,
    /// Registered in the Zhenfeng registry that month (新增).
    pub new: u64,
    /// Came home that month (返乡).
    pub returned: u64,
}

/// The workers section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct WorkerStats {
    /// Workers counted (settled, not ended).
    pub total: u64,
    /// By employment status: every status of the schema, in [`WORKER_STATUSES`] order, then any
    /// other value as it is.
    pub by_status: Vec<Count>,
    /// The employed by employer: the [`TOP_EMPLOYERS`] largest (most workers first, then by
    /// name), then "其他 N 家 the other N employers" with their sum, then the employed whose
    /// employer is not given. An employer is named by its name, else its credit code.
    pub by_employer: Vec<Count>,
    /// By hometown township (户籍乡镇), most first, then by name; "未填 not given" last.
    pub by_township: Vec<Count>,
    /// New and returned per month, oldest first (months with neither left out).
    pub by_month: Vec<MonthRow>,
}

/// Stays of one host facility or batch, by status.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct StayRow {
    /// The host facility's name, or the batch as `第N批 batch N`.
    pub label: String,
    /// Planned, not yet started.
    pub planned: u64,
    /// Serving now (在岗).
    pub serving: u64,
    /// Completed.
    pub completed: u64,
    /// All stays of the row (those with no status included).
    pub total: u64,
}

/// The secondments section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct SecondmentStats {
    /// Stays counted (settled, not ended).
    pub stays: u64,
    /// Distinct clinicians among them.
    pub clinicians: u64,
    /// All stays by status.
    pub all: StayRow,
    /// By host facility, by name.
    pub by_facility: Vec<StayRow>,
    /// By batch, in batch order.
    pub by_batch: Vec<StayRow>,
}

/// Postings of one enterprise.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct PostingRow {
    /// The enterprise's name (all postings: `合计 all`).
    pub label: String,
    /// Open postings.
    pub open: u64,
    /// Closed postings.
    pub closed: u64,
    /// People sought by the open postings (sum of `totalJobOpenings`).
    pub headcount_open: u64,
    /// People sought by the closed postings.
    pub headcount_closed: u64,
}

/// The job-postings section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct PostingStats {
    /// All postings counted.
    pub all: PostingRow,
    /// By enterprise: most postings first, then by name.
    pub by_enterprise: Vec<PostingRow>,
}

/// Referrals of one enterprise by outcome.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct OutcomeRow {
    /// The enterprise's name.
    pub label: String,
    /// Recommended (推荐).
    pub recommended: u64,
    /// Interviewed (已面试).
    pub interviewed: u64,
    /// Hired (已录用).
    pub hired: u64,
    /// Rejected by the employer (未录用).
    pub rejected: u64,
    /// Withdrawn (撤回).
    pub withdrawn: u64,
    /// All of the row.
    pub total: u64,
}

impl OutcomeRow {
    /// Counts one referral of outcome `status` (any other value is not counted).
    pub(super) fn add(&mut self, status: &str) {
        match status {
            "recommended" => self.recommended += 1,
            "interviewed" => self.interviewed += 1,
            "hired" => self.hired += 1,
            "rejected" => self.rejected += 1,
            "withdrawn" => self.withdrawn += 1,
            _ => return,
        }
        self.total += 1;
    }

    /// The counts in [`OUTCOMES`] order.
    pub fn counts(&self) -> [u64; 5] {
        [
            self.recommended,
            self.interviewed,
            self.hired,
            self.rejected,
            self.withdrawn,
        ]
    }
}

/// The referrals section.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct ReferralStats {
    /// Records read from the connectors.
    pub read: u64,
    /// Soft-deleted in the system: not counted.
    pub deleted: u64,
    /// Breaking the `referral` schema: not counted.
    pub invalid: u64,
    /// Of job seekers who are not Zhenfeng workers (not in the workers section): not counted.
    /// `None` when no workers sync is loaded (then every referral counts).
    pub not_zhenfeng_workers: Option<u64>,
    /// Counted, by outcome (label `合计 all`).
    pub all: OutcomeRow,
    /// By the posting's enterprise: most first, then by name.
    pub by_enterprise: Vec<OutcomeRow>,
}

/// Where a section's figures came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SourceNote {
    /// The section.
    pub section: Section,
    /// `sync NAME` (settled records in the state store) or `PLUGIN/STREAM` (read now).
    pub from: String,
    /// Links or records visited.
    pub visited: u64,
    /// Counted.
    pub counted: u64,
    /// Never settled (no base: a dead letter, a refused record), not counted.
    pub unsettled: u64,
    /// Ended (soft-deleted on a side), not counted.
    pub ended: u64,
}

/// The statistics, every section asked for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Statistics {
    /// When they were made (RFC 3339, UTC).
    pub generated_at: String,
    /// The zone of the months (`[hub] timezone`).
    pub zone: String,
    /// Where each section came from, one entry per sync or stream.
    pub sources: Vec<SourceNote>,
    /// Sections asked for that no loaded sync or connector provides, with why.
    pub missing: Vec<String>,
    /// Workers, if asked for and provided.
    pub workers: Option<WorkerStats>,
    /// Secondments, if asked for and provided.
    pub secondments: Option<SecondmentStats>,
    /// Job postings, if asked for and provided.
    pub job_postings: Option<PostingStats>,
    /// Referrals, if asked for and provided.
    pub referrals: Option<ReferralStats>,
}
