# SPDX-License-Identifier: Apache-2.0
"""PMode hot swap during traffic: no message lost, none twice.

Four backend threads submit 240 messages to ap1 while PModes are replaced, created and
deleted through the API on both access points (and the configuration is reloaded), with
refused changes (invalid documents) mixed in. Every submission must be accepted (202), every
message delivered with a verified receipt, the receiver's inbox must hold each MessageId
exactly once, no request may be refused with an ebMS error, and each change must be in the
audit trail.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401

THREADS = 4
PER_THREAD = 60


def doc(pid, initiator, responder, description, retries, action="urn:act"):
    return {"pmode": {"id": pid, "description": description, "initiator": initiator,
                      "responder": responder, "service": "urn:svc", "action": action,
                      "reliability": {"retries": retries, "interval": "1s"}}}


def main():
    wd = Workdir("hotswap")
    p1, p2 = free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    pm = {"hn.yaml": pmode_yaml("hn", "ap1", "ap2", "urn:svc", "urn:act")}
    a = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1)
    b = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2)
    try:
        a.start()
        b.start()
        scenario(a, b)
    finally:
        rc_a = a.stop()
        rc_b = b.stop()
        check(rc_a == 0 and rc_b == 0, "both daemons stop cleanly (%s, %s)" % (rc_a, rc_b))
        wd.cleanup()
    finish()


def scenario(a, b):
    ids = []
    refused = []
    lock = threading.Lock()

    def backend(n):
        for i in range(PER_THREAD):
            d = {"pmode": "hn", "payloads": [{"mime_type": "text/plain",
                                              "content": b64(b"thread %d message %d" % (n, i))}]}
            st, r, raw, _ = a.api("POST", "/messages", d, role="submitter")
            with lock:
                if st == 202:
                    ids.append(r["message_id"])
                else:
                    refused.append((st, raw[:200]))
            time.sleep(0.005)

    threads = [threading.Thread(target=backend, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    changes = {"ok": 0, "refused": 0}
    k = 0
    while any(t.is_alive() for t in threads):
        k += 1
        st, _, raw, _ = a.api("PUT", "/pmodes/hn", doc("hn", "ap1", "ap2", "swap %d" % k, 5 + k % 3))
        changes["ok" if st == 200 else "refused"] += 1
        check(st == 200, "sender side PUT #%d: %d %s" % (k, st, raw[:160] if st != 200 else ""))
        st, _, raw, _ = b.api("PUT", "/pmodes/hn", doc("hn", "ap1", "ap2", "recv %d" % k, 3))
        check(st == 200, "receiver side PUT #%d: %d %s" % (k, st, raw[:160] if st != 200 else ""))
        st, _, _, _ = a.api("POST", "/pmodes",
                            doc("side-%d" % k, "ap1", "ap2", "x", 1, action="urn:side:%d" % k))
        check(st == 201, "create side-%d" % k)
        st, d, _, _ = a.api("PUT", "/pmodes/hn", {"pmode": {"id": "hn", "initiator": "ap1",
                                                            "responder": "nobody",
                                                            "service": "s", "action": "a"}})
        check(st == 422 and d["error"]["field"].startswith("pmode.responder"),
              "an invalid replacement is refused during traffic (%d)" % st)
        st, _, _, _ = a.api("DELETE", "/pmodes/side-%d" % k)
        check(st == 200, "delete side-%d" % k)
        st, _, _, _ = b.api("POST", "/reload")
        check(st == 200, "receiver reload #%d" % k)
        time.sleep(0.02)
    for t in threads:
        t.join()
    check(not refused, "every submission accepted during the swaps: %s" % refused[:3])
    check(len(ids) == THREADS * PER_THREAD and len(set(ids)) == len(ids),
          "%d distinct messages submitted" % len(ids))
    check(k >= 3, "%d rounds of changes happened during the traffic" % k)

    deadline = time.time() + 180
    pending = set(ids)
    while pending and time.time() < deadline:
        st, d, _, _ = a.api("GET", "/messages?direction=out&state=delivered&limit=1000",
                            role="reader")
        pending -= set(m["message_id"] for m in d["messages"])
        if pending:
            time.sleep(0.5)
    check(not pending, "every message delivered with a verified receipt (%d missing)" % len(pending))
    st, d, _, _ = a.api("GET", "/messages?direction=out&state=failed", role="reader")
    check(d["count"] == 0, "no message failed")
    inbox = b.inbox()
    got = [m["message_id"] for m in inbox]
    check(sorted(got) == sorted(ids), "the receiver's inbox holds each message exactly once "
          "(%d of %d, %d distinct)" % (len(got), len(ids), len(set(got))))
    st, s, _, _ = b.api("GET", "/status", role="reader")
    m = metrics_text(b)
    check('as4_received_total{result="refused"} 0' in m, "the receiver refused nothing")
    check('as4_received_total{result="duplicate"} 0' in m, "and saw no duplicate")
    st, d, _, _ = a.api("GET", "/audit?limit=1000")
    whats = [e["what"] for e in d["entries"]]
    check(whats.count("pmode.replace") == k and whats.count("pmode.create") == k and
          whats.count("pmode.delete") == k, "audit: %d replacements, creations and deletions" % k)
    st, d, _, _ = a.api("GET", "/pmodes/hn", role="reader")
    check(d["document"]["pmode"]["description"] == "swap %d" % k, "the last replacement runs")
    st, d, _, _ = a.api("GET", "/pmodes", role="reader")
    check([p["id"] for p in d["pmodes"]] == ["hn"], "the side PModes are gone")
    files = sorted(os.listdir(os.path.join(a.dir, "pmodes")))
    check(files == ["hn.json"], "the PMode folder holds exactly the running PModes: %s" % files)


def metrics_text(ap):
    st, _, data = ap.http("GET", "/metrics", headers={"Authorization": "Bearer " + TOKENS["reader"]})
    return data.decode()


if __name__ == "__main__":
    main()
