//! Named regression tests: each a situation that loses, duplicates or resurrects records in
//! naive sync tools, set up exactly.

use crate::world::*;
use hub::crash::CrashPoint;
use hub::store::Side;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn by_id<'a>(items: &'a [Value], key: &str, id: &str) -> Vec<&'a Value> {
    items.iter().filter(|r| r[key] == id).collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// HY-ESMS keeps whole seconds; the cursor is inclusive. A record read at second T, then a
/// second record and a change to the first, both stamped T after the read: the next run must
/// see both (and not take the first's re-read for the old version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_updates_in_the_same_second_as_the_cursor() {
    let w = World::new(Setup::default()).await;
    let t = now();
    let first = w
        .hy_create(json!({"updatedAt": hy_rfc3339(t), "name": "张伟", "idNo": id_number(1), "gender": "M", "phone": "13800000001", "status": "employed"}))
        .await;
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs[0].stats.a.created, 1);
    // Same second as the cursor: a new record, and a change to the one already read.
    w.hy_create(json!({"updatedAt": hy_rfc3339(t), "name": "王芳", "idNo": id_number(2), "gender": "F", "phone": "13900000002", "status": "employed"}))
        .await;
    w.hy_patch(
        first["id"].as_i64().unwrap(),
        json!({"updatedAt": hy_rfc3339(t), "phone": "13800000009"}),
    )
    .await;
    let runs = w.sync_until_ok(None).await;
    assert_eq!((runs[0].stats.a.created, runs[0].stats.a.updated), (1, 1));
    let zf = w.zf_all().await;
    assert_eq!(
        by_id(&zf, "身份证号", &id_number(1))[0]["联系电话"],
        "13800000009"
    );
    assert_eq!(by_id(&zf, "身份证号", &id_number(2))[0]["姓名"], "王芳");
}

/// HY-ESMS pages by page number within a second. Five records share one second and are read two
/// per page; between the first and second page, the first record changes (moving out of that
/// second), which shifts the others down a place: without the connector's overlap pass the
/// third record would fall between the pages, and the cursor would then move past it for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_moves_pages_while_a_read_pages_through() {
    let w = World::new(Setup {
        batch_size: 2,
        ..Setup::default()
    })
    .await;
    let t = now() - 5;
    let mut ids = Vec::new();
    for i in 0..5 {
        let item = w
            .hy_create(json!({"updatedAt": hy_rfc3339(t), "name": format!("工人{i}"), "idNo": id_number(10 + i), "gender": "M", "status": "employed"}))
            .await;
        ids.push(item["id"].as_i64().unwrap());
    }
    let url = format!("{}/_admin/zhenfeng-workers/{}", w.hy.url(), ids[0]);
    let moved = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = moved.clone();
    *w.step.lock().unwrap() = Some(Box::new(move |p| {
        if p == CrashPoint::AfterRead(Side::B)
            && !flag.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            // Between the first page and the second: change the first record.
            let url = url.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let r = reqwest::Client::new()
                        .patch(&url)
                        .json(&json!({"position": "焊工"}))
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success());
                });
            })
            .join()
            .unwrap();
        }
    }));
    let runs = w.sync_until_ok(None).await;
    assert!(moved.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(runs.len(), 1, "one run reads everything");
    let zf = w.zf_all().await;
    for i in 0..5 {
        assert_eq!(
            by_id(&zf, "身份证号", &id_number(10 + i)).len(),
            1,
            "worker {i} reached ZF-REG"
        );
    }
    assert_eq!(by_id(&zf, "身份证号", &id_number(10))[0]["工种"], "焊工");
}

