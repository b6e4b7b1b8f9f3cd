//! The deterministic reference data both simulators start from.
//!
//! [`generate`] builds, from a scale and a seed, the ZF-REG registry of Zhenfeng residents
//! working away and the HY-ESMS enterprise and vacancy registers, consistent with each other:
//! the residents working in Huiyang (务工县区代码 `441303`) work for the HY-ESMS enterprises, by
//! their exact names and unified social credit codes. The same scale and seed always give the
//! same data, byte for byte: every random choice comes from a [`ChaCha8Rng`] (whose stream is
//! stable across versions) seeded with the seed, one stream per part.
//!
//! At scale `N`: `3000·N` residents, of whom `1322·N` are valid residents working in Huiyang,
//! plus [`BROKEN_RESIDENTS`] deliberately broken ones also in Huiyang (always five); the rest
//! work elsewhere in China. HY-ESMS has 40 enterprises and `60·N` job postings from 22 of them.
//!
//! The medical secondment programme is not scaled: MED-ROSTER's six organisations (the five
//! Zhenfeng host facilities and the sending hospital, [`Facility`]) and HY-ESMS's ten
//! secondments in four batches ([`Secondment`]), drawn from a stream of their own so that the
//! other parts are what they were before it existed.
//!
//! The registry data carries the quirks real exports show (see `zhenfeng-registry.md`):
//! lower-case `x` check characters, legacy 15-digit identity numbers, full-width and `+86`
//! phone numbers, trailing ASCII and ideographic spaces, three date forms, empty credit codes.

use chrono::{Datelike, Days, NaiveDate};
use hub_schemas::{divisions, id_number, uscc};
use rand::RngExt;
use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

use crate::clock;

/// The default seed: the day the two employment data systems were connected, 2021-09-02.
pub const DEFAULT_SEED: u64 = 20_210_902;
/// Residents in the registry per unit of scale.
pub const RESIDENTS_PER_SCALE: u32 = 3000;
/// Valid residents working in Huiyang (441303) per unit of scale: the 1,322 workers of the
/// November 2021 report.
pub const VALID_IN_HUIYANG_PER_SCALE: u32 = 1322;
/// Deliberately broken residents in Huiyang, one per [`Defect`] case (five at every scale).
pub const BROKEN_RESIDENTS: u32 = 5;
/// Enterprises in HY-ESMS (not scaled).
pub const ENTERPRISES: usize = 40;
/// Enterprises with job postings (the 22 firms of the 2021-08-05 job fair).
pub const FIRMS_WITH_JOBS: usize = 22;
/// Job postings per unit of scale.
pub const JOBS_PER_SCALE: u32 = 60;
/// HY-ESMS referrals (职业介绍) of Zhenfeng residents working in Huiyang, per scale unit.
pub const ZHENFENG_REFERRALS_PER_SCALE: u32 = 150;
/// HY-ESMS referrals of other job seekers (Huiyang residents), per scale unit.
pub const OTHER_REFERRALS_PER_SCALE: u32 = 30;
/// A referral's `status` and its weight in the seed (in 100).
pub const REFERRAL_STATUSES: [(&str, u32); 5] = [
    ("recommended", 30),
    ("interviewed", 20),
    ("hired", 30),
    ("rejected", 12),
    ("withdrawn", 8),
];
/// GB/T 2260 code of Huiyang District (惠阳区).
pub const HUIYANG: &str = "441303";
/// GB/T 2260 code of Zhenfeng County (贞丰县).
pub const ZHENFENG: &str = "522325";

/// The registry's CSV header, in column order (`zhenfeng-registry.md`).
pub const COLUMNS: [&str; 14] = [
    "登记编号",
    "姓名",
    "身份证号",
    "性别",
    "联系电话",
    "户籍乡镇",
    "务工省份",
    "务工县区代码",
    "务工单位",
    "单位信用代码",
    "工种",
    "务工状态",
    "登记日期",
    "更新时间",
];

/// Zhenfeng townships (户籍乡镇).
pub const TOWNSHIPS: [&str; 14] = [
    "珉谷街道",
    "永丰街道",
    "丰茂街道",
    "者相镇",
    "北盘江镇",
    "龙场镇",
    "白层镇",
    "鲁贡镇",
    "连环乡",
    "长田镇",
    "平街乡",
    "小屯镇",
    "沙坪镇",
    "挽澜镇",
];

/// Trades (工种) recorded in the registry.
pub const TRADES: [&str; 10] = [
    "普工",
    "电子装配工",
    "质检员",
    "叉车司机",
    "仓管员",
    "注塑工",
    "保安",
    "厨师",
    "物流员",
    "设备维修工",
];

/// A resident in the ZF-REG registry, every field the raw text the registry stores (quirks
/// included), named by the pinyin initials the registry's save form uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    /// 登记编号: `ZF` + 4-digit registration year + 6-digit sequence, e.g. `ZF2021000123`.
    pub djbh: String,
    /// 姓名 (may carry trailing ASCII or U+3000 spaces; empty for one broken resident).
    pub xm: String,
    /// 身份证号: 18 characters (sometimes a lower-case `x`) or a legacy 15-digit number.
    pub sfzh: String,
    /// 性别: `男` or `女`.
    pub xb: String,
    /// 联系电话: a mainland mobile, sometimes full-width, `+86 138-0013-8000` style or spaced.
    pub lxdh: String,
    /// 户籍乡镇: a Zhenfeng township, sometimes with trailing spaces.
    pub hjxz: String,
    /// 务工省份: the province of the workplace, e.g. `广东省`.
    pub wgsf: String,
    /// 务工县区代码: GB/T 2260 county code of the workplace.
    pub wgxq: String,
    /// 务工单位: employer name (empty for some job seekers working elsewhere).
    pub wgdw: String,
    /// 单位信用代码: employer's unified social credit code, or empty.
    pub dwxydm: String,
    /// 工种: trade.
    pub gz: String,
    /// 务工状态: `1` 在岗, `2` 待业, `3` 返乡, `9` 失联.
    pub wgzt: String,
    /// 登记日期: `2021-08-05`, `2021/8/5` or `2021年8月5日`.
    pub djrq: String,
    /// 更新时间: `yyyy-MM-dd HH:mm:ss`, China Standard Time.
    pub gxsj: String,
}

