# SPDX-License-Identifier: Apache-2.0
"""09: the MedCom examples between two access points that find each other by discovery.

The pilot network of docker/pilot/mkpilot.py in its loopback mode: dnsmasq serves the SML zone
(one U-NAPTR record per participant), a static SMP (python3's http.server over the signed
ServiceMetadata files) answers for every participant and MedCom document, and two as4d with
dynamic parties send through discovery only (no endpoint or partner certificate configured).
docker/pilot/send-examples.py wraps each MedCom example, submits it as a bare ehmiSBDH envelope
and checks the receiver's byte-identical copy: ap1 -> ap2 and back. Then: the receiver's
metadata (SBDH and MedCom ids, four-corner ends, the endpoint found), an envelope for a GLN the
SML does not know (fails at once: not registered), and a GLN with a wrong check digit
(422, nothing stored). This is what docker/compose.yaml runs, minus the containers.
"""
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from as4test import *  # noqa: E402,F401,F403

for tool in ("dnsmasq", "xmlsec1", "openssl"):
    if shutil.which(tool) is None:
        print("SKIP: %s not installed" % tool)
        sys.exit(77)

PILOT = os.path.join(SOURCE, "docker", "pilot")
EXAMPLES = os.path.join(SHARED, "medcom-examples")
NOT_IN_SML = "5790001382445"


def existing(name, path, msh, api):
    """An AccessPoint for a configuration written elsewhere (mkpilot.py)."""
    ap = AccessPoint.__new__(AccessPoint)
    ap.wd, ap.name, ap.dir = None, name, os.path.dirname(path)
    ap.msh_port, ap.api_port, ap.tls, ap.proc = msh, api, False, None
    ap.log_path = os.path.join(ap.dir, "as4d.log")
    ap.config = path
    return ap


def wait(ap, msgid, timeout=90):
    """The outbound record once delivered or failed (pilot tokens, not the harness's)."""
    deadline = time.time() + timeout
    doc = None
    while time.time() < deadline:
        st, doc, _, _ = ap.api("GET", "/messages/%s?direction=out" % urllib.parse.quote(
            msgid, safe=""), token="pilot-reader-token")
        if st == 200 and doc["state"] in ("delivered", "failed"):
            return doc
        time.sleep(0.2)
    return doc


