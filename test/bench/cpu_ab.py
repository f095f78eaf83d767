# SPDX-License-Identifier: Apache-2.0
"""CPU per message of two builds, measured in turns on the same machine (not a ctest).

The machine is shared and its load changes by the minute, so two benchmark runs made minutes
apart do not compare. This runs the two builds in alternation (A B A B ...), each round on a
fresh pair of as4d set up as run_bench.py does (TLS, sign + encrypt + gzip, signed receipts,
durable commits, sender.workers 32), with bench_load submitting --count 10 KB messages after a
warm-up, and reports for each build and round the CPU time each as4d spent per delivered
message (utime + stime from /proc, split into user and system), the context switches per
message (all threads) and the delivered rate; then the medians and the ratio B / A.

    python3 test/bench/cpu_ab.py --a /path/to/old/build --b build [--rounds 3] [--count 3000]

--a and --b are build directories (bin/as4d, test/bench/bench_load).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import as4test  # noqa: E402

args_p = argparse.ArgumentParser()
args_p.add_argument("--a", required=True, help="build directory of the reference")
args_p.add_argument("--b", required=True, help="build directory to compare with it")
args_p.add_argument("--rounds", type=int, default=3)
args_p.add_argument("--count", type=int, default=3000)
args_p.add_argument("--concurrency", type=int, default=64)
args_p.add_argument("--workers", type=int, default=32)
args = args_p.parse_args()


def proc_cpu(pid):
    """(user, system) seconds of a process, all threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tck, int(fields[12]) / tck


def ctx_switches(pid):
    """Voluntary + involuntary context switches of every thread of a process."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if "ctxt_switches" in line:
                        total += int(line.split()[1])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


def one_round(build):
    as4test.BIN = os.path.join(os.path.abspath(build), "bin")  # as4d and as4ctl of this build
    wd = as4test.Workdir("cpu-ab")
    p1, p2 = as4test.free_port(), as4test.free_port()
    parties = as4test.dev_parties(wd, {"ap1": as4test.https(p1), "ap2": as4test.https(p2)})
    rel = "  reliability:\n    retries: 10\n    interval: 1s\n"
    pm = {"b.yaml": as4test.pmode_yaml("b", "ap1", "ap2", "urn:bench", "Doc", extra=rel)}
    extra = "sender:\n  workers: %d\nreceiver:\n  threads: 128\n" % args.workers
    aps = [as4test.AccessPoint(wd, n, n, parties, pm, msh_port=p, extra_yaml=extra)
           for n, p in (("ap1", p1), ("ap2", p2))]
    try:
        for ap in aps:
            ap.start()
        load = [os.path.join(build, "test", "bench", "bench_load"), "--api",
                "http://127.0.0.1:%d" % aps[0].api_port, "--token",
                as4test.TOKENS["submitter"], "--pmode", "b", "--size", "10240", "--wait", "600"]
        subprocess.run(load + ["--count", "300", "--concurrency", "16"], capture_output=True)
        c0 = [proc_cpu(ap.proc.pid) for ap in aps]
        s0 = [ctx_switches(ap.proc.pid) for ap in aps]
        r = subprocess.run(load + ["--count", str(args.count), "--concurrency",
                                   str(args.concurrency)], capture_output=True, text=True)
        c1 = [proc_cpu(ap.proc.pid) for ap in aps]
        s1 = [ctx_switches(ap.proc.pid) for ap in aps]
    finally:
        for ap in aps:
            ap.stop()
        wd.cleanup()
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    res = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    n = float(res.get("delivered", 0)) or 1
    out = {"delivered": int(n), "failed": int(float(res.get("failed", 0))),
           "delivered_per_s": float(res.get("delivered_per_s", 0)), "load": os.getloadavg()[0]}
    for i, name in enumerate(("sender", "receiver")):
        out[name + "_user_ms"] = (c1[i][0] - c0[i][0]) * 1000 / n
        out[name + "_sys_ms"] = (c1[i][1] - c0[i][1]) * 1000 / n
        out[name + "_ms"] = out[name + "_user_ms"] + out[name + "_sys_ms"]
        out[name + "_cs"] = (s1[i] - s0[i]) / n
    return out


runs = {"a": [], "b": []}
for rnd in range(args.rounds):
    for key in ("a", "b"):
        res = one_round(getattr(args, key))
        runs[key].append(res)
        print(json.dumps({"round": rnd + 1, "build": key, **{
            k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}}),
            flush=True)
        time.sleep(1)

summary = {}
for key in ("a", "b"):
    summary[key] = {k: round(statistics.median(r[k] for r in runs[key]), 3)
                    for k in runs[key][0] if k not in ("failed",)}
summary["b_over_a"] = {k: round(summary["b"][k] / summary["a"][k], 3)
                       for k in summary["a"] if summary["a"][k] and k != "load"}
print(json.dumps(summary, indent=1))