impl Resident {
    /// The fields in [`COLUMNS`] order.
    pub fn into_columns(self) -> [String; 14] {
        [
            self.djbh,
            self.xm,
            self.sfzh,
            self.xb,
            self.lxdh,
            self.hjxz,
            self.wgsf,
            self.wgxq,
            self.wgdw,
            self.dwxydm,
            self.gz,
            self.wgzt,
            self.djrq,
            self.gxsj,
        ]
    }
}

/// What is wrong with a deliberately broken resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Defect {
    /// The identity number's check character is wrong (once a digit where another digit is
    /// right, once `X` where a digit is right).
    BadCheckCharacter,
    /// The identity number's birth date does not exist (e.g. `19870230`); its check character
    /// is right for the digits written.
    ImpossibleBirthDate,
    /// 登记日期 is `2021年2月30日`.
    ImpossibleRegistrationDate,
    /// 姓名 is empty.
    MissingName,
}

impl Defect {
    /// The kebab-case name `/_admin/seed` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Defect::BadCheckCharacter => "bad-check-character",
            Defect::ImpossibleBirthDate => "impossible-birth-date",
            Defect::ImpossibleRegistrationDate => "impossible-registration-date",
            Defect::MissingName => "missing-name",
        }
    }
}

/// A broken resident and its defect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenResident {
    /// Its 登记编号.
    pub djbh: String,
    /// What is wrong with it.
    pub defect: Defect,
}

/// An enterprise in HY-ESMS (`enterprises` collection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enterprise {
    /// `id`, from 1.
    pub id: u64,
    /// `uscc`: `91441303` + 9-character organisation code (GB 11714 check) + GB 32100 check.
    pub uscc: String,
    /// `name`.
    pub name: String,
    /// `address`, in 惠阳区.
    pub address: String,
    /// `contactName`.
    pub contact_name: String,
    /// `contactPhone`: 11-digit mobile.
    pub contact_phone: String,
    /// `updatedAt`, Unix seconds.
    pub updated_at: i64,
}

/// A job posting in HY-ESMS (`jobs` collection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// `id`, from 1.
    pub id: u64,
    /// `enterpriseId`.
    pub enterprise_id: u64,
    /// `title`.
    pub title: String,
    /// `headcount`.
    pub headcount: u32,
    /// `salaryMin`, CNY per month.
    pub salary_min: u32,
    /// `salaryMax`, CNY per month.
    pub salary_max: u32,
    /// `workLocation`.
    pub work_location: String,
    /// `requirements`.
    pub requirements: String,
    /// `publishedAt`, `YYYY-MM-DD`.
    pub published_at: String,
    /// `validUntil`, `YYYY-MM-DD`.
    pub valid_until: String,
    /// `status`: `open` or `closed`.
    pub status: &'static str,
    /// `updatedAt`, Unix seconds.
    pub updated_at: i64,
}

/// A health facility MED-ROSTER holds as an `Organization`: one of Zhenfeng's five host
/// facilities or the Huiyang hospital that sends clinicians.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    /// Its name, e.g. 贞丰县人民医院.
    pub name: String,
    /// Unified social credit code of a public institution (`12` + division + organisation code
    /// + check character).
    pub uscc: String,
    /// Postal address, one line.
    pub address: String,
    /// A Zhenfeng host facility (`false`: the sending hospital in Huiyang).
    pub host: bool,
}

/// A secondment (专业技术人才派驻) in HY-ESMS (`secondments` collection): one stay of one
/// clinician in one batch, as Huiyang planned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secondment {
    /// `id`, from 1.
    pub id: u64,
    /// `name`.
    pub name: String,
    /// `idNo`: 18 characters, a Huiyang (441303) registration, check character right.
    pub id_no: String,
    /// `gender`: `M` or `F` (agrees with the identity number).
    pub gender: &'static str,
    /// `phone`: 11-digit mobile.
    pub phone: String,
    /// `profession`, e.g. 中医师.
    pub profession: &'static str,
    /// `sendingOrg`: 惠阳区中医院.
    pub sending_org: &'static str,
    /// `hostFacility`: one of the five host facilities, by name.
    pub host_facility: &'static str,
    /// `batch`, 1–4.
    pub batch: u32,
    /// `startDate`, `YYYY-MM-DD`.
    pub start_date: &'static str,
    /// `endDate` (planned), `YYYY-MM-DD`.
    pub end_date: &'static str,
    /// `actualEndDate`: known for completed stays only.
    pub actual_end_date: Option<&'static str>,
    /// `status`: `planned`, `serving` or `completed`.
    pub status: &'static str,
    /// `department` at the host, when known.
    pub department: Option<&'static str>,
    /// `honours` received.
    pub honours: Vec<&'static str>,
    /// `updatedAt`, Unix seconds.
    pub updated_at: i64,
}

/// A referral (职业介绍) in HY-ESMS (`referrals` collection): a job seeker introduced to a
/// posting and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// `id`, from 1.
    pub id: u64,
    /// `workerIdNo`: 18 characters, canonical (a ZF resident's identity number as
    /// `hub_schemas::id_number::normalise` gives it, or a Huiyang resident's).
    pub worker_id_no: String,
    /// `jobId`: a seeded job's id.
    pub job_id: u64,
    /// `status`: one of [`REFERRAL_STATUSES`].
    pub status: &'static str,
    /// `note`: `已入职` for a hire, `企业未录用` for a rejection, else none.
    pub note: Option<&'static str>,
    /// `deleted`: a few referrals entered by mistake were soft-deleted.
    pub deleted: bool,
    /// `updatedAt`, Unix seconds: within 30 days after the posting's `publishedAt`.
    pub updated_at: i64,
}

