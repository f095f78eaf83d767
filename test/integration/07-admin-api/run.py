# SPDX-License-Identifier: Apache-2.0
"""Administration API against two running as4d: roles, search, evidence, audit, metrics, logs,
limits and the as4ctl online commands.

- Every endpoint is allowed to the roles it names and refused (403) to lower ones, and 401
  without a token; a token limited to one PMode sees only that PMode's messages.
- A submitter token sees the outbound messages it submitted and the inbound ones of its
  PModes/parties (two unrestricted submitters and one limited to a party); any other message
  is 404, as an unknown id.
- Search: each filter finds exactly the messages it should; paging with limit=1 visits every
  message once; bad arguments are named.
- Deleting a message's payloads keeps its metadata, events, Receipt and raw message.
- Audit entries are written for every admin action, with who and what.
- /metrics reflects a known exchange (deltas: sent, received, refused by code, by PMode,
  latency histogram counts, certificates); /status and /ready agree.
- The log level changes at runtime; message lines carry message_id, pmode and peer; no payload
  byte is ever logged.
- Request limits: oversized bodies and over-deep JSON are refused with 413.
- as4ctl: send --wait, ping, messages, show, status, pmode, certs and their exit codes.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401

ROLE_RANK = {"reader": 0, "submitter": 1, "admin": 2}
MARKER = b"PAYLOAD-SECRET-0123456789"


def q(s):
    return urllib.parse.quote(s, safe="")


def metrics(ap):
    st, _, data = ap.http("GET", "/metrics",
                          headers={"Authorization": "Bearer " + TOKENS["reader"]})
    out = {}
    for line in data.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def mval(m, name):
    return m.get(name, 0.0)


def main():
    wd = Workdir("admin-api")
    p1, p2 = free_port(), free_port()
    dead = free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    parties["ap3"] = {"ids": [("urn:fdc:peppol.eu:2017:identifiers:ap", "ap3")],
                      "endpoint": "https://127.0.0.1:%d/as4" % dead,
                      "cert": os.path.join(wd.pki, "ap2.cert.pem")}
    pm1 = {
        "hn.yaml": pmode_yaml("hn", "ap1", "ap2", "urn:svc:a", "urn:act:a"),
        "ref.yaml": pmode_yaml("ref", "ap1", "ap2", "urn:svc:b", "urn:act:b"),
        "hn-back.yaml": pmode_yaml("hn-back", "ap2", "ap1", "urn:svc:a", "urn:act:a"),
        "to-dead.yaml": pmode_yaml("to-dead", "ap1", "ap3", "urn:svc:a", "urn:act:dead",
                                   extra="  reliability:\n    retries: 0\n"),
    }
    pm2 = {k: v for k, v in pm1.items() if k != "to-dead.yaml"}
    limits = "limits:\n  max_api_body: 64K\n  max_api_upload: 256K\n  max_json_depth: 8\n"
    a = AccessPoint(wd, "ap1", "ap1", parties, pm1, msh_port=p1, extra_yaml=limits)
    b = AccessPoint(wd, "ap2", "ap2", parties, pm2, msh_port=p2)
    with open(a.config) as f:
        text = f.read()
    text = text.replace("  tokens:\n", "  tokens:\n    - name: it-narrow\n      role: submitter\n"
                        "      sha256: %s\n      pmodes: [hn-back]\n" % token_hash("it-narrow-token")
                        + "    - name: it-sub2\n      role: submitter\n      sha256: %s\n"
                        % token_hash("it-sub2-token")
                        + "    - name: it-party\n      role: submitter\n      sha256: %s\n"
                        "      parties: [ap2]\n" % token_hash("it-party-token"),
                        1)
    with open(a.config, "w") as f:
        f.write(text)
    try:
        a.start()
        b.start()
        scenario(wd, a, b)
    finally:
        rc_a = a.stop()
        rc_b = b.stop()
        check(rc_a == 0 and rc_b == 0, "both daemons stop cleanly (%s, %s)" % (rc_a, rc_b))
        wd.cleanup()
    finish()


def submit(ap, pmode, content=b"<doc/>", role="submitter", token=None, **extra):
    doc = {"pmode": pmode, "payloads": [{"mime_type": "application/xml", "content": b64(content)}]}
    doc.update(extra)
    st, d, raw, _ = ap.api("POST", "/messages", doc, role=role, token=token)
    if not check(st == 202, "submit with %s: %s" % (pmode, raw[:200])):
        return None
    return d["message_id"]


def scenario(wd, a, b):
    m0a = metrics(a)
    m0b = metrics(b)

    # --- a known exchange: 3 out on hn, 1 on ref, 2 in from ap2, 1 to a dead peer ---------------
    conv = "conv-admin-1"
    out_ids = [submit(a, "hn", MARKER + b"%d" % i, conversation_id=conv,
                      original_sender="0088:5790000000012") for i in range(3)]
    ref_id = submit(a, "ref")
    in_ids = [submit(b, "hn-back", b"<in%d/>" % i) for i in range(2)]
    dead_id = submit(a, "to-dead")
    for mid in out_ids + [ref_id]:
        d = a.wait_state(mid, ["delivered", "failed"])
        check(d is not None and d["state"] == "delivered", "%s delivered" % mid)
    for mid in in_ids:
        d = a.wait_state(mid, ["received"], direction="in")
        check(d is not None, "%s received at ap1" % mid)
    d = a.wait_state(dead_id, ["failed"])
    check(d is not None and d["state"] == "failed" and d["last_error"]["code"] == "EBMS:0301",
          "message to a dead peer failed with EBMS:0301: %s" % (d or {}).get("last_error"))
    # a refused request at ap2
    st, _, _ = b.post_as4(b"<not-soap/>", "application/soap+xml")
    check(st == 500, "garbage on /as4 is answered with an ebMS error (HTTP %d)" % st)

    # --- metrics reflect it --------------------------------------------------------------------
    m1a = metrics(a)
    m1b = metrics(b)
    check(mval(m1a, 'as4_sent_total{result="delivered"}') - mval(m0a, 'as4_sent_total{result="delivered"}') == 4,
          "ap1 counts 4 delivered")
    check(mval(m1a, 'as4_sent_total{result="failed"}') - mval(m0a, 'as4_sent_total{result="failed"}') == 1,
          "ap1 counts 1 failed")
    check(mval(m1a, 'as4_messages_by_pmode{pmode="hn",direction="out",state="delivered"}') == 3,
          "ap1: 3 delivered with PMode hn")
    check(mval(m1a, 'as4_messages_by_pmode{pmode="ref",direction="out",state="delivered"}') == 1,
          "ap1: 1 delivered with PMode ref")
    check(mval(m1a, 'as4_messages_by_pmode{pmode="to-dead",direction="out",state="failed"}') == 1,
          "ap1: 1 failed with PMode to-dead")
    check(mval(m1a, 'as4_send_errors_total{code="EBMS:0301"}') -
          mval(m0a, 'as4_send_errors_total{code="EBMS:0301"}') == 1,
          "ap1 counts the failure to the dead peer under as4_send_errors_total EBMS:0301")
    check(mval(m1a, 'as4_messages{direction="in",state="received"}') == 2,
          "ap1: 2 received, not acknowledged")
    check(mval(m1a, 'as4_queue_depth{queue="inbox"}') == 2, "ap1 inbox depth 2")
    check(mval(m1a, "as4_send_latency_seconds_count") - mval(m0a, "as4_send_latency_seconds_count") >= 4,
          "send latency histogram counted the attempts")
    check(mval(m1a, 'as4_send_latency_seconds_bucket{le="+Inf"}') == mval(m1a, "as4_send_latency_seconds_count"),
          "the +Inf bucket equals the count")
    check(mval(m1b, 'as4_received_total{result="stored"}') - mval(m0b, 'as4_received_total{result="stored"}') == 4,
          "ap2 stored 4")
    check(mval(m1b, 'as4_received_total{result="refused"}') - mval(m0b, 'as4_received_total{result="refused"}') == 1,
          "ap2 refused 1")
    refused_by_code = sum(v for k, v in m1b.items() if k.startswith("as4_receive_errors_total"))
    check(refused_by_code == mval(m1b, 'as4_received_total{result="refused"}'),
          "ap2's refusals are all counted by ebMS code")
    check(mval(m1b, "as4_receive_latency_seconds_count") >= 4, "receive latency counted")
    check(any(k.startswith('as4_certificate_expiry_days{group="keystore",name="signing"') and v > 300
              for k, v in m1a.items()), "certificate days to expiry for the signing key")
    check(mval(m1a, "as4_store_map_used_bytes") > 0 and 0 < mval(m1a, "as4_store_map_used_ratio") < 1,
          "store map usage")
    st, hdrs, _ = a.http("GET", "/metrics", headers={"Authorization": "Bearer " + TOKENS["reader"]})
    check(hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
          "metrics in the Prometheus text format")

    # --- status and ready ----------------------------------------------------------------------
    st, s, _, _ = a.api("GET", "/status", role="reader")
    check(st == 200 and s["queues"]["delivered"] == 4 and s["queues"]["failed"] == 1
          and s["queues"]["received"] == 2, "status queues: %s" % (s or {}).get("queues"))
    check(s["oldest_queued"] is None, "nothing waits to be sent")
    st, r, _, _ = a.api("GET", "/ready", token="")
    check(st == 200 and r["ready"] and all(c["ok"] for c in r["checks"]), "ready")

    # --- roles -------------------------------------------------------------------------------------
    mid = out_ids[0]
    mp = "/messages/" + q(mid)
    bad_pmode = {"pmode": {"initiator": "ap1"}}
    # (method, path, body, least role, the status every allowed role gets)
    endpoints = [
        ("GET", "/status", None, "reader", 200),
        ("GET", "/messages", None, "reader", 200),
        ("GET", mp, None, "reader", 200),
        ("GET", mp + "/receipt", None, "reader", 200),
        ("GET", mp + "/raw", None, "admin", 200),
        ("GET", mp + "/payloads/0", None, "submitter", 200),
        ("DELETE", "/messages/nonexistent/payloads", None, "admin", 404),
        ("POST", "/messages", {"pmode": "nope"}, "submitter", 422),
        ("GET", "/inbox", None, "submitter", 200),
        ("POST", "/messages/nonexistent/ack", None, "submitter", 404),
        ("POST", "/messages/nonexistent/retry", None, "admin", 404),
        ("POST", "/test", {"party": "nobody"}, "submitter", 422),
        ("GET", "/pmodes", None, "reader", 200),
        ("GET", "/pmodes/hn", None, "reader", 200),
        ("POST", "/pmodes", bad_pmode, "admin", 422),
        ("POST", "/pmodes/validate", bad_pmode, "admin", 422),
        ("PUT", "/pmodes/hn", bad_pmode, "admin", 422),
        ("DELETE", "/pmodes/nonexistent", None, "admin", 404),
        ("GET", "/certificates", None, "reader", 200),
        ("POST", "/certificates/trust", {"store": "as4", "certificate": "x"}, "admin", 422),
        ("DELETE", "/certificates/trust/as4/" + "0" * 64, None, "admin", 404),
        ("POST", "/certificates/keystore", {"key": "x", "certificate": "y"}, "admin", 422),
        ("DELETE", "/certificates/keystore/old/none", None, "admin", 404),
        ("GET", "/audit", None, "admin", 200),
        ("GET", "/log", None, "reader", 200),
        ("PUT", "/log", {"level": "loud"}, "admin", 422),
        ("GET", "/participants", None, "reader", 200),
    ]
    for method, path, doc, need, want in endpoints:
        st, _, _, _ = a.api(method, path, doc, token="")
        check(st == 401, "%s %s without a token: 401 (%d)" % (method, path, st))
        for role in ("reader", "submitter", "admin"):
            st, d, raw, _ = a.api(method, path, doc, role=role)
            if ROLE_RANK[role] >= ROLE_RANK[need]:
                # allowed: the handler ran and gave its own answer (not a refusal, not a 500)
                check(st == want, "%s %s as %s: allowed, %d (%d %s)" % (
                    method, path, role, want, st, raw[:120] if st != want else ""))
            else:
                check(st == 403 and d["error"]["code"] == "forbidden",
                      "%s %s as %s: 403 (%d %s)" % (method, path, role, st, raw[:120]))
    st, h, _ = a.http("GET", "/metrics")
    check(st == 401, "metrics need a token")
    # a token limited to PMode hn-back sees the received messages only
    st, d, _, _ = a.api("GET", "/messages", token="it-narrow-token")
    pmodes = set(m["pmode"] for m in d["messages"])
    check(st == 200 and pmodes == {"hn-back"} and d["count"] == 2,
          "the narrow token sees its own PMode only: %s" % pmodes)
    st, d, _, _ = a.api("GET", mp, token="it-narrow-token")
    check(st == 404 and d["error"]["code"] == "not_found",
          "and another PMode's message does not exist for it (404, %d)" % st)
    st, _, _, _ = a.api("POST", "/messages", {"pmode": "hn", "payloads": []},
                        token="it-narrow-token")
    check(st == 403, "and may not submit with another PMode")

    # --- search ------------------------------------------------------------------------------------
    def search(query, role="reader"):
        st, d, raw, _ = a.api("GET", "/messages?" + query, role=role)
        check(st == 200, "search %s: %s" % (query, raw[:200] if st != 200 else ""))
        return set(m["message_id"] for m in d["messages"]) if st == 200 else set()

    everything = set(out_ids + [ref_id, dead_id] + in_ids)
    check(search("limit=100") == everything, "no filter: all 7 messages")
    check(search("direction=out") == set(out_ids + [ref_id, dead_id]), "direction=out")
    check(search("direction=in") == set(in_ids), "direction=in")
    check(search("state=failed") == {dead_id}, "state=failed")
    check(search("ebms_error=EBMS:0301") == {dead_id}, "ebms_error=EBMS:0301")
    check(search("action=urn:act:b") == {ref_id}, "action")
    check(search("service=urn:svc:a&direction=out") == set(out_ids + [dead_id]), "service + direction")
    check(search("conversation_id=" + conv) == set(out_ids), "conversation_id")
    check(search("message_id=" + q(ref_id)) == {ref_id}, "message_id")
    check(search("original_sender=0088:5790000000012") == set(out_ids), "original_sender")
    check(search("party=ap3") == {dead_id}, "party (to)")
    check(search("from_party=ap2") == set(in_ids), "from_party")
    check(search("since=2000-01-01&until=2999-01-01") == everything, "time range around all")
    check(search("until=2000-01-01") == set(), "time range before all")
    seen, cursor, pages = [], "", 0
    while True:
        st, d, _, _ = a.api("GET", "/messages?limit=1&cursor=" + q(cursor), role="reader")
        seen += [m["message_id"] for m in d["messages"]]
        pages += 1
        cursor = d["next_cursor"]
        if not cursor or pages > 20:
            break
    check(sorted(seen) == sorted(everything) and len(seen) == len(set(seen)),
          "paging with limit=1 visits every message once (%d pages)" % pages)
    times = [m["created"] for m in a.api("GET", "/messages", role="reader")[1]["messages"]]
    check(times == sorted(times, reverse=True), "newest first")
    for query, field in (("stat=failed", "stat"), ("state=flying", "state"),
                         ("direction=in&state=failed", "state"), ("since=yesterday", "since"),
                         ("since=2030-01-01&until=2020-01-01", "since"), ("limit=0", "limit"),
                         ("ebms_error=301", "ebms_error"), ("gln=123", "gln"),
                         ("cursor=garbage", "cursor"), ("party=", "party"),
                         ("state=failed&state=queued", "state")):
        st, d, _, _ = a.api("GET", "/messages?" + query, role="reader")
        check(st == 400 and d["error"].get("field") == field,
              "search %s: 400 naming %s (%d %s)" % (query, field, st, d))

    # --- a submitter's own messages ----------------------------------------------------------------
    # it-submitter submitted everything outbound above; it-sub2 (unrestricted) and it-party
    # (parties: [ap2]) submit one each. A submitter sees the outbound messages it submitted and
    # the inbound ones of its parties/PModes; any other message is 404, as an unknown id is.
    sub2_id = submit(a, "ref", b"<sub2/>", role=None, token="it-sub2-token")
    party_id = submit(a, "hn", b"<party/>", role=None, token="it-party-token")
    st, _, _, _ = a.api("POST", "/messages", {"pmode": "to-dead", "payloads": []},
                        token="it-party-token")
    check(st == 403, "the party-limited token may not send to ap3 (%d)" % st)
    for mid_ in (sub2_id, party_id):
        a.wait_state(mid_, ["delivered", "failed"])

    def sees(token):
        st, d, raw, _ = a.api("GET", "/messages?limit=100", token=token)
        check(st == 200, "search as %s: %s" % (token, raw[:200] if st != 200 else ""))
        return set(m["message_id"] for m in d["messages"]) if st == 200 else set()

    check(search("limit=100") == everything | {sub2_id, party_id},
          "a reader still sees every message")
    check(sees(TOKENS["submitter"]) == everything,
          "it-submitter sees what it submitted and the inbound messages, not the others'")
    check(sees("it-sub2-token") == {sub2_id} | set(in_ids),
          "it-sub2 sees its own submission and the inbound messages")
    check(sees("it-party-token") == {party_id} | set(in_ids),
          "it-party (parties: [ap2]) sees its own submission and the inbound ones from ap2")
    st, d, _, _ = a.api("GET", "/messages/" + q(sub2_id), token="it-sub2-token")
    check(st == 200 and d["submitted_by"] == "it-sub2", "its own message, with submitted_by")
    for token, other in (("it-sub2-token", out_ids[1]), ("it-sub2-token", party_id),
                         ("it-party-token", out_ids[1]), ("it-party-token", dead_id),
                         (TOKENS["submitter"], sub2_id)):
        for sub in ("", "/payloads/0", "/receipt"):
            st, d, _, _ = a.api("GET", "/messages/" + q(other) + sub, token=token)
            check(st == 404 and d["error"]["code"] == "not_found",
                  "%s: GET another token's message%s is 404 (%d)" % (token, sub, st))
    st, d, _, _ = a.api("GET", "/messages?message_id=" + q(out_ids[1]), token="it-sub2-token")
    check(st == 200 and d["count"] == 0, "a search by another token's message id finds nothing")
    st, d, _, _ = a.api("GET", "/messages/" + q(in_ids[0]) + "?direction=in",
                        token="it-party-token")
    check(st == 200, "it-party reads an inbound message from ap2 (%d)" % st)
    st, _, _, _ = a.api("GET", "/messages/" + q(sub2_id), role="reader")
    check(st == 200, "a reader reads any message")

    # --- one message: receipt, raw, errors ---------------------------------------------------------
    st, d, _, _ = a.api("GET", mp, role="reader")
    ri = d["receipt_info"]
    check(ri is not None and ri["readable"] and ri["kind"] == "receipt" and ri["signed"]
          and ri["non_repudiation_references"] >= 3, "receipt details: %s" % ri)
    # the sender shows the summary kept at delivery, the receiver parses the Receipt it sent
    # back (the same bytes): both must say the same
    st, d2, _, _ = b.api("GET", mp + "?direction=in", role="reader")
    ri2 = d2["receipt_info"]
    check(st == 200 and ri2 is not None and
          {k: v for k, v in ri.items() if k != "download"} ==
          {k: v for k, v in ri2.items() if k != "download"} and
          list(ri.keys()) == list(ri2.keys()),
          "the stored summary says what parsing the Receipt says: %s / %s" % (ri, ri2))
    check(d["raw"]["available"] and d["raw"]["size"] > 0, "raw message available")
    st, h, raw = a.http("GET", "/api/v1" + mp + "/receipt",
                        headers={"Authorization": "Bearer " + TOKENS["reader"]})
    check(st == 200 and b"Receipt" in raw and ri["message_id"].encode() in raw,
          "the receipt download is the stored signed Receipt")
    st, h, raw = a.http("GET", "/api/v1" + mp + "/raw",
                        headers={"Authorization": "Bearer " + TOKENS["admin"]})
    check(st == 200 and h["content-type"].startswith("application/soap+xml") and
          mid.encode() in raw and b"Signature" in raw, "the raw download is the signed envelope")
    st, d, _, _ = a.api("GET", "/messages/" + q(dead_id), role="reader")
    errs = d["errors"]
    check(len(errs) == 1 and errs[0]["code"] == "EBMS:0301" and
          errs[0]["short_description"] == "MissingReceipt" and "detail" in errs[0],
          "failed message lists its ebMS error: %s" % errs)
    check(d["receipt_info"] is None and not d["raw"]["available"], "and has no evidence")

    # --- deleting payloads keeps the evidence ------------------------------------------------------
    st, d, _, _ = a.api("DELETE", mp + "/payloads")
    check(st == 200 and d["payloads_deleted"] == 1 and d["audit"] == "recorded", "payloads deleted")
    st, d, _, _ = a.api("GET", mp, role="reader")
    check(not d["payloads"][0]["available"] and d["payloads"][0]["size"] > 0 and
          d["payloads_deleted"] is not None and d["receipt"] and d["raw"]["available"],
          "metadata, size, receipt and raw stay")
    check("payloads deleted by it-admin" in [e["reason"] for e in d["events"]],
          "an event records who deleted them")
    st, _, _ = a.http("GET", "/api/v1" + mp + "/payloads/0",
                      headers={"Authorization": "Bearer " + TOKENS["submitter"]})
    check(st == 410, "the payload answers 410")
    st, _, raw = a.http("GET", "/api/v1" + mp + "/receipt",
                        headers={"Authorization": "Bearer " + TOKENS["reader"]})
    check(st == 200, "the receipt is still there")
    st, d, _, _ = a.api("DELETE", "/messages/%s/payloads?direction=in" % q(in_ids[0]))
    check(st == 409 and "acknowledged" in d["error"]["message"],
          "an unacknowledged received message keeps its payloads")
    st, d, _, _ = a.api("DELETE", "/messages/%s/payloads?direction=in&force=true" % q(in_ids[0]))
    check(st == 200 and d["payloads_deleted"] == 1, "unless forced")

    # --- log level and log contents ------------------------------------------------------------------
    st, d, _, _ = a.api("PUT", "/log", {"level": "warning"})
    check(st == 200 and d["previous"] == "info" and d["level"] == "warning", "log level -> warning")
    before = len(a.log())
    quiet_id = submit(a, "hn", b"<quiet/>")
    a.wait_state(quiet_id, ["delivered"])
    check(quiet_id not in a.log()[before:], "info lines are not written at level warning")
    st, d, _, _ = a.api("PUT", "/log", {"level": "info"})
    loud_id = submit(a, "hn", b"<loud/>")
    a.wait_state(loud_id, ["delivered"])
    lines = [l for l in a.log().splitlines() if loud_id in l]
    check(len(lines) >= 2 and all("message_id=" + loud_id in l and "pmode=hn" in l and "peer=" in l
                                  for l in lines), "message lines carry message_id, pmode, peer")
    check(MARKER.decode() not in a.log() and MARKER.decode() not in b.log(),
          "no payload bytes in the logs")
    st, d, _, _ = a.api("GET", "/log", role="reader")
    check(d["level"] == "info", "GET /log")

    # --- limits --------------------------------------------------------------------------------------
    deep = "[" * 20 + "]" * 20
    st, d, _, _ = a.api("POST", "/messages", raw=('{"pmode": "hn", "x": %s}' % deep).encode(),
                        role="submitter")
    check(st == 413 and "deeper" in d["error"]["message"], "over-deep JSON: 413 (%d)" % st)
    st, d, _, _ = a.api("POST", "/messages", raw=b"{" + b" " * (300 * 1024) + b"}",
                        role="submitter")
    check(st == 413, "a body over limits.max_api_upload: 413 (%d)" % st)
    st, d, _, _ = a.api("PUT", "/log", raw=b'{"level": "info"' + b" " * (70 * 1024) + b"}")
    check(st == 413, "a JSON body over limits.max_api_body: 413 (%d)" % st)
    st, d, _, _ = a.api("POST", "/test", raw=b'{"party": "ap2", "party": "ap3"}')
    check(st == 400, "duplicate JSON keys: 400 (%d)" % st)

    # --- the test service ------------------------------------------------------------------------------
    st, d, _, _ = a.api("POST", "/test", {"party": "ap2"}, role="submitter")
    check(st == 200 and d["ok"] and d["receipt"]["signed"] and d["pmode"] in ("hn", "ref"),
          "ping ap2: receipt (%s)" % d)
    st, d, _, _ = a.api("POST", "/test", {"pmode": "to-dead"})
    check(st == 200 and not d["ok"] and d["result"] == "failed" and
          d["error"]["reason"] == "connection failure", "ping a dead peer: %s" % d.get("error"))
    st, d, _, _ = a.api("POST", "/test", {"pmode": "hn-back"})
    check(st == 422 and d["error"]["field"] == "pmode", "a PMode that does not send from here")
    n_in = len(b.inbox())
    check(n_in == 0 or all(m["service"]["value"] != "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/service"
                           for m in b.inbox()), "test messages never reach ap2's backend")

    # --- audit -----------------------------------------------------------------------------------------
    st, d, _, _ = a.api("GET", "/audit?limit=1000")
    entries = d["entries"]
    by_what = {}
    for e in entries:
        by_what.setdefault(e["what"], []).append(e)
    check("message.payloads.delete" in by_what and by_what["message.payloads.delete"][0]["who"] == "it-admin"
          and by_what["message.payloads.delete"][0]["target"] == mid, "audit: payload deletion with who and target")
    check(len(by_what.get("log.level", [])) == 2 and by_what["log.level"][0]["detail"] == "info -> warning",
          "audit: log level changes")
    seqs = [e["seq"] for e in entries]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "audit entries in order")
    st, d, _, _ = a.api("GET", "/audit?after=%d&limit=1" % seqs[0])
    check(st == 200 and len(d["entries"]) == 1 and d["entries"][0]["seq"] == seqs[1], "audit paging")

    # --- as4ctl ----------------------------------------------------------------------------------------
    env = dict(os.environ, AS4CTL_URL="http://127.0.0.1:%d" % a.api_port,
               AS4CTL_TOKEN=TOKENS["admin"])
    env.pop("AS4CTL_TOKEN_FILE", None)

    def ctl(*args, env_=None):
        return subprocess.run([os.path.join(BIN, "as4ctl")] + list(args), capture_output=True,
                              text=True, env=env_ or env, timeout=120)

    f = os.path.join(wd.path, "doc.xml")
    with open(f, "w") as fh:
        fh.write("<doc>as4ctl</doc>")
    p = ctl("send", "--pmode", "hn", "--wait", f)
    check(p.returncode == 0 and "delivered" in p.stdout, "as4ctl send --wait: %s %s" % (p.stdout.strip()[-120:], p.stderr.strip()[:200]))
    p = ctl("send", "--pmode", "to-dead", "--wait", f)
    check(p.returncode == 1 and "EBMS:0301" in p.stdout, "as4ctl send --wait to a dead peer: exit 1")
    p = ctl("ping", "ap2")
    check(p.returncode == 0 and p.stdout.startswith("receipt from ap2"), "as4ctl ping ap2: %s" % p.stdout.strip()[:200])
    p = ctl("ping", "ap2", "--pmode", "to-dead")
    check(p.returncode == 1, "as4ctl ping with a PMode to another party: exit 1 (%s)" % p.stderr.strip()[:200])
    p = ctl("messages", "--state", "failed", "--json")
    ids = [m["message_id"] for m in json.loads(p.stdout)["messages"]] if p.returncode == 0 else []
    check(dead_id in ids, "as4ctl messages --state failed --json")
    p = ctl("messages", "--direction", "in")
    check(p.returncode == 0 and in_ids[1] in p.stdout and "2 messages" in p.stdout, "as4ctl messages table")
    p = ctl("messages", "--state", "sideways")
    check(p.returncode == 1 and "field state" in p.stderr, "as4ctl messages with a bad state: exit 1")
    p = ctl("messages", "--bogus")
    check(p.returncode == 2, "as4ctl messages --bogus: exit 2")
    p = ctl("show", dead_id)
    check(p.returncode == 0 and "EBMS:0301" in p.stdout and "events:" in p.stdout, "as4ctl show")
    p = ctl("show", "nope@x")
    check(p.returncode == 1 and "404" in p.stderr, "as4ctl show of an unknown id: exit 1")
    p = ctl("status")
    check(p.returncode == 0 and "queues" in p.stdout, "as4ctl status")
    p = ctl("status", "--url", "http://127.0.0.1:%d" % free_port())
    check(p.returncode == 3, "as4ctl status against a closed port: exit 3")
    noenv = dict(env)
    noenv.pop("AS4CTL_TOKEN")
    p = ctl("status", env_=noenv)
    check(p.returncode == 2 and "AS4CTL_TOKEN" in p.stderr, "as4ctl without a token: exit 2")
    tf = os.path.join(wd.path, "token")
    with open(tf, "w") as fh:
        fh.write(TOKENS["reader"] + "\n")
    p = ctl("status", "--token-file", tf, env_=noenv)
    check(p.returncode == 0, "as4ctl --token-file")
    p = ctl("pmode", "list", "--token-file", tf, env_=noenv)
    check(p.returncode == 0 and "to-dead" in p.stdout, "as4ctl pmode list")
    p = ctl("pmode", "get", "hn", "--token-file", tf, env_=noenv)
    check(p.returncode == 0 and json.loads(p.stdout)["pmode"]["id"] == "hn", "as4ctl pmode get")
    good = os.path.join(wd.path, "cli-new.yaml")
    with open(good, "w") as fh:
        fh.write("pmode:\n  initiator: ap1\n  responder: ap2\n  service: urn:svc:c\n  action: urn:act:c\n")
    bad = os.path.join(wd.path, "cli-bad.yaml")
    with open(bad, "w") as fh:
        fh.write("pmode:\n  initiator: ap1\n  responder: nobody\n  service: x\n  action: y\n")
    p = ctl("pmode", "validate", "--online", good)
    check(p.returncode == 0 and "would create" in p.stdout, "as4ctl pmode validate --online")
    p = ctl("pmode", "validate", "--online", bad)
    check(p.returncode == 1 and "pmode.responder" in p.stderr, "invalid file: exit 1 naming the key")
    p = ctl("pmode", "apply", good)
    check(p.returncode == 0 and "'cli-new' created" in p.stdout, "as4ctl pmode apply (create)")
    p = ctl("pmode", "apply", good)
    check(p.returncode == 0 and "replaced" in p.stdout, "as4ctl pmode apply (replace)")
    p = ctl("pmode", "apply", good, "--token-file", tf, env_=noenv)
    check(p.returncode == 1 and "403" in p.stderr, "as4ctl pmode apply as reader: exit 1")
    p = ctl("pmode", "delete", "cli-new")
    check(p.returncode == 0, "as4ctl pmode delete")
    p = ctl("certs", "list")
    check(p.returncode == 0 and "signing" in p.stdout and "trust.as4" in p.stdout, "as4ctl certs list")
    p = ctl("retry", dead_id)
    check(p.returncode == 0, "as4ctl retry of the failed message: %s" % p.stderr.strip()[:200])
    deadline = time.time() + 60
    claims = []
    while time.time() < deadline:
        d = a.message(dead_id)
        claims = [e for e in d["events"] if e["reason"].startswith("claimed for attempt")]
        if len(claims) >= 2 and d["state"] == "failed":
            break
        time.sleep(0.1)
    check(len(claims) >= 2, "the retried message was attempted again (%d claims)" % len(claims))


if __name__ == "__main__":
    main()
