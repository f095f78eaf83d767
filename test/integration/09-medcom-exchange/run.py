# SPDX-License-Identifier: Apache-2.0
"""09: the MedCom examples in ehmiSBDH envelopes between two access points (static PModes).

Each MedCom example (HospitalNotification XML, CareCommunication JSON, HomeCareObservation,
Acknowledgement) is wrapped by `as4ctl sbdh wrap` and submitted to ap1 as application/xml
with no routing fields; ap1 reads Sender/Receiver/DOCUMENTID/PROCESSID, picks the PMode and
sets originalSender/finalRecipient; ap2's inbox holds the envelope byte for byte, its FHIR
content identical to the example, with the SBDH InstanceIdentifier and the MedCom message id.

Refusals, each with its documented code and stored nowhere:
  - a wrong GLN check digit (as4ctl wrap exit 1; API 422 invalid_gln);
  - an envelope without DOCUMENTID (API 422 invalid_sbdh) and one over medcom.max_payload
    (API 413);
  - an unknown receiver: ap2 answers EBMS:0010 naming it, ap1 marks the message failed;
  - a finalRecipient that differs from the SBDH Receiver, or an originalSender that differs
    from the SBDH Sender: ap2 answers EBMS:0003 naming both;
  - an oversize envelope reaching ap2: EBMS:0004 naming the limit.
"Stored nowhere" is checked on the files under data/ and on the message counts of the API
(small records live inside LMDB). `as4ctl sbdh inspect --config` refuses (exit 1, text and
--json) what the API would refuse for that configuration: a DOCUMENTID not configured, a
Sender not served; usage errors exit 2.
The same envelope submitted twice is a 409 naming the first message; the same InstanceIdentifier
received in a new AS4 message is accepted and reported in its history.
"""
import base64
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401,F403
from as4backend import Backend  # noqa: E402

SENDER = "5790000121526"      # ap1 serves it (C1)
RECEIVER = "5790000201389"    # ap2 serves it (C4)
NOT_SERVED = "5790001382445"  # a valid GLN nobody here serves
BAD_GLN = "5790000201388"     # RECEIVER with a wrong check digit
PROCESS = "urn:ehmi:sdn-emergence"
SD = "urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::"
DOCS = {
    "hn": (SD + "hospitalnotification-message##urn:dk:medcom:fhir:hospitalnotification-message"
           "::4.0", "01-hospitalnotification-admit-inpatient.bundle.xml"),
    "cc": (SD + "carecommunication-message##urn:dk:medcom:fhir:carecommunication-message::4.0",
           "02-carecommunication-new-message.bundle.json"),
    "hco": (SD + "homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message"
            "::1.2", "03-homecareobservation.bundle.xml"),
    "ack": (SD + "acknowledgement-message##urn:dk:medcom:fhir:acknowledgement-message::2.0",
            "04-acknowledgement-ok.bundle.xml"),
}
MAX_PAYLOAD = "256K"


def medcom_yaml(served):
    lines = ["medcom:", "  max_payload: %s" % MAX_PAYLOAD, "  documents:"]
    for doc_id, _ in DOCS.values():
        lines += ["    - id: \"%s\"" % doc_id]
    lines += ["    - id: big-document", "  processes: [\"%s\"]" % PROCESS,
              "  routes:", "    - {participant: \"*\", party: %s}" % ("ap2" if served[0][0] == SENDER
                                                                  else "ap1"),
              "participants:"]
    for gln, name in served:
        lines += ["  - gln: \"%s\"" % gln, "    name: %s" % name]
    return "\n".join(lines) + "\n"


LAST = [None]


def wrap(fhir_path, receiver=RECEIVER, doc_id=None, extra=()):
    out = os.path.join(wd.path, "env-%d.xml" % len(os.listdir(wd.path)))
    LAST[0] = out
    p = as4ctl("sbdh", "wrap", "--sender", SENDER, "--receiver", receiver, "--document",
               doc_id, "--process", PROCESS, "--patient", "0101010227", "--out", out,
               *extra, fhir_path)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
        return None
    with open(out, "rb") as f:
        return f.read()


def content_of(envelope):
    m = re.search(rb"<BinaryContent[^>]*>([^<]*)</BinaryContent>", envelope)
    return base64.b64decode(m.group(1)) if m else None


def submit_xml(ap, body):
    return ap.api("POST", "/messages", raw=body, role="submitter", content_type="application/xml")


