# SPDX-License-Identifier: Apache-2.0
"""02: the daemon's life: configuration refused at start with file, line and key; --check;
reload on SIGHUP (a good change applies, a bad one leaves the running configuration alone);
graceful stop on SIGTERM (a request in flight finishes and commits; no new connection is
accepted; the store closes cleanly and the message is there after a restart).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401,F403

SERVICE = "urn:ehmi:sdn-emergence"
ACTION = "urn:as4:test:lifecycle"


def run_as4d(*args):
    return subprocess.run([os.path.join(BIN, "as4d")] + list(args), capture_output=True,
                          text=True, timeout=60)


wd = Workdir("02")
aps = []
try:
    p1, p2 = free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    pm = {"lc.yaml": pmode_yaml("lc", "ap1", "ap2", SERVICE, ACTION)}
    ap1 = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1)
    aps.append(ap1)

    # --- configuration checks at start -------------------------------------------------
    p = run_as4d("--config", ap1.config, "--check")
    check(p.returncode == 0 and "configuration valid" in p.stdout,
          "--check accepts a good configuration (%s)" % p.stdout.strip())

    good = open(ap1.config).read()
    bad_cases = [
        ("unknown key", good.replace("listeners:\n", "listeners:\n  mhs:\n    port: 1\n", 1),
         ["listeners", "unknown key 'mhs'"]),
        ("missing certificate", good.replace("ap1.cert.pem", "missing.cert.pem", 1),
         ["missing.cert.pem"]),
    ]
    for what, text, needles in bad_cases:
        with open(ap1.config, "w") as f:
            f.write(text)
        p = run_as4d("--config", ap1.config)
        out = p.stderr
        check(p.returncode != 0 and ap1.config in out and
              all(n in out for n in needles) and
              any(ap1.config + ":" + str(i) in out for i in range(1, 200)),
              "%s: start refused naming file, line and key (%s)" % (
                  what, out.strip().splitlines()[0] if out.strip() else "no output"))
    with open(ap1.config, "w") as f:
        f.write(good)
    # a PMode that names a party that does not exist
    bad_pm = os.path.join(ap1.dir, "pmodes", "zz-bad.yaml")
    with open(bad_pm, "w") as f:
        f.write(pmode_yaml("zz-bad", "ap1", "nobody", SERVICE, ACTION))
    p = run_as4d("--config", ap1.config)
    check(p.returncode != 0 and "zz-bad.yaml:" in p.stderr and "nobody" in p.stderr,
          "PMode naming an unknown party: start refused (%s)" % p.stderr.strip()[:160])
    os.unlink(bad_pm)
    check(not os.path.exists(os.path.join(ap1.dir, "data")),
          "a refused start created no data folder")

    ap1.start()
    ap2 = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2).start()
    aps.append(ap2)
    doc = {"pmode": "lc", "payloads": [{"mime_type": "text/plain", "content": b64(b"one")}]}

    # --- reload on SIGHUP --------------------------------------------------------------
    st, _, _, _ = ap1.api("POST", "/messages", dict(doc, pmode="lc2"), role="submitter")
    check(st == 422, "before the reload PMode lc2 does not exist (%s)" % st)
    with open(os.path.join(ap1.dir, "pmodes", "lc2.yaml"), "w") as f:
        f.write(pmode_yaml("lc2", "ap1", "ap2", SERVICE, ACTION + "2"))
    with open(os.path.join(ap2.dir, "pmodes", "lc2.yaml"), "w") as f:
        f.write(pmode_yaml("lc2", "ap1", "ap2", SERVICE, ACTION + "2"))
    ap1.proc.send_signal(signal.SIGHUP)
    ap2.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    st = 0
    while time.time() < deadline:
        st, body, _, _ = ap1.api("POST", "/messages", dict(doc, pmode="lc2"), role="submitter")
        if st == 202:
            break
        time.sleep(0.1)
    check(st == 202, "after SIGHUP the new PMode is used (%s)" % st)
    if st == 202:
        out = ap1.wait_state(body["message_id"], ("delivered", "failed"), direction="out")
        check(out is not None and out["state"] == "delivered",
              "message under the reloaded PMode delivered")
    # a broken file: the reload is refused, the running configuration stays
    with open(os.path.join(ap1.dir, "pmodes", "lc3.yaml"), "w") as f:
        f.write("pmode:\n  id: lc3\n  retires: 3\n")
    ap1.proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    check(ap1.proc.poll() is None, "a bad reload does not stop the daemon")
    check("reload refused" in ap1.log() and "lc3.yaml" in ap1.log(),
          "the refused reload is logged with the file")
    st, _, _, _ = ap1.api("POST", "/messages", doc, role="submitter")
    check(st == 202, "the previous configuration still serves submissions (%s)" % st)
    os.unlink(os.path.join(ap1.dir, "pmodes", "lc3.yaml"))

    # --- graceful stop: a request in flight finishes and commits ---------------------------
    payload = os.urandom(3 * 1024 * 1024)
    body, ctype = form_data([("metadata", None, "application/json",
                              json.dumps({"pmode": "lc"}).encode()),
                             ("payload", "blob.bin", "application/octet-stream", payload)])
    s = socket.create_connection(("127.0.0.1", ap1.api_port), timeout=30)
    head = ("POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Authorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
                TOKENS["submitter"], ctype, len(body))).encode()
    s.sendall(head + body[:len(body) // 2])
    time.sleep(0.3)
    ap1.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    refused = False
    try:
        socket.create_connection(("127.0.0.1", ap1.api_port), timeout=2).close()
    except OSError:
        refused = True
    check(refused, "after SIGTERM no new connection is accepted")
    s.sendall(body[len(body) // 2:])
    resp = b""
    while b"\r\n\r\n" not in resp or len(resp) < 20:
        chunk = s.recv(65536)
        if not chunk:
            break
        resp += chunk
    s.close()
    status_line = resp.split(b"\r\n", 1)[0]
    check(b" 202 " in status_line, "the request in flight finished with 202 (%s)" % status_line)
    msgid = ""
    if b"\r\n\r\n" in resp:
        try:
            msgid = json.loads(resp.split(b"\r\n\r\n", 1)[1])["message_id"]
        except (ValueError, KeyError):
            pass
    rc = ap1.proc.wait(30)
    ap1.proc.stdout.read()
    ap1.proc = None
    check(rc == 0, "as4d exited cleanly after SIGTERM (%s)" % rc)
    check("stopped" in ap1.log(), "the stop is logged")
    ap1.start()
    out = ap1.wait_state(msgid, ("delivered", "failed"), direction="out") if msgid else None
    check(out is not None and out["state"] == "delivered",
          "the message accepted during the stop was delivered after the restart")
    got = ap2.message(msgid, "in") if msgid else None
    check(got is not None and got["payloads"][0]["sha256"] == sha256_hex(payload),
          "its 3 MB payload arrived intact")

    for ap in aps:
        check(ap.stop() == 0, "%s stopped cleanly" % ap.name)
    aps = []
finally:
    for ap in aps:
        ap.stop()
    wd.cleanup()
finish()
