//! HY-ESMS native items and their mapping to the shared `worker` schema. Pure functions,
//! tested natively.
//!
//! | HY-ESMS `zhenfeng-workers` | worker | notes |
//! |---|---|---|
//! | `id` | (remote id) | integer, as text |
//! | `name` | `name` | blanks trimmed, and the padding between two Han characters removed (`王　五` → `王五`, [`normalise_han_name`]) |
//! | `idNo`, `phone`, `hometownTownship`, `position`, `hiredOn`, `remark` | same meaning | normalised as every connector does |
//! | `gender` `M`/`F` | `gender` `male`/`female` | |
//! | `employerUscc` | `employer.uscc`, `employer.name` | the name comes from HY's `enterprises` register; on write a name without a code is looked up there |
//! | `status` `employed`/`seeking`/`left` | `status` | writing `returned_home` or `lost_contact` (registry states HY lacks) gives `left` |
//! | (the module is for workers in Huiyang) | `workplace` | the configured province and division code, e.g. 广东省 441303 |
//! | `deleted` | (source-record `deleted`) | a soft delete |
//! | `updatedAt` | (version, cursor) | RFC 3339, whole seconds, `+08:00` |
//!
//! HY-ESMS does not keep the registry's `registryNumber` or `registeredOn`.

use hub_sdk::json::{Record, set_opt, str_field};
use hub_sdk::names::normalise_han_name;
use hub_sdk::normalise::{date, id_number, phone, text, uscc};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// What the connector knows beyond one record: the deployment's workplace and HY's enterprise
/// register.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Province name for `workplace.province`, e.g. `广东省`.
    pub province: String,
    /// GB/T 2260 code for `workplace.countyCode`, e.g. `441303`.
    pub division_code: String,
    /// Enterprise name by unified social credit code.
    pub name_by_uscc: HashMap<String, String>,
    /// Unified social credit code by enterprise name (as HY writes it, trimmed).
    pub uscc_by_name: HashMap<String, String>,
    /// Name and unified social credit code by HY's enterprise id (for job postings).
    pub enterprise_by_id: HashMap<i64, (String, String)>,
}

impl Context {
    /// Adds one `enterprises` item (`uscc`, `name`).
    pub fn add_enterprise(&mut self, item: &Value) {
        let code = item
            .get("uscc")
            .and_then(Value::as_str)
            .and_then(uscc::normalise);
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .and_then(text::non_empty);
        if let (Some(code), Some(name)) = (code, name) {
            if let Some(id) = item.get("id").and_then(Value::as_i64) {
                self.enterprise_by_id
                    .insert(id, (name.clone(), code.clone()));
            }
            self.uscc_by_name.insert(name.clone(), code.clone());
            self.name_by_uscc.insert(code, name);
        }
    }
}

fn item_str<'a>(item: &'a Value, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A `zhenfeng-workers` item as a `worker` record.
pub fn item_to_record(item: &Value, ctx: &Context) -> Record {
    let mut r = Record::new();
    r.insert(
        "idNumber".into(),
        Value::String(id_number::normalise(item_str(item, "idNo"))),
    );
    r.insert(
        "name".into(),
        Value::String(normalise_han_name(item_str(item, "name"))),
    );
    let gender = match text::trim(item_str(item, "gender")) {
        "M" => "male",
        "F" => "female",
        other => other,
    };
    r.insert("gender".into(), Value::String(gender.to_string()));
    set_opt(&mut r, "phone", phone::normalise(item_str(item, "phone")));
    set_opt(
        &mut r,
        "hometownTownship",
        text::non_empty(item_str(item, "hometownTownship")),
    );
    r.insert(
        "workplace".into(),
        json!({ "province": text::non_empty(&ctx.province), "countyCode": ctx.division_code }),
    );
    let employer = uscc::normalise(item_str(item, "employerUscc"))
        .map(|code| json!({ "name": ctx.name_by_uscc.get(&code), "uscc": code }))
        .unwrap_or(Value::Null);
    r.insert("employer".into(), employer);
    set_opt(
        &mut r,
        "position",
        text::non_empty(item_str(item, "position")),
    );
    set_opt(
        &mut r,
        "hiredOn",
        text::non_empty(item_str(item, "hiredOn")).map(|d| date::normalise(&d)),
    );
    r.insert(
        "status".into(),
        Value::String(text::trim(item_str(item, "status")).to_string()),
    );
    set_opt(&mut r, "remark", text::non_empty(item_str(item, "remark")));
    r
}

/// A `worker` record as the body of `POST`/`PUT /api/v1/zhenfeng-workers` (no `id`; `deleted`
/// is left to the system).
pub fn record_to_item(r: &Record, ctx: &Context) -> Map<String, Value> {
    let s = |k: &str| str_field(r, k).map(str::to_string);
    let employer = r.get("employer");
    let employer_uscc = employer
        .and_then(|e| e.get("uscc"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            let name = employer?.get("name")?.as_str()?;
            ctx.uscc_by_name.get(name).cloned()
        });
    let status = match s("status").as_deref() {
        Some("returned_home" | "lost_contact") => Some("left".to_string()),
        other => other.map(str::to_string),
    };
    let gender = match s("gender").as_deref() {
        Some("male") => Some("M".to_string()),
        Some("female") => Some("F".to_string()),
        other => other.map(str::to_string),
    };
    let mut item = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        item.insert(k.to_string(), v.map_or(Value::Null, Value::String));
    };
    put("name", s("name"));
    put("idNo", s("idNumber"));
    put("gender", gender);
    put("phone", s("phone"));
    put("hometownTownship", s("hometownTownship"));
    put("employerUscc", employer_uscc);
    put("position", s("position"));
    put("hiredOn", s("hiredOn"));
    put("status", status);
    put("remark", s("remark"));
    item
}

