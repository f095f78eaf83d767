# SPDX-License-Identifier: Apache-2.0
"""08: kill -9 the receiver and the sender at random moments while messages flow.

300 messages (random payloads) are submitted to ap1 for ap2 while a chaos thread kills ap2 or
ap1 with SIGKILL at random moments and restarts it at once. Submissions that hit a dead ap1
are repeated with the same MessageId (409 means the first one was committed). In the end
every message is delivered on ap1, and ap2 holds each MessageId exactly once with the
payload digest that was submitted: nothing lost, nothing twice.
"""
import concurrent.futures
import hashlib
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401,F403

N = int(os.environ.get("AS4_FAULT_MESSAGES", "300"))
KILLS = int(os.environ.get("AS4_FAULT_KILLS", "8"))
SERVICE = "urn:as4:test:fault"
seed = int(os.environ.get("AS4_FAULT_SEED", str(int(time.time()))))
rnd = random.Random(seed)
print("seed %d (AS4_FAULT_SEED to repeat)" % seed, flush=True)

wd = Workdir("08kill")
aps = []
try:
    p1, p2 = free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    rel = "  reliability:\n    retries: 100\n    interval: 1s\n    backoff: constant\n"
    pm = {"fault.yaml": pmode_yaml("fault", "ap1", "ap2", SERVICE, "Doc", extra=rel)}
    ap1 = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1).start()
    ap2 = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2).start()
    aps += [ap1, ap2]

    sent = {}  # MessageId -> SHA-256 of its payload
    lock = threading.Lock()
    done = threading.Event()

    def submit(i):
        msgid = "fault-%d-%d@ap1" % (seed, i)
        data = os.urandom(rnd.randint(100, 20000))
        time.sleep(rnd.uniform(0, 0.12))  # spread the flow over the kills
        doc = {"pmode": "fault", "message_id": msgid,
               "payloads": [{"mime_type": "application/octet-stream", "content": b64(data)}]}
        for _ in range(600):
            try:
                st, _, _, _ = ap1.api("POST", "/messages", doc, role="submitter")
            except OSError:
                st = None  # ap1 is down right now
            if st in (202, 409):  # 409: an earlier try was committed before the kill
                with lock:
                    sent[msgid] = hashlib.sha256(data).hexdigest()
                return st
            time.sleep(0.1)
        return st

    kills = {"ap1": 0, "ap2": 0}

    def chaos():
        for k in range(KILLS):
            if done.is_set():
                break
            time.sleep(rnd.uniform(0.2, 1.0))
            victim = ap2 if k % 2 == 0 else ap1
            victim.kill9()
            kills[victim.name] += 1
            time.sleep(rnd.uniform(0.0, 0.5))
            victim.start()

    t = threading.Thread(target=chaos)
    t.start()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(submit, range(N)))
    t.join()
    done.set()
    check(all(r in (202, 409) for r in results),
          "all %d submissions accepted (some after a restart)" % N)
    check(kills["ap1"] > 0 and kills["ap2"] > 0,
          "ap1 was killed %d times, ap2 %d times" % (kills["ap1"], kills["ap2"]))

    # every message ends delivered on the sending side
    deadline = time.time() + 240
    pending = set(sent)
    states = {}
    while pending and time.time() < deadline:
        for m in list(pending):
            doc = ap1.message(m, "out")
            states[m] = doc["state"] if doc else None
            if doc and doc["state"] in ("delivered", "failed"):
                pending.discard(m)
        if pending:
            time.sleep(0.5)
    by_state = {}
    for m in sent:
        by_state[states.get(m)] = by_state.get(states.get(m), 0) + 1
    check(by_state.get("delivered", 0) == len(sent),
          "every message delivered on ap1 (%s)" % by_state)
    interrupted = retried = 0
    for m in sent:
        doc = ap1.message(m, "out")
        reasons = [e["reason"] for e in (doc or {}).get("events", [])]
        interrupted += "send interrupted by a restart" in reasons
        retried += (doc or {}).get("attempts", 0) > 1
    print("  (%d messages were interrupted by a restart of ap1, %d needed more than one attempt,"
          " ap2 answered %d duplicates with the stored Receipt)" % (
              interrupted, retried, ap2.log().count("duplicate of message")), flush=True)

    # the receiver holds each exactly once, with the digest that was submitted
    inbox = ap2.inbox()
    seen = {}
    for m in inbox:
        seen.setdefault(m["message_id"], []).append(m)
    check(set(seen) == set(sent), "ap2 holds exactly the messages sent (%d of %d; %d unknown)" % (
        len(set(seen) & set(sent)), len(sent), len(set(seen) - set(sent))))
    twice = [m for m, v in seen.items() if len(v) != 1]
    check(not twice, "no message twice at ap2 (%d twice)" % len(twice))
    bad = [m for m, v in seen.items() if m in sent and v[0]["payloads"][0]["sha256"] != sent[m]]
    check(not bad, "every payload digest matches what was submitted (%d differ)" % len(bad))
    sample = rnd.sample(sorted(seen), min(10, len(seen)))
    ok = 0
    for m in sample:
        st, _, data = ap2.http("GET", "/api/v1/messages/%s/payloads/0" % urllib.parse.quote(
            m, safe=""), headers={"Authorization": "Bearer " + TOKENS["submitter"]})
        ok += st == 200 and hashlib.sha256(data).hexdigest() == sent[m]
    check(ok == len(sample), "payload bytes of %d sampled messages identical" % len(sample))

    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
    aps = []
finally:
    for ap in aps:
        ap.stop()
    wd.cleanup()
finish()