/// One incremental read of an HY-ESMS stream, the connector called directly with pages of
/// two: five items of `collection` share one second T (made by `item(i)`, i = 0..5), read from
/// the cursor T (as the next run after one that ended at T), so T takes three pages. Between the
/// first page and the second, the first item is changed with `patch` (its `updatedAt` becomes
/// now, so it moves out of T and the other four shift down a place). Every version must come out
/// of the read exactly once: the five at T, and the first item's new one; without an overlap
/// pass the third item falls between the first two pages.
async fn a_read_through_a_second_of_several_pages_while_a_record_of_it_moves(
    stream: &str,
    collection: &str,
    item: impl Fn(u32) -> Value,
    patch: Value,
) {
    let w = World::new(Setup::default()).await;
    let t = now() - 5;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut fields = item(i);
        fields["updatedAt"] = json!(hy_rfc3339(t));
        let made = w.hy_admin_create(collection, fields).await;
        ids.push(made["id"].as_i64().unwrap());
    }
    let mut session = w.hy_plugin.session().await.unwrap();
    let mut cursor = Some(hy_rfc3339(t));
    let mut got = Vec::new();
    let mut moved = None;
    for reads in 1.. {
        let batch = session.read(stream, cursor.as_deref(), 2).await.unwrap();
        got.extend(
            batch
                .records
                .iter()
                .map(|r| (r.remote_id.clone(), r.version.clone().unwrap())),
        );
        if reads == 1 {
            assert_eq!(got.len(), 2, "the first read is the first page: {got:?}");
            let item = w.hy_admin_patch(collection, ids[0], patch.clone()).await;
            moved = Some(item["updatedAt"].as_str().unwrap().to_string());
        }
        cursor = batch.cursor;
        if !batch.more {
            break;
        }
        assert!(reads < 20, "a read that does not end: {got:?}");
    }
    let moved = moved.unwrap();
    assert_ne!(moved, hy_rfc3339(t), "the change moved the item out of T");
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .map(|id| (id.to_string(), hy_rfc3339(t)))
        .collect();
    expected.push((ids[0].to_string(), moved));
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "{stream}: every version once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_read_returns_each_record_once_when_one_moves_between_pages() {
    a_read_through_a_second_of_several_pages_while_a_record_of_it_moves(
        "zhenfeng-workers",
        "zhenfeng-workers",
        |i| json!({"name": format!("工人{i}"), "idNo": id_number(40 + i), "gender": "M", "status": "employed"}),
        json!({"position": "焊工"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_read_returns_each_posting_once_when_one_moves_between_pages() {
    a_read_through_a_second_of_several_pages_while_a_record_of_it_moves(
        "jobs",
        "jobs",
        |i| {
            json!({"enterpriseId": 1, "title": format!("普工{i}"), "headcount": 3, "salaryMin": 4000,
                   "salaryMax": 5500, "workLocation": "淡水街道", "publishedAt": "2024-05-01",
                   "validUntil": "2024-06-30", "status": "open"})
        },
        json!({"title": "焊工"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondments_read_returns_each_stay_once_when_one_moves_between_pages() {
    a_read_through_a_second_of_several_pages_while_a_record_of_it_moves(
        "secondments",
        "secondments",
        |i| {
            json!({"name": format!("医生{i}"), "idNo": id_number(50 + i), "gender": "F", "profession": "护士",
                   "sendingOrg": "惠阳区中医院", "hostFacility": "贞丰县人民医院", "batch": 1,
                   "startDate": "2024-05-01", "endDate": "2024-10-31", "status": "serving"})
        },
        json!({"department": "康复科"}),
    )
    .await;
}

/// Legacy systems pad a two-character Han name to the width of three: ZF-REG holds a resident as
/// 王　五 (U+3000 between), and after the first run HY-ESMS holds the name as the connectors read
/// it, 王五. Then someone pads it in HY-ESMS with an ASCII blank (王 五). The blank is not part of
/// the name: the next run reads the changed item and writes nothing to either side, and each
/// system keeps its own writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_padded_han_name_on_one_side_and_an_unpadded_one_on_the_other_is_no_difference() {
    let w = World::new(Setup::default()).await;
    w.zf_create(zf_row(
        &id_number(60),
        "王　五",
        "13800000060",
        "普工",
        "珉谷街道",
    ))
    .await;
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs[0].stats.b.created, 1);
    let hy = w.hy_all().await;
    let item = by_id(&hy, "idNo", &id_number(60))[0].clone();
    assert_eq!(item["name"], "王五");
    w.hy_patch(item["id"].as_i64().unwrap(), json!({"name": "王 五"}))
        .await;
    let runs = w.sync_until_ok(None).await;
    let s = &runs[0].stats;
    assert_eq!(s.b.read, 1, "the padded item is read");
    assert_eq!(
        (s.a.created, s.a.updated, s.b.created, s.b.updated),
        (0, 0, 0, 0),
        "nothing written for padding"
    );
    assert_eq!(
        by_id(&w.hy_all().await, "idNo", &id_number(60))[0]["name"],
        "王 五"
    );
    assert_eq!(
        by_id(&w.zf_all().await, "身份证号", &id_number(60))[0]["姓名"],
        "王　五"
    );
}

/// The hub creates a record in HY-ESMS and dies before it stores the link. The next run must
/// recognise the record it finds there as its own write, not create it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_remote_create_but_before_the_link_is_stored() {
    let w = World::new(Setup::default()).await;
    w.zf_create(zf_row(
        &id_number(20),
        "李娜",
        "15000000003",
        "普工",
        "珉谷街道",
    ))
    .await;
    w.crash_in
        .store(i64::MAX, std::sync::atomic::Ordering::SeqCst);
    let crash_at = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = crash_at.clone();
    let crash_in = w.crash_in.clone();
    *w.step.lock().unwrap() = Some(Box::new(move |p| {
        if p == CrashPoint::AfterWrite(Side::B)
            && !flag.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            crash_in.store(1, std::sync::atomic::Ordering::SeqCst);
        }
    }));
    let crashed = w.run().await;
    assert!(crashed.is_err(), "the run crashed after the write");
    assert_eq!(
        by_id(&w.hy_all().await, "idNo", &id_number(20)).len(),
        1,
        "the create reached HY-ESMS"
    );
    *w.step.lock().unwrap() = None;
    let runs = w.sync_until_ok(None).await;
    let s = &runs[0].stats;
    assert_eq!((s.b.created, s.b.updated), (0, 0), "nothing written again");
    assert_eq!(
        s.b.echoes, 1,
        "the record read back is the interrupted write's result"
    );
    assert_eq!(by_id(&w.hy_all().await, "idNo", &id_number(20)).len(), 1);
    assert_eq!(w.duplicates().await, Vec::<Value>::new());
    let audit = w.store.audit_entries(Some(SYNC), 10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.result == "recovered" && e.action == "create"),
        "{audit:?}"
    );
}

/// HY-ESMS answers a storm of 429s with `Retry-After: 2`. The host waits as told and the run
/// goes through, each record written once; a storm longer than the run's retry budget ends the
/// run without writing anything twice, and the next run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_with_retry_after_2() {
    let w = World::new(Setup::default()).await;
    w.zf_create(zf_row(
        &id_number(30),
        "张伟",
        "13800000001",
        "普工",
        "珉谷街道",
    ))
    .await;
    w.faults(json!({"burst_429": 3, "retry_after": 2}), json!({}))
        .await;
    let t = Instant::now();
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs.len(), 1);
    assert!(
        t.elapsed() >= Duration::from_secs(6),
        "three waits of 2 s: {:?}",
        t.elapsed()
    );
    assert_eq!(runs[0].stats.b.created, 1);

    let w = World::new(Setup {
        limits: "retries_per_run = 2",
        ..Setup::default()
    })
    .await;
    w.zf_create(zf_row(
        &id_number(31),
        "王芳",
        "13900000002",
        "质检员",
        "永丰街道",
    ))
    .await;
    w.faults(json!({"burst_429": 5, "retry_after": 0}), json!({}))
        .await;
    let first = w.run().await.unwrap();
    assert_ne!(
        first.status,
        hub::sync::RunStatus::Ok,
        "the storm outlasts the budget of 2 retries"
    );
    assert_eq!(first.stats.b.created, 0);
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs.iter().map(|r| r.stats.b.created).sum::<u64>(), 1);
    assert_eq!(by_id(&w.hy_all().await, "idNo", &id_number(31)).len(), 1);
    assert_eq!(w.duplicates().await, Vec::<Value>::new());
}

