//! Fuzzes the shared normalisers (`hub_schemas`, re-exported to plugins as
//! `hub_sdk::normalise`) and the ZF-REG export decoding (GB18030 CSV → rows → `worker` records).
//!
//! Besides "never panics", it checks properties each normaliser promises:
//! - normalising is idempotent (a canonical value normalises to itself);
//! - what `validate` accepts, the check-character function and the masks agree with;
//! - dates and date-times print to text that reads back to the same value;
//! - every decoded export row maps to a JSON object record and back to a save form.

#![no_main]

use hub_schemas::{date, divisions, id_number, phone, text, uscc};
use libfuzzer_sys::fuzz_target;
use zhenfeng_registry::mapping::{SaveForm, local_to_rfc3339, parse_export, pointer_for_message};

fn identity_numbers(s: &str) {
    let n = id_number::normalise(s);
    assert_eq!(id_number::normalise(&n), n, "normalise is idempotent");
    if id_number::validate(&n).is_ok() {
        assert_eq!(n.len(), 18);
        assert_eq!(id_number::check_character(&n[..17]), n.chars().last());
        assert!(id_number::birth_date(&n).is_some());
        assert!(id_number::is_male(&n).is_some());
        let masked = id_number::mask(&n);
        assert_eq!(masked.chars().count(), 18);
        assert_eq!(&masked[..4], &n[..4]);
        let _ = divisions::exists(&n[..6]);
    }
    let _ = id_number::validate(s);
    let _ = id_number::mask(s);
    let _ = id_number::birth_date(s);
    let _ = id_number::is_male(s);
    if let Some(u) = id_number::upgrade_15(s) {
        assert_eq!(u.len(), 18);
        assert_eq!(&u[6..8], "19");
    }
}

fn credit_codes(s: &str) {
    if let Some(c) = uscc::normalise(s) {
        assert_eq!(uscc::normalise(&c).as_deref(), Some(c.as_str()), "normalise is idempotent");
        if uscc::validate(&c).is_ok() {
            assert_eq!(uscc::check_character(&c[..17]), c.chars().last());
        }
    }
    let _ = uscc::validate(s);
}

fn phones(s: &str) {
    if let Some(p) = phone::normalise(s) {
        assert_eq!(phone::normalise(&p).as_deref(), Some(p.as_str()), "normalise is idempotent");
    }
}

fn dates(s: &str) {
    if let Some(d) = date::parse(s) {
        let t = d.to_string();
        assert_eq!(date::parse(&t), Some(d), "a printed date reads back");
        assert_eq!(date::Date::from_days_since_epoch(d.days_since_epoch()), d);
    }
    let n = date::normalise(s);
    assert_eq!(date::normalise(&n), n, "normalise is idempotent");
    if let Some(dt) = date::parse_date_time(s) {
        let t = dt.to_string();
        assert_eq!(date::parse_date_time(&t), Some(dt), "a printed date-time reads back");
    }
    let n = date::normalise_date_time(s);
    assert_eq!(date::normalise_date_time(&n), n, "normalise_date_time is idempotent");
}

fn texts(s: &str) {
    let h = text::to_half_width(s);
    assert_eq!(text::to_half_width(&h), h);
    let t = text::trim(s);
    assert_eq!(text::trim(t), t);
    if let Some(v) = text::non_empty(s) {
        assert!(!v.is_empty() && text::trim(&v) == v);
    }
    let _ = divisions::lookup(s);
    let _ = local_to_rfc3339(s);
    let _ = pointer_for_message(s);
}

fn export(data: &[u8]) {
    let Ok(rows) = parse_export(data) else { return };
    for row in rows {
        let rec = row.to_record();
        let src = row.to_source_record();
        let v: serde_json::Value = serde_json::from_str(&src.data).expect("records are JSON");
        assert!(v.is_object());
        let form = SaveForm::from_record(&rec);
        assert!(form.same_content(&form));
        let _ = form.pairs("token");
        let _ = form.written(Some("2021-08-05"));
    }
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    identity_numbers(&s);
    credit_codes(&s);
    phones(&s);
    dates(&s);
    texts(&s);
    export(data);
});
