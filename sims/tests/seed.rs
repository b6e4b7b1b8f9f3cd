//! The seed: counts, validity, quirks and consistency between the two systems, checked against
//! the standards (GB 11643, GB 32100, GB 11714, GB/T 2260) rather than against the generator.

// A test's helpers unwrap: a value they did not expect is the test failing, with its place.
#![allow(clippy::unwrap_used)]

mod common;

use hub_schemas::{date, divisions, id_number, phone, text, uscc};
use hub_sims::seed::{DEFAULT_SEED, Seed, TOWNSHIPS, generate};
use std::collections::{BTreeMap, HashMap, HashSet};

fn seed() -> Seed {
    generate(1, DEFAULT_SEED)
}

/// What is wrong with a resident, judged from the standards alone.
fn defects(r: &hub_sims::seed::Resident) -> Vec<&'static str> {
    let mut found = Vec::new();
    match id_number::validate(&id_number::normalise(&r.sfzh)) {
        Ok(()) => {}
        Err(id_number::IdNumberError::CheckCharacter { .. }) => found.push("bad-check-character"),
        Err(id_number::IdNumberError::BirthDate) => found.push("impossible-birth-date"),
        Err(e) => panic!("{}: unexpected identity number error {e}", r.djbh),
    }
    if date::parse(&r.djrq).is_none() {
        found.push("impossible-registration-date");
    }
    if text::trim(&r.xm).is_empty() {
        found.push("missing-name");
    }
    found
}

/// GB 11714-1997 check character, written out here independently of the simulator.
fn gb11714(body: &str) -> char {
    let w = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(w)
        .map(|(c, w)| c.to_digit(36).unwrap() * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        c => char::from_digit(c, 10).unwrap(),
    }
}

#[test]
fn the_registry_has_3000_residents_of_whom_1322_valid_and_5_broken_work_in_huiyang() {
    let s = seed();
    assert_eq!(s.residents.len(), 3000);
    let huiyang: Vec<_> = s.residents.iter().filter(|r| r.wgxq == "441303").collect();
    assert_eq!(huiyang.len(), 1327);

    let broken: HashMap<&str, &str> = s
        .broken
        .iter()
        .map(|b| (b.djbh.as_str(), b.defect.as_str()))
        .collect();
    assert_eq!(broken.len(), 5);
    let mut kinds: Vec<&str> = broken.values().copied().collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "bad-check-character",
            "bad-check-character",
            "impossible-birth-date",
            "impossible-registration-date",
            "missing-name"
        ]
    );

    for r in &s.residents {
        let found = defects(r);
        match broken.get(r.djbh.as_str()) {
            Some(defect) => {
                assert_eq!(found, [*defect], "{}", r.djbh);
                assert_eq!(r.wgxq, "441303");
            }
            None => assert!(found.is_empty(), "{} {found:?}", r.djbh),
        }
    }
    let valid_in_huiyang = huiyang
        .iter()
        .filter(|r| !broken.contains_key(r.djbh.as_str()))
        .count();
    assert_eq!(valid_in_huiyang, 1322);
}

#[test]
fn the_broken_identity_numbers_are_broken_the_documented_ways() {
    let s = seed();
    let by_djbh: HashMap<_, _> = s.residents.iter().map(|r| (r.djbh.as_str(), r)).collect();
    let mut last_characters = Vec::new();
    for b in &s.broken {
        let r = by_djbh[b.djbh.as_str()];
        match b.defect.as_str() {
            "bad-check-character" => {
                let right = id_number::check_character(&r.sfzh[..17]).unwrap();
                let written = r.sfzh.chars().last().unwrap();
                assert_ne!(right, written);
                assert!(right.is_ascii_digit(), "a digit is right in both cases");
                last_characters.push(written.is_ascii_digit());
            }
            "impossible-birth-date" => {
                assert_eq!(r.sfzh.len(), 18);
                assert!(id_number::birth_date(&r.sfzh).is_none());
                assert_eq!(
                    id_number::check_character(&r.sfzh[..17]),
                    r.sfzh.chars().last()
                );
            }
            "impossible-registration-date" => assert_eq!(r.djrq, "2021年2月30日"),
            "missing-name" => assert_eq!(r.xm, ""),
            other => panic!("unknown defect {other}"),
        }
    }
    last_characters.sort();
    assert_eq!(
        last_characters,
        [false, true],
        "one ends in X, one in a wrong digit"
    );
}