/// Both systems change the phone of the same person between two runs; `newest_wins` takes the
/// later of the two systems' update times, and equal times go to `a` (ZF-REG).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_on_the_phone_field_under_newest_wins() {
    let w = World::new(Setup::default()).await;
    let mut rows = Vec::new();
    for i in 0..3 {
        rows.push(
            w.zf_create(zf_row(
                &id_number(40 + i),
                NAMES3[i as usize],
                "13800000000",
                "普工",
                "珉谷街道",
            ))
            .await,
        );
    }
    w.sync_until_ok(None).await;
    let hy = w.hy_all().await;
    let hy_id = |i: u32| {
        by_id(&hy, "idNo", &id_number(40 + i))[0]["id"]
            .as_i64()
            .unwrap()
    };
    let djbh = |i: usize| rows[i]["登记编号"].as_str().unwrap().to_string();
    // Times after every cursor (the runs read up to now) and in a known order.
    let t = now() + 2;
    // 0: ZF first, HY a second later → HY's phone. 1: HY first → ZF's. 2: the same second → a (ZF).
    w.zf_patch(
        &djbh(0),
        json!({"联系电话": "13811110000", "更新时间": zf_local(t)}),
    )
    .await;
    w.hy_patch(
        hy_id(0),
        json!({"phone": "13922220000", "updatedAt": hy_rfc3339(t + 1)}),
    )
    .await;
    w.hy_patch(
        hy_id(1),
        json!({"phone": "13922221111", "updatedAt": hy_rfc3339(t)}),
    )
    .await;
    w.zf_patch(
        &djbh(1),
        json!({"联系电话": "13811111111", "更新时间": zf_local(t + 1)}),
    )
    .await;
    w.zf_patch(
        &djbh(2),
        json!({"联系电话": "13811112222", "更新时间": zf_local(t)}),
    )
    .await;
    w.hy_patch(
        hy_id(2),
        json!({"phone": "13922222222", "updatedAt": hy_rfc3339(t)}),
    )
    .await;
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs[0].stats.conflicts_resolved, 3);
    assert_eq!(runs[0].stats.parked, 0);
    let (zf, hy) = (w.zf_all().await, w.hy_all().await);
    for (i, want) in [(0, "13922220000"), (1, "13811111111"), (2, "13811112222")] {
        assert_eq!(
            by_id(&zf, "身份证号", &id_number(40 + i))[0]["联系电话"],
            want,
            "ZF-REG, person {i}"
        );
        assert_eq!(
            by_id(&hy, "idNo", &id_number(40 + i))[0]["phone"],
            want,
            "HY-ESMS, person {i}"
        );
    }
}