def q(msgid):
    return urllib.parse.quote(msgid, safe="")


def stored_count(ap, direction):
    """How many messages the store holds in one direction, through the API (the records up to
    store.inline_max live inside LMDB, where store_files() does not see them)."""
    st, doc, raw, _ = ap.api("GET", "/messages?direction=%s&limit=1000" % direction,
                             role="reader")
    return doc["count"] if st == 200 else raw


def inspect(*args):
    p = as4ctl("sbdh", "inspect", *args)
    return p.returncode, p.stdout, p.stderr


wd = Workdir("09")
aps = []
try:
    p1, p2 = free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    pm = {}
    for key, (doc_id, _) in DOCS.items():
        pm["medcom-%s.yaml" % key] = pmode_yaml(
            "medcom-%s" % key, "ap1", "ap2", PROCESS, "busdox-docid-qns::" + doc_id,
            extra="  reliability:\n    retries: 1\n    interval: 1s\n")
    pm["medcom-big.yaml"] = pmode_yaml("medcom-big", "ap1", "ap2", PROCESS,
                                       "busdox-docid-qns::big-document",
                                       extra="  reliability:\n    retries: 0\n")
    ap1 = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1,
                      extra_yaml=medcom_yaml([(SENDER, "Hospital A")])).start()
    aps.append(ap1)
    ap2 = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2,
                      extra_yaml=medcom_yaml([(RECEIVER, "Municipality B")])).start()
    aps.append(ap2)

    # ---- the four examples, wrapped and exchanged ---------------------------------------
    sent = {}
    for key, (doc_id, fname) in DOCS.items():
        path = os.path.join(SHARED, "medcom-examples", fname)
        env = wrap(path, doc_id=doc_id)
        check(env is not None, "%s: as4ctl sbdh wrap makes an envelope" % key)
        if env is None:
            continue
        p = as4ctl("sbdh", "inspect", "--config", ap1.config, LAST[0])
        check(p.returncode == 0 and "CPR not shown" in p.stdout and "0101010227" not in p.stdout,
              "%s: sbdh inspect says valid, hides the CPR (rc %d)" % (key, p.returncode))
        st, body, raw, _ = submit_xml(ap1, env)
        check(st == 202, "%s: submitted as application/xml: 202 (got %s %s)" % (
            key, st, raw[:300]))
        if st != 202:
            continue
        check(body["pmode"] == "medcom-%s" % key and body["original_sender"] == "0088:" + SENDER
              and body["final_recipient"] == "0088:" + RECEIVER,
              "%s: PMode and four-corner ends from the envelope" % key)
        sent[key] = (body["message_id"], body["sbdh_instance_id"], env, read_shared(
            "medcom-examples", fname))

    ids = {}
    for key, (msgid, inst, env, fhir) in sent.items():
        out = ap1.wait_state(msgid, ("delivered", "failed"), direction="out")
        check(out is not None and out["state"] == "delivered",
              "%s: delivered (state %s)" % (key, (out or {}).get("state")))
        ids[msgid] = key
    inbox = dict((m["message_id"], m) for m in ap2.inbox())
    for key, (msgid, inst, env, fhir) in sent.items():
        m = inbox.get(msgid)
        check(m is not None, "%s: in ap2's inbox" % key)
        if m is None:
            continue
        check(m["sbdh_instance_id"] == inst, "%s: SBDH InstanceIdentifier indexed" % key)
        if fhir.lstrip()[:1] == b"{":
            hdr = json.loads(fhir)["entry"][0]["resource"]["id"]
        else:
            hdr = re.search(rb"<MessageHeader>\s*<id value=\"([^\"]+)\"", fhir).group(1).decode()
        check(m.get("medcom_message_id") == hdr,
              "%s: MedCom message id %s" % (key, m.get("medcom_message_id")))
        check(m["original_sender"] == "0088:" + SENDER and
              m["final_recipient"] == "0088:" + RECEIVER, "%s: four-corner ends kept" % key)
        check(m["action"] == "busdox-docid-qns::" + DOCS[key][0] and
              m["service"]["value"] == PROCESS, "%s: Service and Action by convention" % key)
        st, _, data = ap2.http("GET", "/api/v1/messages/%s/payloads/0" % q(msgid),
                               headers={"Authorization": "Bearer " + TOKENS["submitter"]})
        check(st == 200 and data == env, "%s: envelope byte-identical (%d bytes)" % (
            key, len(data)))
        check(content_of(data) == fhir, "%s: FHIR content byte-identical (%d bytes)" % (
            key, len(fhir)))

    # ---- search by GLN (either end), SBDH InstanceIdentifier and MedCom message id ---------
    def search(ap, query):
        st, doc, raw, _ = ap.api("GET", "/messages?" + query + "&limit=100", role="reader")
        return [m["message_id"] for m in doc["messages"]] if st == 200 else raw

    want = sorted(v[0] for v in sent.values())
    check(sorted(search(ap2, "gln=" + RECEIVER)) == want and
          sorted(search(ap2, "gln=" + SENDER)) == want,
          "ap2 finds the messages by the receiver's and the sender's GLN")
    check(sorted(search(ap1, "gln=" + RECEIVER + "&direction=out")) == want,
          "ap1 finds what it sent by the receiver's GLN")
    if "hco" in sent:
        check(search(ap2, "sbdh_instance_id=" + sent["hco"][1]) == [sent["hco"][0]],
              "search by SBDH InstanceIdentifier")
        check(search(ap2, "medcom_message_id=489de4f2-0d8d-4de2-a7ce-ccb93568799f") ==
              [sent["hco"][0]], "search by MedCom message id")
    if "hco" in sent:
        env_ = dict(os.environ, AS4CTL_URL="http://127.0.0.1:%d" % ap2.api_port,
                    AS4CTL_TOKEN=TOKENS["reader"])
        env_.pop("AS4CTL_TOKEN_FILE", None)
        for opt, value in (("--sbdh-instance-id", sent["hco"][1]),
                           ("--medcom-message-id", "489de4f2-0d8d-4de2-a7ce-ccb93568799f")):
            p = as4ctl("messages", opt, value, "--json", env=env_)
            got = [m["message_id"] for m in json.loads(p.stdout)["messages"]] \
                if p.returncode == 0 else p.stderr
            check(got == [sent["hco"][0]], "as4ctl messages %s finds it (%s)" % (opt, got))
    st, doc, raw, _ = ap2.api("GET", "/messages?gln=0101010227", role="reader")
    check(st == 400, "a CPR number is no GLN: 400 (%s)" % st)

    # ---- refusals at the API: nothing stored ----------------------------------------------
    hn_doc, hn_file = DOCS["hn"]
    hn_path = os.path.join(SHARED, "medcom-examples", hn_file)
    p = as4ctl("sbdh", "wrap", "--sender", SENDER, "--receiver", BAD_GLN, "--document", hn_doc,
               "--process", PROCESS, hn_path)
    check(p.returncode == 1 and "check digit" in p.stderr,
          "wrap refuses a wrong GLN check digit (rc %d: %s)" % (p.returncode, p.stderr.strip()))
    good = wrap(hn_path, doc_id=hn_doc)
    before = ap1.store_files()
    n_out_before = stored_count(ap1, "out")
    bad = good.replace(("0088:" + RECEIVER).encode(), ("0088:" + BAD_GLN).encode())
    st, body, raw, _ = submit_xml(ap1, bad)
    check(st == 422 and body["error"]["code"] == "invalid_gln" and
          body["error"]["field"] == "Receiver/Identifier" and "check digit" in
          body["error"]["message"], "wrong GLN check digit: 422 invalid_gln (%s %s)" % (st, raw))
    nodoc = re.sub(rb"<Scope>\s*<Type>DOCUMENTID</Type>.*?</Scope>", b"", good, flags=re.S)
    st, body, raw, _ = submit_xml(ap1, nodoc)
    check(st == 422 and body["error"]["code"] == "invalid_sbdh" and
          "DOCUMENTID" in body["error"]["field"], "no DOCUMENTID: 422 (%s %s)" % (st, raw))
    big_fhir = os.path.join(wd.path, "big.json")
    with open(big_fhir, "w") as f:
        f.write('{"resourceType":"Bundle","type":"message","entry":[{"resource":{'
                '"resourceType":"MessageHeader","id":"big-1","eventCoding":{"code":"x"}}}],'
                '"pad":"%s"}' % ("x" * 300000))
    big = wrap(big_fhir, doc_id="big-document", extra=("--message-id", "big-1"))
    st, body, raw, _ = submit_xml(ap1, big)
    check(st == 413 and "over the limit" in body["error"]["message"],
          "FHIR message over medcom.max_payload: 413 (%s %s)" % (st, raw[:200]))
    st, body, raw, _ = submit_xml(ap1, sent["hn"][2]) if "hn" in sent else (0, None, b"", None)
    check(st == 409 and sent["hn"][0] in body["error"]["message"],
          "same envelope again: 409 naming the first message (%s)" % raw[:200])

    # ---- as4ctl sbdh inspect --config runs the checks the API makes --------------------------
    # exit 0 only when POST /messages would take the envelope: a DOCUMENTID not configured and
    # a Sender ap1 does not serve parse fine, but the configuration's profile refuses them
    undoc = wrap(hn_path, doc_id="urn:not-configured-document")
    undoc_file = LAST[0]
    rc, out, err = inspect(undoc_file)
    check(rc == 0, "inspect without --config: the envelope itself is valid (rc %d)" % rc)
    rc, out, err = inspect("--config", ap1.config, undoc_file)
    check(rc == 1 and "REFUSED" in out and "DOCUMENTID" in out and "medcom.documents" in out,
          "inspect --config: a DOCUMENTID not configured is refused, exit 1 (rc %d: %s)" % (
              rc, out[-300:]))
    rc, out, err = inspect("--config", ap1.config, "--json", undoc_file)
    doc = json.loads(out) if rc in (0, 1) and out.strip().startswith("{") else {}
    probs = doc.get("problems", [])
    check(rc == 1 and doc.get("valid") is False and any(
        p["field"] == "DOCUMENTID" and p["severity"] == "error" and p["code"] == "EBMS:0004"
        for p in probs), "inspect --json: valid false, the DOCUMENTID problem listed (%s)" % probs)
    st, body, raw, _ = submit_xml(ap1, undoc)
    check(st == 422 and body["error"]["code"] == "invalid_sbdh" and
          body["error"]["field"] == "DOCUMENTID", "and the API refuses it the same way (%s)" % st)
    theirs = os.path.join(wd.path, "theirs.xml")
    p = as4ctl("sbdh", "wrap", "--sender", RECEIVER, "--receiver", SENDER, "--document",
               hn_doc, "--process", PROCESS, "--out", theirs, hn_path)
    rc, out, err = inspect("--config", ap1.config, theirs)
    check(p.returncode == 0 and rc == 1 and "Sender" in out and "not a participant" in out,
          "inspect --config: a Sender ap1 does not serve is refused, exit 1 (rc %d)" % rc)
    rc, out, err = inspect("--config", ap2.config, theirs)
    check(rc == 0 and "valid for sending" in out,
          "the same envelope is valid with ap2's configuration, which serves that Sender")
    wrap(hn_path, doc_id=hn_doc)
    rc, out, err = inspect("--config", ap1.config, "--json", LAST[0])
    check(rc == 0 and json.loads(out)["valid"] is True and json.loads(out)["problems"] == [],
          "inspect --config --json of a good envelope: exit 0, valid, no problems")
    for args in ((), ("--bogus", LAST[0]), (LAST[0], LAST[0]), ("--config",)):
        rc, out, err = inspect(*args)
        check(rc == 2 and "usage" in err, "inspect %s: usage error, exit 2 (rc %d)" % (
            " ".join(a[-12:] for a in args), rc))

    check(ap1.store_files() == before, "API refusals stored nothing")
    check(stored_count(ap1, "out") == n_out_before,
          "API refusals stored no record either (%s messages out)" % stored_count(ap1, "out"))

    # ---- refusals by the receiving access point -------------------------------------------
    before2 = ap2.store_files()
    n_in_before2 = stored_count(ap2, "in")

    def sent_json(env, final_recipient, pmode="medcom-hn", original_sender="0088:" + SENDER):
        doc = {"pmode": pmode, "original_sender": original_sender,
               "final_recipient": final_recipient,
               "payloads": [{"mime_type": "application/xml", "content": b64(env)}]}
        st, body, raw, _ = ap1.api("POST", "/messages", doc, role="submitter")
        if st != 202:
            print(raw)
            return None
        return ap1.wait_state(body["message_id"], ("delivered", "failed"), direction="out")

    unknown = wrap(hn_path, receiver=NOT_SERVED, doc_id=hn_doc)
    st, body, raw, _ = submit_xml(ap1, unknown)
    check(st == 202, "envelope for a participant ap2 does not serve is accepted by ap1")
    out = ap1.wait_state(body["message_id"], ("delivered", "failed"), direction="out") \
        if st == 202 else None
    err = (out or {}).get("last_error") or {}
    check(out is not None and out["state"] == "failed" and err.get("code") == "EBMS:0010" and
          NOT_SERVED in (err.get("detail") or ""),
          "unknown receiver: EBMS:0010 naming it (%s)" % err)

    other = wrap(hn_path, doc_id=hn_doc)
    out = sent_json(other, "0088:" + NOT_SERVED)
    err = (out or {}).get("last_error") or {}
    check(out is not None and out["state"] == "failed" and err.get("code") == "EBMS:0003" and
          RECEIVER in (err.get("detail") or "") and NOT_SERVED in (err.get("detail") or ""),
          "finalRecipient != SBDH Receiver: EBMS:0003 naming both (%s)" % err)

    other = wrap(hn_path, doc_id=hn_doc)
    out = sent_json(other, "0088:" + RECEIVER, original_sender="0088:" + NOT_SERVED)
    err = (out or {}).get("last_error") or {}
    check(out is not None and out["state"] == "failed" and err.get("code") == "EBMS:0003" and
          SENDER in (err.get("detail") or "") and NOT_SERVED in (err.get("detail") or ""),
          "originalSender != SBDH Sender: EBMS:0003 naming both (%s)" % err)

    out = sent_json(big, "0088:" + RECEIVER, pmode="medcom-big")
    err = (out or {}).get("last_error") or {}
    check(out is not None and out["state"] == "failed" and err.get("code") == "EBMS:0004" and
          "over the limit" in (err.get("detail") or ""),
          "oversize envelope at the receiver: EBMS:0004 (%s)" % err)
    check(ap2.store_files() == before2, "receiver refusals stored nothing")
    check(stored_count(ap2, "in") == n_in_before2,
          "receiver refusals stored no record either (%s messages in)" % stored_count(ap2, "in"))

    # ---- ping a participant: the ebMS test service to the access point serving it -----------
    st, body, raw, _ = ap1.api("POST", "/test", {"party": "0088:" + RECEIVER})
    check(st == 200 and body["ok"] and body["result"] == "receipt" and body["pmode"].startswith(
        "medcom-"), "ping 0088:%s goes to ap2 through medcom.routes (%s)" % (RECEIVER, raw[:200]))
    st, body, raw, _ = ap1.api("POST", "/test", {"party": BAD_GLN})
    check(st == 422 and body["error"]["code"] == "invalid_gln",
          "ping with a wrong GLN check digit: 422 (%s)" % raw[:200])
    # as4ctl ping PARTICIPANT against the running ap1 (the pilot guide's first step)
    env_ = dict(os.environ, AS4CTL_URL="http://127.0.0.1:%d" % ap1.api_port,
                AS4CTL_TOKEN=TOKENS["submitter"])
    env_.pop("AS4CTL_TOKEN_FILE", None)
    for who in ("0088:" + RECEIVER, RECEIVER):
        p = as4ctl("ping", who, env=env_)
        check(p.returncode == 0 and p.stdout.startswith("receipt from ap2 (https://127.0.0.1:%d"
                                                          % p2),
              "as4ctl ping %s: receipt from ap2, exit 0 (%d %s %s)" % (
                  who, p.returncode, p.stdout.strip()[:200], p.stderr.strip()[:200]))
    p = as4ctl("ping", "0088:" + RECEIVER, "--json", env=env_)
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    check(doc.get("ok") is True and doc.get("party") == "ap2" and doc.get("pmode", "").startswith(
        "medcom-"), "as4ctl ping --json: the API's answer (%s)" % p.stdout[:200])
    p = as4ctl("ping", BAD_GLN, env=env_)
    check(p.returncode == 1 and "invalid_gln" in p.stderr and "check digit" in p.stderr,
          "as4ctl ping with a wrong GLN check digit: exit 1 naming it (%s)" % p.stderr.strip())
    p = as4ctl("ping", env=env_)
    check(p.returncode == 2 and "PARTICIPANT" in p.stderr, "as4ctl ping without a target: exit 2")

    # ---- participants managed through the API ------------------------------------------
    st, body, raw, _ = ap2.api("GET", "/participants", role="reader")
    check(st == 200 and [p["gln"] for p in body["participants"]] == [RECEIVER] and
          body["participants"][0]["source"] == "config" and
          body["participants"][0]["delivery"] == "inbox", "GET /participants (%s)" % raw)
    st, body, raw, _ = ap2.api("PUT", "/participants/" + NOT_SERVED,
                               {"name": "Clinic C", "sor": "123456789"}, role="submitter")
    check(st == 403, "PUT needs the admin role (%s)" % st)
    st, body, raw, _ = ap2.api("PUT", "/participants/" + BAD_GLN, {"name": "x"})
    check(st == 422 and body["error"]["code"] == "invalid_gln", "PUT with a bad GLN: 422")
    st, body, raw, _ = ap2.api("PUT", "/participants/" + RECEIVER, {"name": "x"})
    check(st == 409, "a participant of as4d.yaml is read-only through the API (%s)" % st)
    st, body, raw, _ = ap2.api("PUT", "/participants/" + NOT_SERVED, {"name": "Clinic C",
                                                                      "sor": "12x"})
    check(st == 400 and body["error"]["field"] == "sor", "PUT with a bad SOR: 400 (%s)" % raw)
    backend = Backend()
    st, body, raw, _ = ap2.api("PUT", "/participants/0088:" + NOT_SERVED,
                               {"name": "Clinic C", "sor": "123456789",
                                "webhook": backend.url("/clinic-c")})
    check(st == 201 and body["gln"] == NOT_SERVED and body["source"] == "api" and
          body["delivery"] == "webhook", "PUT adds a participant: 201 (%s)" % raw)
    env = wrap(hn_path, receiver=NOT_SERVED, doc_id=hn_doc)
    st, body, raw, _ = submit_xml(ap1, env)
    out = ap1.wait_state(body["message_id"], ("delivered", "failed"), direction="out") \
        if st == 202 else None
    check(out is not None and out["state"] == "delivered",
          "the new participant receives at once (no restart)")
    deadline = time.time() + 30
    while time.time() < deadline and not backend.pushes("/clinic-c"):
        time.sleep(0.1)
    pushed = backend.pushes("/clinic-c")
    check(len(pushed) == 1 and pushed[0]["message_id"] == (out or {}).get("message_id") and
          pushed[0]["payloads"][0][1] == env,
          "its messages go to its own webhook, not the inbox (%d pushes)" % len(pushed))
    backend.stop()
    st, body, raw, _ = ap2.api("GET", "/participants/" + NOT_SERVED, role="reader")
    check(st == 200 and body["name"] == "Clinic C" and body["sor"] == "123456789",
          "GET one participant")
    st, body, raw, _ = ap2.api("DELETE", "/participants/" + NOT_SERVED)
    check(st == 200, "DELETE removes it (%s)" % raw)
    st, body, raw, _ = ap2.api("GET", "/participants/" + NOT_SERVED, role="reader")
    check(st == 404, "gone after DELETE (%s)" % st)
    st, body, raw, _ = ap2.api("DELETE", "/participants/" + NOT_SERVED)
    check(st == 404, "DELETE of an unknown participant: 404")
    st, body, raw, _ = ap2.api("GET", "/audit?limit=1000")
    entries = [e for e in (body or {}).get("entries", []) if e["what"].startswith("participant.")]
    check(st == 200 and [(e["what"], e["target"], e["who"]) for e in entries] ==
          [("participant.put", NOT_SERVED, "it-admin"),
           ("participant.delete", NOT_SERVED, "it-admin")],
          "the audit log holds the participant changes with who and target: %s" % entries)

    # ---- the same InstanceIdentifier in a new AS4 message: accepted and reported -----------
    if "hco" in sent:
        out = sent_json(sent["hco"][2], "0088:" + RECEIVER, pmode="medcom-hco")
        check(out is not None and out["state"] == "delivered",
              "second AS4 message with a known InstanceIdentifier is delivered")
        rec = ap2.message(out["message_id"], "in") if out else None
        reasons = [e["reason"] for e in (rec or {}).get("events", [])]
        check(any("duplicate SBDH InstanceIdentifier" in r and sent["hco"][0] in r
                  for r in reasons), "the duplicate is reported in its history: %s" % reasons)
    check("0101010227" not in ap1.log() + ap2.log(), "no CPR number in either log")
finally:
    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (rc %s)" % (ap.name, rc))
    wd.cleanup()
finish()
