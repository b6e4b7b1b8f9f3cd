//! The conflict page `/conflicts/{id}` and its form: the conflict, each system's record field
//! by field, and for an operator the values in clear and a decision to save. Writes only the
//! audit entries of a view in clear and, through [`crate::admin::api::conflicts::decide`], the
//! decision the API would record.

use super::{esc, page, page_error, page_not_found};
use crate::admin::api::conflicts::{
    MOST_REASON, Resolution, conflict_record, decide, sync_plugins, system_names,
};
use crate::admin::auth::{COOKIE, cookie_of};
use crate::admin::errors::{Failure, path_id, query_params};
use crate::admin::security::{self, Principal, Role, Sessions};
use crate::admin::{AdminState, View};
use crate::store::ConflictStatus;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A value on the conflict page: in clear (JSON text, strings without quotes), or masked;
/// `—` when absent.
fn shown_value(v: Option<&serde_json::Value>, clear: bool) -> String {
    match (v, clear) {
        (None, _) => "—".into(),
        (Some(_), false) => "•••".into(),
        (Some(serde_json::Value::String(s)), true) => s.clone(),
        (Some(v), true) => v.to_string(),
    }
}

/// What the conflict page says after a form was sent: a note (saved) or an error, with the
/// status of the answer.
struct FormOutcome {
    status: StatusCode,
    message: String,
    ok: bool,
    /// The choices sent, kept on the page shown again.
    chosen: BTreeMap<String, crate::store::Side>,
    reason: String,
}

/// The conflict page `/conflicts/{id}`: the conflict (sync, masked key, the rule that parked
/// it or the system that refused the write), each system by its short name with its own id of
/// the record and its update time, and each field's values on both sides, the last merged
/// value, which side changed it and the rule that decides it. An operator sees the values in
/// clear (each view appended to the audit log: one `view` entry per system, naming the token)
/// and a form to choose per field with a reason; a viewer sees them masked and no form. A
/// decision not yet applied is shown with a warning that saving replaces it.
pub(in crate::admin) async fn conflict_page(
    State(s): State<AdminState>,
    axum::Extension(who): axum::Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: axum::http::Uri,
) -> Result<Response, Failure> {
    let q = match query_params(&uri, &["saved"]) {
        Ok(q) => q,
        Err(Failure(code, what)) => return Ok(page_error(code, "参数错误 Bad parameter", &what)),
    };
    let outcome = q.contains_key("saved").then(|| FormOutcome {
        status: StatusCode::OK,
        message: "已保存 Saved: the sync's next run writes the decision (trigger it to run now)"
            .into(),
        ok: true,
        chosen: BTreeMap::new(),
        reason: String::new(),
    });
    render_conflict(&s, &who, &headers, &id, outcome).await
}