/// The whole reference data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// HY-ESMS enterprises, by id.
    pub enterprises: Vec<Enterprise>,
    /// HY-ESMS job postings, by id.
    pub jobs: Vec<Job>,
    /// ZF-REG residents, by 登记编号 (registration order).
    pub residents: Vec<Resident>,
    /// The broken residents among them.
    pub broken: Vec<BrokenResident>,
    /// MED-ROSTER's organisations: the five host facilities, then the sending hospital.
    pub facilities: Vec<Facility>,
    /// HY-ESMS secondments: the ten clinicians of the four batches (not scaled).
    pub secondments: Vec<Secondment>,
    /// HY-ESMS referrals: [`ZHENFENG_REFERRALS_PER_SCALE`]·N of valid residents working in
    /// 441303 and [`OTHER_REFERRALS_PER_SCALE`]·N of Huiyang residents, no (worker, job) pair
    /// twice, in random order; 2% soft-deleted.
    pub referrals: Vec<Referral>,
}

/// Builds the reference data for `scale` (0 is taken as 1) and `seed`.
pub fn generate(scale: u32, seed: u64) -> Seed {
    let scale = scale.max(1);
    let enterprises = enterprises(&mut part_rng(seed, 1));
    let jobs = jobs(&mut part_rng(seed, 2), &enterprises, scale);
    let (residents, broken) = residents(&mut part_rng(seed, 3), &enterprises, scale);
    let mut medical = part_rng(seed, 4);
    let facilities = facilities(&mut medical);
    let secondments = secondments(&mut medical);
    let referrals = referrals(&mut part_rng(seed, 5), &jobs, &residents, &broken, scale);
    Seed {
        enterprises,
        jobs,
        residents,
        broken,
        facilities,
        secondments,
        referrals,
    }
}

/// One independent stream per part, so that the parts do not shift each other.
fn part_rng(seed: u64, part: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(part);
    rng
}

// ---------------------------------------------------------------------------------------------
// Codes

/// GB 11714-1997 organisation code check character over the 8-character body (digits and
/// upper-case letters, A = 10 … Z = 35): weights 3,7,9,10,5,8,4,2; C = 11 − (Σ mod 11), where
/// 10 is written `X` and 11 is written `0`.
pub fn organisation_code_check(body: &str) -> Option<char> {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let values: Option<Vec<u32>> = body
        .chars()
        .map(|c| {
            c.is_ascii_uppercase()
                .then(|| c as u32 - 'A' as u32 + 10)
                .or(c.to_digit(10))
        })
        .collect();
    let values = values.filter(|v| v.len() == 8)?;
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        c => char::from_digit(c, 10).expect("a digit"),
    })
}

/// A unified social credit code of an enterprise (`91`) registered in `division`.
fn make_uscc(rng: &mut ChaCha8Rng, division: &str, used: &mut HashSet<String>) -> String {
    make_uscc_of(rng, "91", division, used)
}

/// A unified social credit code of an entity of `kind` (`91` enterprise, `12` public
/// institution) registered in `division`.
fn make_uscc_of(
    rng: &mut ChaCha8Rng,
    kind: &str,
    division: &str,
    used: &mut HashSet<String>,
) -> String {
    loop {
        let body: String = if rng.random_bool(0.5) {
            // Codes issued since 2015 start with MA.
            let alphabet: Vec<char> = uscc::ALPHABET.chars().collect();
            let tail: String = (0..6)
                .map(|_| *alphabet.choose(rng).expect("non-empty"))
                .collect();
            format!("MA{tail}")
        } else {
            format!("{:08}", rng.random_range(10_000_000..100_000_000u32))
        };
        let org_check = organisation_code_check(&body).expect("8 code characters");
        let first17 = format!("{kind}{division}{body}{org_check}");
        let check = uscc::check_character(&first17).expect("17 code characters");
        let code = format!("{first17}{check}");
        if used.insert(code.clone()) {
            return code;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// People

const SURNAMES: [&str; 36] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "吴", "罗", "韦", "岑", "龙", "潘", "陆", "梁", "周",
    "赵", "胡", "何", "田", "熊", "蒙", "班", "卢", "谢", "石", "邓", "朱", "余", "袁", "王", "李",
    "罗", "黄", "杨", "韦",
];
const MALE_GIVEN: [&str; 32] = [
    "伟", "强", "军", "勇", "明", "华", "平", "刚", "斌", "林", "杰", "涛", "波", "辉", "鹏", "超",
    "磊", "兵", "文", "国", "建", "志", "海", "春", "成", "忠", "贵", "福", "龙", "祥", "江", "松",
];
const FEMALE_GIVEN: [&str; 32] = [
    "芳", "娟", "敏", "静", "丽", "艳", "霞", "燕", "玲", "梅", "红", "英", "兰", "琴", "萍", "秀",
    "珍", "莉", "娜", "婷", "雪", "慧", "群", "凤", "菊", "翠", "花", "云", "琳", "佳", "月", "银",
];

fn person_name(rng: &mut ChaCha8Rng, male: bool) -> String {
    let given = if male { &MALE_GIVEN } else { &FEMALE_GIVEN };
    let mut name = SURNAMES.choose(rng).expect("non-empty").to_string();
    name.push_str(given.choose(rng).expect("non-empty"));
    if rng.random_bool(0.75) {
        name.push_str(given.choose(rng).expect("non-empty"));
    }
    name
}

const MOBILE_PREFIXES: [&str; 32] = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185",
    "186", "187", "188", "189", "198", "199",
];

/// A canonical 11-digit mainland mobile number, distinct from those in `used`.
fn mobile(rng: &mut ChaCha8Rng, used: &mut HashSet<String>) -> String {
    loop {
        let p = format!(
            "{}{:08}",
            MOBILE_PREFIXES.choose(rng).expect("non-empty"),
            rng.random_range(0..100_000_000u32)
        );
        if used.insert(p.clone()) {
            return p;
        }
    }
}

/// A phone number written the way the registry's clerks typed it.
fn quirky_phone(rng: &mut ChaCha8Rng, p: &str) -> String {
    let roll = rng.random_range(0..100);
    match roll {
        0..5 => p
            .chars()
            .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c))
            .collect(),
        5..10 => format!("+86 {}-{}-{}", &p[..3], &p[3..7], &p[7..]),
        10..13 => format!("{} {} {}", &p[..3], &p[3..7], &p[7..]),
        _ => p.to_string(),
    }
}

