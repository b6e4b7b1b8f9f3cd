#!/usr/bin/env python3
"""The baseline a bureau's IT staff would otherwise write: a Python script with `requests`,
`jsonschema` and `sqlite3` doing the hub's read-validate-link-write loop.

Two modes, each measured on its own (wall clock and this process's CPU time):

- memory (default): the same N generated worker records as the hub's fixture connector
  (`plugins/fixture`, `worker(i)`), each written as JSON text and parsed back (as records cross
  a connector's boundary), validated against the shared `worker` schema (draft 2020-12, the
  repository's `schemas/worker.json` and `common.json`, with the formats checked as the hub
  checks them: GB 11643 check character and birth date, GB/T 2260 division codes, GB 32100,
  mobile numbers, dates), keyed (HMAC-SHA256 of the identity number), hashed (HMAC-SHA256 of
  the canonical JSON), looked up in a SQLite link table a batch at a time, "written" to an
  in-memory target that gives each record an id, and linked (one transaction per batch).
- http (`--zf URL --hy URL`): the same loop against the ZF-REG and HY-ESMS simulators: log in
  to ZF-REG, read its GB18030 CSV export, map each row to a worker, keep those working in
  441303, validate, key, look up, POST each new one to HY-ESMS (`requests.Session`, keep-alive)
  and link it.

It does less than the hub: no encryption of the stored records, no audit chain, no field
merge, no cursor, one direction. `--json` prints `{"records", "seconds", "cpu_seconds",
"invalid"}`; otherwise a line for people.

    target/tools/peer-venv/bin/python bench/peer/peer.py --records 20000
"""

import argparse
import csv
import datetime
import hashlib
import hmac
import io
import json
import os
import re
import sqlite3
import sys
import tempfile
import time

import jsonschema
import requests
from referencing import Registry, Resource

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
KEY = bytes([7] * 32)

