# SPDX-License-Identifier: Apache-2.0
"""OpenAPI conformance: docs/openapi.yaml against a running as4d.

Two access points exchange messages; then every operation of the document is called in the
situations that give each of its documented status codes, and every answer must (1) have the
status the case expects, (2) be documented for that operation, and (3) when it is JSON, match
the documented schema: types, required fields and enums, through $ref, allOf, arrays and
nested objects. At the end every documented (path, method, status) must have been produced
by some case, except the few listed in UNREACHABLE with the reason, so an operation added to
the document without a case here fails the test.

What it finds of the server's side: every method the document does not name on a documented
path must answer 405 (or 404), so a method added to a documented route without a document
entry fails the test, and an undocumented path under /api/v1 must answer 404. A wholly new
path the document does not mention cannot be found from here (the server has no route table
to list): keep the document and the cases up to date when adding one.

SBDH submissions (application/xml and text/xml, ?pmode=) are cases of POST /messages: their
answer fields and the invalid_gln / invalid_sbdh error codes are checked.
"""
import json
import os
import re
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from as4test import *  # noqa: E402,F401
import miniyaml  # noqa: E402

# Documented answers a test cannot produce on demand, with the reason.
UNREACHABLE = {
    ("/api/v1/ready", "get", "503"):
        "needs a full disk or map, an expired own certificate or a stopping daemon",
    ("/api/v1/messages/{id}/raw", "get", "410"):
        "needs the retention policy to have removed the raw message (raw_too purge)",
}

SBDH_SENDER = "5790000121526"
SBDH_RECEIVER = "5790000201389"
SBDH_BAD_GLN = "5790000201388"  # the receiver with a wrong check digit
SBDH_PROCESS = "urn:ehmi:sdn-emergence"
SBDH_DOC = ("urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::hospitalnotification-"
            "message##urn:dk:medcom:fhir:hospitalnotification-message::4.0")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")

SPEC_PATH = os.path.join(SOURCE, "docs", "openapi.yaml")
with open(SPEC_PATH) as f:
    SPEC = miniyaml.loads(f.read())

seen = set()


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        node = SPEC
        for p in parts:
            node = node[p]
    return node


def schema_errors(schema, value, where):
    """Every way value breaks schema (a list of texts)."""
    schema = resolve(schema)
    if schema is None:
        return []
    errs = []
    if "allOf" in schema:
        for s in schema["allOf"]:
            errs += schema_errors(s, value, where)
        return errs
    if value is None:
        return [] if schema.get("nullable") else ["%s is null" % where]
    t = schema.get("type")
    ok = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        None: True,
    }[t]
    if not ok:
        return ["%s is %s, documented %s" % (where, type(value).__name__, t)]
    if "enum" in schema and value not in schema["enum"]:
        errs.append("%s = %r is not one of %s" % (where, value, schema["enum"]))
    if t == "object":
        for k in schema.get("required", []):
            if k not in value:
                errs.append("%s lacks required field %r" % (where, k))
        for k, s in (schema.get("properties") or {}).items():
            if k in value:
                errs += schema_errors(s, value[k], "%s.%s" % (where, k))
    if t == "array" and "items" in schema:
        for i, v in enumerate(value[:50]):
            errs += schema_errors(schema["items"], v, "%s[%d]" % (where, i))
    return errs


def operation(template, method):
    item = SPEC["paths"].get(template)
    return None if item is None else item.get(method)


def case(ap, method, template, status, path=None, role="admin", token=None, doc=None, raw=None,
         ctype="application/json", what=""):
    """Call one operation and check the answer against the document; returns the JSON body."""
    m = method.lower()
    op = operation(template, m)
    label = "%s %s -> %s %s" % (method, template, status, what)
    if not check(op is not None, "%s: documented" % label):
        return None
    documented = op.get("responses", {})
    check(str(status) in documented, "%s: status documented" % label)
    # the request's media type is documented (unless the case is about an undocumented one)
    if (doc is not None or raw is not None) and ctype and status != 415:
        media = ctype.split(";")[0].strip()
        bodies = ((op.get("requestBody") or {}).get("content") or {})
        check(media in bodies, "%s: request body %s documented" % (label, media))
    query = urllib.parse.urlsplit(path or template).query
    names = set(resolve(p).get("name") for p in (op.get("parameters") or []) +
                (SPEC["paths"][template].get("parameters") or []))
    for name in urllib.parse.parse_qs(query, keep_blank_values=True):
        check(name in names or status == 400,
              "%s: query parameter %s documented" % (label, name))
    path = path or template
    headers = {}
    tok = token if token is not None else TOKENS.get(role)
    if tok:
        headers["Authorization"] = "Bearer " + tok
    body = raw
    if doc is not None:
        body = json.dumps(doc).encode()
    if body is not None and ctype:
        headers["Content-Type"] = ctype
    st, hdrs, data = ap.http(method, path, body, headers)
    seen.add((template, m, str(st)))
    if not check(st == status, "%s: got %d %s" % (label, st, data[:200] if st != status else "")):
        return None
    resp = resolve(documented.get(str(st)))
    content = (resp or {}).get("content") or {}
    parsed = None
    if hdrs.get("content-type", "").startswith("application/json"):
        try:
            parsed = json.loads(data)
        except ValueError:
            check(False, "%s: JSON body" % label)
            return None
        sch = (content.get("application/json") or {}).get("schema")
        check(sch is not None, "%s: a JSON answer is documented as JSON" % label)
        errs = schema_errors(sch, parsed, "body") if sch else []
        check(not errs, "%s: body matches the schema %s" % (label, errs[:5]))
    else:
        check(any(not c.startswith("application/json") for c in content) or not content,
              "%s: a %s answer is documented" % (label, hdrs.get("content-type")))
    return parsed


