# SPDX-License-Identifier: Apache-2.0
"""Benchmarks of two as4d on this machine (not a ctest; results go to docs/benchmarks.md).

Two access points on loopback (TLS on /as4, signed + encrypted + gzip PMode, signed receipts
verified, durable commits on both sides, production log level) and bench_load submitting
through the API of the first one. Each group starts a fresh pair.

    python3 test/bench/run_bench.py --bin build/bin --bench build/test/bench [--quick]
                                    [--only throughput,latency,sizes,unsigned,memory]

Reports, with the machine and its load: RSA-2048 private operations per second on both cores
(openssl speed -multi) and the crypto ceiling (that / 3 private operations per message);
throughput at 10 KB for 60 s and its ratio to the ceiling; submit-to-delivered latency
p50/p99 at 200 messages/s; the same at 1 KB, 100 KB and 10 MB; the unsigned exchange
(security: none); peak RSS of each as4d during a 1 GB transfer, idle RSS and start-up time;
CPU time each as4d spent per message.
"""
import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

ap_args = argparse.ArgumentParser()
ap_args.add_argument("--bin", default="build/bin")
ap_args.add_argument("--bench", default="build/test/bench")
ap_args.add_argument("--quick", action="store_true", help="short runs (smoke test)")
ap_args.add_argument("--only", default="throughput,latency,sizes,unsigned,memory")
ap_args.add_argument("--workers", type=int, default=32)
ap_args.add_argument("--gb-file", default=None, help="reuse this 1 GB payload file")
args = ap_args.parse_args()
os.environ["AS4_BIN"] = os.path.abspath(args.bin)

from as4test import (TOKENS, AccessPoint, Workdir, dev_parties, free_port, https,  # noqa: E402
                     pmode_yaml)

ONLY = set(args.only.split(","))
DUR = 10 if args.quick else 60
LAT_DUR = 10 if args.quick else 60
results = {}


def log(*a):
    print(*a, flush=True)


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "load": os.getloadavg()}


