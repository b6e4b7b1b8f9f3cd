"""Connector `people-py`: the people API of the connector template (`hub plugin new`), in Python.

It proves the `hub:connector` contract language-neutral: built with componentize-py against
wit/connector/v0.1.1 (see `build`), it passes the very fixtures the Rust template passes
(hub/templates/connector/fixtures) under `hub plugin test`.

The system: `GET {base_url}/api/people?after_seq=N&limit=L` lists people changed after change
number N, oldest first; `POST {base_url}/api/people` creates one (201); `PUT .../people/{id}`
with `If-Match: <updated_at>` changes one (200; 412 if changed meanwhile); 422
`{"error", "field"}` refuses one. Every call carries `Authorization: Bearer <api_key>`.
Config `{"base_url": "..."}`; secret `api_key`; the cursor is the last change number, as text.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

WORKERS = "workers"
BASE_URL = ""

# GB 11643-1999: weights of the first 17 characters and the check characters (ISO 7064 MOD 11-2).
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"


def normalise_id(raw):
    """Canonical 18-character identity number: blanks removed, `x` upper-cased, 15-digit
    legacy numbers upgraded (century 19 inserted, check character computed)."""
    s = "".join(raw.split()).upper()
    if len(s) == 15 and s.isdigit():
        first17 = s[:6] + "19" + s[6:]
        s = first17 + CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]
    return s


def valid_id(s):
    return (
        len(s) == 18
        and s[:17].isdigit()
        and CHECK[sum(int(c) * w for c, w in zip(s[:17], WEIGHTS)) % 11] == s[17]
    )


def normalise_mobile(raw):
    """The 11 digits of a mainland mobile number (+86, spaces and dashes dropped), or None."""
    if raw is None:
        return None
    s = "".join(c for c in raw if c not in " -().")
    for prefix in ("+86", "0086", "86"):
        if s.startswith(prefix) and len(s) - len(prefix) == 11:
            s = s[len(prefix):]
    if len(s) == 11 and s.isdigit() and s[0] == "1" and s[1] in "3456789":
        return s
    return None


SEX_TO_GENDER = {"M": "male", "F": "female"}
STATE_TO_STATUS = {"working": "employed", "looking": "seeking", "home": "returned_home"}
STATUS_TO_STATE = {
    "employed": "working",
    "seeking": "looking",
    "left": "looking",
    "returned_home": "home",
    "lost_contact": "home",
}


def to_worker(p):
    """A person as a `worker` record; raises ValueError with the reason when it cannot be one."""
    id_number = normalise_id(p["id_card"])
    if not valid_id(id_number):
        raise ValueError("id_card is not a valid identity number")
    if p["sex"] not in SEX_TO_GENDER:
        raise ValueError("sex %r is neither M nor F" % p["sex"])
    if p["state"] not in STATE_TO_STATUS:
        raise ValueError("state %r is not known" % p["state"])
    return {
        "idNumber": id_number,
        "name": p["full_name"].strip(),
        "gender": SEX_TO_GENDER[p["sex"]],
        "status": STATE_TO_STATUS[p["state"]],
        "phone": normalise_mobile(p.get("mobile")),
    }


def from_worker(w):
    return {
        "id_card": w["idNumber"],
        "full_name": w["name"],
        "sex": "M" if w["gender"] == "male" else "F",
        "mobile": w.get("phone"),
        "state": STATUS_TO_STATE[w["status"]],
    }


def send(method, url, body=None, extra=()):
    """Sends a request through the host; HTTP failures become connector errors."""
    headers = [("authorization", "Bearer {{secret:api_key}}"), ("accept", "application/json")] + list(extra)
    data = b""
    if body is not None:
        headers.append(("content-type", "application/json"))
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        return host.send(host.Request(method=method, url=url, headers=headers, body=data))
    except Err as e:
        # Timeouts and dropped connections may pass; a denied origin is the deployment's.
        err = e.value
        if isinstance(err, (host.HttpError_Timeout, host.HttpError_Connection)):
            raise Err(types.ConnectorError_Transient("HTTP: %s" % err.value))
        if isinstance(err, host.HttpError_Denied):
            raise Err(types.ConnectorError_Config("HTTP denied: %s" % err.value))
        raise Err(types.ConnectorError_Permanent("HTTP: %s" % err.value))


def status_error(what, resp):
    msg = "%s: HTTP %d %s" % (what, resp.status, resp.body[:200].decode("utf-8", "replace"))
    if resp.status in (401, 403):
        return Err(types.ConnectorError_Auth(msg))
    if resp.status in (408, 429) or resp.status >= 500:
        return Err(types.ConnectorError_Transient(msg))
    return Err(types.ConnectorError_Permanent(msg))


def written(resp):
    p = json.loads(resp.body)
    return types.Written(
        remote_id=str(p["id"]), version=p.get("updated_at"), stored=json.dumps(to_worker(p), ensure_ascii=False)
    )


POINTERS = {"mobile": "/phone", "id_card": "/idNumber", "full_name": "/name"}


def write_one(target):
    person = from_worker(json.loads(target.data))
    if target.remote_id is not None:
        url = "%s/api/people/%s" % (BASE_URL, target.remote_id)
        extra = [] if target.version is None else [("if-match", target.version)]
        resp = send("PUT", url, person, extra)
    else:
        resp = send("POST", "%s/api/people" % BASE_URL, person)
    if resp.status == 201:
        return types.WriteResult_Created(written(resp))
    if resp.status == 200:
        return types.WriteResult_Updated(written(resp))
    reason = "write: HTTP %d %s" % (resp.status, resp.body[:200].decode("utf-8", "replace"))
    if resp.status in (409, 412):
        return types.WriteResult_Conflict(reason)
    if resp.status in (400, 422):
        try:
            field = json.loads(resp.body).get("field")
        except ValueError:
            field = None
        return types.WriteResult_Rejected(types.Rejection(reason=reason, pointer=POINTERS.get(field)))
    if resp.status in (408, 429) or resp.status >= 500:
        return types.WriteResult_Retry(reason)
    raise status_error("write", resp)


class Connector(exports.Connector):
    def manifest(self):
        return types.ConnectorManifest(
            name="people-py",
            version="0.1.0",
            system="The people API of the connector template (Python, componentize-py)",
            streams=[
                types.StreamInfo(name=WORKERS, schema="worker", schema_version="1.0.0", can_read=True, can_write=True)
            ],
            hosts=["${base_url}"],
            secrets=["api_key"],
        )

    def open(self, config):
        global BASE_URL
        try:
            BASE_URL = json.loads(config)["base_url"].rstrip("/")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Err(types.ConnectorError_Config("config: base_url (string) is required: %r" % e))

    def check(self):
        resp = send("GET", "%s/api/people?after_seq=0&limit=1" % BASE_URL)
        if resp.status != 200:
            raise status_error("check", resp)

    def read(self, stream, cursor, max):
        if stream != WORKERS:
            raise Err(types.ConnectorError_Unsupported("no stream %r" % stream))
        try:
            after = int(json.loads(cursor)) if cursor is not None else 0
        except ValueError:
            raise Err(types.ConnectorError_Permanent("cursor %r is not one this connector writes" % cursor[:80]))
        limit = min(500, max if max > 0 else 1)  # `max` is the contract's parameter name
        resp = send("GET", "%s/api/people?after_seq=%d&limit=%d" % (BASE_URL, after, limit))
        if resp.status != 200:
            raise status_error("read", resp)
        items = json.loads(resp.body)["items"]
        records = []
        for p in items:
            try:
                worker = to_worker(p)
            except (ValueError, KeyError) as e:
                raise Err(types.ConnectorError_Permanent("person %r: %s" % (p.get("id"), e)))
            records.append(
                types.SourceRecord(
                    data=json.dumps(worker, ensure_ascii=False),
                    remote_id=str(p["id"]),
                    version=p.get("updated_at"),
                    updated_at=p.get("updated_at"),
                    deleted=False,
                )
            )
        cursor = json.dumps(items[-1]["seq"]) if items else None
        return types.Batch(records=records, cursor=cursor, more=len(items) == limit)

    def write(self, stream, records):
        if stream != WORKERS:
            raise Err(types.ConnectorError_Unsupported("no stream %r" % stream))
        out = []
        for r in records:
            try:
                out.append(write_one(r))
            except Err as e:
                # A transient failure of one record is that record's `retry`; others end the call.
                if isinstance(e.value, types.ConnectorError_Transient):
                    out.append(types.WriteResult_Retry(e.value.value))
                else:
                    raise
        return out
