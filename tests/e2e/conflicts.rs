//! Conflicts settled on a page (issue 19): a worker whose phone and position both systems
//! changed is parked under `park` rules; in headless Chromium a viewer sees the conflict
//! masked, an operator sees both systems' values in clear, chooses per field with a reason and
//! is warned before replacing the decision; the next run writes the merged record field by
//! field to each side, and the audit log names the operator.

use crate::admin::Browser;
use crate::by_id;
use crate::harness::{Env, workspace};
use serde_json::{Value, json};

const VIEWER: &str = "viewer-secret-li-na-0001";
const OPERATOR: &str = "operator-secret-wang-0001";

/// The demo configuration with the workers' phone and position under `park` (position no
/// longer Huiyang's alone), and two named tokens (with named tokens and no `[admin] token`, no `admin.token` is made).
fn parking_config(env: &Env) -> String {
    let text = std::fs::read_to_string(workspace().join("config/demo.toml")).unwrap();
    let owned_by_b = "b = [\"/employer\", \"/position\", \"/hiredOn\", \"/status\", \"/remark\"]";
    assert!(text.contains(owned_by_b) && text.contains("newest = [\"/phone\"]"));
    let text = text
        .replace(
            owned_by_b,
            "b = [\"/employer\", \"/hiredOn\", \"/status\", \"/remark\"]",
        )
        .replace(
            "newest = [\"/phone\"]",
            "park = [\"/phone\", \"/position\"]",
        );
    let path = env.dir.path().join("hub.toml");
    std::fs::write(
        &path,
        format!(
            "{text}\n[[admin.tokens]]\nname = \"li.na\"\nrole = \"viewer\"\ntoken = {{ value = \"{VIEWER}\" }}\n\
             [[admin.tokens]]\nname = \"wang\"\nrole = \"operator\"\ntoken = {{ value = \"{OPERATOR}\" }}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

async fn sync(env: &Env, config: &str) -> String {
    let out = env
        .run(&["sync", "workers", "--once", "--config", config])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A worker employed in HY-ESMS whom the registry holds too: (identity number, 登记编号, HY
/// id).
async fn employed_in_both(env: &Env) -> (String, String, String) {
    let zf = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    let id_no = hy
        .keys()
        .find(|id| zf.contains_key(*id) && hy[*id]["status"] == "employed")
        .unwrap()
        .clone();
    let djbh = zf[&id_no]["登记编号"].as_str().unwrap().to_string();
    let hy_id = hy[&id_no]["id"].to_string();
    (id_no, djbh, hy_id)
}

/// `hub conflicts list --json` (`--all` too if `all`), one value per conflict.
async fn conflicts(env: &Env, config: &str, all: bool) -> Vec<Value> {
    let mut args = vec!["conflicts", "list", "--json", "--config", config];
    if all {
        args.push("--all");
    }
    let out = env.run(&args).await;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn sign_in(b: &Browser, url: &str, token: &str) {
    b.go(&format!("{url}/login")).await;
    let field = b.find("input[name=token]").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{field}/value"),
        json!({"text": token}),
    )
    .await;
    b.follow("button[type=submit]").await;
    b.find("h1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parked_worker_is_settled_field_by_field_on_the_page_and_the_next_run_writes_it() {
    let env = Env::start().await;
    let config = parking_config(&env);
    sync(&env, &config).await;
    // One worker in both systems: the registry changes the phone and the job type (工种), HY
    // changes the phone and the position to other values.
    let (id_no, djbh, hy_id) = employed_in_both(&env).await;
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({"联系电话": "13911112222", "工种": "焊工"}),
    )
    .await;
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{hy_id}"),
        json!({"phone": "13933334444", "position": "叉车司机组长"}),
    )
    .await;
    sync(&env, &config).await;
    let open = conflicts(&env, &config, false).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["kind"], "park");
    let id = open[0]["id"].as_i64().unwrap();

    let daemon = env.daemon(&config, &[("HUB_WORKERS_SCHEDULE", "0 0 1 1 *")]);
    let url = env.admin_url().await;
    let http = reqwest::Client::new();
    // The API: a viewer may not decide (403 naming the role), a typo in a field is named.
    let resolve = |token: &'static str, body: Value| {
        http.post(format!("{url}/api/conflicts/{id}/resolve"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r = resolve(VIEWER, json!({"fields": {"/phone": "a"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
    let viewer_refused: Value = r.json().await.unwrap();
    eprintln!("viewer deciding: 403 {viewer_refused}");
    assert_eq!(
        viewer_refused["error"],
        "权限不足 this needs a token of role operator; token \"li.na\" has role viewer"
    );
    let r = resolve(
        OPERATOR,
        json!({"fields": {"/phnoe": "a", "/position": "b"}, "reason": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    let typo: Value = r.json().await.unwrap();
    eprintln!("field typo: 400 {typo}");
    assert_eq!(
        typo["error"],
        format!(
            "field \"/phnoe\" in the decision is not a field of this record; conflict {id}'s fields whose values differ are /phone, /position"
        )
    );
    let r = resolve(
        OPERATOR,
        json!({"fields": {"/position": "b"}, "reason": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    let missing: Value = r.json().await.unwrap();
    assert_eq!(
        missing["error"],
        "the decision leaves out field \"/phone\", which parked the record: choose a side for each of /phone, /position"
    );

    let b = Browser::start().await;
    let page = format!("{url}/conflicts/{id}");
    // The viewer: the systems by name with their ids, the values masked, no form.
    sign_in(&b, &url, VIEWER).await;
    b.go(&page).await;
    assert_eq!(b.text("#systems tr[data-side=a] .system").await, "ZF-REG");
    assert_eq!(b.text("#systems tr[data-side=b] .system").await, "HY-ESMS");
    assert_eq!(b.text("#systems tr[data-side=a] .remote-id").await, djbh);
    assert_eq!(b.text("#systems tr[data-side=b] .remote-id").await, hy_id);
    assert_eq!(
        b.text("tr[data-field='/phone'] .value-a").await,
        "••• 已改 changed"
    );
    assert_eq!(b.count("form#decide").await, 0);
    assert!(b.text("#masked-note").await.contains("masked"));
    b.screenshot(&workspace().join("target/screenshots/conflict-page-viewer.png"))
        .await;
    b.follow("#logout button").await;
    b.find("input[name=token]").await;

    // The operator: values in clear, the rule that parked each field, a choice per field.
    sign_in(&b, &url, OPERATOR).await;
    b.go(&page).await;
    assert_eq!(
        b.text("tr[data-field='/phone'] .value-a").await,
        "13911112222 已改 changed"
    );
    assert_eq!(
        b.text("tr[data-field='/phone'] .value-b").await,
        "13933334444 已改 changed"
    );
    assert_eq!(
        b.text("tr[data-field='/position'] .value-a").await,
        "焊工 已改 changed"
    );
    assert_eq!(
        b.text("tr[data-field='/position'] .value-b").await,
        "叉车司机组长 已改 changed"
    );
    assert_eq!(
        b.text("tr[data-field='/phone'] .rule").await,
        "park · 搁置 parked it"
    );
    assert!(b.text("#rule").await.contains("/phone, /position"));
    // The registry number, which HY-ESMS does not keep: the values differ, but neither system
    // changed it since they last agreed, so it is no choice; the name is the same on both.
    assert_eq!(
        b.text("tr[data-field='/registryNumber'] .value-a").await,
        djbh
    );
    assert_eq!(
        b.text("tr[data-field='/registryNumber'] .value-b").await,
        "—"
    );
    assert_eq!(
        b.text("tr[data-field='/registryNumber'] .choose").await,
        "各自写法 each system's own form"
    );
    assert_eq!(b.text("tr[data-field='/name'] .choose").await, "相同 same");
    assert_eq!(b.count("#replace-warning").await, 0);
    b.click("tr[data-field='/phone'] input[value=a]").await;
    b.click("tr[data-field='/position'] input[value=b]").await;
    let reason = b.find("#reason").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{reason}/value"),
        json!({"text": "电话以户籍登记为准，岗位以用工单位为准"}),
    )
    .await;
    b.follow("#save").await;
    assert!(b.text("#outcome").await.starts_with("已保存 Saved"));
    // The decision waits for the next run: the page warns that saving again replaces it.
    let warning = b.text("#replace-warning").await;
    assert!(
        warning.contains("/phone ← ZF-REG, /position ← HY-ESMS") && warning.contains("wang"),
        "{warning}"
    );
    b.screenshot(&workspace().join("target/screenshots/conflict-page.png"))
        .await;
    // Saving again without ticking replace is refused, with the warning.
    b.click("tr[data-field='/phone'] input[value=b]").await;
    let reason = b.find("#reason").await;
    b.cmd(
        reqwest::Method::POST,
        &format!("/element/{reason}/value"),
        json!({"text": "再想想"}),
    )
    .await;
    b.follow("#save").await;
    let refused = b.text("#outcome").await;
    assert!(
        refused.contains("already has a decision") && refused.contains("replace"),
        "{refused}"
    );
    b.quit().await;
    let out = env.stop(daemon).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The next run writes the merged record field by field: the registry's phone to HY, HY's
    // position to the registry.
    sync(&env, &config).await;
    let zf = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    let hy = by_id(&env.get(&env.hy, "/_admin/zhenfeng-workers").await, "idNo");
    assert_eq!(hy[&id_no]["phone"], "13911112222");
    assert_eq!(hy[&id_no]["position"], "叉车司机组长");
    assert_eq!(zf[&id_no]["联系电话"], "13911112222");
    assert_eq!(zf[&id_no]["工种"], "叉车司机组长");
    let out = env
        .run(&["conflicts", "list", "--all", "--json", "--config", &config])
        .await;
    let all: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        (
            all[0]["status"].as_str(),
            all[0]["resolution"].as_str(),
            all[0]["decided_by"].as_str()
        ),
        (Some("resolved"), Some("took fields"), Some("wang"))
    );

    // The audit log: the viewer's masked view left nothing; the operator's clear view one
    // entry per system; the decision one per system it changes; the run's two updates name the
    // operator whose decision they carry out.
    let store = hub::store::Store::open(&format!(
        "sqlite://{}",
        env.dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    let entries = store.audit_entries(Some("workers"), 50).await.unwrap();
    let personal: Vec<(String, String, String, Option<String>)> = entries
        .iter()
        .rev()
        .filter(|e| e.actor.is_some())
        .map(|e| {
            (
                e.action.clone(),
                e.system.clone(),
                e.result.clone(),
                e.actor.clone(),
            )
        })
        .collect();
    let wang = Some("wang".to_string());
    let row =
        |a: &str, s: &str, r: &str| (a.to_string(), s.to_string(), r.to_string(), wang.clone());
    assert_eq!(
        personal,
        [
            row("view", "zhenfeng-registry", "shown"),
            row("view", "huiyang-esms", "shown"),
            row("decide", "zhenfeng-registry", "recorded"),
            row("decide", "huiyang-esms", "recorded"),
            // The page after saving, and after the refused second save.
            row("view", "zhenfeng-registry", "shown"),
            row("view", "huiyang-esms", "shown"),
            row("view", "zhenfeng-registry", "shown"),
            row("view", "huiyang-esms", "shown"),
            row("update", "zhenfeng-registry", "updated"),
            row("update", "huiyang-esms", "updated"),
        ]
    );
    let decided = entries.iter().find(|e| e.action == "decide").unwrap();
    assert_eq!(
        decided.detail.as_deref(),
        Some(
            format!(r#"{{"conflict":{id},"fields":{{"/phone":"a","/position":"b"}},"reason":"电话以户籍登记为准，岗位以用工单位为准"}}"#)
                .as_str()
        )
    );
    let out = env.run(&["audit", "verify", "--config", &config]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
}

/// Taking a side whole (`hub conflicts resolve --take a`) at a record the two systems had
/// settled takes that side's value of each field a side changed since then, and leaves the
/// others to the sync's rules: HY-ESMS's remark and hire date, which the registry does not
/// hold, stay in HY-ESMS. Before, the record taken whole had no remark and no hire date, and
/// the run removed both from HY-ESMS (found by a helper trying the CLI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_the_registrys_side_whole_keeps_what_only_huiyang_holds() {
    let env = Env::start().await;
    let config = parking_config(&env);
    sync(&env, &config).await;
    let (id_no, djbh, hy_id) = employed_in_both(&env).await;
    // Huiyang records a hire date and a remark; a run settles them (they are Huiyang's).
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{hy_id}"),
        json!({"hiredOn": "2021-03-01", "remark": "备注: 保留"}),
    )
    .await;
    sync(&env, &config).await;
    // Then both change the phone: parked.
    env.patch(
        &env.zf,
        &format!("/_admin/workers/{djbh}"),
        json!({"联系电话": "13911112222"}),
    )
    .await;
    env.patch(
        &env.hy,
        &format!("/_admin/zhenfeng-workers/{hy_id}"),
        json!({"phone": "13933334444"}),
    )
    .await;
    // The run's summary says a record waits for a person.
    let parked = sync(&env, &config).await;
    assert!(
        parked.contains("  搁置 parked: 1 record(s) both systems changed under a `park` rule wait for a person (hub conflicts list)\n"),
        "{parked}"
    );
    let open = conflicts(&env, &config, false).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let id = open[0]["id"].as_i64().unwrap().to_string();
    let out = env
        .run(&[
            "conflicts",
            "resolve",
            &id,
            "--take",
            "a",
            "--config",
            &config,
        ])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The plan says what the run does: the phone only.
    let plan = env
        .run(&["sync", "workers", "--plan", "--json", "--config", &config])
        .await;
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        !plan.contains("/remark") && !plan.contains("/hiredOn"),
        "{plan}"
    );
    sync(&env, &config).await;
    let hy = env
        .get(&env.hy, &format!("/_admin/zhenfeng-workers/{hy_id}"))
        .await;
    assert_eq!(
        (&hy["phone"], &hy["hiredOn"], &hy["remark"]),
        (
            &json!("13911112222"),
            &json!("2021-03-01"),
            &json!("备注: 保留")
        )
    );
    let zf = by_id(&env.get(&env.zf, "/_admin/workers").await, "身份证号");
    assert_eq!(zf[&id_no]["联系电话"], "13911112222");
    let all = conflicts(&env, &config, true).await;
    assert_eq!(
        (all[0]["status"].as_str(), all[0]["resolution"].as_str()),
        (Some("resolved"), Some("took a"))
    );
}
