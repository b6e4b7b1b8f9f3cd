//! A dead letter's reasons as the bureaus' clerks read them: Chinese first, the English reason
//! beside it (the status page, the run page, `hub dead-letters`, the demo). The reasons stay
//! English in the state store and the admin API, for machines and for search; this module puts
//! words before them by recognising what [`crate::schema`] writes.
//!
//! An identity number's fault is said in the clerk's terms: which position is wrong and what
//! GB 11643-1999 expects there (the check character, position 18, computed by ISO 7064 MOD
//! 11-2 from the first 17; the birth date, positions 7 to 14; the division code, positions 1
//! to 6, from GB/T 2260).

use crate::schema::Violation;

/// The Chinese words for one reason `message` (as [`Violation::message`] holds it), or `None`
/// for a reason this module does not know (it is then shown in English alone).
pub fn in_chinese(message: &str) -> Option<String> {
    const ID: &str = "not a GB 11643-1999 identity number: ";
    if let Some(rest) = message.strip_prefix(ID) {
        return Some(identity_number(rest));
    }
    // The validator's own reasons begin with the (masked) value: `"" is shorter than 1
    // character`.
    if let Some((_, zh)) = WITHIN.iter().find(|(p, _)| message.contains(p)) {
        return Some(zh.to_string());
    }
    let (lead, rest) = PREFIXES
        .iter()
        .find_map(|(p, zh)| message.strip_prefix(p).map(|rest| (*zh, rest)))?;
    Some(match lead {
        // "is before /period/start": the other field's pointer follows.
        "早于" | "晚于" | "小于" | "大于" => format!("{lead} {}", rest.trim()),
        _ => lead.to_string(),
    })
}

/// The prefix of each known English reason and its Chinese words, longest prefixes first
/// where one begins another.
const PREFIXES: &[(&str, &str)] = &[
    ("is required but missing", "缺少必填项"),
    ("is not allowed here", "多出了不认识的字段"),
    ("is not one of", "不是允许的取值之一"),
    (
        "must not begin or end with a blank",
        "首尾不能有空格（含全角空格）",
    ),
    (
        "not a GB 32100-2015 unified social credit code",
        "统一社会信用代码不对",
    ),
    ("not a GB/T 2260 division code", "行政区划代码不存在"),
    (
        "not a mainland mobile number",
        "手机号码不对（应为 11 位数字，以 13 至 19 开头）",
    ),
    (
        "not a mainland fixed-line number",
        "固定电话号码不对（应为区号加号码，只含数字）",
    ),
    (
        "not an RFC 3339 full-date",
        "日期不对或不存在（应为 年-月-日）",
    ),
    ("not an RFC 3339 date-time", "时间不对或缺少时区"),
    ("not an e-mail address", "电子邮箱地址不对"),
    (
        "matches none of the allowed forms",
        "不符合任何一种允许的写法",
    ),
    ("is before", "早于"),
    ("is after", "晚于"),
    ("is less than", "小于"),
    ("is greater than", "大于"),
];

/// Words within the validator's own reasons, and their Chinese, the most particular first.
const WITHIN: &[(&str, &str)] = &[
    ("is shorter than 1 character", "不能为空"),
    ("is shorter than", "太短"),
    ("is longer than", "太长"),
    ("is not of type", "类型不对"),
];

/// An identity number's fault (the text after "not a GB 11643-1999 identity number: ").
fn identity_number(rest: &str) -> String {
    // "check character is 'A' but ISO 7064 MOD 11-2 gives 'B'"
    if let Some(r) = rest.strip_prefix("check character is ") {
        let chars: Vec<char> = r.chars().filter(|c| *c != '\'').collect();
        let found = chars.first().copied().unwrap_or('?');
        let expected = chars.last().copied().unwrap_or('?');
        return format!(
            "身份证号第 18 位（校验码）是 {found}，按前 17 位算应为 {expected}：号码中有抄错的数字"
        );
    }
    if let Some(n) = rest.strip_prefix("must be 18 characters, found ") {
        return format!("身份证号应为 18 位，这里是 {n} 位");
    }
    if let Some(r) = rest.strip_prefix("character ") {
        let position = r.split(' ').next().unwrap_or("?");
        return format!("身份证号第 {position} 位应为数字（第 18 位也可以是 X）");
    }
    if rest.starts_with("characters 7-14") {
        return "身份证号第 7 至 14 位的出生日期不存在".into();
    }
    if rest.starts_with("division code") {
        return "身份证号前 6 位不是存在过的行政区划代码".into();
    }
    "身份证号不对".into()
}

/// One reason for people: `POINTER: 中文 English` (or `POINTER: English` when there are no
/// Chinese words for it).
pub fn for_people(v: &Violation) -> String {
    let at = if v.pointer.is_empty() {
        "/"
    } else {
        &v.pointer
    };
    match in_chinese(&v.message) {
        Some(zh) => format!("{at}: {zh} {}", v.message),
        None => format!("{at}: {}", v.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_numbers_faults_are_said_by_position() {
        // 11010519491231002X is GB 11643-1999's own example; with a 1 at the end MOD 11-2
        // still gives X (1·7+1·9+0·10+1·5+0·8+5·4+1·2+9·1+4·6+9·3+1·7+2·9+3·10+1·5+0·8+0·4+2·2
        // = 167, 167 mod 11 = 2, and 2 maps to X).
        assert_eq!(
            in_chinese(
                "not a GB 11643-1999 identity number: check character is '1' but ISO 7064 MOD 11-2 gives 'X'"
            )
            .unwrap(),
            "身份证号第 18 位（校验码）是 1，按前 17 位算应为 X：号码中有抄错的数字"
        );
        assert_eq!(
            in_chinese("not a GB 11643-1999 identity number: must be 18 characters, found 17")
                .unwrap(),
            "身份证号应为 18 位，这里是 17 位"
        );
        assert_eq!(
            in_chinese(
                "not a GB 11643-1999 identity number: characters 7-14 are not a real birth date (YYYYMMDD)"
            )
            .unwrap(),
            "身份证号第 7 至 14 位的出生日期不存在"
        );
        assert_eq!(
            in_chinese("not a GB 11643-1999 identity number: character 9 must be a digit").unwrap(),
            "身份证号第 9 位应为数字（第 18 位也可以是 X）"
        );
    }

    #[test]
    fn other_reasons_get_their_words_and_unknown_ones_none() {
        let v = Violation {
            pointer: "/name".into(),
            message: "is required but missing".into(),
        };
        assert_eq!(for_people(&v), "/name: 缺少必填项 is required but missing");
        let v = Violation {
            pointer: "/period/end".into(),
            message: "is before /period/start".into(),
        };
        assert_eq!(
            for_people(&v),
            "/period/end: 早于 /period/start is before /period/start"
        );
        let v = Violation {
            pointer: "/name".into(),
            message: "\"\" is shorter than 1 character".into(),
        };
        assert_eq!(
            for_people(&v),
            "/name: 不能为空 \"\" is shorter than 1 character"
        );
        let v = Violation {
            pointer: String::new(),
            message: "something new".into(),
        };
        assert_eq!(for_people(&v), "/: something new");
    }

    #[test]
    fn every_reason_the_schema_writes_for_a_format_has_words() {
        for format in [
            "gb11643",
            "gb32100",
            "gb2260",
            "cn-mobile",
            "date",
            "date-time",
            "email",
        ] {
            let reason = crate::schema::format_reason_for_test(format, "x");
            assert!(in_chinese(&reason).is_some(), "{format}: {reason}");
        }
    }
}