const NAMES3: [&str; 3] = ["张伟", "王芳", "李娜"];

/// HY-ESMS soft-deletes a worker: the registry gets 返乡 (务工状态 3) once, and the hub keeps a
/// tombstone. A stale copy of the record (not deleted, older than the delete) read later, as a
/// full re-read from a lagging source would return it, is ignored; so are later changes on
/// the registry's side: the deleted record is never written again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_record_whose_stale_copy_is_read_later() {
    let w = World::new(Setup::default()).await;
    let row = w
        .zf_create(zf_row(
            &id_number(50),
            "张伟",
            "13800000001",
            "普工",
            "珉谷街道",
        ))
        .await;
    w.sync_until_ok(None).await;
    let item = by_id(&w.hy_all().await, "idNo", &id_number(50))[0].clone();
    let id = item["id"].as_i64().unwrap();
    w.hy_delete(id).await;
    let deleted_at = hy_time(by_id(&w.hy_all().await, "idNo", &id_number(50))[0]);
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs[0].stats.b.deleted, 1);
    assert_eq!(
        runs[0].stats.a.updated, 1,
        "the delete reaches the registry"
    );
    let zf = w.zf_all().await;
    assert_eq!(by_id(&zf, "身份证号", &id_number(50))[0]["务工状态"], "3");
    // A stale copy: live, stamped before the delete, read again from the start.
    w.hy_patch(
        id,
        json!({"deleted": false, "updatedAt": hy_rfc3339(deleted_at - 1), "phone": "13800000007"}),
    )
    .await;
    w.rewind(Side::B).await;
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs[0].stats.b.stale, 1);
    assert_eq!(
        (runs[0].stats.a.written(), runs[0].stats.b.written()),
        (0, 0)
    );
    // The registry changes the person later: nothing is written to the deleted record.
    let djbh = row["登记编号"].as_str().unwrap();
    w.zf_patch(djbh, json!({"联系电话": "13800000008"})).await;
    let runs = w.sync_until_ok(None).await;
    assert_eq!(runs[0].stats.a.changed, 1, "{:?}", runs[0].stats);
    assert_eq!(runs[0].stats.b.written(), 0, "no resurrection");
    let hy = w.hy_all().await;
    assert_eq!(
        by_id(&hy, "idNo", &id_number(50))[0]["phone"],
        "13800000007",
        "untouched by the hub"
    );
}