#[test]
fn identity_numbers_are_distinct_valid_and_match_sex_and_birth_years() {
    let s = seed();
    let broken: HashSet<&str> = s.broken.iter().map(|b| b.djbh.as_str()).collect();
    let ids: HashSet<String> = s
        .residents
        .iter()
        .map(|r| id_number::normalise(&r.sfzh))
        .collect();
    assert_eq!(ids.len(), 3000, "distinct after normalisation");
    let firsts: HashSet<&str> = s
        .residents
        .iter()
        .map(|r| &r.sfzh[..r.sfzh.len().min(17)])
        .collect();
    assert!(
        firsts.len() >= 3000 - 30,
        "legacy numbers have only 15 digits, the rest 17 distinct"
    );

    let mut zhenfeng = 0;
    let mut divisions_seen = HashSet::new();
    for r in s
        .residents
        .iter()
        .filter(|r| !broken.contains(r.djbh.as_str()))
    {
        let id = id_number::normalise(&r.sfzh);
        assert_eq!(id_number::validate(&id), Ok(()), "{}", r.djbh);
        assert_eq!(id_number::is_male(&id), Some(r.xb == "男"), "{}", r.djbh);
        assert!(matches!(r.xb.as_str(), "男" | "女"));
        let year: u32 = id[6..10].parse().unwrap();
        assert!((1965..=2003).contains(&year), "{year}");
        let division = &id[..6];
        assert!(division.starts_with("5223"), "a Qianxinan code: {division}");
        assert!(divisions::exists(division), "{division}");
        zhenfeng += usize::from(division == "522325");
        divisions_seen.insert(division.to_string());
    }
    let share = zhenfeng as f64 / 2995.0;
    assert!((0.92..0.98).contains(&share), "贞丰县 share {share}");
    assert!(
        divisions_seen.contains("522322"),
        "the retired 兴仁县 code appears"
    );
    assert!(divisions::current("522322").is_none());
}