/// Qianxinan division codes other than Zhenfeng's that identity numbers carry, including the
/// retired 522322 (兴仁县, 1981–2018).
const OTHER_QIANXINAN: [&str; 7] = [
    "522301", "522322", "522323", "522324", "522326", "522327", "522328",
];

/// The first 17 characters of an identity number: division, birth date `YYYYMMDD`, sequence
/// (odd for men).
struct IdParts {
    division: &'static str,
    birth: NaiveDate,
    sequence: u32,
}

impl IdParts {
    fn random(rng: &mut ChaCha8Rng, male: bool) -> IdParts {
        let division = if rng.random_bool(0.95) {
            ZHENFENG
        } else {
            OTHER_QIANXINAN.choose(rng).expect("non-empty")
        };
        let year = rng.random_range(1965..=2003);
        let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).expect("a real date");
        let days_in_year = if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
            366
        } else {
            365
        };
        let birth = jan1 + Days::new(rng.random_range(0..days_in_year));
        let sequence = rng.random_range(0..500) * 2 + u32::from(male);
        IdParts {
            division,
            birth,
            sequence,
        }
    }

    fn first17(&self) -> String {
        format!(
            "{}{}{:03}",
            self.division,
            self.birth.format("%Y%m%d"),
            self.sequence
        )
    }

    fn legacy15(&self) -> String {
        format!(
            "{}{}{:03}",
            self.division,
            self.birth.format("%y%m%d"),
            self.sequence
        )
    }
}

/// Draws identity-number parts whose first 17 characters nobody else has, and for which
/// `accept` holds.
fn unique_id(
    rng: &mut ChaCha8Rng,
    male: bool,
    used: &mut HashSet<String>,
    accept: impl Fn(&IdParts) -> bool,
) -> IdParts {
    loop {
        let parts = IdParts::random(rng, male);
        if accept(&parts) && used.insert(parts.first17()) {
            return parts;
        }
    }
}

fn check_of(first17: &str) -> char {
    id_number::check_character(first17).expect("17 digits")
}

// ---------------------------------------------------------------------------------------------
// HY-ESMS: enterprises and jobs

const HUIYANG_FIRMS: [&str; ENTERPRISES] = [
    "伯恩光学(惠州)有限公司",
    "惠州市惠阳区富明电子有限公司",
    "惠州市鑫达五金制品有限公司",
    "惠州市联和塑胶制品有限公司",
    "惠州市恒通物流有限公司",
    "惠州市永湖精密模具有限公司",
    "惠州市德盛电器有限公司",
    "惠州市鸿源纺织有限公司",
    "惠州市华兴包装材料有限公司",
    "惠州市宏达机械设备有限公司",
    "惠州市惠阳区金源鞋业有限公司",
    "惠州市新益电子科技有限公司",
    "惠州市秋长永盛五金有限公司",
    "惠州市东升家具有限公司",
    "惠州市佳和食品有限公司",
    "惠州市博宇电池有限公司",
    "惠州市天成线路板有限公司",
    "惠州市信诚智能科技有限公司",
    "惠州市淡水华美服装有限公司",
    "惠州市新圩富康玩具有限公司",
    "惠州市镇隆宏发建材有限公司",
    "惠州市惠阳区顺达汽车配件有限公司",
    "惠州市良井立信光电有限公司",
    "惠州市沙田嘉盛印刷有限公司",
    "惠州市平潭汇成电线电缆有限公司",
    "惠州市惠阳区金辉灯饰有限公司",
    "惠州市三和精密五金有限公司",
    "惠州市惠阳区长盈塑胶电子有限公司",
    "惠州市恒兴化工有限公司",
    "惠州市美联家居用品有限公司",
    "惠州市惠阳区国泰保安服务有限公司",
    "惠州市丰源物业管理有限公司",
    "惠州市卓越汽车电子有限公司",
    "惠州市宝利达服饰有限公司",
    "惠州市惠阳区新世纪餐饮管理有限公司",
    "惠州市远洋包装制品有限公司",
    "惠州市惠阳区安达仓储服务有限公司",
    "惠州市精工模具有限公司",
    "惠州市康达医疗器械有限公司",
    "惠州市惠阳区绿源农业发展有限公司",
];

const HUIYANG_TOWNS: [&str; 8] = [
    "淡水街道",
    "秋长街道",
    "新圩镇",
    "镇隆镇",
    "沙田镇",
    "永湖镇",
    "良井镇",
    "平潭镇",
];
const HUIYANG_ROADS: [&str; 8] = [
    "开城大道",
    "白云路",
    "人民路",
    "沿江路",
    "长安路",
    "工业大道",
    "金惠大道",
    "惠澳大道",
];

/// Post titles and what each asks for.
const POSTS: [(&str, &str); 12] = [
    ("普工", "18-45周岁，身体健康，能适应两班倒，包食宿"),
    ("电子装配工", "视力良好，无色盲色弱，有电子厂经验优先"),
    ("质检员", "初中及以上学历，细心负责，有品检经验优先"),
    ("叉车司机", "持有效叉车证，1年以上相关工作经验"),
    ("仓管员", "高中及以上学历，会基本电脑操作"),
    ("注塑工", "18-45周岁，吃苦耐劳，服从安排，有注塑经验优先"),
    ("保安", "退伍军人优先，身高170cm以上，身体健康"),
    ("厨师", "持健康证，会做家常菜，有食堂工作经验优先"),
    ("物流员", "能吃苦耐劳，有驾照者优先"),
    ("设备维修工", "中专及以上学历，懂电工或机修，持电工证优先"),
    ("CNC操作员", "能看懂图纸，有CNC操作经验优先"),
    ("包装工", "男女不限，手脚麻利，包食宿，购买五险"),
];