/// The conflict page for `who`, with the `outcome` of a form just sent if any (its status
/// then answers): see [`conflict_page`].
async fn render_conflict(
    s: &AdminState,
    who: &Principal,
    headers: &HeaderMap,
    id: &str,
    outcome: Option<FormOutcome>,
) -> Result<Response, Failure> {
    use crate::store::Side;
    let id = match path_id("conflict", id) {
        Ok(id) => id,
        Err(Failure(code, what)) => return Ok(page_error(code, "参数错误 Bad parameter", &what)),
    };
    let view = s.view();
    let Some(c) = view.store.conflict(id).await? else {
        return Ok(page_not_found(&format!("no conflict {id}")));
    };
    let names = system_names(&view, &c.sync);
    let record = conflict_record(&view, &c).await?;
    let clear = who.role == Role::Operator;
    if clear && let Some(r) = &record {
        audit_clear_view(&view, who, &c, r, id).await?;
    }
    let zone = view.zone;
    let time = |t: Option<&str>| time_for_people(t, zone);
    let pending = (c.status == ConflictStatus::Open)
        .then(|| c.decision())
        .flatten();
    let mut b = conflict_summary(&c, who, &names, outcome.as_ref(), pending.as_ref(), zone);
    let Some(record) = record else {
        b.push_str("<p class=\"note\">此服务器未加载该同步，无法显示字段 The sync is not loaded on this server: its fields cannot be shown.</p>");
        return Ok(Html(page(&format!("hub · 冲突 Conflict #{id}"), &b, false)).into_response());
    };
    let _ = write!(
        b,
        "<h2>系统 Systems</h2><table id=\"systems\"><tr><th></th><th>系统 System</th><th>本系统编号 Its id of the record</th><th>更新时间 Updated there</th></tr>\
         <tr data-side=\"a\"><td>a</td><td class=\"system\">{}</td><td class=\"remote-id\">{}</td><td>{}</td></tr>\
         <tr data-side=\"b\"><td>b</td><td class=\"system\">{}</td><td class=\"remote-id\">{}</td><td>{}</td></tr></table>",
        esc(&names[0]),
        esc(record.remote_ids[0].as_deref().unwrap_or("—")),
        esc(&time(record.updated_at[0].as_deref())),
        esc(&names[1]),
        esc(record.remote_ids[1].as_deref().unwrap_or("—")),
        esc(&time(record.updated_at[1].as_deref())),
    );
    let form = clear && c.status == ConflictStatus::Open;
    let chosen: BTreeMap<String, Side> = match (&outcome, &pending) {
        (Some(o), _) if !o.chosen.is_empty() => o.chosen.clone(),
        (_, Some(crate::store::Decision::Fields(f))) => f.clone(),
        (_, Some(crate::store::Decision::Take(t))) => record
            .choosable()
            .into_iter()
            .map(|p| (p.to_string(), *t))
            .collect(),
        _ => BTreeMap::new(),
    };
    if form {
        let session = cookie_of(headers, COOKIE).unwrap_or_default();
        let _ = write!(
            b,
            "<form id=\"decide\" method=\"post\" action=\"/conflicts/{id}\"><input type=\"hidden\" name=\"form_token\" value=\"{}\">",
            Sessions::form_token(session)
        );
    }
    b.push_str(&fields_table(&record, &names, &chosen, form, clear));
    if form {
        let reason = outcome.as_ref().map(|o| o.reason.as_str()).unwrap_or("");
        let _ = write!(
            b,
            "<p><label>理由 Reason <input type=\"text\" name=\"reason\" id=\"reason\" size=\"60\" maxlength=\"{MOST_REASON}\" required value=\"{}\"></label></p>",
            esc(reason)
        );
        if pending.is_some() {
            b.push_str("<p><label class=\"partial\"><input type=\"checkbox\" name=\"replace\" value=\"true\" id=\"replace\"> 替换尚未执行的决定 Replace the decision not yet applied</label></p>");
        }
        b.push_str("<p><button type=\"submit\" id=\"save\">保存决定 Save the decision</button> <span class=\"note\">下次运行写入 The next run writes the chosen values to the system that lacks them.</span></p></form>");
    } else if !clear {
        b.push_str("<p class=\"note\" id=\"masked-note\">值已遮蔽 Values are masked: a token of role operator sees them in clear and decides.</p>");
    }
    let status = outcome.as_ref().map_or(StatusCode::OK, |o| o.status);
    Ok((
        status,
        Html(page(&format!("hub · 冲突 Conflict #{id}"), &b, false)),
    )
        .into_response())
}

/// Appends to the audit log that `who` was shown conflict `id`'s values in clear: one `view`
/// entry per system shown.
async fn audit_clear_view(
    view: &View,
    who: &Principal,
    c: &crate::store::Conflict,
    r: &crate::sync::decide::ConflictRecord,
    id: i64,
) -> Result<(), Failure> {
    use crate::store::Side;
    let detail =
        serde_json::json!({"conflict": id, "page": format!("/conflicts/{id}")}).to_string();
    let entries: Vec<crate::audit::NewAuditEntry> = [Side::A, Side::B]
        .into_iter()
        .map(|side| {
            let remote_id = r.remote_ids[if side == Side::A { 0 } else { 1 }].clone();
            let act = (
                crate::audit::WriteAction::View,
                crate::audit::WriteOutcome::Shown,
            );
            crate::sync::decide::person_entry(
                sync_plugins(view, &c.sync),
                c,
                side,
                act,
                remote_id,
                &who.name,
                &detail,
            )
        })
        .collect();
    view.store.append_audit(&c.sync, &entries).await?;
    tracing::info!(target: "hub::admin", conflict = id, sync = %c.sync, token = %who.name, "admin: conflict values shown in clear (audited)");
    Ok(())
}

/// A time of the store for people in `zone`; `—` when there is none.
fn time_for_people(t: Option<&str>, zone: chrono_tz::Tz) -> String {
    t.map_or("—".to_string(), |t| {
        crate::local_time::for_people(t, zone)
    })
}