/// A state store written before migration 0009 (each record of a link sealed alone in its own
/// column) goes on as it is: the next full read creates nothing and writes nothing, rewrites
/// each link it commits in the newer form (its records sealed once, together), and a later
/// edit is merged against the settled records the older rows held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_the_older_link_form_reads_everything_again_and_writes_nothing() {
    use hub::sync::link_seal;
    let w = World::new(Setup::default()).await;
    let mut rows = Vec::new();
    for i in 0..3 {
        rows.push(
            w.zf_create(zf_row(
                &id_number(60 + i),
                NAMES3[i as usize],
                "13800000000",
                "普工",
                "珉谷街道",
            ))
            .await,
        );
    }
    w.sync_until_ok(None).await;
    w.sync_until_ok(None).await;
    assert_eq!(w.hy_all().await.len(), 3);
    // The store, rewritten in the older form: every link's records in their own columns.
    let keys = hub::keys::Keys::derive(&[7; 32]);
    let hashes: Vec<String> = (0..3)
        .map(|i| keys.key_hash(&[&json!(id_number(60 + i))]))
        .collect();
    let mut older = Vec::new();
    for mut l in w.store.links(SYNC, &hashes).await.unwrap() {
        assert!(l.sealed.is_some() && l.a.snapshot.is_none(), "newer form");
        link_seal::unseal(&keys, SYNC, &mut l).unwrap();
        assert!(l.a.snapshot.is_some() && l.b.snapshot.is_some() && l.base.is_some());
        older.push(link_seal::in_older_form(&keys, SYNC, &l));
    }
    assert_eq!(older.len(), 3);
    w.store
        .commit(
            SYNC,
            hub::store::Commit {
                links: &older,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for l in w.store.links(SYNC, &hashes).await.unwrap() {
        assert!(l.sealed.is_none() && l.a.snapshot.is_some() && l.base.is_some());
    }
    // Everything read again from both sides: nothing to write anywhere.
    w.rewind(Side::A).await;
    w.rewind(Side::B).await;
    let runs = w.sync_until_ok(None).await;
    let s = &runs[0].stats;
    assert_eq!((s.a.read, s.b.read), (3, 3));
    assert_eq!(
        (s.a.created, s.a.updated, s.b.created, s.b.updated),
        (0, 0, 0, 0)
    );
    assert_eq!(s.a.unchanged + s.b.unchanged, 6, "{s:?}");
    for l in w.store.links(SYNC, &hashes).await.unwrap() {
        assert!(
            l.sealed.is_some() && l.a.snapshot.is_none(),
            "rewritten in the newer form"
        );
    }
    // An edit after the migration is merged against the records the older rows held.
    let djbh = rows[1]["登记编号"].as_str().unwrap().to_string();
    w.zf_patch(
        &djbh,
        json!({"联系电话": "13811119999", "更新时间": zf_local(now() + 2)}),
    )
    .await;
    let runs = w.sync_until_ok(None).await;
    assert_eq!((runs[0].stats.b.created, runs[0].stats.b.updated), (0, 1));
    let hy = w.hy_all().await;
    assert_eq!(
        by_id(&hy, "idNo", &id_number(61))[0]["phone"],
        "13811119999"
    );
    assert_eq!(
        by_id(&hy, "idNo", &id_number(60))[0]["phone"],
        "13800000000"
    );
    assert_eq!(w.duplicates().await, Vec::<Value>::new());
}

/// Issue 18: the state store is lost (a data directory deleted) after the hub has synced two
/// systems; a new, empty store is pointed at them. Every record is found again by its identity
/// number, nothing is created, and nothing is written where the two systems already agree,
/// each in its own coding:
/// - a resident the registry has lost contact with (务工状态 9, `lost_contact`) is `left` in
///   HY-ESMS, which has no finer code, and that `left` is HY's end form: not a difference, and no
///   end to pass on (without the normal forms the registry's 9 became 3, returned home);
/// - an employer the registry knows by name only: HY-ESMS looks its code up in its enterprise
///   register. That code is HY's value (it owns `/employer`), so it reaches the registry in
///   normal operation, as it would after the store is lost: the two histories end alike;
/// - a hire date and a remark, which the registry does not keep, are not written to it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_store_finds_every_record_and_writes_nothing_where_the_systems_agree() {
    const USCC: &str = "91350100M000100Y43";
    const EMPLOYER: &str = "伯恩光学(惠州)有限公司";
    let mut w = World::new(Setup::default()).await;
    w.hy_admin_create("enterprises", json!({"uscc": USCC, "name": EMPLOYER}))
        .await;
    let mut lost = zf_row(&id_number(71), "张伟", "13800000071", "普工", "珉谷街道");
    lost["务工单位"] = json!(EMPLOYER);
    lost["务工状态"] = json!("9");
    w.zf_create(lost).await;
    w.zf_create(zf_row(
        &id_number(72),
        "王芳",
        "13800000072",
        "质检员",
        "永丰街道",
    ))
    .await;
    let mut hired = hy_item(&id_number(73), "李娜", "13800000073", "电工", "者相镇");
    hired["employerUscc"] = json!(USCC);
    hired["hiredOn"] = json!("2024-03-01");
    hired["remark"] = json!("夜班");
    w.hy_create(hired).await;
    w.sync_until_ok(None).await;
    w.sync_until_ok(None).await;

    // Normal operation: HY-ESMS holds the lost-contact resident as `left` with the employer's
    // code; the registry keeps its 9 and has the code HY looked up.
    let (zf, hy) = (w.zf_all().await, w.hy_all().await);
    assert_eq!((zf.len(), hy.len()), (3, 3));
    let hy71 = by_id(&hy, "idNo", &id_number(71))[0];
    assert_eq!(
        (&hy71["status"], &hy71["employerUscc"]),
        (&json!("left"), &json!(USCC))
    );
    let zf71 = by_id(&zf, "身份证号", &id_number(71))[0];
    assert_eq!(zf71["务工状态"], "9");
    assert_eq!(
        (&zf71["务工单位"], &zf71["单位信用代码"]),
        (&json!(EMPLOYER), &json!(USCC))
    );
    let zf73 = by_id(&zf, "身份证号", &id_number(73))[0];
    assert_eq!(
        (&zf73["务工单位"], &zf73["单位信用代码"]),
        (&json!(EMPLOYER), &json!(USCC))
    );

    // The store lost: both systems read again from the start, every key a first meeting.
    w.lose_store().await;
    let runs = w.sync_until_ok(None).await;
    let s = &runs[0].stats;
    assert_eq!((s.a.read, s.b.read), (3, 3), "{s:?}");
    assert_eq!(
        (s.a.created, s.a.updated, s.a.unchanged_writes),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        (s.b.created, s.b.updated, s.b.unchanged_writes),
        (0, 0, 0),
        "{s:?}"
    );
    assert_eq!(
        (w.zf_all().await, w.hy_all().await),
        (zf, hy),
        "neither system changed"
    );
    // And the next run has nothing to do either.
    let runs = w.sync_until_ok(None).await;
    let s = &runs[0].stats;
    assert_eq!(
        (s.a.created, s.a.updated, s.b.created, s.b.updated),
        (0, 0, 0, 0),
        "{s:?}"
    );
    assert_eq!(w.duplicates().await, Vec::<Value>::new());
}