def q(s):
    return urllib.parse.quote(s, safe="")


def main():
    wd = Workdir("openapi")
    p1, p2 = free_port(), free_port()
    dead = free_port()
    parties = dev_parties(wd, {"ap1": https(p1), "ap2": https(p2)})
    parties["ap3"] = {"ids": [("urn:fdc:peppol.eu:2017:identifiers:ap", "ap3")],
                      "endpoint": "https://127.0.0.1:%d/as4" % dead,
                      "cert": os.path.join(wd.pki, "ap2.cert.pem")}
    pm = {
        "hn.yaml": pmode_yaml("hn", "ap1", "ap2", "urn:svc", "urn:act"),
        "hn-back.yaml": pmode_yaml("hn-back", "ap2", "ap1", "urn:svc", "urn:act"),
        "to-dead.yaml": pmode_yaml("to-dead", "ap1", "ap3", "urn:svc", "urn:dead",
                                   extra="  reliability:\n    retries: 0\n"),
        "to-dead-slow.yaml": pmode_yaml("to-dead-slow", "ap1", "ap3", "urn:svc", "urn:slow",
                                        extra="  reliability:\n    retries: 5\n"
                                              "    interval: 1h\n"),
        # ehmiSBDH envelopes: Service = PROCESSID, Action = busdox-docid-qns::DOCUMENTID
        "hn-sbdh.yaml": pmode_yaml("hn-sbdh", "ap1", "ap2", SBDH_PROCESS,
                                   "busdox-docid-qns::" + SBDH_DOC),
    }
    limits = "limits:\n  max_api_body: 64K\n  max_api_upload: 1M\n"
    a = AccessPoint(wd, "ap1", "ap1", parties, pm, msh_port=p1, extra_yaml=limits)
    b = AccessPoint(wd, "ap2", "ap2", parties,
                    {k: v for k, v in pm.items() if k.startswith("hn")}, msh_port=p2)
    # a reader limited to another PMode: sees nothing of hn
    with open(a.config) as f:
        text = f.read()
    text = text.replace("  tokens:\n", "  tokens:\n    - name: it-narrow\n      role: submitter\n"
                        "      sha256: %s\n      pmodes: [hn-back]\n" % token_hash("it-narrow-token"),
                        1)
    with open(a.config, "w") as f:
        f.write(text)
    try:
        a.start()
        b.start()
        run_cases(wd, a, b)
    finally:
        rc_a = a.stop()
        rc_b = b.stop()
        check(rc_a == 0 and rc_b == 0, "both daemons stop cleanly (%s, %s)" % (rc_a, rc_b))
        wd.cleanup()

    missing = []
    for template, item in SPEC["paths"].items():
        for m, op in item.items():
            if m == "parameters":
                continue
            for st in op.get("responses", {}):
                key = (template, m, str(st))
                if key not in seen and key not in UNREACHABLE:
                    missing.append("%s %s %s" % (m.upper(), template, st))
    check(not missing, "every documented status was produced: missing %s" % missing)
    for k, why in UNREACHABLE.items():
        print("  note %s %s %s not produced: %s" % (k[1].upper(), k[0], k[2], why))
    finish()


