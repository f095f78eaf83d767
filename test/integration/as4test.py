# SPDX-License-Identifier: Apache-2.0
"""Integration test harness: real as4d processes on loopback, driven over HTTP.

Each scenario (test/integration/NN-name/run.py) builds its access points with AccessPoint,
talks to them through their internal API and their MSH endpoint, and asserts on what the
stores and the backends see. Only 127.0.0.1 is used. Everything a scenario creates lives in
one temporary folder, removed at the end unless AS4_KEEP=1.

Environment (set by ctest from CMake): AS4_BIN (folder of as4d and as4ctl), AS4_SHARED_DIR
(the shared folder with interop vectors, MedCom examples and the Java peer), AS4_SOURCE_DIR.
"""
import base64
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

BIN = os.environ.get("AS4_BIN", "build/bin")
SHARED = os.environ.get("AS4_SHARED_DIR", "../shared")
SOURCE = os.environ.get("AS4_SOURCE_DIR", ".")

TOKENS = {
    "admin": "it-admin-token",
    "submitter": "it-submitter-token",
    "reader": "it-reader-token",
}

failures = 0
checks = 0


def check(cond, what):
    """Record one assertion; failures are counted and reported, the scenario goes on."""
    global failures, checks
    checks += 1
    if cond:
        print("  ok   %s" % what, flush=True)
    else:
        failures += 1
        print("  FAIL %s" % what, flush=True)
    return cond


def finish():
    """Print the summary line CI counts and exit with the right status."""
    passed = checks - failures
    print("%d passed, %d failed" % (passed, failures), flush=True)
    sys.exit(1 if failures else 0)


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def as4ctl(*args, check_rc=None, **kw):
    """Run as4ctl; returns CompletedProcess (text)."""
    p = subprocess.run([os.path.join(BIN, "as4ctl")] + list(args), capture_output=True,
                       text=True, **kw)
    if check_rc is not None and p.returncode != check_rc:
        print(p.stdout, p.stderr)
    return p


class Workdir:
    """The scenario's temporary folder with a development PKI in pki/."""

    def __init__(self, name):
        self.path = tempfile.mkdtemp(prefix="as4-it-%s-" % name)
        p = as4ctl("certs", "dev", os.path.join(self.path, "pki"))
        if p.returncode != 0:
            raise RuntimeError("as4ctl certs dev failed: %s %s" % (p.stdout, p.stderr))
        self.pki = os.path.join(self.path, "pki")

    def cleanup(self):
        if os.environ.get("AS4_KEEP") == "1":
            print("kept %s" % self.path)
            return
        shutil.rmtree(self.path, ignore_errors=True)


def token_hash(t):
    return hashlib.sha256(t.encode()).hexdigest()