/// With `deletes.native = ["b"]` (contract 0.2), a resident who comes home (ZF-REG 务工状态 3)
/// ends the HY-ESMS worker by its native soft delete, not by `status = "left"`. The run that
/// sends the delete is stopped at each of its crash points in turn (a fresh world each time);
/// whatever the step, the worker ends deleted exactly once, with its other fields as they were,
/// the registry keeps 3, and the delete is in the audit log once (as `deleted`, or as
/// `recovered` when the run died between the delete and its result).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_delete_reaches_hy_esms_once_whatever_step_a_crash_stops_it_at() {
    let id = id_number(30);
    let mut k = 1;
    let mut results = std::collections::BTreeSet::new();
    loop {
        let w = World::new(Setup {
            hy_native_deletes: true,
            ..Setup::default()
        })
        .await;
        let row = w
            .zf_create(zf_row(&id, "王强", "15000000030", "普工", "珉谷街道"))
            .await;
        w.sync_until_ok(None).await;
        let hy = by_id(&w.hy_all().await, "idNo", &id)
            .first()
            .map(|v| (*v).clone())
            .expect("the resident reached HY-ESMS");
        assert_eq!(
            (hy["status"].as_str(), hy["deleted"].as_bool()),
            (Some("employed"), Some(false))
        );
        let djbh = row["登记编号"]
            .as_str()
            .expect("a registry number")
            .to_string();
        w.zf_patch(&djbh, json!({"务工状态": "3"})).await;
        let crashes = w.crashes.load(std::sync::atomic::Ordering::SeqCst);
        let runs = w.sync_until_ok(Some(k)).await;
        let crashed = w.crashes.load(std::sync::atomic::Ordering::SeqCst) > crashes;
        let items = w.hy_all().await;
        let hy_now = by_id(&items, "idNo", &id);
        assert_eq!(hy_now.len(), 1, "crash point {k}: one worker");
        assert_eq!(
            (hy_now[0]["deleted"].as_bool(), hy_now[0]["status"].as_str()),
            (Some(true), Some("employed")),
            "crash point {k}: soft-deleted natively, its status left as it was"
        );
        let zf = w.zf_all().await;
        let zf_now: Vec<&Value> = zf.iter().filter(|r| r["身份证号"] == id.as_str()).collect();
        assert_eq!(zf_now.len(), 1);
        assert_eq!(
            zf_now[0]["务工状态"], "3",
            "crash point {k}: the registry keeps 3"
        );
        let audit = w.store.audit_entries(Some(SYNC), 50).await.unwrap();
        let deletes: Vec<&str> = audit
            .iter()
            .filter(|e| e.action == "delete")
            .map(|e| e.result.as_str())
            .collect();
        assert!(
            deletes == ["deleted"] || deletes == ["recovered"],
            "crash point {k}: one delete in the audit log, {deletes:?}"
        );
        results.insert(deletes[0].to_string());
        let ended: u64 = runs.iter().map(|r| r.stats.b.ended).sum();
        assert_eq!(
            ended,
            u64::from(deletes == ["deleted"]),
            "crash point {k}: the ended count follows the delete's result"
        );
        assert_eq!(w.duplicates().await, Vec::<Value>::new());
        // Nothing more to do: the next run writes nothing anywhere.
        let again = w.sync_until_ok(None).await;
        let s = &again[0].stats;
        assert_eq!(
            (s.a.written(), s.b.written()),
            (0, 0),
            "crash point {k}: nothing written again"
        );
        if !crashed {
            assert!(
                k > 3,
                "the delete's run has crash points before and after the write"
            );
            break;
        }
        eprintln!("crash point {k}: the delete ended {deletes:?}");
        k += 1;
    }
    // Some crash point fell between the delete and its result (recognised on read-back), and
    // the others before the delete or after its result.
    assert_eq!(
        results.into_iter().collect::<Vec<_>>(),
        ["deleted", "recovered"]
    );
}