def run_cases(wd, a, b):
    # --- health, ready, status, metrics -----------------------------------------------------
    case(a, "GET", "/api/v1/health", 200, token="")
    case(a, "GET", "/api/v1/ready", 200, token="")
    case(a, "GET", "/api/v1/status", 200, role="reader")
    case(a, "GET", "/api/v1/status", 401, token="")
    case(a, "GET", "/metrics", 200, role="reader")
    case(a, "GET", "/metrics", 401, token="wrong")

    # --- messages ---------------------------------------------------------------------------
    sub = {"pmode": "hn", "payloads": [{"mime_type": "application/xml", "content": b64(b"<x/>")}]}
    d = case(a, "POST", "/api/v1/messages", 202, doc=sub, role="submitter")
    out_id = d["message_id"] if d else ""
    body, ct = form_data([("metadata", None, "application/json", json.dumps({"pmode": "hn"}).encode()),
                          ("f", "a.xml", "application/xml", b"<a/>")])
    case(a, "POST", "/api/v1/messages", 202, role="submitter", raw=body, ctype=ct,
         what="(multipart/form-data)")
    case(a, "POST", "/api/v1/messages", 400, role="submitter", doc={"pmode": "hn", "paylods": []})
    case(a, "POST", "/api/v1/messages", 401, token="", doc=sub)
    case(a, "POST", "/api/v1/messages", 403, role="reader", doc=sub)
    case(a, "POST", "/api/v1/messages", 409, role="submitter",
         doc=dict(sub, message_id=out_id), what="(MessageId used)")
    case(a, "POST", "/api/v1/messages", 413, role="submitter",
         doc={"pmode": "hn", "payloads": [{"mime_type": "text/plain",
                                           "content": b64(b"x" * 70000)}]})
    case(a, "POST", "/api/v1/messages", 415, role="submitter", raw=b"x", ctype="text/plain")
    case(a, "POST", "/api/v1/messages", 422, role="submitter", doc=dict(sub, pmode="nope"))
    sbdh_cases(wd, a)
    delivered = a.wait_state(out_id, ["delivered", "failed"])
    check(delivered is not None and delivered["state"] == "delivered", "hn message delivered")
    # one failed message (peer down, no retries) and one waiting (retries in an hour)
    d = case(a, "POST", "/api/v1/messages", 202, role="submitter",
             doc=dict(sub, pmode="to-dead"), what="(to a dead peer)")
    failed_id = d["message_id"] if d else ""
    failed = a.wait_state(failed_id, ["failed"])
    check(failed is not None and failed["state"] == "failed", "message to a dead peer failed")
    d = case(a, "POST", "/api/v1/messages", 202, role="submitter",
             doc=dict(sub, pmode="to-dead-slow"), what="(waits an hour)")
    waiting_id = d["message_id"] if d else ""
    a.wait_state(waiting_id, ["retrying"])
    # one received message at ap1
    d = b.api("POST", "/messages", dict(sub, pmode="hn-back"), role="submitter")[1]
    in_id = d["message_id"]
    a.wait_state(in_id, ["received"], direction="in")

    case(a, "GET", "/api/v1/messages", 200, path="/api/v1/messages?direction=out&limit=2",
         role="reader")
    case(a, "GET", "/api/v1/messages", 400, path="/api/v1/messages?statee=failed",
         role="reader")
    case(a, "GET", "/api/v1/messages", 401, token="")
    mp = "/api/v1/messages/" + q(out_id)
    case(a, "GET", "/api/v1/messages/{id}", 200, path=mp, role="reader")
    case(a, "GET", "/api/v1/messages/{id}", 200, path="/api/v1/messages/" + q(failed_id),
         role="reader", what="(failed: errors)")
    case(a, "GET", "/api/v1/messages/{id}", 400, path=mp + "?direction=sideways", role="reader")
    case(a, "GET", "/api/v1/messages/{id}", 401, path=mp, token="")
    case(a, "GET", "/api/v1/messages/{id}", 404, path=mp, token="it-narrow-token",
         what="(another PMode's message for a restricted token)")
    case(a, "GET", "/api/v1/messages/{id}", 404, path="/api/v1/messages/nope%40x",
         role="reader")
    pp = "/api/v1/messages/%s/payloads/0" % q(in_id)
    case(a, "GET", "/api/v1/messages/{id}/payloads/{index}", 200, path=pp, role="submitter")
    case(a, "GET", "/api/v1/messages/{id}/payloads/{index}", 401, path=pp, token="")
    case(a, "GET", "/api/v1/messages/{id}/payloads/{index}", 403, path=pp, role="reader")
    case(a, "GET", "/api/v1/messages/{id}/payloads/{index}", 404,
         path="/api/v1/messages/%s/payloads/7" % q(in_id), role="submitter")
    rp = "/api/v1/messages/%s/raw" % q(out_id)
    case(a, "GET", "/api/v1/messages/{id}/raw", 200, path=rp)
    case(a, "GET", "/api/v1/messages/{id}/raw", 200, path="/api/v1/messages/%s/raw" % q(in_id),
         what="(received)")
    case(a, "GET", "/api/v1/messages/{id}/raw", 401, path=rp, token="")
    case(a, "GET", "/api/v1/messages/{id}/raw", 403, path=rp, role="reader")
    case(a, "GET", "/api/v1/messages/{id}/raw", 404,
         path="/api/v1/messages/%s/raw" % q(failed_id), what="(never sent)")
    cp = "/api/v1/messages/%s/receipt" % q(out_id)
    case(a, "GET", "/api/v1/messages/{id}/receipt", 200, path=cp, role="reader")
    case(a, "GET", "/api/v1/messages/{id}/receipt", 401, path=cp, token="")
    case(a, "GET", "/api/v1/messages/{id}/receipt", 404,
         path="/api/v1/messages/%s/receipt" % q(failed_id), role="reader")
    ap_ = "/api/v1/messages/%s/ack" % q(in_id)
    case(a, "POST", "/api/v1/messages/{id}/ack", 401, path=ap_, token="")
    case(a, "POST", "/api/v1/messages/{id}/ack", 403, path=ap_, role="reader")
    case(a, "POST", "/api/v1/messages/{id}/ack", 404, path="/api/v1/messages/nope/ack",
         role="submitter")
    case(a, "POST", "/api/v1/messages/{id}/ack", 409,
         path="/api/v1/messages/%s/ack" % q(out_id), role="submitter", what="(outbound)")
    case(a, "POST", "/api/v1/messages/{id}/ack", 200, path=ap_, role="submitter")
    dp = "/api/v1/messages/%s/payloads" % q(out_id)
    case(a, "DELETE", "/api/v1/messages/{id}/payloads", 400, path=dp + "?force=maybe")
    case(a, "DELETE", "/api/v1/messages/{id}/payloads", 401, path=dp, token="")
    case(a, "DELETE", "/api/v1/messages/{id}/payloads", 403, path=dp, role="submitter")
    case(a, "DELETE", "/api/v1/messages/{id}/payloads", 404,
         path="/api/v1/messages/nope/payloads")
    case(a, "DELETE", "/api/v1/messages/{id}/payloads", 409,
         path="/api/v1/messages/%s/payloads" % q(waiting_id), what="(waiting to be sent)")
    case(a, "DELETE", "/api/v1/messages/{id}/payloads", 200, path=dp)
    case(a, "GET", "/api/v1/messages/{id}/payloads/{index}", 410,
         path="/api/v1/messages/%s/payloads/0" % q(out_id), role="submitter")
    tp = "/api/v1/messages/%s/retry" % q(failed_id)
    case(a, "POST", "/api/v1/messages/{id}/retry", 401, path=tp, token="")
    case(a, "POST", "/api/v1/messages/{id}/retry", 403, path=tp, role="submitter")
    case(a, "POST", "/api/v1/messages/{id}/retry", 404, path="/api/v1/messages/nope/retry")
    case(a, "POST", "/api/v1/messages/{id}/retry", 409,
         path="/api/v1/messages/%s/retry" % q(out_id), what="(delivered)")
    case(a, "POST", "/api/v1/messages/{id}/retry", 202, path=tp, raw=None, ctype=None)
    case(a, "GET", "/api/v1/inbox", 200, role="submitter")
    case(a, "GET", "/api/v1/inbox", 400, path="/api/v1/inbox?limit=0", role="submitter")
    case(a, "GET", "/api/v1/inbox", 401, token="")
    case(a, "GET", "/api/v1/inbox", 403, role="reader")

    # --- the test service ---------------------------------------------------------------------
    r = case(a, "POST", "/api/v1/test", 200, doc={"party": "ap2"}, role="submitter")
    check(r is not None and r["ok"] and r["result"] == "receipt", "test: receipt from ap2")
    r = case(a, "POST", "/api/v1/test", 200, doc={"party": "ap3"}, what="(peer down)")
    check(r is not None and not r["ok"] and r["result"] == "failed", "test: ap3 unreachable")
    case(a, "POST", "/api/v1/test", 400, doc={})
    case(a, "POST", "/api/v1/test", 401, token="", doc={"party": "ap2"})
    case(a, "POST", "/api/v1/test", 403, role="reader", doc={"party": "ap2"})
    case(a, "POST", "/api/v1/test", 415, raw=b"party=ap2", ctype="text/plain")
    case(a, "POST", "/api/v1/test", 422, doc={"party": "nobody"})

    # --- PModes -------------------------------------------------------------------------------
    case(a, "GET", "/api/v1/pmodes", 200, role="reader")
    case(a, "GET", "/api/v1/pmodes", 401, token="")
    newdoc = {"pmode": {"id": "extra", "initiator": "ap1", "responder": "ap2",
                        "service": "urn:svc", "action": "urn:extra"}}
    case(a, "POST", "/api/v1/pmodes/validate", 200, doc=newdoc)
    case(a, "POST", "/api/v1/pmodes/validate", 400, path="/api/v1/pmodes/validate?id=.bad",
         doc=newdoc)
    case(a, "POST", "/api/v1/pmodes/validate", 401, token="", doc=newdoc)
    case(a, "POST", "/api/v1/pmodes/validate", 403, role="reader", doc=newdoc)
    case(a, "POST", "/api/v1/pmodes/validate", 415, raw=b"x", ctype="text/plain")
    case(a, "POST", "/api/v1/pmodes/validate", 422,
         doc={"pmode": dict(newdoc["pmode"], responder="nobody")})
    case(a, "POST", "/api/v1/pmodes", 201, doc=newdoc)
    case(a, "POST", "/api/v1/pmodes", 401, token="", doc=newdoc)
    case(a, "POST", "/api/v1/pmodes", 403, role="submitter", doc=newdoc)
    case(a, "POST", "/api/v1/pmodes", 409, doc=newdoc, what="(exists)")
    case(a, "POST", "/api/v1/pmodes", 415, raw=b"x", ctype="text/plain")
    case(a, "POST", "/api/v1/pmodes", 422, doc={"pmode": {"id": "bad", "initiator": "ap1"}})
    case(a, "GET", "/api/v1/pmodes/{id}", 200, path="/api/v1/pmodes/extra", role="reader")
    case(a, "GET", "/api/v1/pmodes/{id}", 401, path="/api/v1/pmodes/extra", token="")
    case(a, "GET", "/api/v1/pmodes/{id}", 404, path="/api/v1/pmodes/none", role="reader")
    yaml_doc = ("pmode:\n  initiator: ap1\n  responder: ap2\n  service: urn:svc\n"
                "  action: urn:extra\n  description: replaced as YAML\n").encode()
    case(a, "PUT", "/api/v1/pmodes/{id}", 200, path="/api/v1/pmodes/extra", raw=yaml_doc,
         ctype="application/yaml")
    case(a, "PUT", "/api/v1/pmodes/{id}", 201, path="/api/v1/pmodes/extra2",
         doc={"pmode": dict(newdoc["pmode"], id="extra2", action="urn:extra2")})
    case(a, "PUT", "/api/v1/pmodes/{id}", 400, path="/api/v1/pmodes/.hidden", doc=newdoc)
    case(a, "PUT", "/api/v1/pmodes/{id}", 401, path="/api/v1/pmodes/extra", token="",
         doc=newdoc)
    case(a, "PUT", "/api/v1/pmodes/{id}", 403, path="/api/v1/pmodes/extra", role="reader",
         doc=newdoc)
    case(a, "PUT", "/api/v1/pmodes/{id}", 413, path="/api/v1/pmodes/extra",
         raw=b"#" * 70000 + b"\n" + yaml_doc, ctype="application/yaml")
    case(a, "PUT", "/api/v1/pmodes/{id}", 415, path="/api/v1/pmodes/extra", raw=b"x",
         ctype="text/plain")
    case(a, "PUT", "/api/v1/pmodes/{id}", 422, path="/api/v1/pmodes/extra",
         doc={"pmode": dict(newdoc["pmode"], id="other")}, what="(id differs)")
    case(a, "DELETE", "/api/v1/pmodes/{id}", 200, path="/api/v1/pmodes/extra2")
    case(a, "DELETE", "/api/v1/pmodes/{id}", 401, path="/api/v1/pmodes/extra", token="")
    case(a, "DELETE", "/api/v1/pmodes/{id}", 403, path="/api/v1/pmodes/extra",
         role="submitter")
    case(a, "DELETE", "/api/v1/pmodes/{id}", 404, path="/api/v1/pmodes/none")
    case(a, "DELETE", "/api/v1/pmodes/{id}", 409, path="/api/v1/pmodes/to-dead-slow",
         what="(a message waits)")

    # --- certificates -------------------------------------------------------------------------
    case(a, "GET", "/api/v1/certificates", 200, role="reader")
    case(a, "GET", "/api/v1/certificates", 401, token="")
    pki2 = os.path.join(wd.path, "pki2")
    as4ctl("certs", "dev", pki2, check_rc=0)
    with open(os.path.join(pki2, "ca.pem")) as f:
        ca2 = f.read()
    with open(os.path.join(wd.pki, "ca.pem")) as f:
        ca1 = f.read()
    t = case(a, "POST", "/api/v1/certificates/trust", 201, doc={"store": "as4", "certificate": ca2})
    case(a, "POST", "/api/v1/certificates/trust", 400, doc={"store": "ldap", "certificate": ca2})
    case(a, "POST", "/api/v1/certificates/trust", 401, token="",
         doc={"store": "as4", "certificate": ca2})
    case(a, "POST", "/api/v1/certificates/trust", 403, role="reader",
         doc={"store": "as4", "certificate": ca2})
    case(a, "POST", "/api/v1/certificates/trust", 409, doc={"store": "as4", "certificate": ca2})
    case(a, "POST", "/api/v1/certificates/trust", 415, raw=b"x", ctype="text/plain")
    case(a, "POST", "/api/v1/certificates/trust", 422,
         doc={"store": "tls", "certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n"})
    fp2 = t["sha256"] if t else "0" * 64
    fp1 = None
    inv = a.api("GET", "/certificates")[1]
    for c in inv["truststores"]["as4"]:
        if c["source"] == "config":
            fp1 = c["sha256"]
    tp = "/api/v1/certificates/trust/as4/%s" % fp2
    case(a, "DELETE", "/api/v1/certificates/trust/{store}/{sha256}", 400,
         path="/api/v1/certificates/trust/as4/XYZ")
    case(a, "DELETE", "/api/v1/certificates/trust/{store}/{sha256}", 401, path=tp, token="")
    case(a, "DELETE", "/api/v1/certificates/trust/{store}/{sha256}", 403, path=tp,
         role="reader")
    case(a, "DELETE", "/api/v1/certificates/trust/{store}/{sha256}", 409,
         path="/api/v1/certificates/trust/as4/%s" % fp1, what="(from as4d.yaml)")
    case(a, "DELETE", "/api/v1/certificates/trust/{store}/{sha256}", 200, path=tp)
    case(a, "DELETE", "/api/v1/certificates/trust/{store}/{sha256}", 404, path=tp)
    with open(os.path.join(pki2, "ap1.key.pem")) as f:
        key2 = f.read()
    with open(os.path.join(pki2, "ap1.cert.pem")) as f:
        cert2 = f.read()
    with open(os.path.join(wd.pki, "ap1.key.pem")) as f:
        key1 = f.read()
    with open(os.path.join(wd.pki, "ap1.cert.pem")) as f:
        cert1 = f.read()
    case(a, "POST", "/api/v1/certificates/keystore", 400, doc={"certificate": cert2})
    case(a, "POST", "/api/v1/certificates/keystore", 401, token="",
         doc={"key": key2, "certificate": cert2})
    case(a, "POST", "/api/v1/certificates/keystore", 403, role="reader",
         doc={"key": key2, "certificate": cert2})
    case(a, "POST", "/api/v1/certificates/keystore", 409, doc={"key": key1, "certificate": cert1},
         what="(the current pair)")
    case(a, "POST", "/api/v1/certificates/keystore", 415, raw=b"x", ctype="text/plain")
    case(a, "POST", "/api/v1/certificates/keystore", 422, doc={"key": key1, "certificate": cert2},
         what="(key and certificate do not match)")
    case(a, "POST", "/api/v1/certificates/keystore", 200, doc={"key": key2, "certificate": cert2})
    case(a, "POST", "/api/v1/certificates/keystore", 200, doc={"key": key1, "certificate": cert1},
         what="(back to the first pair: the second becomes a managed old pair)")
    inv = a.api("GET", "/certificates")[1]
    old = [k.get("name") for k in inv["keystore"] if k.get("name")]
    check(len(old) == 1, "one managed old pair to retire: %s" % old)
    op = "/api/v1/certificates/keystore/old/%s" % (old[0] if old else "x")
    case(a, "DELETE", "/api/v1/certificates/keystore/old/{name}", 401, path=op, token="")
    case(a, "DELETE", "/api/v1/certificates/keystore/old/{name}", 403, path=op, role="reader")
    case(a, "DELETE", "/api/v1/certificates/keystore/old/{name}", 200, path=op)
    case(a, "DELETE", "/api/v1/certificates/keystore/old/{name}", 404, path=op)

    # --- participants -------------------------------------------------------------------------
    gln = "5790000000012"
    case(a, "GET", "/api/v1/participants", 200, role="reader")
    case(a, "GET", "/api/v1/participants", 401, token="")
    gp = "/api/v1/participants/" + gln
    case(a, "PUT", "/api/v1/participants/{gln}", 201, path=gp, doc={"name": "Test unit"})
    case(a, "PUT", "/api/v1/participants/{gln}", 200, path=gp, doc={"name": "Test unit 2"})
    case(a, "PUT", "/api/v1/participants/{gln}", 401, path=gp, token="", doc={})
    case(a, "PUT", "/api/v1/participants/{gln}", 403, path=gp, role="reader", doc={})
    case(a, "PUT", "/api/v1/participants/{gln}", 422, path="/api/v1/participants/5790000000013",
         doc={})
    case(a, "GET", "/api/v1/participants/{gln}", 200, path=gp, role="reader")
    case(a, "GET", "/api/v1/participants/{gln}", 401, path=gp, token="")
    case(a, "GET", "/api/v1/participants/{gln}", 404, path="/api/v1/participants/5790000000029",
         role="reader")
    case(a, "GET", "/api/v1/participants/{gln}", 422, path="/api/v1/participants/123",
         role="reader")
    case(a, "DELETE", "/api/v1/participants/{gln}", 401, path=gp, token="")
    case(a, "DELETE", "/api/v1/participants/{gln}", 403, path=gp, role="reader")
    case(a, "DELETE", "/api/v1/participants/{gln}", 200, path=gp)
    case(a, "DELETE", "/api/v1/participants/{gln}", 404, path=gp)

    # --- audit, log level, reload -------------------------------------------------------------
    au = case(a, "GET", "/api/v1/audit", 200)
    whats = [e["what"] for e in (au or {}).get("entries", [])]
    for w in ("message.payloads.delete", "message.retry", "pmode.create", "pmode.replace",
              "pmode.delete", "certificate.trust.add", "certificate.trust.remove",
              "keystore.rollover", "keystore.retire"):
        check(w in whats, "audit trail holds %s" % w)
    case(a, "GET", "/api/v1/audit", 400, path="/api/v1/audit?after=x")
    case(a, "GET", "/api/v1/audit", 401, token="")
    case(a, "GET", "/api/v1/audit", 403, role="reader")
    case(a, "GET", "/api/v1/log", 200, role="reader")
    case(a, "GET", "/api/v1/log", 401, token="")
    case(a, "PUT", "/api/v1/log", 200, doc={"level": "debug"})
    case(a, "PUT", "/api/v1/log", 400, doc={"level": "debug", "extra": 1})
    case(a, "PUT", "/api/v1/log", 401, token="", doc={"level": "info"})
    case(a, "PUT", "/api/v1/log", 403, role="reader", doc={"level": "info"})
    case(a, "PUT", "/api/v1/log", 415, raw=b"level=info", ctype="text/plain")
    case(a, "PUT", "/api/v1/log", 422, doc={"level": "loud"})
    case(a, "POST", "/api/v1/reload", 200)
    case(a, "POST", "/api/v1/reload", 401, token="")
    case(a, "POST", "/api/v1/reload", 403, role="submitter")
    with open(a.config) as f:
        good = f.read()
    with open(a.config, "w") as f:
        f.write(good + "\nnot_a_section: 1\n")
    case(a, "POST", "/api/v1/reload", 422, what="(as4d.yaml broken on disk)")
    with open(a.config, "w") as f:
        f.write(good)
    case(a, "GET", "/api/v1/status", 200, role="reader", what="(still running)")
    # an undocumented path is not served
    st, _, _ = a.http("GET", "/api/v1/nothing-here",
                      headers={"Authorization": "Bearer " + TOKENS["admin"]})
    check(st == 404, "an undocumented path answers 404")
    undocumented_methods(a)


