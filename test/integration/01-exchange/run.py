# SPDX-License-Identifier: Apache-2.0
"""01: two as4d exchange a MedCom message end to end.

ap1 submits a MedCom HospitalNotification with two payloads (the FHIR message, compressed,
and a second document uncompressed) to ap2 over signed and encrypted AS4; ap2's inbox shows it
with byte-identical payloads; both sides show the receipt in the event history. Negative
cases (unknown PMode, bad MIME, oversized body) leave both stores unchanged.
"""
import os
import json
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401,F403


def stored_count(ap):
    """Messages in the store, both directions, through the API."""
    st, doc, raw, _ = ap.api("GET", "/messages?limit=1000", role="reader")
    return doc["count"] if st == 200 else raw

SERVICE = "urn:ehmi:sdn-emergence"
ACTION = ("busdox-docid-qns::urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::"
          "hospitalnotification-message##urn:dk:medcom:fhir:hospitalnotification-message::4.0")

wd = Workdir("01")
aps = []
try:
    p1, p2 = free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    pm = {"medcom-hn.yaml": pmode_yaml("medcom-hn", "ap1", "ap2", SERVICE, ACTION,
                                       extra="  reliability:\n    retries: 2\n"
                                             "    interval: 1s\n")}
    ap1 = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1).start()
    aps.append(ap1)
    ap2 = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2).start()
    aps.append(ap2)

    fhir = read_shared("medcom-examples", "01-hospitalnotification-admit-inpatient.bundle.xml")
    second = read_shared("medcom-examples", "04-acknowledgement-ok.bundle.xml")
    doc = {
        "pmode": "medcom-hn",
        "original_sender": "0088:5790000123117",
        "final_recipient": "0088:5790001382445",
        "properties": [{"name": "trackingIdentifier", "value": "track-01"}],
        "payloads": [
            {"mime_type": "application/fhir+xml", "charset": "UTF-8", "content": b64(fhir),
             "compress": True},
            {"mime_type": "application/xml", "content": b64(second), "compress": False},
        ],
    }
    st, body, raw, _ = ap1.api("POST", "/messages", doc, role="submitter")
    check(st == 202, "submit answers 202 (got %s %s)" % (st, raw[:300]))
    msgid = body["message_id"] if body else ""
    check(body is not None and body.get("state") in ("queued", "sending"),
          "submitted message is queued, or already sending (%s)" % (body or {}).get("state"))

    out = ap1.wait_state(msgid, ("delivered", "failed"), direction="out")
    check(out is not None and out["state"] == "delivered",
          "sender: message delivered (state %s)" % (out or {}).get("state"))
    if out:
        reasons = [e["reason"] for e in out.get("events", [])]
        check(any("receipt verified" in r for r in reasons),
              "sender event history shows the verified receipt: %s" % reasons)
        check(out.get("receipt") is True, "sender stored the receipt")

    inbox = ap2.inbox()
    mine = [m for m in inbox if m["message_id"] == msgid]
    check(len(mine) == 1, "receiver inbox holds the message once")
    if mine:
        m = mine[0]
        check(m["state"] == "received", "receiver state is received")
        check(m["original_sender"] == "0088:5790000123117" and
              m["final_recipient"] == "0088:5790001382445", "four-corner properties kept")
        props = dict((p["name"], p["value"]) for p in m["properties"])
        check(props.get("trackingIdentifier") == "track-01", "trackingIdentifier passes through")
        check(len(m["payloads"]) == 2, "two payloads, in order")
        if len(m["payloads"]) == 2:
            check(m["payloads"][0]["mime_type"] == "application/fhir+xml" and
                  m["payloads"][0]["charset"] == "UTF-8" and m["payloads"][0]["compressed"],
                  "first payload: FHIR XML, charset kept, was compressed on the wire")
            check(m["payloads"][1]["mime_type"] == "application/xml" and
                  not m["payloads"][1]["compressed"], "second payload: not compressed")
            for i, want in enumerate((fhir, second)):
                st, hdrs, data = ap2.http(
                    "GET", "/api/v1/messages/%s/payloads/%d" % (
                        urllib.parse.quote(msgid, safe=""), i),
                    headers={"Authorization": "Bearer " + TOKENS["submitter"]})
                check(st == 200 and data == want,
                      "payload %d bytes identical (%d bytes, sha256 %s)" % (
                          i, len(data), sha256_hex(data)[:16]))
                check(m["payloads"][i]["sha256"] == sha256_hex(want),
                      "payload %d digest recorded" % i)
        rec = ap2.message(msgid, "in")
        reasons = [e["reason"] for e in rec.get("events", [])] if rec else []
        check(rec is not None and rec.get("receipt") is True and len(reasons) >= 1,
              "receiver stored the receipt it sent; events %s" % reasons)

    # acknowledging takes it out of the inbox
    st, body, _, _ = ap2.api("POST", "/messages/%s/ack" % urllib.parse.quote(msgid, safe=""),
                             role="submitter")
    check(st == 200 and body["state"] == "delivered-to-backend", "ack answers 200")
    check(not [m for m in ap2.inbox() if m["message_id"] == msgid], "acked message left inbox")
    st, body, _, _ = ap2.api("POST", "/messages/%s/ack" % urllib.parse.quote(msgid, safe=""),
                             role="submitter")
    check(st == 409, "second ack is a conflict (%s)" % st)

    # the same through multipart/form-data (large payloads are uploaded this way)
    meta = {"pmode": "medcom-hn", "payloads": [{"charset": "UTF-8"}, {"compress": True}]}
    hn = read_shared("medcom-examples", "03-homecareobservation.bundle.xml")
    body, ctype = form_data([("metadata", None, "application/json", json.dumps(meta).encode()),
                             ("payload", "hco.xml", "application/fhir+xml", hn),
                             ("payload", "ack.xml", "application/xml", second)])
    st, doc2, raw, _ = ap1.api("POST", "/messages", raw=body, content_type=ctype,
                               role="submitter")
    check(st == 202, "multipart/form-data submission answers 202 (%s %s)" % (st, raw[:200]))
    msgid2 = doc2["message_id"] if doc2 else ""
    out2 = ap1.wait_state(msgid2, ("delivered", "failed"), direction="out")
    check(out2 is not None and out2["state"] == "delivered", "form-data message delivered")
    got = ap2.message(msgid2, "in")
    if check(got is not None and len(got["payloads"]) == 2, "form-data message received"):
        check(got["payloads"][0]["mime_type"] == "application/fhir+xml" and
              got["payloads"][0]["charset"] == "UTF-8" and
              got["payloads"][0]["sha256"] == sha256_hex(hn) and
              got["payloads"][1]["compressed"] and
              got["payloads"][1]["sha256"] == sha256_hex(second),
              "form-data payload types, order and digests kept")
    body, ctype = form_data([("payload", "x.xml", "application/xml", second)])
    st, doc3, _, _ = ap1.api("POST", "/messages", raw=body, content_type=ctype,
                             role="submitter")
    check(st == 400 and doc3["error"]["field"] == "metadata",
          "form-data without metadata: 400 naming the field")

    # negative cases: nothing stored anywhere
    before1, before2 = ap1.store_files(), ap2.store_files()
    counts = (stored_count(ap1), stored_count(ap2))
    st, body, _, _ = ap1.api("POST", "/messages", dict(doc, pmode="no-such-pmode"),
                             role="submitter")
    check(st == 422 and body["error"]["field"] == "pmode",
          "unknown PMode: 422 naming the field (%s %s)" % (st, body))
    st, hdrs, data = ap2.post_as4(b"--XYZ\r\nContent-Type: text/plain\r\n\r\nbroken",
                                  'multipart/related; boundary="XYZ"; type="application/soap+xml"')
    check(st == 500 and b"EBMS:0" in data and b"Fault" in data,
          "bad MIME: ebMS error with SOAP fault (%s %s)" % (st, data[:200]))
    big = b"x" * (160 * 1024 * 1024)
    try:
        st, hdrs, data = ap2.post_as4(big, "application/soap+xml")
        check(st == 413, "oversized body: 413 (%s)" % st)
    except OSError as e:
        check(True, "oversized body: connection closed before the body was read (%s)" % e)
    del big
    st, body, _, _ = ap1.api("POST", "/messages", {"pmode": "medcom-hn", "payloads": [
        {"mime_type": "not a type", "content": "AAAA"}]}, role="submitter")
    check(st == 400 and body["error"]["field"] == "payloads[0].mime_type",
          "bad MIME type: 400 naming the field")
    st, body, _, _ = ap1.api("POST", "/messages", doc, token="wrong")
    check(st == 401 and body["error"]["code"] == "unauthorized", "wrong token: 401 with reason")
    st, body, _, _ = ap1.api("POST", "/messages", doc, role="reader")
    check(st == 403, "reader may not submit: 403")
    check(ap1.store_files() == before1 and ap2.store_files() == before2,
          "refused requests changed no stored file")
    check((stored_count(ap1), stored_count(ap2)) == counts,
          "and stored no record: records up to store.inline_max live inside LMDB (%s)" %
          (counts,))

    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
    aps = []
finally:
    for ap in aps:
        ap.stop()
    wd.cleanup()
finish()