class AccessPoint:
    """One as4d with its own config, data folder and ports.

    parties: dict name -> {"ids": [(type, value), ...], "endpoint": url or None, "cert": path,
                           "dynamic": bool (any access point of a network: ids [(type, None)])}
             (an id without a type has type None: its value is a URI)
    pmodes: dict file name -> YAML text
    keystore: (key path, certificate path) of the AS4 key pair (default: the party's key of the
              development PKI, which also serves TLS)
    """

    def __init__(self, wd, name, party, parties, pmodes, extra_yaml="", msh_port=None,
                 api_port=None, tls=True, keystore=None):
        self.wd = wd
        self.name = name
        self.dir = os.path.join(wd.path, name)
        os.makedirs(os.path.join(self.dir, "pmodes"), exist_ok=True)
        self.msh_port = msh_port or free_port()
        self.api_port = api_port or free_port()
        self.tls = tls
        self.proc = None
        self.log_path = os.path.join(self.dir, "as4d.log")
        key = os.path.join(wd.pki, "%s.key.pem" % party)
        cert = os.path.join(wd.pki, "%s.cert.pem" % party)
        lines = [
            "node:",
            "  name: %s" % name,
            "  party: %s" % party,
            "  data_dir: %s" % os.path.join(self.dir, "data"),
            "  pmode_dir: %s" % os.path.join(self.dir, "pmodes"),
            "listeners:",
            "  msh:",
            "    address: 127.0.0.1",
            "    port: %d" % self.msh_port,
            "    tls:",
        ]
        if tls:
            lines += ["      enabled: true", "      cert: %s" % cert, "      key: %s" % key]
        else:
            lines += ["      enabled: false"]
        as4_key, as4_cert = keystore or (key, cert)
        lines += [
            "  api:",
            "    address: 127.0.0.1",
            "    port: %d" % self.api_port,
            "keystore:",
            "  signing:",
            "    key: %s" % as4_key,
            "    cert: %s" % as4_cert,
            "truststores:",
            "  as4: [%s]" % os.path.join(wd.pki, "ca.pem"),
            "  tls: [%s]" % os.path.join(wd.pki, "ca.pem"),
            "parties:",
        ]
        for pname, p in parties.items():
            lines.append("  - name: %s" % pname)
            lines.append("    ids:")
            for t, v in p["ids"]:
                # an id without a type (its value is a URI) or without a value (dynamic party)
                kv = [("type", t), ("value", v)]
                kv = ["%s: %s" % (k, json.dumps(x)) for k, x in kv if x is not None]
                lines.append("      - " + kv[0])
                lines += ["        " + x for x in kv[1:]]
            if p.get("dynamic"):
                lines.append("    dynamic: true")
            if p.get("endpoint"):
                lines.append("    endpoint: %s" % p["endpoint"])
            if p.get("cert"):
                lines.append("    certificate: %s" % p["cert"])
        lines += [
            "api:",
            "  tokens:",
        ]
        for role, tok in TOKENS.items():
            lines += ["    - name: it-%s" % role, "      role: %s" % role,
                      "      sha256: %s" % token_hash(tok)]
        lines += ["log:", "  format: logfmt", "  level: info", "  file: %s" % self.log_path]
        self.config = os.path.join(self.dir, "as4d.yaml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n" + extra_yaml)
        for fname, text in pmodes.items():
            with open(os.path.join(self.dir, "pmodes", fname), "w") as f:
                f.write(text)

    @property
    def msh_url(self):
        return "%s://127.0.0.1:%d/as4" % ("https" if self.tls else "http", self.msh_port)

    def start(self, wait=True):
        env = dict(os.environ)
        self.proc = subprocess.Popen([os.path.join(BIN, "as4d"), "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                raise RuntimeError("%s exited with %s: %s\n%s" % (
                    self.name, self.proc.returncode, out, self.log()))
            try:
                st, _, _ = self.http("GET", "/api/v1/health")
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not come up:\n%s" % (self.name, self.log()))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop and return the exit status (sanitizer reports make it non-zero)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read().decode(errors="replace")
        rc = self.proc.returncode
        if rc not in (0, -signal.SIGKILL) and out:
            print(out)
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    # -- HTTP ---------------------------------------------------------------------------

    def http(self, method, path, body=None, headers=None, port=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.api_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            conn.close()

    def api(self, method, path, doc=None, role="admin", token=None, raw=None,
            content_type="application/json"):
        headers = {}
        tok = token if token is not None else TOKENS.get(role)
        if tok:
            headers["Authorization"] = "Bearer " + tok
        body = raw
        if doc is not None:
            body = json.dumps(doc).encode()
        if body is not None:
            headers["Content-Type"] = content_type
        st, hdrs, data = self.http(method, "/api/v1" + path, body, headers)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return st, parsed, data, hdrs

    def post_as4(self, body, content_type, timeout=60):
        """POST to the MSH endpoint (TLS checked against the scenario's development CA)."""
        if not self.tls:
            return self.http("POST", "/as4", body, {"Content-Type": content_type},
                             port=self.msh_port, timeout=timeout)
        ctx = ssl.create_default_context(cafile=os.path.join(self.wd.pki, "ca.pem"))
        conn = http.client.HTTPSConnection("127.0.0.1", self.msh_port, context=ctx,
                                           timeout=timeout)
        try:
            conn.request("POST", "/as4", body=body, headers={"Content-Type": content_type})
            r = conn.getresponse()
            data = r.read()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
        finally:
            conn.close()

    def message(self, msgid, direction=None):
        q = "?direction=" + direction if direction else ""
        st, doc, _, _ = self.api("GET", "/messages/" + urllib.parse.quote(msgid, safe="") + q)
        return doc if st == 200 else None

    def wait_state(self, msgid, states, direction=None, timeout=60):
        deadline = time.time() + timeout
        doc = None
        while time.time() < deadline:
            doc = self.message(msgid, direction)
            if doc is not None and doc["state"] in states:
                return doc
            time.sleep(0.1)
        return doc

    def inbox(self):
        out = []
        cursor = ""
        while True:
            st, doc, _, _ = self.api("GET", "/inbox?limit=100" +
                                     ("&cursor=" + cursor if cursor else ""), role="submitter")
            if st != 200:
                raise RuntimeError("inbox: %s %s" % (st, doc))
            out += doc["messages"]
            cursor = doc["next_cursor"]
            if not cursor:
                return out

    def store_files(self):
        """Every file under the data folder (to check that refusals store nothing)."""
        res = {}
        root = os.path.join(self.dir, "data")
        for dirpath, _, files in os.walk(root):
            for f in files:
                p = os.path.join(dirpath, f)
                res[os.path.relpath(p, root)] = os.path.getsize(p)
        return res


def form_data(fields):
    """A multipart/form-data body from [(name, filename or None, content type, bytes)]."""
    boundary = "as4test" + os.urandom(12).hex()
    out = b""
    for name, filename, ctype, data in fields:
        disp = 'form-data; name="%s"' % name
        if filename:
            disp += '; filename="%s"' % filename
        out += ("--%s\r\nContent-Disposition: %s\r\nContent-Type: %s\r\n\r\n" % (
            boundary, disp, ctype)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=%s" % boundary


def b64(data):
    return base64.b64encode(data).decode()


def read_shared(*parts):
    with open(os.path.join(SHARED, *parts), "rb") as f:
        return f.read()


def https(port):
    return "https://127.0.0.1:%d/as4" % port


def dev_parties(wd, endpoints):
    """The two development parties ap1 and ap2 with their certificates and endpoints."""
    out = {}
    for name in ("ap1", "ap2"):
        out[name] = {
            "ids": [("urn:fdc:peppol.eu:2017:identifiers:ap", name)],
            "endpoint": endpoints.get(name),
            "cert": os.path.join(wd.pki, "%s.cert.pem" % name),
        }
    return out


def pmode_yaml(pid, initiator, responder, service, action, security="sign+encrypt",
               compress=True, extra=""):
    """A PMode document for the test parties (conf/pmodes format, see docs/admin-guide.md).

    extra: further YAML lines inside `pmode:` (indented by two spaces).
    """
    lines = [
        "pmode:",
        "  id: %s" % pid,
        "  initiator: %s" % initiator,
        "  responder: %s" % responder,
        "  service: %s" % service,
        "  action: %s" % action,
        "  payload:",
        "    compress: %s" % ("true" if compress else "false"),
    ]
    if security == "none":
        lines.append("  security: none")
    else:
        lines += ["  security:", "    sign: true", "    encrypt: %s" % (
            "true" if "encrypt" in security else "false")]
    return "\n".join(lines) + "\n" + extra