def concrete(template):
    """A path for a template: every {parameter} filled with a harmless value."""
    values = {"{id}": "probe%40x", "{index}": "0", "{gln}": "5790000000029", "{store}": "as4",
              "{sha256}": "0" * 64, "{name}": "none"}
    for k, v in values.items():
        template = template.replace(k, v)
    return template


def undocumented_methods(a):
    """A method the document does not name on one of its paths is not served: 405 or 404."""
    def pattern(template):
        return re.compile("^" + re.sub(r"\\\{[a-z0-9_]+\\\}", "[^/]+", re.escape(template)) + "$")

    patterns = [(pattern(t), item) for t, item in SPEC["paths"].items()]
    served = []
    for template in SPEC["paths"]:
        path = concrete(template)
        # a path may match more than one template (/pmodes/validate is also /pmodes/{id})
        documented = set(m.upper() for rx, item in patterns if rx.match(path.split("?")[0])
                         for m in item if m != "parameters")
        for method in METHODS:
            if method in documented:
                continue
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            st, _, _ = a.http(method, path, body,
                              {"Authorization": "Bearer " + TOKENS["admin"],
                               "Content-Type": "application/json"})
            if st not in (404, 405):
                served.append("%s %s -> %d" % (method, template, st))
    check(not served, "no undocumented method is served on a documented path: %s" % served)


