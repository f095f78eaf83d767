# SPDX-License-Identifier: Apache-2.0
"""03: reception awareness on the sending side.

ap1 sends while its receivers are down or misbehave:
- ap2 is down at first: messages go to retrying with an event per failed attempt, and all
  arrive once ap2 comes up; each outcome reaches the backend's notification webhook;
- a PMode with one retry ends in failed with EBMS:0301 after its two attempts, then an admin
  re-queues it (POST /messages/{id}/retry) and it is delivered with a fresh series of attempts;
- ap3 never comes up: failed with EBMS:0301 after 1 + retries attempts, and messages for it
  never hold up messages for ap2;
- a peer answering HTTP 503 without an ebMS Error is retried, then failed with EBMS:0301;
- a peer answering an ebMS Error (no PMode for the message) ends the attempts at once;
- /metrics: as4_retries_total counts the failed attempts that are retried, and
  as4_send_errors_total{code} the failed messages by ebMS code (EBMS:0301, the peer's code).
"""
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401,F403
from as4backend import Backend, Capture  # noqa: E402

SERVICE = "urn:as4:test:retry"


def rel(retries, interval="1s", backoff="constant"):
    return ("  reliability:\n    retries: %d\n    interval: %s\n    backoff: %s\n"
            "    jitter: false\n" % (retries, interval, backoff))


def events(doc):
    return [e["reason"] for e in (doc or {}).get("events", [])]


def q(msgid):
    return urllib.parse.quote(msgid, safe="")


def metrics(ap):
    """GET /metrics as {series: value}."""
    st, _, data = ap.http("GET", "/metrics",
                          headers={"Authorization": "Bearer " + TOKENS["reader"]})
    out = {}
    for line in data.decode().splitlines() if st == 200 else []:
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def send_errors(m):
    return dict((k[len('as4_send_errors_total{code="'):-2], v) for k, v in m.items()
                if k.startswith("as4_send_errors_total{"))


