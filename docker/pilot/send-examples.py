#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Exchange the MedCom examples across a pilot network made by mkpilot.py.

    send-examples.py --pilot DIR [--examples DIR] [--as4ctl PATH] [--from ap1] [--to ap2]
                     [--timeout SECONDS]

Each example (HospitalNotification XML, CareCommunication JSON, HomeCareObservation,
Acknowledgement) is wrapped in an ehmiSBDH envelope by `as4ctl sbdh wrap` (Sender = the GLN
served by --from, Receiver = the GLN served by --to) and submitted to --from's API as
application/xml, with no routing fields. The script waits until the sending access point
has a verified Receipt, then checks that the receiving access point's inbox holds the
envelope byte for byte, acknowledges it there, and prints one line per example.
Exit status: 0 when every example arrived intact, 1 otherwise, 2 on usage errors.
"""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

EXAMPLES = [
    ("hospitalnotification", "01-hospitalnotification-admit-inpatient.bundle.xml"),
    ("carecommunication", "02-carecommunication-new-message.bundle.json"),
    ("homecareobservation", "03-homecareobservation.bundle.xml"),
    ("acknowledgement", "04-acknowledgement-ok.bundle.xml"),
]


def call(base, token, method, path, body=None, ctype=None):
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pilot", required=True)
    p.add_argument("--examples", default="/examples")
    p.add_argument("--as4ctl", default=shutil.which("as4ctl") or "/usr/bin/as4ctl")
    p.add_argument("--from", dest="src", default="ap1")
    p.add_argument("--to", dest="dst", default="ap2")
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    with open(os.path.join(a.pilot, "pilot.json")) as f:
        pilot = json.load(f)
    src, dst = pilot["aps"][a.src], pilot["aps"][a.dst]
    token = pilot["tokens"]["submitter"]
    tmp = tempfile.mkdtemp(prefix="as4-pilot-")
    bad = 0
    try:
        for key, fname in EXAMPLES:
            fhir_path = os.path.join(a.examples, fname)
            env_path = os.path.join(tmp, key + ".sbdh.xml")
            w = subprocess.run([a.as4ctl, "sbdh", "wrap", "--sender", src["gln"], "--receiver",
                                dst["gln"], "--sender-sor", src["sor"], "--receiver-sor",
                                dst["sor"], "--document", pilot["documents"][key],
                                "--process", pilot["process"], "--out", env_path, fhir_path],
                               capture_output=True, text=True)
            if w.returncode != 0:
                print("FAIL %-20s wrap: %s" % (key, w.stderr.strip()))
                bad += 1
                continue
            with open(env_path, "rb") as f:
                env = f.read()
            st, body = call(src["api"], token, "POST", "/messages", env, "application/xml")
            if st != 202:
                print("FAIL %-20s submit: %d %s" % (key, st, body[:300].decode(errors="replace")))
                bad += 1
                continue
            sub = json.loads(body)
            msgid = urllib.parse.quote(sub["message_id"], safe="")
            deadline = time.time() + a.timeout
            state = "queued"
            while time.time() < deadline and state not in ("delivered", "failed"):
                time.sleep(0.5)
                st, body = call(src["api"], token, "GET", "/messages/%s?direction=out" % msgid)
                rec = json.loads(body) if st == 200 else {}
                state = rec.get("state", state)
            if state != "delivered":
                print("FAIL %-20s %s: %s" % (key, state, rec.get("last_error")))
                bad += 1
                continue
            st, got = call(dst["api"], token, "GET", "/messages/%s/payloads/0?direction=in" % msgid)
            m = re.search(rb"<BinaryContent[^>]*>([^<]*)</BinaryContent>", got or b"")
            with open(fhir_path, "rb") as f:
                same_fhir = m is not None and base64.b64decode(m.group(1)) == f.read()
            if st != 200 or got != env or not same_fhir:
                print("FAIL %-20s delivered, but the receiver's copy differs (%d)" % (key, st))
                bad += 1
                continue
            st, _ = call(dst["api"], token, "POST", "/messages/%s/ack?direction=in" % msgid)
            print("ok   %-20s %s -> %s  %s  %d bytes  SBDH %s  ack %d" % (
                key, sub["original_sender"], sub["final_recipient"], sub["message_id"],
                len(env), sub["sbdh_instance_id"], st))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d of %d MedCom examples delivered intact" % (len(EXAMPLES) - bad, len(EXAMPLES)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