fn enterprises(rng: &mut ChaCha8Rng) -> Vec<Enterprise> {
    let mut codes = HashSet::new();
    let mut phones = HashSet::new();
    let start = clock::cst_secs(2021, 4, 1, 0, 0, 0);
    HUIYANG_FIRMS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let uscc = make_uscc(rng, HUIYANG, &mut codes);
            let address = format!(
                "广东省惠州市惠阳区{}{}{}号",
                HUIYANG_TOWNS.choose(rng).expect("non-empty"),
                HUIYANG_ROADS.choose(rng).expect("non-empty"),
                rng.random_range(1..=388)
            );
            let male = rng.random_bool(0.5);
            let contact_name = person_name(rng, male);
            let contact_phone = mobile(rng, &mut phones);
            let updated_at = start + working_time(rng, 122);
            Enterprise {
                id: i as u64 + 1,
                uscc,
                name: name.to_string(),
                address,
                contact_name,
                contact_phone,
                updated_at,
            }
        })
        .collect()
}

/// Seconds from midnight of a day `0..days` to a working-hours time (08:00–20:59) that day.
fn working_time(rng: &mut ChaCha8Rng, days: u64) -> i64 {
    let day = rng.random_range(0..days) as i64;
    day * 86_400 + rng.random_range(8 * 3600..21 * 3600)
}

