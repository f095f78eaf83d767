# SPDX-License-Identifier: Apache-2.0
"""08: a full disk and a full store map give clean errors and leave the store usable.

Disk full: ap2's data folder is a small tmpfs (in a private mount namespace of this test)
filled up with a file. Messages from ap1 are answered HTTP 503 (no ebMS Error, so ap1
retries) and ap2's API answers 507; nothing half-stored remains. Once the file is removed,
every retried message arrives.

Map full: ap3 runs with the smallest LMDB map (16 MiB) and receives submissions with large
metadata until the API answers 507 insufficient_storage; reads still work; restarted with a
larger map, every accepted message is intact and submissions succeed again.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# A private mount namespace, so that the tmpfs goes away with the test whatever happens.
if os.environ.get("AS4_TEST_MOUNT_NS") != "1":
    env = dict(os.environ, AS4_TEST_MOUNT_NS="1")
    for cmd in (["unshare", "-m", "--propagation", "private"], ["unshare", "-rm"]):
        try:
            usable = subprocess.call(cmd + ["true"], stderr=subprocess.DEVNULL) == 0
        except OSError:
            usable = False
        if usable:
            sys.exit(subprocess.call(cmd + [sys.executable] + sys.argv, env=env))
    print("skipped: cannot create a mount namespace (unshare -m)")
    sys.exit(77)

from as4test import *  # noqa: E402,F401,F403

SERVICE = "urn:as4:test:full"


def wait_for(cond, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    return cond()


def fill(path):
    """Write a file until the file system is full; returns its path."""
    f = os.path.join(path, "filler")
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (256 * 1024, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return f


wd = Workdir("08full")
aps = []
mounted = None
try:
    p1, p2 = free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    rel = "  reliability:\n    retries: 100\n    interval: 1s\n    backoff: constant\n"
    pm = {"full.yaml": pmode_yaml("full", "ap1", "ap2", SERVICE, "Doc", extra=rel),
          "back.yaml": pmode_yaml("back", "ap2", "ap1", SERVICE, "Back", extra=rel)}
    ap1 = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1)
    ap2 = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2)
    data2 = os.path.join(ap2.dir, "data")
    os.makedirs(data2, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", data2],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("skipped: cannot mount a tmpfs: %s" % r.stderr.strip())
        sys.exit(77)
    mounted = data2
    ap1.start()
    ap2.start()
    aps += [ap1, ap2]

    def submit(ap, pmode, data, props=None, role="submitter"):
        doc = {"pmode": pmode,
               "payloads": [{"mime_type": "application/octet-stream", "content": b64(data)}]}
        if props:
            doc["properties"] = props
        return ap.api("POST", "/messages", doc, role=role)

    st, body, _, _ = submit(ap1, "full", b"before")
    first = body["message_id"] if body else ""
    doc = ap1.wait_state(first, ("delivered", "failed"), "out")
    check(doc is not None and doc["state"] == "delivered", "delivered while there is room")

    # -- disk full on the receiver -----------------------------------------------------------
    filler = fill(data2)
    inbox_before = len(ap2.inbox())
    files_before = ap2.store_files()
    waiting = []
    for i in range(3):
        st, body, raw, _ = submit(ap1, "full", os.urandom(20000))
        waiting.append(body["message_id"] if body else "")
    docs = [ap1.wait_state(m, ("retrying",), "out") for m in waiting]
    details = [((d or {}).get("last_error") or {}).get("detail") or "" for d in docs]
    check(all(d is not None and d["state"] == "retrying" for d in docs) and
          all("503" in x for x in details),
          "ap2 full: answered HTTP 503, ap1 keeps retrying (%s)" % details[:1])
    check(not [d for d in docs if d and d["state"] == "failed"],
          "no ebMS Error ended the attempts")
    st, body, _, _ = submit(ap2, "back", b"x" * 5000)
    check(st == 507 and body["error"]["code"] == "insufficient_storage",
          "ap2's API answers 507 insufficient_storage (%s %s)" % (st, body))
    st, body, _, _ = ap2.api("GET", "/messages/%s?direction=in" % urllib.parse.quote(first,
                                                                                      safe=""))
    check(st == 200 and body["message_id"] == first, "reads still work while full")
    check(len(ap2.inbox()) == inbox_before, "nothing was stored while full")
    after = ap2.store_files()
    new_files = [f for f in after if f not in files_before and f != "filler"]
    check(not [f for f in new_files if f.startswith("spool/")],
          "no spool file left behind (%s)" % new_files[:3])
    check("storage full" in ap2.log() or "No space" in ap2.log(), "the log says why")

    # space returns
    os.unlink(filler)
    for m in waiting:
        d = ap1.wait_state(m, ("delivered", "failed"), "out")
        check(d is not None and d["state"] == "delivered",
              "%s delivered once space returned (attempts %s)" % (m[:8], (d or {}).get(
                  "attempts")))
    ids = [m["message_id"] for m in ap2.inbox()]
    check(all(ids.count(m) == 1 for m in waiting), "each arrived once")
    st, body, _, _ = submit(ap2, "back", b"x" * 5000)
    check(st == 202, "ap2's API accepts submissions again (%s)" % st)

    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
    aps = []

    # -- map full -------------------------------------------------------------------------------
    p3 = free_port()
    small = "store:\n  map_size: 16M\n"
    ap3 = AccessPoint(wd, "ap3", "ap1", dev_parties(wd, {"ap1": https(p3),
                                                         "ap2": https(free_port())}),
                      {"full.yaml": pm["full.yaml"]}, msh_port=p3, extra_yaml=small)
    ap3.start()
    aps.append(ap3)
    props = [{"name": "p%02d" % i, "value": "v" * 4000} for i in range(64)]
    accepted = []
    status = None
    for i in range(400):
        st, body, raw, _ = submit(ap3, "full", b"payload %d" % i, props)
        if st != 202:
            status = (st, body)
            break
        accepted.append(body["message_id"])
    check(status is not None and status[0] == 507 and
          status[1]["error"]["code"] == "insufficient_storage",
          "map full after %d messages: 507 insufficient_storage" % len(accepted))
    msg = status[1]["error"]["message"] if status else ""
    check("MAP_FULL" in msg or "full" in msg, "the answer says the store is full: %s" % msg)
    st, body, _, _ = ap3.api("GET", "/messages/%s?direction=out" % urllib.parse.quote(
        accepted[0], safe=""))
    check(st == 200 and len(body["properties"]) == 64, "reads work while the map is full")
    rc = ap3.stop()
    check(rc == 0, "ap3 stops cleanly with a full map (exit %s)" % rc)
    aps.remove(ap3)
    with open(ap3.config) as f:
        text = f.read()
    with open(ap3.config, "w") as f:
        f.write(text.replace("map_size: 16M", "map_size: 64M"))
    ap3.start()
    aps.append(ap3)
    intact = 0
    for m in accepted:
        st, body, _, _ = ap3.api("GET", "/messages/%s?direction=out" % urllib.parse.quote(
            m, safe=""))
        intact += st == 200 and len(body["properties"]) == 64 and body["message_id"] == m
    check(intact == len(accepted), "after a restart with a larger map every accepted message is "
          "intact (%d of %d)" % (intact, len(accepted)))
    st, body, _, _ = submit(ap3, "full", b"after", props)
    check(st == 202, "and submissions succeed again (%s)" % st)

    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
    aps = []
finally:
    for ap in aps:
        ap.stop()
    if mounted:
        subprocess.call(["umount", "-l", mounted])
    wd.cleanup()
finish()