def sbdh_cases(wd, a):
    """POST /messages with an ehmiSBDH envelope (application/xml, text/xml, ?pmode=)."""
    fhir = os.path.join(SHARED, "medcom-examples", "01-hospitalnotification-admit-inpatient.bundle.xml")

    def wrap(name):
        out = os.path.join(wd.path, name)
        p = as4ctl("sbdh", "wrap", "--sender", SBDH_SENDER, "--receiver", SBDH_RECEIVER,
                   "--document", SBDH_DOC, "--process", SBDH_PROCESS, "--out", out, fhir,
                   check_rc=0)
        check(p.returncode == 0, "as4ctl sbdh wrap %s" % name)
        with open(out, "rb") as f:
            return f.read()

    env1 = wrap("env1.xml")
    d = case(a, "POST", "/api/v1/messages", 202, role="submitter", raw=env1,
             ctype="application/xml", what="(SBDH, application/xml)")
    check(d is not None and d["pmode"] == "hn-sbdh" and
          d.get("original_sender") == "0088:" + SBDH_SENDER and
          d.get("final_recipient") == "0088:" + SBDH_RECEIVER and
          d.get("sbdh_instance_id") and d.get("medcom_message_id") and
          d.get("service") == SBDH_PROCESS and d.get("action") == "busdox-docid-qns::" + SBDH_DOC,
          "SBDH submission answers the routing it read: %s" % d)
    if d is not None:
        m = case(a, "GET", "/api/v1/messages/{id}", 200,
                 path="/api/v1/messages/" + q(d["message_id"]), role="reader",
                 what="(SBDH message)")
        check(m is not None and m.get("sbdh_instance_id") == d["sbdh_instance_id"] and
              m.get("medcom_message_id") == d["medcom_message_id"],
              "the message shows sbdh_instance_id and medcom_message_id")
        detail = SPEC["components"]["schemas"]["MessageDetail"]["allOf"]
        known = set()
        for part in detail:
            known |= set((resolve(part).get("properties") or {}).keys())
        check(m is not None and not set(m) - known,
              "every field of the message is documented: %s" % sorted(set(m or {}) - known))
        known = set(SPEC["components"]["schemas"]["Submitted"]["properties"])
        check(not set(d) - known,
              "every field of the SBDH submission answer is documented: %s" %
              sorted(set(d) - known))
    env2 = wrap("env2.xml")
    d = case(a, "POST", "/api/v1/messages", 202, role="submitter", raw=env2, ctype="text/xml",
             path="/api/v1/messages?pmode=hn-sbdh", what="(SBDH, text/xml, ?pmode=)")
    check(d is not None and d["pmode"] == "hn-sbdh", "?pmode= names the PMode")
    case(a, "POST", "/api/v1/messages", 409, role="submitter", raw=env1,
         ctype="application/xml", what="(SBDH InstanceIdentifier already submitted)")
    bad = env1.replace(("0088:" + SBDH_RECEIVER).encode(), ("0088:" + SBDH_BAD_GLN).encode())
    d = case(a, "POST", "/api/v1/messages", 422, role="submitter", raw=bad,
             ctype="application/xml", what="(SBDH, wrong GLN check digit)")
    check(d is not None and d["error"]["code"] == "invalid_gln", "invalid_gln: %s" % d)
    nodoc = re.sub(rb"<Scope>\s*<Type>DOCUMENTID</Type>.*?</Scope>", b"", env1, flags=re.S)
    d = case(a, "POST", "/api/v1/messages", 422, role="submitter", raw=nodoc,
             ctype="application/xml", what="(SBDH without DOCUMENTID)")
    check(d is not None and d["error"]["code"] == "invalid_sbdh", "invalid_sbdh: %s" % d)
    d = case(a, "POST", "/api/v1/messages", 422, role="submitter", raw=wrap("env3.xml"),
             ctype="application/xml", path="/api/v1/messages?pmode=nope",
             what="(SBDH, ?pmode= unknown)")
    check(d is not None and d["error"]["code"] == "unprocessable", "unknown ?pmode=: %s" % d)
    case(a, "POST", "/api/v1/messages", 400, role="submitter", raw=b"<not xml",
         ctype="application/xml", what="(SBDH, not XML)")
    case(a, "POST", "/api/v1/messages", 403, role="reader", raw=env2, ctype="application/xml",
         what="(SBDH as reader)")


if __name__ == "__main__":
    main()