tmp = tempfile.mkdtemp(prefix="as4-it-09d-")
procs = []
aps = []
try:
    ports = dict((k, free_port()) for k in ("dns", "smp", "msh1", "api1", "msh2", "api2"))
    out = os.path.join(tmp, "pilot")
    p = subprocess.run([sys.executable, os.path.join(PILOT, "mkpilot.py"), "--mode", "local",
                        "--out", out, "--as4ctl", os.path.join(BIN, "as4ctl"),
                        "--dns-port", str(ports["dns"]), "--smp-port", str(ports["smp"]),
                        "--msh1", str(ports["msh1"]), "--api1", str(ports["api1"]),
                        "--msh2", str(ports["msh2"]), "--api2", str(ports["api2"])],
                       capture_output=True, text=True)
    check(p.returncode == 0, "mkpilot.py made the pilot network (%s)" % (
        p.stdout.strip() or p.stderr.strip()[-300:]))
    procs.append(subprocess.Popen(["dnsmasq", "--keep-in-foreground",
                                   "--conf-file=%s" % os.path.join(out, "dnsmasq.conf"),
                                   "--pid-file=%s" % os.path.join(tmp, "dnsmasq.pid"),
                                   "--log-facility=%s" % os.path.join(tmp, "dnsmasq.log")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    procs.append(subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                   "--directory", os.path.join(out, "smp"), str(ports["smp"])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    ap1 = existing("ap1", os.path.join(out, "ap1", "as4d.yaml"), ports["msh1"], ports["api1"])
    ap2 = existing("ap2", os.path.join(out, "ap2", "as4d.yaml"), ports["msh2"], ports["api2"])
    for ap in (ap1, ap2):
        ap.start()
        aps.append(ap)
    # the SMP and DNS answer before anything is sent
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", ports["smp"]), 1).close()
            break
        except OSError:
            time.sleep(0.1)

    for src, dst in (("ap1", "ap2"), ("ap2", "ap1")):
        p = subprocess.run([sys.executable, os.path.join(PILOT, "send-examples.py"), "--pilot",
                            out, "--examples", EXAMPLES, "--as4ctl",
                            os.path.join(BIN, "as4ctl"), "--from", src, "--to", dst,
                            "--timeout", "90"], capture_output=True, text=True)
        print(p.stdout + p.stderr)
        check(p.returncode == 0 and "4 of 4 MedCom examples delivered intact" in p.stdout,
              "send-examples.py %s -> %s: every example found by discovery and intact" % (
                  src, dst))

    # what the receiver and the sender recorded
    st, doc, raw, _ = ap2.api("GET", "/inbox?limit=100", token="pilot-submitter-token")
    st1, doc1, raw1, _ = ap1.api("GET", "/inbox?limit=100", token="pilot-submitter-token")
    check(st == 200 and doc["messages"] == [] and st1 == 200 and doc1["messages"] == [],
          "send-examples.py acknowledged everything it checked")
    env = os.path.join(tmp, "hn.xml")
    pilot = json.load(open(os.path.join(out, "pilot.json")))
    p = as4ctl("sbdh", "wrap", "--sender", pilot["aps"]["ap1"]["gln"], "--receiver",
               pilot["aps"]["ap2"]["gln"], "--document", pilot["documents"]["hospitalnotification"],
               "--process", pilot["process"], "--out", env,
               os.path.join(EXAMPLES, "01-hospitalnotification-admit-inpatient.bundle.xml"))
    body = open(env, "rb").read()
    st, sub, raw, _ = ap1.api("POST", "/messages", raw=body, token="pilot-submitter-token",
                              content_type="application/xml")
    check(st == 202 and sub["pmode"] == "hospitalnotification-out",
          "envelope routed to the discovery PMode (%s %s)" % (st, raw[:200]))
    out_doc = (wait(ap1, sub["message_id"]) if st == 202 else None) or {}
    check(out_doc.get("state") == "delivered" and
          out_doc["endpoint"] == "http://127.0.0.1:%d/as4" % ports["msh2"] and
          out_doc["to"]["value"] == "ap2" and
          any(e["reason"].startswith("receiver discovered: ") for e in out_doc["events"]),
          "sender recorded the endpoint and access point found by discovery")
    st, got, _, _ = ap2.api("GET", "/messages/%s?direction=in" % urllib.parse.quote(
        sub.get("message_id", "x"), safe=""), token="pilot-reader-token")
    check(st == 200 and got["sbdh_instance_id"] == sub["sbdh_instance_id"] and
          got["medcom_message_id"] == "b9b4818e-02de-4cc4-b418-d20cbc7b5404" and
          got["original_sender"] == "0088:" + pilot["aps"]["ap1"]["gln"] and
          got["final_recipient"] == "0088:" + pilot["aps"]["ap2"]["gln"] and
          got["from"]["value"] == "ap1",
          "receiver: SBDH and MedCom ids, four-corner ends, the dynamic sender ap1")

    st, pong, raw, _ = ap1.api("POST", "/test", {"party": pilot["aps"]["ap2"]["gln"]},
                               token="pilot-admin-token")
    check(st == 200 and pong["ok"] and pong["result"] == "receipt" and
          pong["discovery"]["endpoint"] == "http://127.0.0.1:%d/as4" % ports["msh2"],
          "ping of ap2's participant by its GLN, found through discovery (%s)" % raw[:300])
    p = as4ctl("sbdh", "wrap", "--sender", pilot["aps"]["ap1"]["gln"], "--receiver", NOT_IN_SML,
               "--document", pilot["documents"]["hospitalnotification"], "--process",
               pilot["process"], "--out", env,
               os.path.join(EXAMPLES, "01-hospitalnotification-admit-inpatient.bundle.xml"))
    st, sub, raw, _ = ap1.api("POST", "/messages", raw=open(env, "rb").read(),
                              token="pilot-submitter-token", content_type="application/xml")
    rec = wait(ap1, sub["message_id"]) if st == 202 else None
    err = (rec or {}).get("last_error") or {}
    check(rec is not None and rec["state"] == "failed" and rec["attempts"] == 1 and
          "not registered" in (err.get("detail") or ""),
          "a participant the SML does not know fails at once: not registered (%s)" % err)
    before = ap1.store_files()
    # records up to store.inline_max live inside LMDB: count them through the API too
    n_before = ap1.api("GET", "/messages?limit=1000", token="pilot-reader-token")[1]["count"]
    bad = body.replace(pilot["aps"]["ap2"]["gln"].encode(), b"5790000201388")
    st, doc, raw, _ = ap1.api("POST", "/messages", raw=bad, token="pilot-submitter-token",
                              content_type="application/xml")
    n_after = ap1.api("GET", "/messages?limit=1000", token="pilot-reader-token")[1]["count"]
    check(st == 422 and doc["error"]["code"] == "invalid_gln" and ap1.store_files() == before
          and n_after == n_before,
          "wrong GLN check digit: 422, nothing stored (%s; %d -> %d messages)" % (
              raw[:200], n_before, n_after))
finally:
    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (rc %s)" % (ap.name, rc))
    for pr in procs:
        pr.terminate()
        pr.wait()
    if os.environ.get("AS4_KEEP") == "1":
        print("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
finish()