/// The top of the conflict page: sign-out, title, who is signed in, the conflict's table, the
/// outcome of a form just sent, and the warning of a decision not yet applied (`pending`).
fn conflict_summary(
    c: &crate::store::Conflict,
    who: &Principal,
    names: &[String; 2],
    outcome: Option<&FormOutcome>,
    pending: Option<&crate::store::Decision>,
    zone: chrono_tz::Tz,
) -> String {
    use crate::store::Side;
    let id = c.id;
    let time = |t: Option<&str>| time_for_people(t, zone);
    let mut b = format!(
        "<form id=\"logout\" method=\"post\" action=\"/logout\"><button type=\"submit\">退出 Sign out</button></form>\
         <p><a href=\"/\">← 同步状态 Sync status</a></p><h1>hub · 冲突 Conflict #{id} · {}</h1>\
         <p class=\"note\" id=\"signed-in\">{} ({})</p>",
        esc(&c.sync),
        esc(&who.name),
        match who.role {
            Role::Operator => "操作员 operator: values in clear, this view is audited",
            Role::Viewer => "查看者 viewer: values masked",
        }
    );
    let kind = match c.kind {
        crate::store::ConflictKind::Park => {
            "待定 parked: both systems changed a field whose rule is park".to_string()
        }
        crate::store::ConflictKind::Write => format!(
            "写入被拒 write refused by {}",
            names[if c.side == Side::A { 0 } else { 1 }]
        ),
    };
    let _ = write!(
        b,
        "<table id=\"conflict\"><tr><th>键 Key (masked)</th><td>{}</td></tr><tr><th>类型 Kind</th><td>{}</td></tr>\
         <tr><th>原因 Reason</th><td id=\"rule\">{}</td></tr><tr><th>状态 Status</th><td>{}</td></tr>\
         <tr><th>次数 Attempts</th><td class=\"num\">{}</td></tr><tr><th>首次 First met</th><td>{}</td></tr></table>",
        esc(c.key_masked.as_deref().unwrap_or("—")),
        esc(&kind),
        esc(&c.reason),
        c.status.as_str(),
        c.attempts,
        esc(&time(Some(&c.created_at))),
    );
    if let Some(o) = outcome {
        let _ = write!(
            b,
            "<p id=\"outcome\" class=\"{}\">{}</p>",
            if o.ok { "ok" } else { "bad" },
            esc(&o.message)
        );
    }
    if let Some(d) = pending {
        let said = match d {
            crate::store::Decision::Take(t) => format!(
                "取 {} 的整条记录 take {}'s record whole",
                names[if *t == Side::A { 0 } else { 1 }],
                names[if *t == Side::A { 0 } else { 1 }]
            ),
            crate::store::Decision::Fields(f) => f
                .iter()
                .map(|(p, t)| format!("{p} ← {}", names[if *t == Side::A { 0 } else { 1 }]))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let _ = write!(
            b,
            "<p id=\"replace-warning\" class=\"partial\">⚠ 已有尚未执行的决定 A decision not yet applied: {} (由 by {}, {}{}). 再次保存将替换它，请勾选“替换 replace” Saving again replaces it: tick “replace” to confirm.</p>",
            esc(&said),
            esc(c.decided_by.as_deref().unwrap_or("hub conflicts resolve")),
            esc(&time(c.decided_at.as_deref().or(Some(&c.updated_at)))),
            c.decision_reason
                .as_deref()
                .map(|r| format!("; 理由 reason: {}", esc(r)))
                .unwrap_or_default(),
        );
    }
    b
}

/// The conflict page's table of fields: each field's rule, both sides' values (in clear when
/// `clear`), the last merged value, and, in the `form`, the radio buttons of the sides with
/// `chosen` ticked.
fn fields_table(
    record: &crate::sync::decide::ConflictRecord,
    names: &[String; 2],
    chosen: &BTreeMap<String, crate::store::Side>,
    form: bool,
    clear: bool,
) -> String {
    use crate::store::Side;
    let mut b = String::new();
    let _ = write!(
        b,
        "<h2>字段 Fields</h2><table id=\"fields\"><tr><th>字段 Field</th><th>规则 Rule</th><th>{a} 的值 value</th><th>{bn} 的值 value</th><th>上次合并 Last merged</th><th>选择 Choose</th></tr>",
        a = esc(&names[0]),
        bn = esc(&names[1])
    );
    for f in &record.fields {
        let rule = format!(
            "{}{}{}",
            crate::sync::decide::policy_name(f.rule),
            if f.by_default { " (default)" } else { "" },
            if f.parked { " · 搁置 parked it" } else { "" }
        );
        let changed = |i: usize| {
            if f.changed[i] {
                " <span class=\"note\">已改 changed</span>"
            } else {
                ""
            }
        };
        // Values that differ though neither side changed them since the key settled are each
        // system's own form of one value (a registry number HY-ESMS does not keep): no choice.
        let coded = f.values[0] != f.values[1] && !f.differs();
        let choice = if coded {
            "<span class=\"note\" title=\"neither system changed it since they last agreed\">各自写法 each system's own form</span>".to_string()
        } else if !f.differs() {
            "<span class=\"note\">相同 same</span>".to_string()
        } else if form {
            let ptr = esc(&f.pointer);
            let checked = |side: Side| {
                if chosen.get(&f.pointer) == Some(&side) {
                    " checked"
                } else {
                    ""
                }
            };
            format!(
                "<label><input type=\"radio\" name=\"field:{ptr}\" value=\"a\"{}{}> {}</label> <label><input type=\"radio\" name=\"field:{ptr}\" value=\"b\"{}> {}</label>",
                checked(Side::A),
                if f.parked { " required" } else { "" },
                esc(&names[0]),
                checked(Side::B),
                esc(&names[1])
            )
        } else {
            "<span class=\"note\">需 operator</span>".to_string()
        };
        let _ = write!(
            b,
            "<tr data-field=\"{p}\" class=\"{cls}\"><td><code>{p}</code></td><td class=\"rule\">{rule}</td><td class=\"value-a\">{va}{ca}</td><td class=\"value-b\">{vb}{cb}</td><td class=\"base\">{base}</td><td class=\"choose\">{choice}</td></tr>",
            p = esc(&f.pointer),
            cls = if f.parked {
                "parked"
            } else if f.differs() {
                "differs"
            } else if coded {
                "coded"
            } else {
                "same"
            },
            rule = esc(&rule),
            va = esc(&shown_value(f.values[0].as_ref(), clear)),
            ca = changed(0),
            vb = esc(&shown_value(f.values[1].as_ref(), clear)),
            cb = changed(1),
            base = esc(&shown_value(f.base.as_ref(), clear)),
        );
    }
    b.push_str("</table>");
    b
}

/// The conflict page's form (`POST /conflicts/{id}`, signed-in operators): checks the form
/// token against the session, reads `field:POINTER` = `a`|`b`, `reason` and `replace`, and
/// records the decision as the API does ([`decide`]). Saved: a redirect to the page (303);
/// refused: the page again with the choices made and the error (its status: 400, 409, ...).
pub(in crate::admin) async fn conflict_form(
    State(s): State<AdminState>,
    axum::Extension(who): axum::Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Failure> {
    use crate::store::Side;
    let session = cookie_of(&headers, COOKIE).unwrap_or_default();
    let token = form
        .iter()
        .find(|(k, _)| k == "form_token")
        .map(|(_, v)| v.as_str());
    if session.is_empty()
        || !token
            .is_some_and(|t| security::same(t.as_bytes(), Sessions::form_token(session).as_bytes()))
    {
        return Ok(page_error(
            StatusCode::FORBIDDEN,
            "表单已失效 Form expired",
            "the form does not belong to this sign-in: open the conflict page again and send it from there",
        ));
    }
    let mut chosen = BTreeMap::new();
    let mut reason = String::new();
    let mut replace = false;
    let mut problem = None;
    for (k, v) in &form {
        if let Some(ptr) = k.strip_prefix("field:") {
            match v.as_str() {
                "a" => {
                    chosen.insert(ptr.to_string(), Side::A);
                }
                "b" => {
                    chosen.insert(ptr.to_string(), Side::B);
                }
                other => {
                    problem = Some(format!(
                        "field {ptr:?}: the choice must be a or b, not {other:?}"
                    ))
                }
            }
        } else {
            match k.as_str() {
                "form_token" => {}
                "reason" => reason = v.trim().to_string(),
                "replace" => replace = v == "true",
                other => problem = Some(format!("unknown form field {other:?}")),
            }
        }
    }
    if problem.is_none() && chosen.is_empty() {
        problem = Some("choose a side for at least one field".into());
    }
    if problem.is_none() && reason.is_empty() {
        problem = Some("give a reason for the decision".into());
    }
    if problem.is_none() && reason.chars().count() > MOST_REASON {
        problem = Some(format!(
            "the reason is longer than {MOST_REASON} characters"
        ));
    }
    let refused = |status: StatusCode, message: String, chosen, reason| FormOutcome {
        status,
        message: format!("未保存 Not saved: {message}"),
        ok: false,
        chosen,
        reason,
    };
    if let Some(p) = problem {
        let o = refused(StatusCode::BAD_REQUEST, p, chosen, reason);
        return render_conflict(&s, &who, &headers, &id, Some(o)).await;
    }
    let Ok(n) = path_id("conflict", &id) else {
        return Ok(page_error(
            StatusCode::BAD_REQUEST,
            "参数错误 Bad parameter",
            &format!("conflict id must be a whole number such as 12, not {id:?}"),
        ));
    };
    let r = Resolution {
        take: None,
        fields: Some(chosen.clone()),
        reason: Some(reason.clone()),
        replace,
    };
    match decide(&s.view(), n, &r, &who).await {
        Ok(_) => Ok(Redirect::to(&format!("/conflicts/{n}?saved=1")).into_response()),
        Err(Failure(code, what)) if code != StatusCode::INTERNAL_SERVER_ERROR => {
            let what = if code == StatusCode::CONFLICT && !replace {
                format!("{what} (tick “替换 replace” to replace it)")
            } else {
                what
            };
            let o = refused(code, what, chosen, reason);
            render_conflict(&s, &who, &headers, &id, Some(o)).await
        }
        Err(f) => Err(f),
    }
}