#[test]
fn the_registry_carries_the_quirks_of_real_exports() {
    let s = seed();
    let n = s.residents.len() as f64;
    let share = |f: &dyn Fn(&hub_sims::seed::Resident) -> bool| {
        s.residents.iter().filter(|r| f(r)).count() as f64 / n
    };

    // Lower-case x on about half of the numbers whose check character is X.
    let with_x: Vec<_> = s
        .residents
        .iter()
        .filter(|r| r.sfzh.len() == 18 && r.sfzh.to_uppercase().ends_with('X'))
        .collect();
    let lower =
        with_x.iter().filter(|r| r.sfzh.ends_with('x')).count() as f64 / with_x.len() as f64;
    assert!((0.35..0.65).contains(&lower), "lower-case x share {lower}");

    // About 1% legacy 15-digit numbers, all for people born before 1980.
    let legacy: Vec<_> = s.residents.iter().filter(|r| r.sfzh.len() == 15).collect();
    assert!(
        (10..=60).contains(&legacy.len()),
        "{} legacy numbers",
        legacy.len()
    );
    assert!(
        legacy
            .iter()
            .all(|r| r.sfzh.bytes().all(|b| b.is_ascii_digit()) && &r.sfzh[6..8] < "80")
    );

    // Phones: about 5% full-width, about 5% +86 with dashes, some with spaces; all mainland mobiles.
    let full = share(&|r| r.lxdh.chars().any(|c| ('０'..='９').contains(&c)));
    let plus = share(&|r| r.lxdh.starts_with("+86 ") && r.lxdh.contains('-'));
    let spaced = share(&|r| !r.lxdh.starts_with('+') && r.lxdh.contains(' '));
    assert!((0.03..0.08).contains(&full), "full-width {full}");
    assert!((0.03..0.08).contains(&plus), "+86 {plus}");
    assert!(spaced > 0.01, "spaced {spaced}");
    for r in &s.residents {
        let p = phone::normalise(&r.lxdh).unwrap();
        assert!(phone::is_canonical(&p), "{}", r.djbh);
    }

    // Names with trailing ASCII or ideographic spaces; townships with trailing spaces.
    let padded = share(&|r| r.xm != text::trim(&r.xm) && !r.xm.is_empty());
    assert!((0.015..0.05).contains(&padded), "padded names {padded}");
    assert!(s.residents.iter().any(|r| r.xm.ends_with('\u{3000}')));
    assert!(s.residents.iter().any(|r| r.xm.ends_with(' ')));
    assert!(s.residents.iter().any(|r| r.hjxz.ends_with(' ')));
    assert!(
        s.residents
            .iter()
            .all(|r| TOWNSHIPS.contains(&text::trim(&r.hjxz)))
    );

    // 登记日期 in three forms, about a third each.
    let iso = share(&|r| r.djrq.contains('-'));
    let slash = share(&|r| r.djrq.contains('/'));
    let chinese = share(&|r| r.djrq.contains('年'));
    for (form, v) in [("iso", iso), ("slash", slash), ("chinese", chinese)] {
        assert!((0.28..0.39).contains(&v), "{form} {v}");
    }

    // 务工状态 mostly 1; 登记编号 ZF + year + 6 digits, distinct, year of registration.
    assert!(
        s.residents
            .iter()
            .all(|r| matches!(r.wgzt.as_str(), "1" | "2" | "3" | "9"))
    );
    assert!(share(&|r| r.wgzt == "1") > 0.75);
    for wgzt in ["2", "3", "9"] {
        assert!(s.residents.iter().any(|r| r.wgzt == wgzt));
    }
    let mut numbers = HashSet::new();
    for r in &s.residents {
        assert!(
            r.djbh.len() == 12
                && r.djbh.starts_with("ZF")
                && r.djbh[2..].bytes().all(|b| b.is_ascii_digit()),
            "{}",
            r.djbh
        );
        assert!(numbers.insert(&r.djbh));
        if let Some(d) = date::parse(&r.djrq) {
            assert_eq!(r.djbh[2..6], d.year.to_string());
        }
    }

    // 更新时间 between 2021-04-01 and 2021-11-30, several records sharing a second.
    let mut per_second: BTreeMap<&str, u32> = BTreeMap::new();
    for r in &s.residents {
        assert_eq!(r.gxsj.len(), 19);
        assert!(
            ("2021-04-01 00:00:00"..="2021-11-30 23:59:59").contains(&r.gxsj.as_str()),
            "{}",
            r.gxsj
        );
        *per_second.entry(&r.gxsj).or_default() += 1;
    }
    assert!(per_second.values().filter(|n| **n > 1).count() >= 20);
}

#[test]
fn workers_in_huiyang_work_for_the_hy_esms_enterprises_and_the_others_elsewhere() {
    let s = seed();
    let by_name: HashMap<&str, &str> = s
        .enterprises
        .iter()
        .map(|e| (e.name.as_str(), e.uscc.as_str()))
        .collect();
    let broken: HashSet<&str> = s.broken.iter().map(|b| b.djbh.as_str()).collect();
    let valid_huiyang: Vec<_> = s
        .residents
        .iter()
        .filter(|r| r.wgxq == "441303" && !broken.contains(r.djbh.as_str()))
        .collect();
    let mut empty_code = 0;
    for r in &valid_huiyang {
        assert_eq!(r.wgsf, "广东省");
        let code = by_name
            .get(r.wgdw.as_str())
            .unwrap_or_else(|| panic!("{} works for an HY-ESMS firm", r.djbh));
        if r.dwxydm.is_empty() {
            empty_code += 1;
        } else {
            assert_eq!(r.dwxydm, *code);
        }
    }
    let share = empty_code as f64 / valid_huiyang.len() as f64;
    assert!(
        (0.07..0.13).contains(&share),
        "empty 单位信用代码 share {share}"
    );
    assert!(
        valid_huiyang
            .iter()
            .any(|r| r.wgdw == "伯恩光学(惠州)有限公司")
    );

    let elsewhere: Vec<_> = s.residents.iter().filter(|r| r.wgxq != "441303").collect();
    assert_eq!(elsewhere.len(), 1673);
    for r in elsewhere {
        let division =
            divisions::current(&r.wgxq).unwrap_or_else(|| panic!("{} is a county in use", r.wgxq));
        assert_eq!(r.wgsf, division.province);
        if !r.dwxydm.is_empty() {
            assert_eq!(uscc::validate(&r.dwxydm), Ok(()));
            assert_eq!(&r.dwxydm[2..8], r.wgxq);
        }
    }
}