/// A `worker` record as HY-ESMS stores it (the contract's `normal-form`): written as
/// [`record_to_item`] sends it and read back as [`item_to_record`] maps it, so a registry
/// status HY lacks reads `left`, an employer name without a code gets its code and the
/// register's name, and what HY does not keep (`registryNumber`, `registeredOn`) is gone.
pub fn normal_form(r: &Record, ctx: &Context) -> Record {
    item_to_record(&Value::Object(record_to_item(r, ctx)), ctx)
}

/// The JSON pointer in a `worker` record for an HY field named in a 422 answer.
pub fn pointer_for_field(field: &str) -> Option<String> {
    let p = match field {
        "name" => "/name",
        "idNo" => "/idNumber",
        "gender" => "/gender",
        "phone" => "/phone",
        "hometownTownship" => "/hometownTownship",
        "employerUscc" => "/employer/uscc",
        "position" => "/position",
        "hiredOn" => "/hiredOn",
        "status" => "/status",
        "remark" => "/remark",
        _ => return None,
    };
    Some(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        let mut c = Context {
            province: "广东省".into(),
            division_code: "441303".into(),
            ..Context::default()
        };
        c.add_enterprise(
            &json!({"id": 1, "uscc": "91350100M000100Y43", "name": "伯恩光学(惠州)有限公司"}),
        );
        c
    }

    #[test]
    fn an_item_maps_to_the_shared_record_with_the_employer_name_from_the_register() {
        let item = json!({
            "id": 7, "name": "王芳 ", "idNo": "11010519491231002x", "gender": "F", "phone": "+86 138 0013 8000",
            "hometownTownship": "长田镇", "employerUscc": "91350100M000100Y43", "position": "普工",
            "hiredOn": "2021/5/1", "status": "employed", "remark": "", "deleted": false,
            "updatedAt": "2021-09-02T10:00:00+08:00"
        });
        assert_eq!(
            Value::Object(item_to_record(&item, &ctx())),
            json!({
                "idNumber": "11010519491231002X", "name": "王芳", "gender": "female", "phone": "13800138000",
                "hometownTownship": "长田镇", "workplace": {"province": "广东省", "countyCode": "441303"},
                "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"},
                "position": "普工", "hiredOn": "2021-05-01", "status": "employed", "remark": null
            })
        );
    }

    #[test]
    fn a_name_padded_to_three_characters_is_read_without_the_blank() {
        let item = |name: &str| json!({"id": 8, "name": name, "idNo": "110105194912310029", "gender": "M", "status": "employed"});
        assert_eq!(item_to_record(&item("王　五"), &ctx())["name"], "王五");
        assert_eq!(item_to_record(&item(" 王 五 "), &ctx())["name"], "王五");
        assert_eq!(
            item_to_record(&item("Ali Hassan"), &ctx())["name"],
            "Ali Hassan"
        );
        // A padded copy and an unpadded one read as one record.
        assert_eq!(
            item_to_record(&item("王　五"), &ctx()),
            item_to_record(&item("王五"), &ctx())
        );
    }

    #[test]
    fn registry_states_hy_lacks_become_left_and_names_find_their_code() {
        let rec: Record = serde_json::from_value(json!({
            "idNumber": "11010519491231002X", "name": "王芳", "gender": "female",
            "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": null}, "status": "returned_home",
            "registryNumber": "ZF2021000123"
        }))
        .unwrap();
        let item = record_to_item(&rec, &ctx());
        assert_eq!(item["status"], "left");
        assert_eq!(item["gender"], "F");
        assert_eq!(item["employerUscc"], "91350100M000100Y43");
        assert!(!item.contains_key("registryNumber"));
        assert_eq!(item["hiredOn"], Value::Null);
    }

    #[test]
    fn the_normal_form_is_the_record_as_hy_stores_it() {
        let rec: Record = serde_json::from_value(json!({
            "idNumber": "11010519491231002X", "name": "王芳", "gender": "female",
            "phone": "13800138000", "workplace": {"province": "广东省", "countyCode": "441303"},
            "employer": {"name": "伯恩光学(惠州)有限公司"}, "status": "lost_contact",
            "registryNumber": "ZF2021000123", "registeredOn": "2021-03-01", "position": "普工"
        }))
        .unwrap();
        assert_eq!(
            Value::Object(normal_form(&rec, &ctx())),
            json!({
                "idNumber": "11010519491231002X", "name": "王芳", "gender": "female",
                "phone": "13800138000", "workplace": {"province": "广东省", "countyCode": "441303"},
                "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": "91350100M000100Y43"},
                "position": "普工", "status": "left",
                // Fields HY keeps but the record does not fill (null is the host's "absent").
                "hiredOn": null, "hometownTownship": null, "remark": null
            })
        );
        // A record as HY stores it is its own normal form.
        let stored = normal_form(&rec, &ctx());
        assert_eq!(normal_form(&stored, &ctx()), stored);
    }

    #[test]
    fn field_names_in_422_answers_become_pointers() {
        assert_eq!(pointer_for_field("idNo").as_deref(), Some("/idNumber"));
        assert_eq!(
            pointer_for_field("employerUscc").as_deref(),
            Some("/employer/uscc")
        );
        assert_eq!(pointer_for_field("id"), None);
    }
}