# --- the shared schema and its formats -------------------------------------------------------

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def load_divisions():
    codes = set()
    with open(os.path.join(ROOT, "schemas/data/gb2260/areacodes.csv"), encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if row and row[0].isdigit():
                codes.add(row[0])
    return codes


DIVISIONS = load_divisions()


def id_check_character(first17):
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def real_date(y, m, d):
    try:
        datetime.date(y, m, d)
        return True
    except ValueError:
        return False


def is_gb11643(s):
    if not isinstance(s, str):
        return True
    if not re.fullmatch(r"[0-9]{17}[0-9X]", s):
        return False
    if not real_date(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    return id_check_character(s[:17]) == s[17] and s[:6] in DIVISIONS


def is_gb2260(s):
    return not isinstance(s, str) or (len(s) == 6 and s.isdigit() and s in DIVISIONS)


def is_gb32100(s):
    if not isinstance(s, str):
        return True
    if len(s) != 18 or any(c not in USCC_ALPHABET for c in s):
        return False
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(s[:17], USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31] == s[17]


def is_mobile(s):
    return not isinstance(s, str) or re.fullmatch(r"1[3-9][0-9]{9}", s) is not None


def is_date(s):
    if not isinstance(s, str):
        return True
    m = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", s)
    return m is not None and real_date(int(m[1]), int(m[2]), int(m[3]))


def validator():
    def load(name):
        with open(os.path.join(ROOT, "schemas", name), encoding="utf-8") as f:
            return json.load(f)

    common, worker = load("common.json"), load("worker.json")
    registry = Registry().with_resources(
        [(s["$id"], Resource.from_contents(s)) for s in (common, worker)]
    )
    checker = jsonschema.FormatChecker()
    for name, check in [
        ("gb11643", is_gb11643),
        ("gb2260", is_gb2260),
        ("gb32100", is_gb32100),
        ("cn-mobile", is_mobile),
        ("date", is_date),
    ]:
        checker.checks(name)(check)
    return jsonschema.Draft202012Validator(worker, registry=registry, format_checker=checker)


# --- the generated records (the fixture connector's `worker(i)`) ----------------------------


def worker(i):
    d = datetime.date(1970, 1, 1) + datetime.timedelta(days=i // 500)
    first17 = f"522325{d.year:04}{d.month:02}{d.day:02}{i % 500 * 2 + 1:03}"
    return {
        "idNumber": first17 + id_check_character(first17),
        "name": f"工人{i}",
        "gender": "male",
        "phone": f"139{i % 100_000_000:08}",
        "hometownTownship": "珉谷街道",
        "workplace": {"province": "广东省", "countyCode": "441303"},
        "employer": {"name": "伯恩光学(惠州)有限公司", "uscc": None},
        "position": "普工",
        "status": "employed",
    }


# --- state -----------------------------------------------------------------------------------


def strip_nulls(v):
    if isinstance(v, dict):
        return {k: strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strip_nulls(x) for x in v]
    return v


def key_hash(id_number):
    return hmac.new(KEY, id_number.encode(), hashlib.sha256).hexdigest()


def content_hash(record):
    text = json.dumps(strip_nulls(record), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


def open_store(path):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS links (key_hash TEXT PRIMARY KEY, remote_id TEXT, hash TEXT, record TEXT)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, remote_id TEXT, errors TEXT)"
    )
    return db


class Loop:
    """Validate, key, look up, write, link: one batch at a time, one transaction per batch."""

    def __init__(self, db, write):
        self.db, self.write, self.schema = db, write, validator()
        self.records = self.invalid = 0

    def batch(self, records):
        staged = []
        for remote_id, rec in records:
            errors = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self.schema.iter_errors(rec)]
            if errors:
                self.invalid += 1
                self.db.execute("INSERT INTO dead_letters (remote_id, errors) VALUES (?, ?)", (remote_id, json.dumps(errors)))
                continue
            staged.append((key_hash(rec["idNumber"]), content_hash(rec), rec))
        known = {}
        if staged:
            marks = ",".join("?" * len(staged))
            for k, h in self.db.execute(f"SELECT key_hash, hash FROM links WHERE key_hash IN ({marks})", [s[0] for s in staged]):
                known[k] = h
        rows = []
        for k, h, rec in staged:
            if known.get(k) == h:
                continue
            remote_id = self.write(rec)
            if remote_id is None:
                continue
            self.records += 1
            rows.append((k, remote_id, h, json.dumps(rec, ensure_ascii=False)))
        self.db.executemany("INSERT OR REPLACE INTO links (key_hash, remote_id, hash, record) VALUES (?, ?, ?, ?)", rows)
        self.db.commit()


def run_memory(db, n, batch):
    target = {}

    def write(rec):
        target[rec["idNumber"]] = rec
        return str(len(target))

    loop = Loop(db, write)
    for start in range(0, n, batch):
        # As across a connector's boundary: JSON text, parsed back.
        texts = [(str(i), json.dumps(worker(i), ensure_ascii=False)) for i in range(start, min(start + batch, n))]
        loop.batch([(rid, json.loads(t)) for rid, t in texts])
    return loop


# --- http: ZF-REG → HY-ESMS ------------------------------------------------------------------

STATUS = {"1": "employed", "2": "seeking", "3": "returned_home", "9": "lost_contact"}
FULL_WIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


def norm_id(raw):
    s = raw.strip().translate(FULL_WIDTH).upper()
    if re.fullmatch(r"[0-9]{15}", s):
        first17 = s[:6] + "19" + s[6:]
        s = first17 + id_check_character(first17)
    return s


def norm_date(raw):
    s = raw.strip()
    m = re.fullmatch(r"([0-9]{4})[-/年.]([0-9]{1,2})[-/月.]([0-9]{1,2})日?", s)
    return f"{int(m[1]):04}-{int(m[2]):02}-{int(m[3]):02}" if m else s


def norm_phone(raw):
    s = re.sub(r"[\s\-\u3000]", "", raw.translate(FULL_WIDTH))
    if s.startswith("+86"):
        s = s[3:]
    return s or None


def row_to_worker(r):
    t = lambda k: (r.get(k) or "").strip() or None  # noqa: E731
    county = t("务工县区代码")
    employer, uscc = t("务工单位"), t("单位信用代码")
    return {
        "idNumber": norm_id(r.get("身份证号") or ""),
        "name": (r.get("姓名") or "").strip(" \u3000"),
        "gender": {"男": "male", "女": "female"}.get(t("性别"), t("性别")),
        "phone": norm_phone(r.get("联系电话") or ""),
        "hometownTownship": t("户籍乡镇"),
        "registryNumber": t("登记编号"),
        "registeredOn": norm_date(t("登记日期")) if t("登记日期") else None,
        "workplace": {"province": t("务工省份"), "countyCode": county} if county else None,
        "employer": {"name": employer, "uscc": uscc} if employer or uscc else None,
        "position": t("工种"),
        "status": STATUS.get(t("务工状态"), t("务工状态")),
    }


def run_http(db, zf, hy, batch):
    http = requests.Session()
    login = http.post(f"{zf}/login", data={"username": "hub-sync", "password": "demo-zf-password"}).json()
    token = login["data"]["token"]
    hy_headers = {"X-Api-Key": "demo-hy-key"}
    uscc_by_name = {}
    page = 1
    while True:
        r = http.get(f"{hy}/api/v1/enterprises", params={"page": page, "size": 500}, headers=hy_headers).json()
        for e in r["items"]:
            uscc_by_name[e["name"].strip()] = e["uscc"]
        if page * 500 >= r["total"]:
            break
        page += 1

    def write(rec):
        emp = rec.get("employer") or {}
        status = rec["status"]
        item = {
            "name": rec["name"],
            "idNo": rec["idNumber"],
            "gender": {"male": "M", "female": "F"}[rec["gender"]],
            "phone": rec.get("phone"),
            "hometownTownship": rec.get("hometownTownship"),
            "employerUscc": emp.get("uscc") or uscc_by_name.get(emp.get("name") or ""),
            "position": rec.get("position"),
            "hiredOn": rec.get("hiredOn"),
            "status": "left" if status in ("returned_home", "lost_contact") else status,
            "remark": rec.get("remark"),
        }
        resp = http.post(f"{hy}/api/v1/zhenfeng-workers", json=item, headers=hy_headers)
        return str(resp.json()["id"]) if resp.status_code in (200, 201) else None

    loop = Loop(db, write)
    resp = http.get(f"{zf}/export/workers.csv", params={"token": token})
    rows = csv.DictReader(io.StringIO(resp.content.decode("gb18030")))
    pending = []
    for row in rows:
        row = {k.strip(): v for k, v in row.items()}
        if (row.get("务工县区代码") or "").strip() != "441303":
            continue
        pending.append((row.get("登记编号"), strip_nulls(row_to_worker(row))))
        if len(pending) == batch:
            loop.batch(pending)
            pending = []
    if pending:
        loop.batch(pending)
    return loop


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=20_000, help="generated records (memory mode)")
    p.add_argument("--batch", type=int, default=200, help="records per transaction")
    p.add_argument("--zf", help="ZF-REG base URL (http mode, with --hy)")
    p.add_argument("--hy", help="HY-ESMS base URL (http mode)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        db = open_store(os.path.join(d, "peer.db"))
        t, c = time.perf_counter(), time.process_time()
        if a.zf and a.hy:
            loop = run_http(db, a.zf.rstrip("/"), a.hy.rstrip("/"), a.batch)
        else:
            loop = run_memory(db, a.records, a.batch)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        db.close()
    out = {"records": loop.records, "seconds": seconds, "cpu_seconds": cpu, "invalid": loop.invalid}
    if a.json:
        print(json.dumps(out))
    else:
        mode = "http" if a.zf else "memory"
        print(f"peer ({mode}): {loop.records} records written in {seconds:.2f} s ({loop.records / seconds:.0f}/s, "
              f"CPU {cpu:.2f} s), {loop.invalid} invalid", file=sys.stdout)


if __name__ == "__main__":
    main()