#[test]
fn enterprises_have_valid_huiyang_credit_codes_and_22_of_them_post_60_jobs() {
    let s = seed();
    assert_eq!(s.enterprises.len(), 40);
    assert!(
        s.enterprises
            .iter()
            .any(|e| e.name == "伯恩光学(惠州)有限公司")
    );
    let codes: HashSet<&str> = s.enterprises.iter().map(|e| e.uscc.as_str()).collect();
    assert_eq!(codes.len(), 40);
    for e in &s.enterprises {
        assert!(e.uscc.starts_with("91441303"), "{}", e.uscc);
        assert_eq!(uscc::validate(&e.uscc), Ok(()));
        assert_eq!(
            e.uscc[16..17].chars().next(),
            Some(gb11714(&e.uscc[8..16])),
            "organisation code check of {}",
            e.uscc
        );
        assert!(e.address.contains("惠阳区"));
        assert!(phone::is_canonical(&e.contact_phone));
        assert!(!e.contact_name.is_empty());
    }

    assert_eq!(s.jobs.len(), 60);
    let firms: HashSet<u64> = s.jobs.iter().map(|j| j.enterprise_id).collect();
    assert_eq!(firms.len(), 22);
    for j in &s.jobs {
        assert!((1..=40).contains(&j.enterprise_id));
        assert!(j.salary_min < j.salary_max && j.salary_min >= 1000);
        assert!(j.headcount > 0);
        assert!(
            ("2021-07-26"..="2021-08-05").contains(&j.published_at.as_str()),
            "{}",
            j.published_at
        );
        assert!(j.valid_until > j.published_at);
        assert!(matches!(j.status, "open" | "closed"));
    }
    assert!(s.jobs.iter().filter(|j| j.status == "open").count() > 45);
}

#[test]
fn the_same_seed_gives_the_same_data_and_scale_multiplies_it() {
    assert_eq!(generate(1, DEFAULT_SEED), generate(1, DEFAULT_SEED));
    assert_ne!(
        generate(1, DEFAULT_SEED).residents,
        generate(1, 7).residents
    );
    let big = generate(2, DEFAULT_SEED);
    assert_eq!(big.residents.len(), 6000);
    assert_eq!(
        big.residents.iter().filter(|r| r.wgxq == "441303").count(),
        2644 + 5
    );
    assert_eq!(big.broken.len(), 5);
    assert_eq!(big.jobs.len(), 120);
    assert_eq!(big.enterprises.len(), 40);
}

#[tokio::test]
async fn the_side_doors_report_the_seed() {
    let (hy, zf) = (
        common::hy(&common::unlimited()).await,
        common::zf(&common::unlimited()).await,
    );
    let c = common::client();
    let facts = common::get_json(&c, format!("{}/_admin/seed", zf.url())).await;
    assert_eq!(facts["residents"], 3000);
    assert_eq!(facts["valid_in_441303"], 1322);
    assert_eq!(facts["broken"].as_array().unwrap().len(), 5);
    let expected: Vec<_> = seed()
        .broken
        .iter()
        .map(|b| serde_json::json!({"djbh": b.djbh, "defect": b.defect.as_str()}))
        .collect();
    assert_eq!(facts["broken"], serde_json::json!(expected));

    let counts = common::get_json(&c, format!("{}/_admin/seed", hy.url())).await;
    assert_eq!(
        counts,
        serde_json::json!({"enterprises": 40, "jobs": 60, "zhenfeng-workers": 0, "referrals": 180, "secondments": 10})
    );
    hy.shutdown().await;
    zf.shutdown().await;
}
