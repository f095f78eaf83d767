# SPDX-License-Identifier: Apache-2.0
"""Search latency through the API: as4d serves a store made by bench_search.

    AS4_BIN=build/bin python3 test/bench/api_search.py DATA_DIR
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from as4test import *  # noqa: E402,F401
wd = Workdir("apibench")
parties = dev_parties(wd, {"ap1": https(free_port()), "ap2": https(free_port())})
a = AccessPoint(wd, "ap1", "ap1", parties, {"hn.yaml": pmode_yaml("hn", "ap1", "ap2", "urn:svc", "urn:act")},
                extra_yaml="store:\n  map_size: 64G\n")
with open(a.config) as f: t = f.read()
t = t.replace("  data_dir: %s" % os.path.join(a.dir, "data"), "  data_dir: %s" % os.path.abspath(sys.argv[1]))
with open(a.config, "w") as f: f.write(t)
a.start()
try:
    qs = ["", "direction=out&state=failed", "ebms_error=EBMS:0301", "party=party-07",
          "final_recipient=0088:5790000001239", "conversation_id=conv-123457", "message_id=m424242%40bench",
          "state=queued&to_party=party-11", "direction=in&action=urn:medcom:action:3"]
    print("%-45s %8s %8s %8s %6s" % ("GET /api/v1/messages?...", "p50 ms", "p95 ms", "max ms", "found"))
    for q in qs:
        ts = []
        found = 0
        for i in range(20):
            t0 = time.perf_counter()
            st, d, raw, _ = a.api("GET", "/messages?limit=50&" + q, role="reader")
            ts.append((time.perf_counter() - t0) * 1000)
            assert st == 200, raw
            found = d["count"]
        ts.sort()
        print("%-45s %8.2f %8.2f %8.2f %6d" % (q or "(no filter)", ts[10], ts[18], ts[-1], found))
    t0 = time.perf_counter(); st, h, data = a.http("GET", "/metrics", headers={"Authorization": "Bearer it-reader-token"})
    print("GET /metrics: %.2f ms, %d bytes" % ((time.perf_counter() - t0) * 1000, len(data)))
    t0 = time.perf_counter(); st, d, raw, _ = a.api("GET", "/status", role="reader")
    print("GET /status: %.2f ms" % ((time.perf_counter() - t0) * 1000))
finally:
    a.stop(); wd.cleanup()
