# SPDX-License-Identifier: Apache-2.0
"""05: WS-Security interoperability of as4d itself, with other products' messages and the
independent Java peer (../shared/peer, Apache Santuario).

1. Vectors (../shared/interop/messages, verdicts in its README table). Each UserMessage vector
   is POSTed (with the Content-Type its capture implies) to an as4d configured from the vector
   itself: the parties, roles, agreement, service, action and MPC come from
   `as4ctl inspect --json`, the receiver's key and the sender's certificate from the README's
   "open with" column (or the BinarySecurityToken of the message); the PMode requires the
   security the message carries. The answer must be inspect's verdict, which test/interop
   checks against the README: a signed Receipt for the vector's MessageId (signature checked
   by as4ctl, its NRI by the peer), with the message, its header fields and its payloads
   stored exactly as `as4ctl inspect --out` opens them; or a signed ebMS Error with inspect's
   code, one the README names, referring to the MessageId and storing nothing. An unsigned
   vector is also sent under a PMode that requires signing (EBMS:0103). Where the README
   names codes, as4d must give one of them.
   A party as4d cannot declare (a PartyId without type that is no URI, ebMS3 Core §5.2.2.4,
   phase4's WrongSigningAlgorithm) is replaced by one that does not match: the verdict must
   then come before the PMode is chosen. A sender certificate as4d does not load (expired,
   under 2048 bits) is left out of the configuration: the verdict must come from the
   signature itself.
   Judged by `as4ctl inspect` only (test/interop, ctest label interop), as this scenario
   prints: vectors whose receiver key as4d does not load (RSA under 2048 bits or certificate
   not valid now: AS4.NET's corrupted-ciphertext message for Holodeck PartyA, 1024 bits and
   expired 2020; the Domibus envelope for red_gw, expired 2025-12-01), and those that are no
   UserMessage (the signed PullRequest and the two Receipts: as4d receives user messages only,
   receipts are judged by the send pipeline).
2. as4d -> peer: ap1 sends to ap2 through a capturing proxy with a PMode that signs, encrypts
   and compresses two attachments; the peer verifies the captured message (4/4 references),
   decrypts it to the submitted bytes, verifies ap2's Receipt and confirms its NRI.
3. peer -> as4d: the peer signs and encrypts for ap2 (default suite, rsa-oaep-mgf1p, the
   receiver named by IssuerSerial and by SKI, rsa-sha512), one XML attachment uncompressed and
   one binary compressed, and sends to ap2's MSH; the answer is a Receipt signed by ap2 whose
   NRI the peer confirms, and ap2 stores the payloads byte for byte. One ciphertext byte
   changed gets EBMS:0102 and stores nothing.
Without java, javac and libxml-security-java parts 2 and 3 (and the NRI checks of part 1) do
not run and the scenario exits 77 (skipped) when the rest passed.
"""
import base64
import datetime
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from as4test import *  # noqa: E402,F401,F403
from as4backend import Capture  # noqa: E402

INTEROP = os.path.join(SHARED, "interop")
VECTORS = os.path.join(INTEROP, "messages")
KEYS = os.path.join(INTEROP, "keys")
EB = "{http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
SOAP12 = b"http://www.w3.org/2003/05/soap-envelope"
DEFAULT_MPC = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC"
BOM = b"\xef\xbb\xbf"
PMODE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def note(text):
    print("  --   %s" % text, flush=True)


# ---- the README table ----------------------------------------------------------------------

def readme_verdicts():
    """{file: {"what", "open_with", "expected", "keys": [name], "certs": [name], "codes"}}
    from the "Expected verdicts" table of interop/README.md."""
    with open(os.path.join(INTEROP, "README.md"), encoding="utf-8") as f:
        text = f.read()
    rows = {}
    section = text.split("## Expected verdicts", 1)[-1]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 5 or cells[0] == "message" or \
                set(cells[0]) <= set("-: "):
            continue
        files = re.findall(r"([A-Za-z0-9_.-]+)\.(key|cert)\b", cells[3])
        rows[cells[0]] = {
            "what": cells[2], "open_with": cells[3], "expected": cells[4],
            "keys": [n for n, kind in files if kind == "key"],
            "certs": [n for n, kind in files if kind == "cert"],
            "codes": re.findall(r"EBMS:\d{4}", cells[4]),
            "bst": "BST in message" in cells[3],
        }
    return rows


# ---- keys and certificates -----------------------------------------------------------------