wd = Workdir("03")
aps = []
backend = Backend()
refuser = Capture(free_port(), os.path.join(wd.pki, "ca.pem"), fixed_status=503)
try:
    p1, p2, p3 = free_port(), free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    # ap3 never listens; ap4 answers every request with HTTP 503 (both use ap2's certificate)
    for name, endpoint in (("ap3", https(p3)), ("ap4", refuser.url)):
        parties[name] = {"ids": [("urn:fdc:peppol.eu:2017:identifiers:ap", name)],
                         "endpoint": endpoint, "cert": os.path.join(wd.pki, "ap2.cert.pem")}
    both = {
        "to-ap2.yaml": pmode_yaml("to-ap2", "ap1", "ap2", SERVICE, "Patient", extra=rel(60)),
        "to-ap2-short.yaml": pmode_yaml("to-ap2-short", "ap1", "ap2", SERVICE, "Short",
                                        extra=rel(1)),
    }
    only1 = dict(both)
    only1.update({
        "to-ap3.yaml": pmode_yaml("to-ap3", "ap1", "ap3", SERVICE, "Never", extra=rel(2)),
        "to-ap3-long.yaml": pmode_yaml("to-ap3-long", "ap1", "ap3", SERVICE, "Long",
                                       extra=rel(60)),
        "to-ap4.yaml": pmode_yaml("to-ap4", "ap1", "ap4", SERVICE, "Busy", extra=rel(1)),
        "to-ap2-unknown.yaml": pmode_yaml("to-ap2-unknown", "ap1", "ap2", SERVICE, "Unknown",
                                          extra=rel(5)),
    })
    hooks = "webhooks:\n  notification_url: %s\n" % backend.url("/notify")
    ap1 = AccessPoint(wd, "ap1", "ap1", parties, only1, msh_port=p1, extra_yaml=hooks).start()
    aps.append(ap1)
    ap2 = AccessPoint(wd, "ap2", "ap2", dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)}),
                      both, msh_port=p2)

    def submit(pmode, text=b"<doc/>"):
        st, body, raw, _ = ap1.api("POST", "/messages", {
            "pmode": pmode,
            "payloads": [{"mime_type": "application/xml", "content": b64(text)}]},
            role="submitter")
        check(st == 202, "submit with %s: 202%s" % (pmode, "" if st == 202 else " (%s %s)" % (
            st, raw[:200])))
        return body["message_id"] if body else ""

    m0 = metrics(ap1)
    check(m0.get("as4_retries_total") == 0 and
          send_errors(m0) == {"EBMS:0301": 0, "EBMS:0302": 0},
          "metrics before: no retries, send errors by code all 0 (%s)" % send_errors(m0))

    # -- ap2 down ----------------------------------------------------------------------
    waiting = [submit("to-ap2", b"<doc n='%d'/>" % i) for i in range(3)]
    short = submit("to-ap2-short")
    never = submit("to-ap3")
    busy = submit("to-ap4")

    doc = ap1.wait_state(short, ("failed",), "out")
    check(doc is not None and doc["state"] == "failed" and doc["attempts"] == 2,
          "one retry: failed after 2 attempts (%s, %s)" % ((doc or {}).get("state"),
                                                           (doc or {}).get("attempts")))
    check(doc is not None and (doc.get("last_error") or {}).get("code") == "EBMS:0301",
          "failed with EBMS:0301 (%s)" % (doc or {}).get("last_error"))
    ev = events(doc)
    check(any(r.startswith("attempt 1 failed, retry in 1s") for r in ev) and
          any(r.startswith("no receipt after 2 attempts") for r in ev),
          "every failed attempt is an event with its reason: %s" % ev)
    check([e["to"] for e in doc["events"]][:4] == ["queued", "sending", "retrying", "sending"],
          "transitions queued -> sending -> retrying -> sending -> failed: %s" %
          [e["to"] for e in doc["events"]])

    doc = ap1.wait_state(never, ("failed",), "out")
    check(doc is not None and doc["state"] == "failed" and doc["attempts"] == 3 and
          (doc.get("last_error") or {}).get("code") == "EBMS:0301",
          "peer that never answers: failed with EBMS:0301 after 1 + 2 retries (%s)" %
          ((doc or {}).get("attempts"),))

    doc = ap1.wait_state(busy, ("failed",), "out")
    ev = events(doc)
    detail = (doc or {}).get("last_error") or {}
    check(doc is not None and doc["attempts"] == 2 and detail.get("code") == "EBMS:0301" and
          "503" in (detail.get("detail") or ""),
          "HTTP 503 without an ebMS Error is retried, then EBMS:0301 (%s)" % detail)
    check(len(refuser.captured) == 2, "the 503 peer saw 2 attempts (%d)" % len(refuser.captured))
    # short (1 retry), never (2) and busy (1) failed after their retries; each waiting message
    # has failed at least one attempt and waits for another
    m1 = metrics(ap1)
    check(m1.get("as4_retries_total", 0) >= 4 + len(waiting),
          "as4_retries_total counts every failed attempt to be retried (%s)" %
          m1.get("as4_retries_total"))
    check(send_errors(m1).get("EBMS:0301") == 3 and
          sum(send_errors(m1).values()) == m1.get('as4_sent_total{result="failed"}'),
          "as4_send_errors_total: the 3 failed messages under EBMS:0301 (%s)" % send_errors(m1))

    for m in waiting:
        doc = ap1.message(m, "out")
        check(doc is not None and doc["state"] in ("retrying", "sending") and
              doc["attempts"] >= 1, "ap2 down: %s still being retried (%s, attempts %s)" % (
                  m[:8], (doc or {}).get("state"), (doc or {}).get("attempts")))

    # -- a down peer does not hold up the others -----------------------------------------
    long_ones = [submit("to-ap3-long") for _ in range(20)]
    ap2.start()
    aps.append(ap2)
    late = submit("to-ap2", b"<late/>")
    doc = ap1.wait_state(late, ("delivered", "failed"), "out")
    check(doc is not None and doc["state"] == "delivered",
          "message for ap2 submitted after 20 for ap3 is delivered (%s)" % (doc or {}).get(
              "state"))
    still = [ap1.message(m, "out") for m in long_ones]
    check(all(d is not None and d["state"] in ("queued", "sending", "retrying") for d in still),
          "while the 20 messages for the down peer ap3 are still pending")

    # -- ap2 is back: everything waiting arrives -------------------------------------------
    for m in waiting:
        doc = ap1.wait_state(m, ("delivered", "failed"), "out")
        check(doc is not None and doc["state"] == "delivered" and doc.get("receipt") is True,
              "%s delivered after ap2 returned, receipt stored (attempts %s)" % (
                  m[:8], (doc or {}).get("attempts")))
    got = ap2.inbox()
    ids = [m["message_id"] for m in got]
    check(all(ids.count(m) == 1 for m in waiting + [late]),
          "ap2 holds each of them once (%d in its inbox)" % len(ids))

    # -- an ebMS Error ends the attempts at once --------------------------------------------
    unknown = submit("to-ap2-unknown")
    doc = ap1.wait_state(unknown, ("failed", "delivered"), "out")
    code = ((doc or {}).get("last_error") or {}).get("code")
    check(doc is not None and doc["state"] == "failed" and doc["attempts"] == 1 and
          code == "EBMS:0010",
          "peer's ebMS Error (no PMode matches): failed after 1 attempt with its code (%s)" % code)
    m2 = metrics(ap1)
    check(send_errors(m2).get("EBMS:0010") == 1 and send_errors(m2).get("EBMS:0301") == 3 and
          sum(send_errors(m2).values()) == m2.get('as4_sent_total{result="failed"}'),
          "as4_send_errors_total counts the partner's code (%s)" % send_errors(m2))
    check(m2.get("as4_retries_total", 0) >= m1.get("as4_retries_total", 0),
          "as4_retries_total never goes back")

    # -- admin retry -----------------------------------------------------------------------
    st, body, _, _ = ap1.api("POST", "/messages/%s/retry" % q(short), role="submitter")
    check(st == 403, "retry needs the admin role (%s)" % st)
    st, body, _, _ = ap1.api("POST", "/messages/%s/retry" % q(short), {"reasn": "x"})
    check(st == 400 and body["error"]["field"] == "reasn",
          "retry with an unknown body field: 400 naming it (%s %s)" % (st, body))
    st, body, _, _ = ap1.api("POST", "/messages/%s/retry" % q("no-such@x"))
    check(st == 404, "retry of an unknown message: 404 (%s)" % st)
    st, body, _, _ = ap1.api("POST", "/messages/%s/retry" % q(waiting[0]))
    check(st == 409 and "delivered" in body["error"]["message"],
          "retry of a delivered message: 409 (%s %s)" % (st, body))
    st, body, _, _ = ap1.api("GET", "/messages/%s/retry" % q(short))
    check(st == 405, "retry is a POST (%s)" % st)
    st, body, _, _ = ap1.api("POST", "/messages/%s/retry" % q(short), {"reason": "ap2 is back"})
    check(st == 202 and body["state"] == "queued" and body["previous_state"] == "failed",
          "admin retry: 202, queued (%s %s)" % (st, body))
    doc = ap1.wait_state(short, ("delivered", "failed"), "out")
    ev = events(doc)
    check(doc is not None and doc["state"] == "delivered" and doc["attempts"] == 1,
          "re-queued message delivered at the first attempt of its new series (%s, %s)" % (
              (doc or {}).get("state"), (doc or {}).get("attempts")))
    check(any(r == "re-queued by it-admin: ap2 is back" for r in ev),
          "the re-queueing is in the history: %s" % ev[-4:])
    st, body, _, _ = ap1.api("GET", "/audit?limit=1000")
    if st != 404:
        entries = (body or {}).get("entries", (body or {}).get("audit", []))
        check(st == 200 and any(e.get("what") == "message.retry" and e.get("target") == short
                                 and e.get("who") == "it-admin" for e in entries),
              "the retry is in the audit log (%s)" % st)

    # -- the backend heard of every outcome ----------------------------------------------
    deadline = time.time() + 30
    want = {m: "message.delivered" for m in waiting + [late, short]}
    want.update({never: "message.failed", busy: "message.failed", unknown: "message.failed"})
    while time.time() < deadline:
        seen = dict((n["message_id"], n["event"]) for n in backend.notifications())
        if all(m in seen for m in want):
            break
        time.sleep(0.1)
    notes = backend.notifications()
    for m, ev_name in want.items():
        mine = [n for n in notes if n["message_id"] == m]
        check(any(n["event"] == ev_name for n in mine),
              "notification %s for %s" % (ev_name, m[:8]))
    failed = [n for n in notes if n["message_id"] == never and n["event"] == "message.failed"]
    check(failed and failed[0]["error"]["code"] == "EBMS:0301" and failed[0]["state"] == "failed"
          and failed[0]["attempts"] == 3,
          "the failure notification carries EBMS:0301 and the attempts: %s" % (failed[:1],))
    req = backend.on("/notify")
    check(all(r["headers"].get("content-type") == "application/json" and
              r["headers"].get("x-as4-delivery-id", "").startswith("note-") for r in req),
          "notifications are JSON with an idempotency key")

    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
    aps = []
finally:
    for ap in aps:
        ap.stop()
    backend.stop()
    refuser.stop()
    wd.cleanup()
finish()
