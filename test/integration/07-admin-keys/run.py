# SPDX-License-Identifier: Apache-2.0
"""Certificates through the API: trust added and removed, key rollover with an overlap, and
both surviving a restart.

ap1 rolls its key pair over to a pair issued by a new CA (pki2). Before, ap2 is told to trust
that CA through its API. After the rollover:
  - ap1 -> ap2 works: ap1 signs with the new key, ap2 accepts the signer through the trusted CA;
  - ap2 -> ap1 works: ap2 still encrypts for ap1's old certificate (its configuration has not
    changed), and ap1 decrypts with the old key, kept for decryption during the overlap;
  - the inventory shows the new pair as managed and the old one as a decryption key; no
    private key appears in any answer.
Both daemons restart: the managed trust and keys are read back from node.managed_dir and the
exchanges still work. A second rollover (pki3) makes the first managed pair an old one, which
is retired. Removing the trust at ap2 makes ap1's messages fail at ap2 again (EBMS:0101).
Every change is in the audit trail; a refused change (bad key) changes nothing.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401


def read(path):
    with open(path) as f:
        return f.read()


def exchange(a, b, what):
    """One message each way; both must be delivered with a verified receipt."""
    ok = True
    for src, dst, pmode in ((a, b, "hn"), (b, a, "hn-back")):
        st, d, raw, _ = src.api("POST", "/messages",
                                {"pmode": pmode, "payloads": [{"mime_type": "text/plain",
                                                               "content": b64(b"key test")}]},
                                role="submitter")
        if not check(st == 202, "%s: submit %s (%s)" % (what, pmode, raw[:120])):
            return False
        m = src.wait_state(d["message_id"], ["delivered", "failed"], timeout=60)
        ok = check(m is not None and m["state"] == "delivered",
                   "%s: %s %s -> %s delivered (%s)" % (what, pmode, src.name, dst.name,
                                                      (m or {}).get("last_error"))) and ok
    return ok


def main():
    wd = Workdir("admin-keys")
    p1, p2 = free_port(), free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    pm = {"hn.yaml": pmode_yaml("hn", "ap1", "ap2", "urn:svc", "urn:act",
                                extra="  reliability:\n    retries: 0\n"),
          "hn-back.yaml": pmode_yaml("hn-back", "ap2", "ap1", "urn:svc", "urn:act",
                                     extra="  reliability:\n    retries: 0\n")}
    a = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1)
    b = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2)
    try:
        a.start()
        b.start()
        scenario(wd, a, b)
    finally:
        rc_a = a.stop()
        rc_b = b.stop()
        check(rc_a == 0 and rc_b == 0, "both daemons stop cleanly (%s, %s)" % (rc_a, rc_b))
        wd.cleanup()
    finish()


def scenario(wd, a, b):
    exchange(a, b, "before")
    pki2 = os.path.join(wd.path, "pki2")
    pki3 = os.path.join(wd.path, "pki3")
    as4ctl("certs", "dev", pki2, check_rc=0)
    as4ctl("certs", "dev", pki3, check_rc=0)
    ca2 = read(os.path.join(pki2, "ca.pem"))
    key2, cert2 = read(os.path.join(pki2, "ap1.key.pem")), read(os.path.join(pki2, "ap1.cert.pem"))
    key3, cert3 = read(os.path.join(pki3, "ap1.key.pem")), read(os.path.join(pki3, "ap1.cert.pem"))

    # a refused rollover changes nothing
    st, d, _, _ = a.api("POST", "/certificates/keystore", {"key": key3, "certificate": cert2})
    check(st == 422 and "does not belong" in d["error"]["message"], "mismatched pair refused")
    st, d, _, _ = a.api("POST", "/certificates/keystore", {"key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "certificate": cert2})
    check(st == 422 and "PRIVATE KEY" not in json.dumps(d), "a broken key is refused without quoting it")
    check(not os.path.exists(os.path.join(a.dir, "data", "managed", "keystore", "current")),
          "nothing was installed")

    # ap2 trusts the new CA; ap1 rolls over
    st, t, _, _ = b.api("POST", "/certificates/trust", {"store": "as4", "certificate": ca2})
    check(st == 201 and t["source"] == "managed" and t["ca"], "ap2 trusts pki2's CA")
    st, r, raw, _ = a.api("POST", "/certificates/keystore", {"key": key2, "certificate": cert2})
    check(st == 200 and r["decryption_keys"] == 2 and "AS4 Development" in r["current"]["issuer"],
          "ap1 rolled over: %s" % raw[:200])
    check(b"PRIVATE" not in raw, "no private key in the answer")
    st, inv, raw, _ = a.api("GET", "/certificates", role="reader")
    check(b"PRIVATE" not in raw, "no private key in the inventory")
    uses = [(k["use"], k["source"]) for k in inv["keystore"]]
    check(("signing", "managed") in uses and ("encryption", "managed") in uses and
          ("old_decryption[0]", "config") in uses, "inventory: managed pair, old pair decrypts: %s" % uses)
    check(inv["keystore"][0]["sha256"] == r["current"]["sha256"], "the signing certificate is the new one")
    exchange(a, b, "after the rollover")

    # restart both: the managed folder is read back
    check(a.stop() == 0 and b.stop() == 0, "stop both")
    a.start()
    b.start()
    st, inv2, _, _ = a.api("GET", "/certificates", role="reader")
    check(inv2["keystore"][0]["sha256"] == r["current"]["sha256"], "after restart ap1 signs with the new pair")
    st, tr, _, _ = b.api("GET", "/certificates", role="reader")
    check(any(c["sha256"] == t["sha256"] and c["source"] == "managed" for c in tr["truststores"]["as4"]),
          "after restart ap2 still trusts pki2's CA")
    exchange(a, b, "after a restart")

    # second rollover: the first managed pair becomes an old one, then is retired
    st, _, _, _ = b.api("POST", "/certificates/trust",
                        {"store": "as4", "certificate": read(os.path.join(pki3, "ca.pem"))})
    check(st == 201, "ap2 trusts pki3's CA")
    st, r3, _, _ = a.api("POST", "/certificates/keystore", {"key": key3, "certificate": cert3})
    check(st == 200 and r3["decryption_keys"] == 3 and r3["previous"]["sha256"] == r["current"]["sha256"],
          "second rollover keeps two older decryption keys")
    st, inv3, _, _ = a.api("GET", "/certificates", role="reader")
    names = [k["name"] for k in inv3["keystore"] if "name" in k]
    check(len(names) == 1, "one managed old pair: %s" % names)
    exchange(a, b, "after the second rollover")
    st, d, _, _ = a.api("DELETE", "/certificates/keystore/old/" + names[0])
    check(st == 200 and d["decryption_keys"] == 2, "the managed old pair is retired")
    check(not os.path.exists(os.path.join(a.dir, "data", "managed", "keystore", "old", names[0])),
          "its key file is gone")
    exchange(a, b, "after retiring")

    # trust removed at ap2: ap1's signatures are no longer accepted
    st, _, _, _ = b.api("DELETE", "/certificates/trust/as4/" + t["sha256"])
    check(st == 200, "ap2 stops trusting pki2's CA")
    st, tr, _, _ = b.api("GET", "/certificates", role="reader")
    pki3_fp = [c["sha256"] for c in tr["truststores"]["as4"] if c["source"] == "managed"]
    st, _, _, _ = b.api("DELETE", "/certificates/trust/as4/" + pki3_fp[0])
    check(st == 200, "and pki3's CA")
    st, d, _, _ = a.api("POST", "/messages", {"pmode": "hn", "payloads": [
        {"mime_type": "text/plain", "content": b64(b"untrusted now")}]}, role="submitter")
    m = a.wait_state(d["message_id"], ["delivered", "failed"], timeout=60)
    check(m is not None and m["state"] == "failed" and m["last_error"]["code"] == "EBMS:0101",
          "ap2 refuses ap1's new signer with EBMS:0101: %s" % (m or {}).get("last_error"))

    st, au, _, _ = a.api("GET", "/audit")
    whats = [e["what"] for e in au["entries"]]
    check(whats.count("keystore.rollover") == 2 and whats.count("keystore.retire") == 1,
          "ap1 audit: %s" % whats)
    st, au, _, _ = b.api("GET", "/audit")
    whats = [e["what"] for e in au["entries"]]
    check(whats.count("certificate.trust.add") == 2 and whats.count("certificate.trust.remove") == 2,
          "ap2 audit: %s" % whats)
    key_files = []
    for root, _, files in os.walk(os.path.join(a.dir, "data", "managed")):
        for f in files:
            if f == "key.pem":
                key_files.append(os.stat(os.path.join(root, f)).st_mode & 0o777)
    check(key_files and all(m == 0o600 for m in key_files), "managed keys have mode 0600: %s" % key_files)


if __name__ == "__main__":
    main()