def cert_problem(pem):
    """Why as4d would not load this certificate for its keystore or a party (RSA under 2048
    bits, not valid now), or None."""
    p = subprocess.run(["openssl", "x509", "-noout", "-text", "-dates"], input=pem,
                       capture_output=True)
    if p.returncode != 0:
        return "not a certificate"
    text = p.stdout.decode(errors="replace")
    bits = re.search(r"Public-Key: \((\d+) bit\)", text)
    if "rsaEncryption" not in text or not bits:
        return "not an RSA key"
    if int(bits.group(1)) < 2048:
        return "RSA key of %s bits" % bits.group(1)
    dates = {}
    for k in ("notBefore", "notAfter"):
        when = " ".join(re.search(r"(?m)^%s=(.+)$" % k, text).group(1).split())
        dates[k] = datetime.datetime.strptime(when, "%b %d %H:%M:%S %Y GMT").replace(
            tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    if now < dates["notBefore"]:
        return "certificate not valid before %s" % dates["notBefore"].date()
    if now > dates["notAfter"]:
        return "certificate expired %s" % dates["notAfter"].date()
    return None


def bst_certs(data):
    """The X509v3 BinarySecurityTokens of a message, as PEM."""
    out = []
    for m in re.finditer(rb"<(?:[\w.-]+:)?BinarySecurityToken\b([^>]*)>([^<]+)<", data):
        if b"X509v3" not in m.group(1):
            continue
        try:
            der = base64.b64decode(re.sub(rb"\s", b"", m.group(2)), validate=True)
        except ValueError:
            continue
        out.append(ssl.DER_cert_to_PEM_cert(der).encode())
    return out


def private_copy(wd, name, *sources):
    """The concatenation of sources in a file of mode 0600 (as4d and as4ctl refuse key files
    others can read; the shared copies are world-readable)."""
    path = os.path.join(wd.path, "keys", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        for s in sources:
            with open(s, "rb") as src:
                f.write(src.read())
    return path


# ---- messages on the wire ------------------------------------------------------------------

def soap_type(envelope):
    return "application/soap+xml" if SOAP12 in envelope[:4096] else "text/xml"


def wire_form(data):
    """(body, Content-Type) of a captured message as its sender POSTed it: an HTTP dump keeps
    its header; a bare MIME body gets multipart/related with the boundary of its first line;
    a bare envelope the SOAP version's media type (phase4's licence comment before <?xml is
    no part of the message)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = data.partition(b"\n\n")
    if sep and re.match(rb"^[A-Za-z][A-Za-z0-9-]*: ", head):
        ctype = None
        for line in head.splitlines():
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-type":
                ctype = value.strip()
        if ctype:
            return rest, ctype
    text = data[len(BOM):] if data.startswith(BOM) else data
    first = text.lstrip(b"\r\n").split(b"\n", 1)[0].strip()
    if first.startswith(b"--"):
        boundary = first[2:].decode("latin-1")
        return data, 'multipart/related; boundary="%s"; type="%s"' % (boundary, soap_type(data))
    start = text.find(b"<?xml")
    if start > 0 and text.lstrip().startswith(b"<!--"):
        data = text[start:]
    return data, soap_type(data) + "; charset=UTF-8"


def parse_answer(data):
    """{"kind": "Receipt"|"Error"|None, "ref_to" (RefToMessageId), "codes", "ref_in_error"
    (the first Error's refToMessageInError), "signed", "detail"} of an answer."""
    out = {"kind": None, "ref_to": None, "codes": [], "signed": False, "detail": "",
           "ref_in_error": None}
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return out
    ref = root.find(".//%sRefToMessageId" % EB)
    out["ref_to"] = ref.text.strip() if ref is not None and ref.text else None
    out["signed"] = root.find(".//%sSignature" % DS) is not None
    errors = root.findall(".//%sError" % EB)
    if root.find(".//%sReceipt" % EB) is not None:
        out["kind"] = "Receipt"
    elif errors:
        out["kind"] = "Error"
        out["codes"] = [e.get("errorCode") for e in errors]
        out["ref_in_error"] = errors[0].get("refToMessageInError")
        det = root.find(".//%sErrorDetail" % EB)
        out["detail"] = det.text if det is not None and det.text else ""
    return out


def inspect_json(path, *args):
    p = as4ctl("inspect", path, "--json", *args)
    try:
        return p.returncode, json.loads(p.stdout)
    except ValueError:
        return p.returncode, {"error": {"code": None, "detail": p.stderr.strip()}}


def dump(wd, name, ctype, body):
    """An HTTP-style dump (Content-Type header, blank line, body) that as4ctl and the peer
    read."""
    path = os.path.join(wd.path, name)
    with open(path, "wb") as f:
        f.write(("Content-Type: %s\r\n\r\n" % ctype).encode() + body)
    return path


# ---- the Java peer --------------------------------------------------------------------------

def find_peer(wd):
    """The peer's wrapper script: AS4_PEER (a copy in the build tree, built on first use), or
    a copy of ../shared/peer made here (../shared stays read-only). None without java/javac."""
    if not (shutil.which("java") and shutil.which("javac") and
            os.path.exists("/usr/share/java/xmlsec.jar")):
        return None
    peer = os.environ.get("AS4_PEER")
    if not peer:
        dst = os.path.join(wd.path, "peer")
        os.makedirs(dst)
        for f in ("peer", "build.sh"):
            shutil.copy(os.path.join(SHARED, "peer", f), dst)
        shutil.copytree(os.path.join(SHARED, "peer", "src"), os.path.join(dst, "src"))
        peer = os.path.join(dst, "peer")
    return peer


class Peer:
    def __init__(self, script):
        self.script = script

    def run(self, *args):
        """(exit status, the result line and whatever else the peer printed)."""
        p = subprocess.run(["sh", self.script] + list(args), capture_output=True, text=True,
                           timeout=300)
        return p.returncode, (p.stdout + p.stderr).strip()


def result_line(out):
    lines = [ln for ln in out.splitlines() if re.match(r"^[A-Z]+ (OK|FAIL|PARTIAL)", ln)]
    return lines[-1] if lines else out[-300:]


# ---- part 1: the vectors through as4d ------------------------------------------------------

def yaml_str(v):
    return json.dumps(v)


URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")


def ids_of(name, info, side, fallback):
    """The party ids of the header's From or To as as4d declares them. A message without any,
    or with one as4d cannot declare (no type and not a URI, ebMS3 Core §5.2.2.4), gets a
    party that does not match: its verdict must then come before the PMode is chosen."""
    ids = [(p.get("type"), p.get("value")) for p in (info.get(side) or {}).get("party_ids") or []
           if p.get("value")]
    bad = [v for t, v in ids if t is None and not URI.match(v)]
    if bad:
        note("%s: %s PartyId %s has no type and is not a URI: no party declares it" % (
            name, side, bad[0]))
    return ids if ids and not bad else [("urn:as4:test:party", fallback)]


def vector_pmode(pid, info, sender, receiver, sign, encrypt):
    """A PMode matching the vector's header as inspect read it."""
    lines = ["pmode:", "  id: %s" % pid]
    agr = info.get("agreement") or {}
    if agr.get("value"):
        lines.append("  agreement: %s" % yaml_str(agr["value"]))
        if agr.get("type"):
            lines.append("  agreement_type: %s" % yaml_str(agr["type"]))
    for key, party, side in (("initiator", sender, "from"), ("responder", receiver, "to")):
        lines += ["  %s:" % key, "    party: %s" % party]
        role = (info.get(side) or {}).get("role")
        if role:
            lines.append("    role: %s" % yaml_str(role))
    svc = info.get("service") or {}
    lines.append("  service: %s" % yaml_str(svc.get("value") or "urn:as4:test:service"))
    if svc.get("type"):
        lines.append("  service_type: %s" % yaml_str(svc["type"]))
    lines.append("  action: %s" % yaml_str(info.get("action") or "urn:as4:test:action"))
    if info.get("mpc") and info["mpc"] != DEFAULT_MPC:
        lines.append("  mpc: %s" % yaml_str(info["mpc"]))
    if sign is None:
        lines.append("  security: none")
    else:
        lines += ["  security:", "    sign: %s" % str(sign).lower(),
                  "    encrypt: %s" % str(encrypt).lower()]
    return "\n".join(lines) + "\n"


def payload_files(outdir):
    """The payloads inspect --out wrote, in order: [(name, bytes)]."""
    if not os.path.isdir(outdir):
        return []
    names = [n for n in os.listdir(outdir) if re.match(r"^\d+-", n)]
    names.sort(key=lambda n: int(n.split("-", 1)[0]))
    out = []
    for n in names:
        with open(os.path.join(outdir, n), "rb") as f:
            out.append((n, f.read()))
    return out


class Vector:
    """One vector with what the README and `as4ctl inspect` say about it."""

    def __init__(self, wd, name, row, index):
        self.wd, self.name, self.row, self.index = wd, name, row, index
        with open(os.path.join(VECTORS, name), "rb") as f:
            self.data = f.read()
        self.skip = None      # why as4d cannot be configured to receive it
        self.keystore = None  # (key, certificate) of the receiver
        self.notes = []
        key_args = []
        for k in row["keys"] if row else []:
            key, cert = (os.path.join(KEYS, "%s.%s.pem" % (k, s)) for s in ("key", "cert"))
            with open(cert, "rb") as f:
                problem = cert_problem(f.read())
            if problem:
                self.skip = "receiver key %s: %s" % (k, problem)
                continue
            key_args += ["--key", private_copy(wd, "%s.pem" % k, key, cert)]
            self.keystore = self.keystore or (private_copy(wd, "%s.key.pem" % k, key), cert)
        signer_pems = []
        for c in row["certs"] if row else []:
            with open(os.path.join(KEYS, "%s.cert.pem" % c), "rb") as f:
                signer_pems.append(f.read())
        if row and row["bst"]:
            signer_pems += bst_certs(self.data)
        cert_args = []
        self.signer_cert = None  # the sender's certificate as as4d's configuration names it
        os.makedirs(os.path.join(wd.path, "keys"), exist_ok=True)
        for i, pem in enumerate(signer_pems):
            cpath = os.path.join(wd.path, "keys", "signer-%d-%d.pem" % (index, i))
            with open(cpath, "wb") as f:
                f.write(pem)
            cert_args += ["--cert", cpath]
            problem = cert_problem(pem)
            if problem is None:
                self.signer_cert = self.signer_cert or cpath
            else:
                self.notes.append("sender certificate left out of as4d's configuration "
                                  "(%s)" % problem)
        self.outdir = os.path.join(wd.path, "inspect-%d" % index)
        _, self.info = inspect_json(os.path.join(VECTORS, name),
                                    *(key_args + cert_args + ["--out", self.outdir]))
        self.msgid = self.info.get("message_id")

    def user_message(self):
        kind = self.info.get("kind")
        return kind in ("UserMessage", None) or "UserMessage" in (self.row or {}).get("what", "")


def run_vector(wd, name, row, index, peer):
    v = Vector(wd, name, row, index)
    info = v.info
    if not v.user_message():
        note("%s: a %s, judged by as4ctl inspect only (as4d receives user messages)" % (
            name, info.get("kind")))
        return
    if v.skip:
        note("%s: judged by as4ctl inspect only (%s)" % (name, v.skip))
        return
    for n in v.notes:
        note("%s: %s" % (name, n))
    if row is None:
        note("%s: no row in interop/README.md; judged by as4ctl inspect's verdict" % name)
    inspected = info.get("verdict") == "accepted"
    signed = bool((info.get("signature") or {}).get("present"))
    encrypted = bool((info.get("decryption") or {}).get("present"))
    readme_codes = row["codes"] if row else []

    # The PMode as the message was sent (an unsigned one with a security header under
    # WS-Security that requires nothing, one without any under `security: none`): the verdict
    # is inspect's (checked against the README by test/interop), and a refusal must be one the
    # README names. An unsigned message is also sent under a PMode that requires signing.
    as_sent = signed if signed or encrypted or info.get("security_header") else None
    runs = [("as sent", as_sent, encrypted,
             None if inspected else [(info.get("error") or {}).get("code")])]
    if not signed and inspected:
        runs.append(("signing required", True, encrypted, ["EBMS:0103"]))
    receiver_ids = ids_of(name, info, "to", "interop-receiver")
    sender_ids = ids_of(name, info, "from", "interop-sender")
    got_codes = []
    for n, (label, sign, encrypt, want_codes) in enumerate(runs):
        parties = {"receiver": {"ids": receiver_ids}}
        sender = "sender"
        if sorted(map(str, sender_ids)) == sorted(map(str, receiver_ids)):
            # From and To are the same party (a loopback test message): we send to ourselves
            sender = "receiver"
            parties["receiver"]["endpoint"] = "http://127.0.0.1:9/as4"
            parties["receiver"]["cert"] = v.signer_cert
        else:
            parties["sender"] = {"ids": sender_ids, "cert": v.signer_cert}
        # named after the AgreementRef's @pmode where that is an id: as4d then considers it
        # alone (admin guide, "How a PMode is chosen")
        agr = (info.get("agreement") or {}).get("pmode")
        pid = agr if agr and PMODE_ID.match(agr) else "interop"
        pm = {"vector.yaml": vector_pmode(pid, info, sender, "receiver", sign, encrypt)}
        ap = AccessPoint(wd, "ap-%d-%d" % (index, n), "receiver", parties, pm, tls=False,
                         keystore=v.keystore or (os.path.join(wd.pki, "ap2.key.pem"),
                                                 os.path.join(wd.pki, "ap2.cert.pem")))
        try:
            ap.start()
        except RuntimeError as e:
            check(False, "%s (%s): as4d starts with the vector's configuration: %s" % (
                name, label, e))
            continue
        try:
            what = "%s (%s)" % (name, label)
            if want_codes is None:
                got_codes.append(expect_receipt(ap, v, what, peer))
            else:
                code = expect_error(ap, v, what, want_codes)
                got_codes.append(code)
                if readme_codes and label == "as sent":
                    check(code in readme_codes, "%s: %s is the README's verdict %s" % (
                        what, code, " or ".join(readme_codes)))
            rc = ap.stop()
            check(rc == 0, "%s: as4d stopped cleanly (exit %s)" % (what, rc))
        finally:
            ap.stop()
    if readme_codes:
        check(any(c in readme_codes for c in got_codes),
              "%s: as4d gave the README's verdict %s (got %s)" % (
                  name, " or ".join(readme_codes), got_codes))


def expect_receipt(ap, v, what, peer):
    """POST the vector, expect a signed Receipt and the message stored as inspect opened it.
    Returns the answer's error code (None for a Receipt)."""
    body, ctype = wire_form(v.data)
    st, hdrs, data = ap.post_as4(body, ctype)
    ans = parse_answer(data)
    check(st == 200 and ans["kind"] == "Receipt" and ans["signed"] and
          ans["ref_to"] == v.msgid,
          "%s: signed Receipt for %s (HTTP %s, %s %s %s)" % (
              what, v.msgid, st, ans["kind"], ans["codes"], ans["detail"][:200]))
    if ans["kind"] != "Receipt":
        return ans["codes"][0] if ans["codes"] else None
    # the Receipt's signature holds, made with the receiver's key
    rpath = dump(v.wd, "receipt-%s.http" % ap.name, hdrs.get("content-type", ""), data)
    cert = v.keystore[1] if v.keystore else os.path.join(v.wd.pki, "ap2.cert.pem")
    rc, rinfo = inspect_json(rpath, "--cert", cert)
    sig = rinfo.get("signature") or {}
    check(rc == 0 and rinfo.get("kind") == "Receipt" and sig.get("valid") and
          sig.get("trusted") and rinfo.get("ref_to_message_id") == v.msgid,
          "%s: the Receipt's signature verifies with the receiver's certificate (%s)" % (
              what, rinfo.get("error") or sig.get("signer")))
    if peer is not None and (v.info.get("signature") or {}).get("present"):
        # the Receipt's non-repudiation information repeats what the other product signed
        rc, out = peer.run("nri", "--receipt", rpath, "--original", os.path.join(VECTORS, v.name))
        check(rc == 0, "%s: peer nri: the Receipt's NRI equals the vector's references (%s)" % (
            what, result_line(out)))
    rec = ap.message(v.msgid, "in")
    if not check(rec is not None and rec.get("state") == "received",
                 "%s: message stored as received (%s)" % (what, (rec or {}).get("state"))):
        return None
    want = payload_files(v.outdir)
    got = [p.get("sha256") for p in rec.get("payloads", [])]
    check(got == [sha256_hex(d) for _, d in want],
          "%s: %d stored payload digests equal what as4ctl inspect --out decrypts" % (
              what, len(want)))
    for i, (fname, d) in enumerate(want):
        st, _, pdata = ap.http(
            "GET", "/api/v1/messages/%s/payloads/%d" % (urllib.parse.quote(v.msgid, safe=""), i),
            headers={"Authorization": "Bearer " + TOKENS["submitter"]})
        check(st == 200 and pdata == d, "%s: payload %d (%s, %d bytes) byte-identical" % (
            what, i, fname, len(d)))
    info = v.info
    ids = {side: [(p["type"], p["value"]) for p in info[side]["party_ids"]]
           for side in ("from", "to")}
    stored = {side: (rec[side].get("type"), rec[side].get("value")) for side in ("from", "to")}
    check(all(stored[side] in ids[side] for side in ("from", "to")) and
          rec.get("service") == info["service"] and rec.get("action") == info["action"] and
          rec.get("conversation_id") == info.get("conversation_id"),
          "%s: stored header fields equal the message's (from %s, to %s, service %s, "
          "action %s, conversation %s)" % (what, stored["from"], stored["to"],
                                          rec.get("service"), rec.get("action"),
                                          rec.get("conversation_id")))
    return None


def expect_error(ap, v, what, want_codes):
    """POST the vector, expect a signed ebMS Error with one of want_codes, nothing stored.
    Returns the answer's error code."""
    before = ap.store_files()
    body, ctype = wire_form(v.data)
    st, _, data = ap.post_as4(body, ctype)
    ans = parse_answer(data)
    code = ans["codes"][0] if ans["codes"] else None
    check(st == 500 and ans["kind"] == "Error" and code in want_codes and ans["signed"] and
          ans["detail"],
          "%s: signed ebMS Error %s (HTTP %s, %s %s: %s)" % (
              what, " or ".join(map(str, want_codes)), st, ans["kind"], ans["codes"],
              ans["detail"][:200]))
    if v.msgid:
        check(ans["ref_in_error"] == v.msgid and ans["ref_to"] == v.msgid,
              "%s: the Error refers to %s (refToMessageInError %s)" % (
                  what, v.msgid, ans["ref_in_error"]))
        check(ap.message(v.msgid, "in") is None, "%s: no message record" % what)
    check(ap.store_files() == before, "%s: nothing stored" % what)
    return code


def part_vectors(wd, peer):
    print("part 1: the interop vectors through as4d", flush=True)
    rows = readme_verdicts()
    check(len(rows) >= 1, "interop/README.md lists %d verdicts" % len(rows))
    for i, name in enumerate(sorted(os.listdir(VECTORS))):
        run_vector(wd, name, rows.get(name), i, peer)


# ---- part 2: as4d -> peer --------------------------------------------------------------------

SERVICE = "urn:as4:test:interop"
ACTION = "urn:as4:test:interop:doc"


def part_as4d_to_peer(wd, peer, ap1, ap2, proxy):
    print("part 2: what as4d sends, verified and decrypted by the peer", flush=True)
    fhir = read_shared("medcom-examples", "01-hospitalnotification-admit-inpatient.bundle.xml")
    binary = os.urandom(70000)
    st, body, raw, _ = ap1.api("POST", "/messages", {
        "pmode": "interop",
        "payloads": [
            {"mime_type": "application/fhir+xml", "content": b64(fhir), "compress": True},
            {"mime_type": "application/octet-stream", "content": b64(binary), "compress": True},
        ]}, role="submitter")
    check(st == 202, "submit: 202 (%s %s)" % (st, raw[:200]))
    msgid = body["message_id"] if body else ""
    out = ap1.wait_state(msgid, ("delivered", "failed"), "out")
    check(out is not None and out["state"] == "delivered",
          "ap1 -> ap2 delivered (%s)" % (out or {}).get("state"))
    sent = [c for c in proxy.captured if msgid.encode() in c[1]]
    if not check(len(sent) == 1 and sent[0][2] == 200,
                 "the proxy captured the message and ap2's answer once"):
        return
    ctype, request, status, answer = sent[0]
    capture = dump(wd, "as4d-sent.http", ctype, request)
    key2 = os.path.join(wd.pki, "ap2.key.pem")
    cert1 = os.path.join(wd.pki, "ap1.cert.pem")
    cert2 = os.path.join(wd.pki, "ap2.cert.pem")
    rc, out = peer.run("verify", capture, "--key", key2, "--cert", cert1, "--strict-time")
    line = result_line(out)
    check(rc == 0 and "refs=4/4" in line and "att=2" in line and "attachments=2" in line,
          "peer verify: signature and 4/4 references valid after decrypting 2 attachments "
          "(%s)" % line)
    check('signer="CN=ap1' in line, "peer verify: signed by ap1's certificate")
    outdir = os.path.join(wd.path, "peer-decrypted")
    rc, out = peer.run("decrypt", capture, "--key", key2, "--out", outdir)
    check(rc == 0, "peer decrypt: %s" % result_line(out))
    got = sorted(f for f in os.listdir(outdir) if f.endswith(".gunzipped")) \
        if os.path.isdir(outdir) else []
    plain = []
    for f in got:
        with open(os.path.join(outdir, f), "rb") as fh:
            plain.append(fh.read())
    check(plain == [fhir, binary],
          "peer decrypt: the 2 attachments gunzip to the submitted bytes (%s)" % got)
    receipt = os.path.join(wd.path, "ap2-receipt.xml")
    with open(receipt, "wb") as f:
        f.write(answer)
    rc, out = peer.run("verify", receipt, "--cert", cert2, "--strict-time")
    check(rc == 0 and 'signer="CN=ap2' in result_line(out),
          "peer verify: ap2's Receipt is signed by ap2 (%s)" % result_line(out))
    rc, out = peer.run("nri", "--receipt", receipt, "--original", capture)
    check(rc == 0, "peer nri: the Receipt's NRI equals what ap1 signed (%s)" % result_line(out))


# ---- part 3: peer -> as4d --------------------------------------------------------------------

def user_envelope(msgid, parts):
    """An unsigned SOAP 1.2 UserMessage from ap1 to ap2 for the PMode "interop" with one
    PartInfo per (cid, MIME type)."""
    eb = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/"
    ap = "urn:fdc:peppol.eu:2017:identifiers:ap"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    infos = "".join(
        '<eb:PartInfo href="cid:%s"><eb:PartProperties>'
        '<eb:Property name="MimeType">%s</eb:Property></eb:PartProperties></eb:PartInfo>' % (
            cid, mime) for cid, mime in parts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<S12:Envelope xmlns:S12="http://www.w3.org/2003/05/soap-envelope" xmlns:eb="%s">'
        '<S12:Header><eb:Messaging S12:mustUnderstand="true"><eb:UserMessage>'
        '<eb:MessageInfo><eb:Timestamp>%sZ</eb:Timestamp><eb:MessageId>%s</eb:MessageId>'
        '</eb:MessageInfo><eb:PartyInfo>'
        '<eb:From><eb:PartyId type="%s">ap1</eb:PartyId><eb:Role>%sinitiator</eb:Role></eb:From>'
        '<eb:To><eb:PartyId type="%s">ap2</eb:PartyId><eb:Role>%sresponder</eb:Role></eb:To>'
        '</eb:PartyInfo><eb:CollaborationInfo><eb:Service>%s</eb:Service>'
        '<eb:Action>%s</eb:Action><eb:ConversationId>%s</eb:ConversationId>'
        '</eb:CollaborationInfo><eb:PayloadInfo>%s</eb:PayloadInfo>'
        '</eb:UserMessage></eb:Messaging></S12:Header><S12:Body/></S12:Envelope>\n' % (
            eb, now, msgid, ap, eb, ap, eb, SERVICE, ACTION, msgid, infos)).encode()


def part_peer_to_as4d(wd, peer, ap2):
    print("part 3: what the peer signs and encrypts, received by as4d", flush=True)
    key1 = os.path.join(wd.pki, "ap1.key.pem")
    cert1 = os.path.join(wd.pki, "ap1.cert.pem")
    cert2 = os.path.join(wd.pki, "ap2.cert.pem")
    xml = read_shared("medcom-examples", "03-homecareobservation.bundle.xml")
    binary = os.urandom(50000)
    files = []
    for name, data in (("observation.xml", xml), ("scan.bin", binary)):
        path = os.path.join(wd.path, name)
        with open(path, "wb") as f:
            f.write(data)
        files.append(path)

    def sign(i, label, args):
        msgid = "peer-%d-%s@peer.example" % (i, os.urandom(6).hex())
        # the XML part travels uncompressed (its digest is over its exclusive C14N, SwA 1.1
        # §5.4.2), the binary part compressed (digest over the gzip bytes)
        env = os.path.join(wd.path, "env-%d.xml" % i)
        with open(env, "wb") as f:
            f.write(user_envelope(msgid, [("xml-%d@peer.example" % i, "application/fhir+xml"),
                                          ("bin-%d@peer.example" % i,
                                           "application/octet-stream")]))
        msg = os.path.join(wd.path, "peer-%d.mime" % i)
        rc, out = peer.run("sign", "--envelope", env,
                           "--attach", "xml-%d@peer.example=%s;type=application/fhir+xml" % (
                               i, files[0]),
                           "--attach", "bin-%d@peer.example=%s;type=application/octet-stream;"
                           "compress" % (i, files[1]),
                           "--sign-key", key1, "--sign-cert", cert1, "--encrypt-cert", cert2,
                           "--out", msg, *args)
        ok = check(rc == 0, "peer sign (%s): %s" % (label, result_line(out)))
        return msgid, msg if ok else None

    variants = [
        ("default suite", []),
        ("rsa-oaep-mgf1p", ["--ek-alg", "rsa-oaep-mgf1p"]),
        ("receiver named by IssuerSerial", ["--keyref", "issuerserial"]),
        ("receiver named by SKI", ["--keyref", "ski"]),
        ("rsa-sha512", ["--sig-alg", "rsa-sha512"]),
    ]
    for i, (label, args) in enumerate(variants):
        msgid, msg = sign(i, label, args)
        if msg is None:
            continue
        resp = os.path.join(wd.path, "peer-%d.response" % i)
        rc, out = peer.run("send", msg, "--url", ap2.msh_url, "--out", resp)
        check(rc == 0, "peer send (%s): ap2 answers with a Receipt (%s)" % (
            label, result_line(out)))
        rc, out = peer.run("verify", resp, "--cert", cert2, "--strict-time")
        check(rc == 0 and 'signer="CN=ap2' in result_line(out),
              "peer verify (%s): the Receipt is signed by ap2 (%s)" % (label, result_line(out)))
        rc, out = peer.run("nri", "--receipt", resp, "--original", msg)
        check(rc == 0, "peer nri (%s): the Receipt's NRI equals the peer's references (%s)" % (
            label, result_line(out)))
        mine = [m for m in ap2.inbox() if m["message_id"] == msgid]
        if not check(len(mine) == 1 and len(mine[0]["payloads"]) == 2,
                     "ap2's inbox holds the message once with 2 payloads (%s)" % label):
            continue
        for k, want in enumerate((xml, binary)):
            st, _, data = ap2.http(
                "GET", "/api/v1/messages/%s/payloads/%d" % (urllib.parse.quote(msgid, safe=""),
                                                             k),
                headers={"Authorization": "Bearer " + TOKENS["submitter"]})
            check(st == 200 and data == want, "(%s) payload %d byte-identical (%d bytes)" % (
                label, k, len(data)))
        check([p["mime_type"] for p in mine[0]["payloads"]] ==
              ["application/fhir+xml", "application/octet-stream"] and
              [p["compressed"] for p in mine[0]["payloads"]] == [False, True],
              "(%s) payload types and compression recorded" % label)

    # one ciphertext byte of the peer's message changed: the GCM tag fails (EBMS:0102)
    msgid, msg = sign(len(variants), "to be tampered with", [])
    if msg is None:
        return
    with open(msg, "rb") as f:
        head, _, body = f.read().partition(b"\r\n\r\n")
    ctype = re.search(rb"(?im)^Content-Type:\s*(.+?)\r?$", head).group(1).decode()
    at = body.find(b"\r\n\r\n", body.find(b"<bin-%d@peer.example>" % len(variants))) + 100
    body = body[:at] + bytes([body[at] ^ 1]) + body[at + 1:]
    before = ap2.store_files()
    st, _, data = ap2.post_as4(body, ctype)
    ans = parse_answer(data)
    check(st == 500 and ans["codes"] == ["EBMS:0102"] and ans["signed"],
          "a ciphertext byte changed: signed ebMS Error EBMS:0102 (HTTP %s, %s: %s)" % (
              st, ans["codes"], ans["detail"][:200]))
    check(ap2.store_files() == before and ap2.message(msgid, "in") is None,
          "a ciphertext byte changed: nothing stored")


def part_peer(wd, peer):
    if peer is None:
        note("java, javac or libxml-security-java missing: parts 2 and 3 not run")
        return False
    p2 = free_port()
    proxy = Capture(p2, None)
    aps = []
    try:
        parties = dev_parties(wd, {"ap1": https(free_port()), "ap2": proxy.url})
        pm = {"interop.yaml": pmode_yaml("interop", "ap1", "ap2", SERVICE, ACTION,
                                         extra="  reliability:\n    retries: 1\n"
                                               "    interval: 1s\n")}
        ap1 = AccessPoint(wd, "ap1", "ap1", parties, pm).start()
        aps.append(ap1)
        ap2 = AccessPoint(wd, "ap2", "ap2", parties, pm, msh_port=p2, tls=False).start()
        aps.append(ap2)
        part_as4d_to_peer(wd, peer, ap1, ap2, proxy)
        part_peer_to_as4d(wd, peer, ap2)
        for ap in aps:
            rc = ap.stop()
            check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
        aps = []
    finally:
        for ap in aps:
            ap.stop()
        proxy.stop()
    return True


wd = Workdir("05")
try:
    script = find_peer(wd)
    peer = Peer(script) if script else None
    part_vectors(wd, peer)
    peer_ran = part_peer(wd, peer)
finally:
    wd.cleanup()
if not peer_ran and failures == 0:
    print("%d passed, 0 failed; the peer parts were skipped" % checks)
    sys.exit(77)
finish()