/// A clerk registers a resident in ZF-REG while the hub is creating the same person there from
/// HY-ESMS (between the hub's read of the registry and its write). The registry refuses the
/// hub's create as a duplicate (40902, with its 登记编号); with contract 0.2 the connector hands
/// back the existing record and the hub links it at once: no dead letter, one resident, the
/// audit entry says `duplicate` with the registry number, and the next run merges the two (the
/// clerk's newer phone wins under `newest_wins`) and writes by id, never a second create.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_the_registry_refuses_as_a_duplicate_is_linked_at_once() {
    let w = World::new(Setup::default()).await;
    let id = id_number(31);
    w.hy_create(hy_item(&id, "赵敏", "15000000031", "普工", "珉谷街道"))
        .await;
    let url = format!("{}/_admin/workers", w.zf.url());
    let row = zf_row(&id, "赵敏", "15000000099", "普工", "珉谷街道");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    *w.step.lock().unwrap() = Some(Box::new(move |p| {
        if p == CrashPoint::BeforeWrite(Side::A)
            && !flag.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let (url, row) = (url.clone(), row.clone());
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(async {
                        let r = reqwest::Client::new()
                            .post(url)
                            .json(&row)
                            .send()
                            .await
                            .unwrap();
                        assert!(r.status().is_success(), "{}", r.status());
                    })
            })
            .join()
            .unwrap();
        }
    }));
    let first = w.run().await.expect("the run ends");
    *w.step.lock().unwrap() = None;
    assert!(
        done.load(std::sync::atomic::Ordering::SeqCst),
        "the clerk registered meanwhile"
    );
    assert_eq!(
        (
            first.stats.a.created,
            first.stats.a.linked,
            first.stats.a.rejected
        ),
        (0, 1, 0),
        "linked, not created, not a dead letter"
    );
    let zf = w.zf_all().await;
    let rows: Vec<&Value> = zf.iter().filter(|r| r["身份证号"] == id.as_str()).collect();
    assert_eq!(rows.len(), 1);
    let djbh = rows[0]["登记编号"].as_str().unwrap().to_string();
    let audit = w.store.audit_entries(Some(SYNC), 50).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "create"
            && e.result == "duplicate"
            && e.remote_id.as_deref() == Some(djbh.as_str())),
        "{audit:?}"
    );
    let dead = w.store.dead_letters(Some(SYNC)).await.unwrap();
    assert!(dead.is_empty(), "{dead:?}");
    w.sync_until_ok(None).await;
    let zf = w.zf_all().await;
    let rows: Vec<&Value> = zf.iter().filter(|r| r["身份证号"] == id.as_str()).collect();
    assert_eq!(rows.len(), 1, "still one resident");
    assert_eq!(
        rows[0]["联系电话"], "15000000099",
        "the clerk's phone stands"
    );
    let items = w.hy_all().await;
    let hy = by_id(&items, "idNo", &id);
    assert_eq!(hy.len(), 1);
    assert_eq!(
        hy[0]["phone"], "15000000099",
        "the newer phone reached HY-ESMS"
    );
    assert_eq!(w.duplicates().await, Vec::<Value>::new());
}

