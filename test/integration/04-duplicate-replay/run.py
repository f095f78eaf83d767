# SPDX-License-Identifier: Apache-2.0
"""04: duplicate elimination on the receiving side, and delivery to the backend by webhook.

ap1 sends to ap2 through a capturing proxy; ap2 pushes what it receives to the backend's
webhook. A captured message replayed to ap2 (after it reached the backend, while the backend
is down, and eight copies at once) gets the Receipt of the first copy byte for byte, is logged
as a duplicate and never reaches the backend twice. A message ap2 refuses after the security
checks is reported to the backend's notification webhook.
"""
import concurrent.futures
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401,F403
from as4backend import Backend, Capture  # noqa: E402

SERVICE = "urn:as4:test:dup"


def events(doc):
    return [e["reason"] for e in (doc or {}).get("events", [])]


def wait_for(cond, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


wd = Workdir("04")
aps = []
backend = Backend()
try:
    p1, p2 = free_port(), free_port()
    proxy = Capture(p2, os.path.join(wd.pki, "ca.pem"))
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": proxy.url})
    hook = "  webhook: %s\n" % backend.url("/push")
    pm1 = {
        "dup.yaml": pmode_yaml("dup", "ap1", "ap2", SERVICE, "Doc"),
        "parts.yaml": pmode_yaml("parts", "ap1", "ap2", SERVICE, "Parts"),
    }
    pm2 = {
        "dup.yaml": pmode_yaml("dup", "ap1", "ap2", SERVICE, "Doc", extra=hook),
        # ap2 takes one part only: a second part is refused after the security checks
        "parts.yaml": pmode_yaml("parts", "ap1", "ap2", SERVICE, "Parts", extra=hook).replace(
            "    compress: true\n", "    compress: true\n    max_parts: 1\n"),
    }
    ap1 = AccessPoint(wd, "ap1", "ap1", parties, pm1, msh_port=p1).start()
    aps.append(ap1)
    ap2 = AccessPoint(wd, "ap2", "ap2", dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)}),
                      pm2, msh_port=p2,
                      extra_yaml="webhooks:\n  notification_url: %s\n" %
                      backend.url("/notify")).start()
    aps.append(ap2)

    xml = read_shared("medcom-examples", "01-hospitalnotification-admit-inpatient.bundle.xml")
    binary = os.urandom(50000)

    def send(action_pmode, payloads):
        st, body, raw, _ = ap1.api("POST", "/messages", {
            "pmode": action_pmode,
            "payloads": [{"mime_type": t, "content": b64(d)} for t, d in payloads]},
            role="submitter")
        check(st == 202, "submit: 202%s" % ("" if st == 202 else " (%s %s)" % (st, raw[:200])))
        msgid = body["message_id"] if body else ""
        doc = ap1.wait_state(msgid, ("delivered", "failed"), "out")
        return msgid, doc

    def exchange_of(msgid):
        for ctype, body, status, answer in proxy.captured:
            if msgid.encode() in answer:
                return ctype, body, status, answer
        return None

    # -- first copy: delivered, pushed once ------------------------------------------------
    m1, doc = send("dup", [("application/fhir+xml", xml), ("application/octet-stream", binary)])
    check(doc is not None and doc["state"] == "delivered", "first copy delivered")
    first = exchange_of(m1)
    check(first is not None and first[2] == 200, "the proxy captured the message and its Receipt")
    pushed = wait_for(lambda: [p for p in backend.pushes() if p["message_id"] == m1])
    check(len(pushed) == 1, "the backend got the message once by webhook")
    if pushed:
        p = pushed[0]
        check(p["metadata"]["message_id"] == m1 and p["delivery_id"].startswith("msg-"),
              "push metadata names the message, with an idempotency key")
        check([d for _, d in p["payloads"]] == [xml, binary],
              "pushed payload bytes identical and in order")
        check(p["payloads"][0][0].startswith("application/fhir+xml"),
              "payload part carries its MIME type (%s)" % p["payloads"][0][0])
        check([x["sha256"] for x in p["metadata"]["payloads"]] ==
              [hashlib.sha256(xml).hexdigest(), hashlib.sha256(binary).hexdigest()],
              "metadata carries each payload's SHA-256")
    rec = wait_for(lambda: (lambda d: d if d and d["state"] == "delivered-to-backend" else None)(
        ap2.message(m1, "in")))
    check(rec is not None and rec["state"] == "delivered-to-backend",
          "delivered-to-backend once the webhook answered 2xx (%s)" % (rec or {}).get("state"))
    check(rec is not None and any(r.startswith("acknowledged by webhook") for r in events(rec)),
          "the push is in the history: %s" % events(rec))
    check(not [m for m in ap2.inbox() if m["message_id"] == m1], "pushed message left the inbox")

    # -- replay after delivery: same Receipt, not delivered again ----------------------------
    if first:
        st, _, answer = ap2.post_as4(first[1], first[0])
        check(st == 200 and answer == first[3],
              "replayed copy: HTTP 200 with the first copy's Receipt, byte for byte")
        time.sleep(1.0)  # give a wrong second push the time to happen
        check(len([p for p in backend.pushes(accepted=False) if p["message_id"] == m1]) == 1,
              "the duplicate was not pushed again")
        check("duplicate of message" in ap2.log(), "the duplicate is logged")
        st, body, _, _ = ap2.api("GET", "/audit?limit=1000")
        if st != 404:
            entries = (body or {}).get("entries", (body or {}).get("audit", []))
            check(any(e.get("what") == "message.duplicate" and e.get("target") == m1
                      for e in entries), "a duplicate after delivery is in the audit log")

        # eight copies at once: all answered with the same Receipt, still one message
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            answers = list(ex.map(lambda _: ap2.post_as4(first[1], first[0]), range(8)))
        check(all(a[0] == 200 and a[2] == first[3] for a in answers),
              "eight concurrent copies: all get the same Receipt")
        st, body, _, _ = ap2.api("GET", "/messages/%s?direction=in" % urllib.parse.quote(
            m1, safe=""))
        check(st == 200 and body["state"] == "delivered-to-backend",
              "still one message, still delivered-to-backend")

    # -- backend down: failed-to-backend, a duplicate is recorded, one push when it is back --
    backend.status = 503
    m2, doc = send("dup", [("application/xml", b"<second/>")])
    check(doc is not None and doc["state"] == "delivered",
          "sender side is done once the Receipt came back, whatever the backend does")
    rec = wait_for(lambda: (lambda d: d if d and d["state"] == "failed-to-backend" else None)(
        ap2.message(m2, "in")))
    check(rec is not None and any("push to webhook" in r for r in events(rec)),
          "backend down: failed-to-backend with the reason (%s)" % events(rec)[-1:])
    check(rec is not None and "503" in (rec.get("last_error") or {}).get("detail", ""),
          "the backend's answer is the detail (%s)" % (rec or {}).get("last_error"))
    second = exchange_of(m2)
    if second:
        st, _, answer = ap2.post_as4(second[1], second[0])
        check(st == 200 and answer == second[3], "replay while undelivered: same Receipt")
        rec = ap2.message(m2, "in")
        check(any(r.startswith("duplicate received") for r in events(rec)),
              "the duplicate is an event in the message's history")
    backend.status = 200
    got = wait_for(lambda: [p for p in backend.pushes() if p["message_id"] == m2], timeout=60)
    check(len(got) == 1, "backend back: the message is pushed and accepted once")
    rec = wait_for(lambda: (lambda d: d if d and d["state"] == "delivered-to-backend" else None)(
        ap2.message(m2, "in")))
    check(rec is not None, "then delivered-to-backend")
    ids = [m["message_id"] for m in ap2.inbox()]
    check(m1 not in ids and m2 not in ids, "inbox empty of pushed messages")

    # -- a refusal after the security checks is reported to the backend ----------------------
    m3, doc = send("parts", [("application/xml", b"<a/>"), ("application/xml", b"<b/>")])
    code = ((doc or {}).get("last_error") or {}).get("code")
    check(doc is not None and doc["state"] == "failed" and code == "EBMS:0010",
          "ap2 refuses two parts with EBMS:0010 (%s)" % code)
    notes = wait_for(lambda: [n for n in backend.notifications() if n["message_id"] == m3])
    check(len(notes) == 1 and notes[0]["event"] == "message.refused" and
          notes[0]["error"]["code"] == "EBMS:0010" and notes[0]["pmode"] == "parts" and
          notes[0]["from"] == "ap1",
          "ap2's backend is told of the refusal: %s" % notes[:1])
    check(ap2.message(m3, "in") is None, "the refused message is not stored")

    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
    aps = []
finally:
    for ap in aps:
        ap.stop()
    backend.stop()
    wd.cleanup()
finish()