fn jobs(rng: &mut ChaCha8Rng, enterprises: &[Enterprise], scale: u32) -> Vec<Job> {
    // 伯恩光学 and 21 others post; every posting firm has at least one posting.
    let mut others: Vec<usize> = (1..enterprises.len()).collect();
    others.shuffle(rng);
    let mut posting: Vec<usize> = std::iter::once(0)
        .chain(others.into_iter().take(FIRMS_WITH_JOBS - 1))
        .collect();
    posting.sort_unstable();
    let total = (JOBS_PER_SCALE * scale) as usize;
    let mut owners: Vec<usize> = posting.clone();
    owners.extend((posting.len()..total).map(|_| *posting.choose(rng).expect("non-empty")));
    owners.shuffle(rng);

    let fair = NaiveDate::from_ymd_opt(2021, 8, 5).expect("a real date");
    // The job fair's postings were imported in three batches: many share a second.
    let batches = [
        clock::cst_secs(2021, 8, 5, 9, 30, 0),
        clock::cst_secs(2021, 8, 5, 9, 30, 1),
        clock::cst_secs(2021, 8, 5, 14, 0, 0),
    ];
    owners
        .into_iter()
        .enumerate()
        .map(|(i, owner)| {
            let firm = &enterprises[owner];
            let (title, requirements) = *POSTS.choose(rng).expect("non-empty");
            let headcount = rng.random_range(2..=40) * 5;
            let salary_min = rng.random_range(7..=12) * 500;
            let salary_max = salary_min + rng.random_range(2..=6) * 500;
            let published = if rng.random_bool(0.7) {
                fair
            } else {
                fair - Days::new(rng.random_range(1..=10))
            };
            let valid_until = published + Days::new(*[30, 60, 90].choose(rng).expect("non-empty"));
            let open = rng.random_bool(0.9);
            let updated_at = if !open {
                clock::cst_secs(2021, 8, 20, 0, 0, 0) + working_time(rng, 12)
            } else if published == fair {
                *batches.choose(rng).expect("non-empty")
            } else {
                let midnight = clock::cst_secs(
                    published.year(),
                    published.month(),
                    published.day(),
                    0,
                    0,
                    0,
                );
                midnight + working_time(rng, 1)
            };
            Job {
                id: i as u64 + 1,
                enterprise_id: firm.id,
                title: title.to_string(),
                headcount,
                salary_min,
                salary_max,
                work_location: firm.address.clone(),
                requirements: requirements.to_string(),
                published_at: published.to_string(),
                valid_until: valid_until.to_string(),
                status: if open { "open" } else { "closed" },
                updated_at,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// ZF-REG: residents

/// Counties outside Huiyang where residents work, with weights; every code is checked against
/// the GB/T 2260 table (in use today) when the seed is built.
const ELSEWHERE: [(&str, &str, u32); 7] = [
    ("440306", "深圳市", 25),
    ("440307", "深圳市", 20),
    ("441302", "惠州市", 10),
    ("330282", "慈溪市", 15),
    ("350582", "晋江市", 15),
    ("520102", "贵阳市", 8),
    ("522301", "兴义市", 7),
];
const BRANDS: [&str; 16] = [
    "鑫达", "华美", "宏发", "永盛", "金源", "恒通", "联创", "信诚", "东升", "博宇", "天成", "新益",
    "富康", "佳和", "盛世", "瑞丰",
];
const INDUSTRIES: [&str; 10] = [
    "电子科技",
    "鞋业",
    "服装",
    "五金制品",
    "塑胶制品",
    "包装材料",
    "食品",
    "建材",
    "物流",
    "家具",
];

/// An employer elsewhere: name, credit code, and the province and county it is in.
struct Firm {
    name: String,
    uscc: String,
    province: &'static str,
    county: &'static str,
}

fn firms_elsewhere(rng: &mut ChaCha8Rng, codes: &mut HashSet<String>) -> Vec<(u32, Vec<Firm>)> {
    ELSEWHERE
        .iter()
        .map(|&(county, city, weight)| {
            let division = divisions::current(county)
                .unwrap_or_else(|| panic!("seed county code {county} must be in use"));
            let mut names = HashSet::new();
            let firms = (0..6)
                .map(|_| {
                    let name = loop {
                        let name = format!(
                            "{city}{}{}有限公司",
                            BRANDS.choose(rng).expect("non-empty"),
                            INDUSTRIES.choose(rng).expect("non-empty")
                        );
                        if names.insert(name.clone()) {
                            break name;
                        }
                    };
                    Firm {
                        name,
                        uscc: make_uscc(rng, county, codes),
                        province: division.province,
                        county,
                    }
                })
                .collect();
            (weight, firms)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A valid resident working in Huiyang.
    Huiyang,
    /// A valid resident working elsewhere.
    Elsewhere,
    /// A broken resident in Huiyang: 0 wrong check digit, 1 `X` where a digit is right,
    /// 2 impossible birth date, 3 impossible registration date, 4 missing name.
    Broken(u8),
}

struct Draft {
    resident: Resident,
    /// Registration day for ordering the 登记编号 (the written date may be impossible).
    registered: NaiveDate,
    defect: Option<Defect>,
}

fn residents(
    rng: &mut ChaCha8Rng,
    enterprises: &[Enterprise],
    scale: u32,
) -> (Vec<Resident>, Vec<BrokenResident>) {
    let total = RESIDENTS_PER_SCALE * scale;
    let huiyang = VALID_IN_HUIYANG_PER_SCALE * scale;
    let mut kinds: Vec<Kind> = std::iter::repeat_n(Kind::Huiyang, huiyang as usize)
        .chain((0..BROKEN_RESIDENTS as u8).map(Kind::Broken))
        .chain(std::iter::repeat_n(
            Kind::Elsewhere,
            (total - huiyang - BROKEN_RESIDENTS) as usize,
        ))
        .collect();
    kinds.shuffle(rng);

    let mut codes: HashSet<String> = enterprises.iter().map(|e| e.uscc.clone()).collect();
    let elsewhere = firms_elsewhere(rng, &mut codes);
    let weight_total: u32 = elsewhere.iter().map(|(w, _)| w).sum();
    let mut ids = HashSet::new();
    let mut phones = HashSet::new();
    let update_start = clock::cst_secs(2021, 4, 1, 0, 0, 0);
    let programme_start = NaiveDate::from_ymd_opt(2021, 4, 1).expect("a real date");
    let registry_start = NaiveDate::from_ymd_opt(2016, 3, 1).expect("a real date");
    let mut last_update = update_start + working_time(rng, 244);

    let mut drafts: Vec<Draft> = kinds
        .into_iter()
        .map(|kind| {
            let male = rng.random_bool(0.58);
            let broken = match kind {
                Kind::Broken(b) => Some(b),
                _ => None,
            };

            // 身份证号
            let sfzh = match broken {
                Some(0) => {
                    let parts = unique_id(rng, male, &mut ids, |p| check_of(&p.first17()) != 'X');
                    let right = check_of(&parts.first17()).to_digit(10).expect("a digit");
                    let wrong = (right + rng.random_range(1..10)) % 10;
                    format!("{}{wrong}", parts.first17())
                }
                Some(1) => {
                    let parts = unique_id(rng, male, &mut ids, |p| check_of(&p.first17()) != 'X');
                    format!("{}X", parts.first17())
                }
                Some(2) => {
                    let parts = unique_id(rng, male, &mut ids, |p| p.birth.year() < 2000);
                    let (month, day) = *[(2, 30), (2, 31), (4, 31), (11, 31)]
                        .choose(rng)
                        .expect("non-empty");
                    let first17 = format!(
                        "{}{}{month:02}{day:02}{:03}",
                        parts.division,
                        parts.birth.year(),
                        parts.sequence
                    );
                    format!("{first17}{}", check_of(&first17))
                }
                _ => {
                    let parts = unique_id(rng, male, &mut ids, |_| true);
                    if parts.birth.year() < 1980 && rng.random_bool(0.026) {
                        parts.legacy15()
                    } else {
                        let first17 = parts.first17();
                        match check_of(&first17) {
                            'X' if rng.random_bool(0.5) => format!("{first17}x"),
                            c => format!("{first17}{c}"),
                        }
                    }
                }
            };

            // 姓名
            let mut xm = person_name(rng, male);
            if broken == Some(4) {
                xm.clear();
            } else if broken.is_none() && rng.random_bool(0.03) {
                xm.push_str(
                    [" ", "\u{3000}", "  ", "\u{3000}\u{3000}"]
                        .choose(rng)
                        .expect("non-empty"),
                );
            }

            let phone = mobile(rng, &mut phones);
            let lxdh = quirky_phone(rng, &phone);
            let mut hjxz = TOWNSHIPS.choose(rng).expect("non-empty").to_string();
            if rng.random_bool(0.03) {
                hjxz.push_str([" ", "  ", "\u{3000}"].choose(rng).expect("non-empty"));
            }

            // Workplace and employer.
            let (wgsf, wgxq, wgdw, dwxydm) = if kind == Kind::Elsewhere {
                let mut pick = rng.random_range(0..weight_total);
                let (_, firms) = elsewhere
                    .iter()
                    .find(|(w, _)| {
                        let hit = pick < *w;
                        pick = pick.saturating_sub(*w);
                        hit
                    })
                    .expect("weights cover the range");
                let firm = firms.choose(rng).expect("non-empty");
                let roll = rng.random_range(0..100);
                let (name, code) = match roll {
                    0..5 => (String::new(), String::new()),
                    5..15 => (firm.name.clone(), String::new()),
                    _ => (firm.name.clone(), firm.uscc.clone()),
                };
                (
                    firm.province.to_string(),
                    firm.county.to_string(),
                    name,
                    code,
                )
            } else {
                let firm = if rng.random_bool(0.25) {
                    &enterprises[0]
                } else {
                    enterprises.choose(rng).expect("non-empty")
                };
                let code = if broken.is_none() && rng.random_bool(0.1) {
                    String::new()
                } else {
                    firm.uscc.clone()
                };
                (
                    "广东省".to_string(),
                    HUIYANG.to_string(),
                    firm.name.clone(),
                    code,
                )
            };

            let gz = TRADES.choose(rng).expect("non-empty").to_string();
            let wgzt = match rng.random_range(0..100) {
                0..85 => "1",
                85..92 => "2",
                92..97 => "3",
                _ => "9",
            };

            // 更新时间: clerks save in batches, so some records share a second.
            if !rng.random_bool(0.12) {
                last_update = update_start + working_time(rng, 244);
            }
            let updated = last_update;
            let updated_day = NaiveDate::parse_from_str(&clock::local_date(updated), "%Y-%m-%d")
                .expect("a real date");

            // 登记日期: half registered since the programme began, half before.
            let registered = if rng.random_bool(0.5) {
                programme_start
                    + Days::new(
                        rng.random_range(0..=(updated_day - programme_start).num_days() as u64),
                    )
            } else {
                registry_start
                    + Days::new(
                        rng.random_range(0..(programme_start - registry_start).num_days() as u64),
                    )
            };
            let djrq = if broken == Some(3) {
                "2021年2月30日".to_string()
            } else {
                match rng.random_range(0..3) {
                    0 => registered.format("%Y-%m-%d").to_string(),
                    1 => format!(
                        "{}/{}/{}",
                        registered.year(),
                        registered.month(),
                        registered.day()
                    ),
                    _ => format!(
                        "{}年{}月{}日",
                        registered.year(),
                        registered.month(),
                        registered.day()
                    ),
                }
            };
            let registered = if broken == Some(3) {
                NaiveDate::from_ymd_opt(2021, 2, 28).expect("a real date")
            } else {
                registered
            };

            let defect = broken.map(|b| match b {
                0 | 1 => Defect::BadCheckCharacter,
                2 => Defect::ImpossibleBirthDate,
                3 => Defect::ImpossibleRegistrationDate,
                _ => Defect::MissingName,
            });
            Draft {
                resident: Resident {
                    djbh: String::new(),
                    xm,
                    sfzh,
                    xb: if male { "男" } else { "女" }.to_string(),
                    lxdh,
                    hjxz,
                    wgsf,
                    wgxq,
                    wgdw,
                    dwxydm,
                    gz,
                    wgzt: wgzt.to_string(),
                    djrq,
                    gxsj: clock::local_datetime(updated),
                },
                registered,
                defect,
            }
        })
        .collect();

    // 登记编号 in order of registration.
    drafts.sort_by_key(|d| d.registered);
    let mut broken = Vec::new();
    let residents = drafts
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            d.resident.djbh = format!("ZF{}{:06}", d.registered.year(), i + 1);
            if let Some(defect) = d.defect {
                broken.push(BrokenResident {
                    djbh: d.resident.djbh.clone(),
                    defect,
                });
            }
            d.resident
        })
        .collect();
    (residents, broken)
}

// ---------------------------------------------------------------------------------------------
// Medical secondment: MED-ROSTER's facilities and HY-ESMS's secondments

/// The five Zhenfeng host facilities (real names) and their addresses.
pub const HOST_FACILITIES: [(&str, &str); 5] = [
    ("贞丰县人民医院", "贵州省黔西南州贞丰县珉谷街道人民路"),
    ("贞丰县民族中医院", "贵州省黔西南州贞丰县珉谷街道北街"),
    ("贞丰县妇幼保健院", "贵州省黔西南州贞丰县永丰街道中山路"),
    ("永丰街道社区卫生服务中心", "贵州省黔西南州贞丰县永丰街道"),
    ("珉谷街道社区卫生服务中心", "贵州省黔西南州贞丰县珉谷街道"),
];
/// The Huiyang hospital that sends the clinicians.
pub const SENDING_HOSPITAL: (&str, &str) = ("惠阳区中医院", "广东省惠州市惠阳区淡水街道");

/// One stay of the plan: batch, profession, host facility (index into [`HOST_FACILITIES`]),
/// department known to Huiyang.
struct Stay {
    batch: u32,
    profession: &'static str,
    host: usize,
    department: Option<&'static str>,
    honours: &'static [&'static str],
}

/// The four batches: dates (start, planned end), status, and whether the actual end is known.
const BATCHES: [(&str, &str, &str); 4] = [
    ("2021-04-15", "2021-07-14", "completed"),
    ("2021-06-01", "2021-08-31", "completed"),
    ("2021-09-01", "2021-11-30", "serving"),
    ("2021-12-01", "2022-02-28", "planned"),
];

/// The ten clinicians of the four batches (3, 3, 2, 2).
const PLAN: [Stay; 10] = [
    Stay {
        batch: 1,
        profession: "中医师",
        host: 1,
        department: Some("中医科"),
        honours: &["锦旗：妙手仁心"],
    },
    Stay {
        batch: 1,
        profession: "康复治疗师",
        host: 0,
        department: Some("康复科"),
        honours: &[],
    },
    Stay {
        batch: 1,
        profession: "儿科医师",
        host: 2,
        department: Some("儿科"),
        honours: &["锦旗：医德高尚 情系贞丰"],
    },
    Stay {
        batch: 2,
        profession: "内科医师",
        host: 0,
        department: Some("内科"),
        honours: &[],
    },
    Stay {
        batch: 2,
        profession: "针灸推拿医师",
        host: 3,
        department: Some("中医科"),
        honours: &[],
    },
    Stay {
        batch: 2,
        profession: "全科医师",
        host: 4,
        department: Some("全科"),
        honours: &[],
    },
    Stay {
        batch: 3,
        profession: "中医师",
        host: 1,
        department: Some("针灸科"),
        honours: &[],
    },
    Stay {
        batch: 3,
        profession: "妇产科医师",
        host: 2,
        department: None,
        honours: &[],
    },
    Stay {
        batch: 4,
        profession: "康复治疗师",
        host: 3,
        department: None,
        honours: &[],
    },
    Stay {
        batch: 4,
        profession: "全科医师",
        host: 4,
        department: None,
        honours: &[],
    },
];

fn facilities(rng: &mut ChaCha8Rng) -> Vec<Facility> {
    let mut codes = HashSet::new();
    let mut out: Vec<Facility> = HOST_FACILITIES
        .iter()
        .map(|(name, address)| Facility {
            name: name.to_string(),
            uscc: make_uscc_of(rng, "12", ZHENFENG, &mut codes),
            address: address.to_string(),
            host: true,
        })
        .collect();
    out.push(Facility {
        name: SENDING_HOSPITAL.0.to_string(),
        uscc: make_uscc_of(rng, "12", HUIYANG, &mut codes),
        address: SENDING_HOSPITAL.1.to_string(),
        host: false,
    });
    out
}

fn secondments(rng: &mut ChaCha8Rng) -> Vec<Secondment> {
    let mut ids = HashSet::new();
    let mut phones = HashSet::new();
    PLAN.iter()
        .enumerate()
        .map(|(i, stay)| {
            let male = rng.random_bool(0.5);
            let name = person_name(rng, male);
            let id_no = loop {
                let year = rng.random_range(1972..=1992);
                let birth = NaiveDate::from_ymd_opt(year, 1, 1).expect("a real date")
                    + Days::new(rng.random_range(0..365));
                let first17 = format!(
                    "{HUIYANG}{}{:03}",
                    birth.format("%Y%m%d"),
                    rng.random_range(0..500) * 2 + u32::from(male)
                );
                if ids.insert(first17.clone()) {
                    break format!("{first17}{}", check_of(&first17));
                }
            };
            let (start, end, status) = BATCHES[stay.batch as usize - 1];
            let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a plan date");
            // Huiyang's clerk last saved the record on the day the stay ended (completed), began
            // (serving) or a fortnight before it (planned).
            let saved = match status {
                "completed" => day(end),
                "serving" => day(start),
                _ => day(start) - Days::new(14),
            };
            let updated_at = clock::cst_secs(saved.year(), saved.month(), saved.day(), 0, 0, 0)
                + working_time(rng, 1);
            Secondment {
                id: i as u64 + 1,
                name,
                id_no,
                gender: if male { "M" } else { "F" },
                phone: mobile(rng, &mut phones),
                profession: stay.profession,
                sending_org: SENDING_HOSPITAL.0,
                host_facility: HOST_FACILITIES[stay.host].0,
                batch: stay.batch,
                start_date: start,
                end_date: end,
                actual_end_date: (status == "completed").then_some(end),
                status,
                department: stay.department,
                honours: stay.honours.to_vec(),
                updated_at,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// HY-ESMS: referrals

fn referrals(
    rng: &mut ChaCha8Rng,
    jobs: &[Job],
    residents: &[Resident],
    broken: &[BrokenResident],
    scale: u32,
) -> Vec<Referral> {
    let broken: HashSet<&str> = broken.iter().map(|b| b.djbh.as_str()).collect();
    let zhenfeng: Vec<String> = residents
        .iter()
        .filter(|r| r.wgxq == HUIYANG && !broken.contains(r.djbh.as_str()))
        .map(|r| id_number::normalise(&r.sfzh))
        .collect();
    let mut used_ids: HashSet<String> = zhenfeng.iter().map(|s| s[..17].to_string()).collect();
    let locals: Vec<String> = (0..OTHER_REFERRALS_PER_SCALE * scale)
        .map(|_| {
            loop {
                let birth = NaiveDate::from_ymd_opt(
                    rng.random_range(1970..=2000),
                    rng.random_range(1..=12),
                    rng.random_range(1..=28),
                )
                .expect("a real date");
                let first17 = format!(
                    "{HUIYANG}{}{:03}",
                    birth.format("%Y%m%d"),
                    rng.random_range(0..1000)
                );
                if used_ids.insert(first17.clone()) {
                    break format!("{first17}{}", check_of(&first17));
                }
            }
        })
        .collect();
    let mut people: Vec<&String> = (0..ZHENFENG_REFERRALS_PER_SCALE * scale)
        .map(|_| zhenfeng.choose(rng).expect("residents in Huiyang"))
        .chain(locals.iter())
        .collect();
    people.shuffle(rng);
    let mut pairs: HashSet<(String, u64)> = HashSet::new();
    people
        .into_iter()
        .enumerate()
        .map(|(i, person)| {
            let job = loop {
                let job = jobs.choose(rng).expect("seeded jobs");
                if pairs.insert((person.clone(), job.id)) {
                    break job;
                }
            };
            let roll = rng.random_range(0..100);
            let mut at = 0;
            let status = REFERRAL_STATUSES
                .iter()
                .find(|(_, w)| {
                    at += w;
                    roll < at
                })
                .map(|(s, _)| *s)
                .expect("weights add up to 100");
            let note = match status {
                "hired" => Some("已入职"),
                "rejected" => Some("企业未录用"),
                _ => None,
            };
            let published =
                NaiveDate::parse_from_str(&job.published_at, "%Y-%m-%d").expect("a seeded date");
            let updated_at = clock::cst_secs(
                published.year(),
                published.month(),
                published.day(),
                0,
                0,
                0,
            ) + working_time(rng, 30);
            Referral {
                id: i as u64 + 1,
                worker_id_no: person.clone(),
                job_id: job.id,
                status,
                note,
                deleted: rng.random_bool(0.02),
                updated_at,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_codes_check_as_printed_on_licences() {
        // The organisation codes inside 91350100M000100Y43 and 91110000802100433B.
        assert_eq!(organisation_code_check("M000100Y"), Some('4'));
        assert_eq!(organisation_code_check("80210043"), Some('3'));
        // 1·3+2·7+3·9+4·10+5·5+6·8+7·4+8·2 = 201; 201 mod 11 = 3; 11 − 3 = 8.
        assert_eq!(organisation_code_check("12345678"), Some('8'));
        assert_eq!(organisation_code_check("1234567"), None);
    }

    #[test]
    fn every_county_outside_huiyang_is_in_use() {
        for (code, _, _) in ELSEWHERE {
            assert!(divisions::current(code).is_some(), "{code}");
        }
        assert!(divisions::current(HUIYANG).is_some());
        for code in OTHER_QIANXINAN {
            assert!(divisions::exists(code), "{code}");
        }
        assert!(
            divisions::current("522322").is_none(),
            "兴仁县 was retired in 2018"
        );
    }

    #[test]
    fn the_scale_one_seed_is_generated_quickly() {
        let start = std::time::Instant::now();
        let seed = generate(1, DEFAULT_SEED);
        let took = start.elapsed();
        assert_eq!(seed.residents.len(), 3000);
        // Generous for unoptimised builds; a release build takes a few milliseconds.
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
    }
}