/// Issue 17: a state store of the version before migration 0013 (the hashes of `links` and
/// `audit` as 64 hex digits of text) migrates in place when first opened: every link reads as
/// it was, the run history, the dead letter and the audit chain are kept, and a full read of
/// both systems again creates nothing and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_hex_text_hashes_migrates_in_place_and_the_next_run_writes_nothing() {
    let mut w = World::new(Setup::default()).await;
    for i in 0..3 {
        w.zf_create(zf_row(
            &id_number(70 + i),
            NAMES3[i as usize],
            "13800000000",
            "普工",
            "珉谷街道",
        ))
        .await;
    }
    // One resident whose identity number fails its check character (GB 11643-1999): a dead letter.
    let good = id_number(73);
    let last = if good.ends_with('0') { '1' } else { '0' };
    let bad = format!("{}{last}", &good[..17]);
    w.zf_create(zf_row(&bad, "赵六", "13800000000", "普工", "珉谷街道"))
        .await;
    w.sync_until_ok(None).await;
    w.sync_until_ok(None).await;
    assert_eq!(w.hy_all().await.len(), 3);
    let keys = hub::keys::Keys::derive(&[7; 32]);
    let audit_key = keys.audit_key();
    // The links as the hub reads them: opened (their rows hold `=` for what the hub derives,
    // and the previous form the values themselves).
    let read = |mut links: Vec<hub::store::Link>| {
        for l in &mut links {
            hub::sync::link_seal::unseal(&keys, SYNC, l).unwrap();
        }
        links
    };
    let links = read(w.store.links_after(SYNC, None, 100).await.unwrap());
    let runs = w.store.runs(Some(SYNC), 100).await.unwrap();
    let dead = w.store.dead_letters(Some(SYNC)).await.unwrap();
    let chain = w.store.verify_audit(&audit_key).await.unwrap().unwrap();
    assert_eq!((links.len(), dead.len(), chain.entries), (3, 1, 3));

    // The store as the previous version left it: its hashes as hex text, each audit entry with
    // its prev_hash, migration 0013 not run.
    let backup = w.back_up_store().await;
    let db = rusqlite::Connection::open(&backup).unwrap();
    db.execute_batch(&hub::store::testing::back_to_the_form_before_0013(false).join(";\n"))
        .unwrap();
    let hex: String = db
        .query_row("SELECT key_hash FROM links LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(hex.len(), 64, "the previous form: {hex}");
    drop(db);

    // Opened by this version (migrated), everything is as it was.
    w.restore_store(&backup).await;
    assert_eq!(
        read(w.store.links_after(SYNC, None, 100).await.unwrap()),
        links
    );
    let after = w.store.runs(Some(SYNC), 100).await.unwrap();
    assert_eq!(
        after.iter().map(|r| (r.id, r.status)).collect::<Vec<_>>(),
        runs.iter().map(|r| (r.id, r.status)).collect::<Vec<_>>()
    );
    let kept = w.store.dead_letters(Some(SYNC)).await.unwrap();
    assert_eq!(
        kept.iter()
            .map(|d| (d.id, &d.key_masked, d.status))
            .collect::<Vec<_>>(),
        dead.iter()
            .map(|d| (d.id, &d.key_masked, d.status))
            .collect::<Vec<_>>()
    );
    let intact = w.store.verify_audit(&audit_key).await.unwrap().unwrap();
    assert_eq!((intact.entries, intact.head), (3, chain.head));

    // Everything read again from both sides: nothing to create or write anywhere.
    w.rewind(Side::A).await;
    w.rewind(Side::B).await;
    let runs = w.sync_until_ok(None).await;
    let s = &runs[0].stats;
    // The invalid resident is known as its open dead letter: unchanged, not a new failure.
    assert_eq!((s.a.read, s.a.invalid, s.b.read), (4, 0, 3));
    assert_eq!(
        (s.a.created, s.a.updated, s.b.created, s.b.updated),
        (0, 0, 0, 0)
    );
    assert_eq!((s.a.unchanged, s.b.unchanged), (4, 3), "{s:?}");
    assert_eq!(w.hy_all().await.len(), 3);
    assert_eq!(w.duplicates().await, Vec::<Value>::new());
    assert_eq!(w.store.dead_letters(Some(SYNC)).await.unwrap().len(), 1);
    assert_eq!(
        w.store
            .verify_audit(&audit_key)
            .await
            .unwrap()
            .map(|i| i.entries),
        Ok(3)
    );
}
