# SPDX-License-Identifier: Apache-2.0
"""The internal API over TLS with client certificates required (listeners.api.tls with
client_ca and require_client_cert).

- A client presenting a certificate issued by the configured CA, with a token, is served; the
  audit trail records the token name together with the certificate's subject.
- Without a client certificate, or with one from another CA, nothing is served: the TLS
  handshake fails or the request is answered 403 client_certificate_required, before any
  token check or body read.
- The certificate does not replace the token: a valid certificate without a token gets 401.
- as4ctl reaches the API with --cacert/--cert/--key and fails without them (exit 3 or 1).
"""
import http.client
import json
import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401


def client(port, pki, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert, key)
    return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)


def call(port, pki, method, path, token=None, body=None, cert=None, key=None):
    """(status, parsed JSON) or (None, error text) when the connection failed."""
    conn = client(port, pki, cert, key)
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, None
    except (ssl.SSLError, OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def main():
    wd = Workdir("admin-mtls")
    p1 = free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(free_port())})
    pm = {"hn.yaml": pmode_yaml("hn", "ap1", "ap2", "urn:svc", "urn:act")}
    a = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1)
    pki = wd.pki
    with open(a.config) as f:
        text = f.read()
    api = "  api:\n    address: 127.0.0.1\n    port: %d\n" % a.api_port
    check(api in text, "the generated configuration has the API listener")
    text = text.replace(api, api + "    tls:\n      enabled: true\n      cert: %s\n      key: %s\n"
                        "      client_ca: %s\n      require_client_cert: true\n" % (
                            os.path.join(pki, "ap1.cert.pem"), os.path.join(pki, "ap1.key.pem"),
                            os.path.join(pki, "ca.pem")))
    with open(a.config, "w") as f:
        f.write(text)
    other = os.path.join(wd.path, "other")
    as4ctl("certs", "dev", other, check_rc=0)
    good = (os.path.join(pki, "ap2.cert.pem"), os.path.join(pki, "ap2.key.pem"))
    bad = (os.path.join(other, "ap2.cert.pem"), os.path.join(other, "ap2.key.pem"))
    try:
        a.start(wait=False)
        deadline = time.time() + 30
        st = None
        while time.time() < deadline and st != 200:
            st, _ = call(a.api_port, pki, "GET", "/api/v1/health", cert=good[0], key=good[1])
            time.sleep(0.1)
        check(st == 200, "as4d serves the API over TLS")
        scenario(wd, a, pki, good, bad)
    finally:
        rc = a.stop()
        check(rc == 0, "as4d stops cleanly (%s)" % rc)
        wd.cleanup()
    finish()


def scenario(wd, a, pki, good, bad):
    port = a.api_port
    st, d = call(port, pki, "GET", "/api/v1/status", TOKENS["reader"], cert=good[0], key=good[1])
    check(st == 200 and d["node"] == "ap1", "client certificate + token: served")
    st, d = call(port, pki, "GET", "/api/v1/status", TOKENS["reader"])
    check(st is None or (st == 403 and d["error"]["code"] == "client_certificate_required"),
          "no client certificate: refused (%s %s)" % (st, d))
    st, d = call(port, pki, "GET", "/api/v1/health")
    check(st is None or st == 403, "not even the health check without one (%s)" % st)
    st, d = call(port, pki, "GET", "/api/v1/status", TOKENS["reader"], cert=bad[0], key=bad[1])
    check(st is None or (st == 403 and d["error"]["code"] == "client_certificate_required"),
          "a certificate from another CA: refused (%s %s)" % (st, d))
    st, d = call(port, pki, "GET", "/api/v1/status", cert=good[0], key=good[1])
    check(st == 401, "a certificate does not replace the token: 401 (%s)" % st)
    st, d = call(port, pki, "PUT", "/api/v1/log", TOKENS["admin"], {"level": "debug"},
                 cert=good[0], key=good[1])
    check(st == 200, "an admin change over mTLS")
    # a participant change goes through the same audit path (api_audit)
    st, d = call(port, pki, "PUT", "/api/v1/participants/5790001382445", TOKENS["admin"],
                 {"name": "Clinic C"}, cert=good[0], key=good[1])
    check(st == 201, "a participant added over mTLS (%s %s)" % (st, d))
    st, d = call(port, pki, "GET", "/api/v1/audit", TOKENS["admin"], cert=good[0], key=good[1])
    who = [e["who"] for e in d["entries"] if e["what"] == "log.level"]
    check(who and who[-1].startswith("it-admin (") and "CN=ap2" in who[-1],
          "the audit records the token and the client certificate: %s" % who)
    who = [e["who"] for e in d["entries"] if e["what"] == "participant.put"]
    check(who and who[-1].startswith("it-admin (") and "CN=ap2" in who[-1],
          "and so for a participant change: %s" % who)

    env = dict(os.environ, AS4CTL_URL="https://127.0.0.1:%d" % port, AS4CTL_TOKEN=TOKENS["reader"])
    base = [os.path.join(BIN, "as4ctl"), "status", "--cacert", os.path.join(pki, "ca.pem")]
    p = subprocess.run(base + ["--cert", good[0], "--key", good[1]], capture_output=True,
                       text=True, env=env, timeout=60)
    check(p.returncode == 0 and "node ap1" in p.stdout, "as4ctl with a client certificate (%s)" % p.stderr)
    p = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    check(p.returncode in (1, 3), "as4ctl without one fails (%d: %s)" % (p.returncode, p.stderr.strip()))


if __name__ == "__main__":
    main()