def rsa_rate():
    """RSA-2048 private-key operations per second on all cores (openssl speed -multi)."""
    n = os.cpu_count() or 1
    out = subprocess.run(["openssl", "speed", "-multi", str(n), "-seconds",
                          "3" if args.quick else "10", "rsa2048"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            return float(m.group(1))
    return 0.0


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def proc_mem(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    return 0


class Pair:
    """ap1 -> ap2 with one PMode "b" (security as given)."""

    def __init__(self, name, security="sign+encrypt", compress=True, extra_limits=""):
        self.wd = Workdir("bench-" + name)
        p1, p2 = free_port(), free_port()
        parties = dev_parties(self.wd, {"ap1": https(p1), "ap2": https(p2)})
        rel = "  reliability:\n    retries: 10\n    interval: 1s\n"
        pm = {"b.yaml": pmode_yaml("b", "ap1", "ap2", "urn:bench", "Doc", security=security,
                                   compress=compress, extra=rel)}
        extra = "sender:\n  workers: %d\nreceiver:\n  threads: 128\n%s" % (args.workers,
                                                                         extra_limits)
        self.ap1 = AccessPoint(self.wd, "ap1", "ap1", parties, pm, msh_port=p1,
                               extra_yaml=extra)
        self.ap2 = AccessPoint(self.wd, "ap2", "ap2", parties, pm, msh_port=p2,
                               extra_yaml=extra)
        self.startup = []
        for ap in (self.ap1, self.ap2):
            t0 = time.monotonic()
            ap.start()
            self.startup.append(time.monotonic() - t0)

    def cpu(self):
        return proc_cpu(self.ap1.proc.pid), proc_cpu(self.ap2.proc.pid)

    def stop(self):
        self.ap1.stop()
        self.ap2.stop()
        self.wd.cleanup()


def commits(ap):
    """(group commits, operations in them) from the access point's /metrics."""
    _, _, body = ap.http("GET", "/metrics",
                         headers={"Authorization": "Bearer " + TOKENS["reader"]})
    vals = {}
    for line in (body or b"").decode(errors="replace").splitlines():
        m = re.match(r"(as4_store_commits_total|as4_store_committed_ops_total)\s+([\d.]+)", line)
        if m:
            vals[m.group(1)] = float(m.group(2))
    return (vals.get("as4_store_commits_total", 0), vals.get("as4_store_committed_ops_total", 0))


def load(pair, *extra):
    cmd = [os.path.join(args.bench, "bench_load"), "--api",
           "http://127.0.0.1:%d" % pair.ap1.api_port, "--token", TOKENS["submitter"],
           "--pmode", "b"] + [str(x) for x in extra]
    c0 = pair.cpu()
    g0 = [commits(pair.ap1), commits(pair.ap2)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    c1 = pair.cpu()
    g1 = [commits(pair.ap1), commits(pair.ap2)]
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    res = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    res = {k: float(v) for k, v in res.items()}
    n = res.get("delivered", 0) or 1
    res["cpu_ms_per_msg_ap1"] = (c1[0] - c0[0]) * 1000 / n
    res["cpu_ms_per_msg_ap2"] = (c1[1] - c0[1]) * 1000 / n
    for i, name in enumerate(("ap1", "ap2")):
        batches = g1[i][0] - g0[i][0]
        res["ops_per_commit_" + name] = (g1[i][1] - g0[i][1]) / batches if batches else 0
    if r.returncode != 0:
        res["stderr"] = r.stderr[-500:]
    return res


def run_group(name, fn, **kw):
    if name not in ONLY:
        return
    log("== %s" % name)
    pair = Pair(name, **kw)
    try:
        results[name] = fn(pair)
    finally:
        pair.stop()
    log(json.dumps(results[name], indent=1))


def throughput(pair):
    r = {"startup_s": pair.startup,
         "idle_rss_mb": [proc_mem(pair.ap1.proc.pid, "VmRSS"),
                         proc_mem(pair.ap2.proc.pid, "VmRSS")]}
    load(pair, "--size", 10240, "--count", 200, "--concurrency", 16, "--wait", 60)  # warm-up
    r["10k"] = load(pair, "--size", 10240, "--duration", DUR, "--concurrency", 64,
                    "--wait", 600)
    return r


def latency(pair):
    load(pair, "--size", 10240, "--count", 200, "--concurrency", 16, "--wait", 60)
    return {"10k_at_200": load(pair, "--size", 10240, "--rate", 200, "--duration", LAT_DUR,
                               "--concurrency", 64, "--wait", 300)}


def sizes(pair):
    r = {}
    for label, size, count in (("1k", 1024, None), ("100k", 102400, None),
                               ("10m", 10 * 1024 * 1024, 20)):
        if count is None:
            r[label] = load(pair, "--size", size, "--duration", DUR // 2, "--concurrency", 64,
                            "--wait", 600)
            r[label + "_at_200"] = load(pair, "--size", size, "--rate", 200, "--duration",
                                        LAT_DUR // 2, "--concurrency", 64, "--wait", 300)
        else:
            r[label] = load(pair, "--size", size, "--count", count, "--concurrency", 4,
                            "--wait", 600)
    return r


def unsigned(pair):
    load(pair, "--size", 10240, "--count", 200, "--concurrency", 16, "--wait", 60)
    return {"10k": load(pair, "--size", 10240, "--duration", DUR, "--concurrency", 64,
                        "--wait", 600)}


def memory(pair):
    path = args.gb_file
    made = False
    if path is None:
        fd, path = tempfile.mkstemp(prefix="as4-bench-1g-", dir=pair.wd.path)
        with os.fdopen(fd, "wb") as f:
            import base64
            for _ in range(1024):
                f.write(base64.b64encode(os.urandom(786432)))
        made = True
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    want = h.hexdigest()
    size = os.path.getsize(path)
    t0 = time.monotonic()
    r = load(pair, "--file", path, "--count", 1, "--concurrency", 1, "--wait", 1800)
    r["seconds"] = time.monotonic() - t0
    r["payload_bytes"] = size
    r["peak_rss_mb"] = [proc_mem(pair.ap1.proc.pid, "VmHWM"),
                        proc_mem(pair.ap2.proc.pid, "VmHWM")]
    inbox = pair.ap2.inbox()
    r["received_sha256_ok"] = bool(inbox) and inbox[-1]["payloads"][0]["sha256"] == want
    if made:
        os.unlink(path)
    return r


log(json.dumps({"machine": machine()}))
if "throughput" in ONLY:
    rate = rsa_rate()
    results["rsa2048_private_per_s_all_cores"] = rate
    results["crypto_ceiling_msgs_per_s"] = rate / 3
    log("RSA-2048 private ops/s on all cores: %.0f -> ceiling %.0f messages/s" % (
        rate, rate / 3))
run_group("throughput", throughput)
run_group("latency", latency)
run_group("sizes", sizes)
run_group("unsigned", unsigned, security="none", compress=False)
run_group("memory", memory, extra_limits="limits:\n  max_body: 2G\n  max_gunzip: 2G\n")
if "throughput" in results and results.get("crypto_ceiling_msgs_per_s"):
    t = results["throughput"]["10k"].get("delivered_per_s", 0)
    results["throughput_ratio_to_ceiling"] = t / results["crypto_ceiling_msgs_per_s"]
results["machine_after"] = machine()
print(json.dumps(results, indent=1))
