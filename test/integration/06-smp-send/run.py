# SPDX-License-Identifier: Apache-2.0
"""06-smp-send: the sender finds the receiver only through DNS and SMP (dynamic discovery).

Real parts on loopback: dnsmasq serves the SML zone (U-NAPTR "Meta:SMP" records per
participant), static SMPs (the request handler of 06-smp-lookup/smp_server.py, in this process)
serve Peppol ServiceMetadata signed with xmlsec1 by a test SMP CA (test/data/smp/mkpki.sh).
ap1 sends with a PMode whose responder is a dynamic party (any access point of the network)
found by discovery; ap2 does not know ap1 and accepts it as a dynamic sender (signer chains to
the AS4 truststore, From PartyId = the signer's CN).

Checked: delivery through DNS + SMP with the endpoint, the certificate and the eb:To PartyId
recorded on the message; a second message served from the SMP cache; SMP down (the message
retries, then is delivered once the SMP answers); participant not registered, endpoint
certificate not from the AP CA and ServiceMetadata signed by an AP certificate (each fails at
once with a clear reason); a sender whose From PartyId is not its certificate's CN (EBMS:0101
from the receiver); submissions without or with a malformed receiver (400, nothing stored).
"""
import base64
import hashlib
import http.server
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "06-smp-lookup"))
from as4test import *  # noqa: E402,F401,F403
import smp_server  # noqa: E402

for tool in ("dnsmasq", "xmlsec1", "openssl"):
    if shutil.which(tool) is None:
        print("SKIP: %s not installed" % tool)
        sys.exit(77)

TEST_DATA = os.environ.get("AS4_TEST_DATA", os.path.join(SOURCE, "test", "data"))
AP = "urn:fdc:peppol.eu:2017:identifiers:ap"
ZONE = "sml.test.local"
PS = "iso6523-actorid-upis"
SERVICE = "urn:ehmi:sdn-emergence"
SERVICE_TYPE = "dk-medcom-messaging"
DOC_S = "busdox-docid-qns"
DOC_V = ("urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::"
         "hospitalnotification-message##urn:dk:medcom:fhir:hospitalnotification-message::4.0")
ACTION = DOC_S + "::" + DOC_V

P_OK = "0088:5798000000001"          # registered, endpoint ap2
P_DOWN = "0184:DK00000015"           # its SMP is down at first
P_NX = "0088:5798009811578"          # not in the SML (NXDOMAIN)
P_FOREIGN = "0184:DK00000018"        # endpoint certificate from another CA than the AP CA
P_APSIGNED = "0184:DK00000011"       # ServiceMetadata signed by an access point certificate

SIG = ('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
       '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
       '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
       '<Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#'
       'enveloped-signature"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/'
       'xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo>'
       '<X509Data><X509Certificate/></X509Data></KeyInfo></Signature>')


def sml_name(value):
    """Peppol SML name: base32(sha256(lower(value))) without padding, lower case."""
    h = base64.b32encode(hashlib.sha256(value.lower().encode()).digest()).decode()
    return "%s.%s.%s" % (h.rstrip("=").lower(), PS, ZONE)


def pem_b64(path):
    with open(path) as f:
        return "".join(line.strip() for line in f if not line.startswith("-----"))


def metadata(participant, url, cert):
    """A Peppol SignedServiceMetadata template (signature still empty)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<m:SignedServiceMetadata xmlns:m="http://busdox.org/serviceMetadata/publishing/1.0/"'
        ' xmlns:i="http://busdox.org/transport/identifiers/1.0/"'
        ' xmlns:w="http://www.w3.org/2005/08/addressing"><m:ServiceMetadata>'
        '<m:ServiceInformation>'
        '<i:ParticipantIdentifier scheme="%s">%s</i:ParticipantIdentifier>'
        '<i:DocumentIdentifier scheme="%s">%s</i:DocumentIdentifier>'
        '<m:ProcessList><m:Process>'
        '<i:ProcessIdentifier scheme="%s">%s</i:ProcessIdentifier>'
        '<m:ServiceEndpointList><m:Endpoint transportProfile="peppol-transport-as4-v2_0">'
        '<w:EndpointReference><w:Address>%s</w:Address></w:EndpointReference>'
        '<m:RequireBusinessLevelSignature>false</m:RequireBusinessLevelSignature>'
        '<m:ServiceActivationDate>2020-01-01T00:00:00Z</m:ServiceActivationDate>'
        '<m:ServiceExpirationDate>2099-01-01T00:00:00Z</m:ServiceExpirationDate>'
        '<m:Certificate>%s</m:Certificate>'
        '<m:ServiceDescription>test AP</m:ServiceDescription>'
        '<m:TechnicalContactUrl>mailto:ap@test</m:TechnicalContactUrl>'
        '</m:Endpoint></m:ServiceEndpointList></m:Process></m:ProcessList>'
        '</m:ServiceInformation></m:ServiceMetadata>%s</m:SignedServiceMetadata>\n'
        % (PS, participant, DOC_S, DOC_V, SERVICE_TYPE, SERVICE, url, pem_b64(cert), SIG))


class StaticSmp:
    """smp_server.Handler on 127.0.0.1: bound at once, answering only once up() ran (until
    then connections are refused and no other process can take the port)."""

    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), smp_server.Handler,
                                                      bind_and_activate=False)
        self.server.server_bind()
        self.port = self.server.server_address[1]
        self.thread = None

    def up(self):
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def close(self):
        if self.thread is not None:
            self.server.shutdown()
        self.server.server_close()


def start_dnsmasq(workdir, records):
    for _ in range(5):
        port = free_port()
        args = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=%d" % port,
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                "--no-hosts", "--local=/%s/" % ZONE, "--local-ttl=60",
                "--pid-file=%s" % os.path.join(workdir, "dnsmasq.pid"),
                "--log-facility=%s" % os.path.join(workdir, "dnsmasq.log")] + records
        args.append("--user=%s" % pwd.getpwuid(os.getuid()).pw_name)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)
        if proc.poll() is None:
            return proc, port
    raise RuntimeError("cannot start dnsmasq: %s" % proc.stderr.read().decode(errors="replace"))


def events(doc):
    return [e["reason"] + " | " + (e.get("detail") or "") for e in doc.get("events", [])]


def submit(ap, recipient, payload=b"<x/>", **extra):
    doc = {"pmode": "hn-dyn", "payloads": [{"mime_type": "application/xml",
                                            "content": b64(payload)}]}
    if recipient is not None:
        doc["final_recipient"] = recipient
    doc.update(extra)
    return ap.api("POST", "/messages", doc, role="submitter")


wd = Workdir("06s")
aps = []
smps = []
dns = None
try:
    smppki = os.path.join(wd.path, "smppki")
    subprocess.run(["sh", os.path.join(TEST_DATA, "smp", "mkpki.sh"), smppki], check=True)

    # ---- the receiver ap2: knows no sender, accepts any access point of the network ---------
    p2 = free_port()
    any_ap = {"ids": [(AP, None)], "dynamic": True}
    ap2_parties = {
        "ap2": {"ids": [(AP, "ap2")], "cert": os.path.join(wd.pki, "ap2.cert.pem")},
        "peppol-ap": any_ap,
    }
    in_pmode = pmode_yaml("hn-in", "peppol-ap", "ap2", SERVICE, ACTION,
                          extra="  service_type: %s\n" % SERVICE_TYPE)
    ap2 = AccessPoint(wd, "ap2", "ap2", ap2_parties, {"hn-in.yaml": in_pmode}, msh_port=p2)

    # ---- SMPs and the SML zone ------------------------------------------------------------
    smp = StaticSmp().up()
    late = StaticSmp()  # "SMP down" until late.up()
    smps += [smp, late]
    ap2_cert = os.path.join(wd.pki, "ap2.cert.pem")
    docs = {
        P_OK: ("smp", ap2_cert),
        P_DOWN: ("smp", ap2_cert),
        P_FOREIGN: ("smp", os.path.join(smppki, "ap.pem")),
        P_APSIGNED: ("ap2", ap2_cert),
    }
    routes = {}
    for pv, (signer, cert) in docs.items():
        tmpl = os.path.join(wd.path, "%s.tmpl" % pv.replace(":", "_"))
        out = tmpl[:-5] + ".xml"
        with open(tmpl, "w") as f:
            f.write(metadata(pv, ap2.msh_url, cert))
        if signer == "smp":
            key = "%s,%s" % (os.path.join(smppki, "smp.key"), os.path.join(smppki, "smp.pem"))
        else:
            key = "%s,%s" % (os.path.join(wd.pki, "ap2.key.pem"), ap2_cert)
        subprocess.run(["xmlsec1", "--sign", "--privkey-pem", key, "--output", out, tmpl],
                       check=True, capture_output=True)
        routes["/%s::%s/services/%s::%s" % (PS, pv, DOC_S, DOC_V)] = (200, out)
    smp_server.Handler.routes = routes
    smp_server.Handler.log_message = lambda *a: None

    def naptr(pv, port):
        return "--naptr-record=%s,100,10,U,Meta:SMP,!.*!http://127.0.0.1:%d/!" % (
            sml_name(pv), port)
    records = [naptr(P_OK, smp.port), naptr(P_DOWN, late.port), naptr(P_FOREIGN, smp.port),
               naptr(P_APSIGNED, smp.port)]
    dns, dns_port = start_dnsmasq(wd.path, records)

    network = "\n".join([
        "discovery:",
        "  networks:",
        "    - name: test-sml",
        "      sml_zone: %s." % ZONE,
        "      hashing: peppol",
        "      smp_dialect: peppol",
        "      smp_ca: [%s]" % os.path.join(smppki, "smp-ca.pem"),
        "      ap_ca: [%s]" % os.path.join(wd.pki, "ca.pem"),
        "      transport_profile: peppol-transport-as4-v2_0",
        "      require_https: false",
        "      dns_server: 127.0.0.1:%d" % dns_port,
        "      timeout: 3s",
    ]) + "\n"
    out_pmode = pmode_yaml(
        "hn-dyn", "ap1", "{party: peppol-ap, discovery: true}", SERVICE, ACTION,
        extra="  service_type: %s\n  reliability:\n    retries: 30\n    interval: 1s\n"
              "    backoff: constant\n    jitter: false\n" % SERVICE_TYPE)

    def sender(name, own_id):
        parties = {"ap1": {"ids": [(AP, own_id)], "cert": os.path.join(wd.pki, "ap1.cert.pem")},
                   "peppol-ap": any_ap}
        return AccessPoint(wd, name, "ap1", parties, {"hn-dyn.yaml": out_pmode},
                           extra_yaml=network)

    ap2.start()
    aps.append(ap2)
    ap1 = sender("ap1", "ap1").start()
    aps.append(ap1)

    # ---- found through DNS + SMP ----------------------------------------------------------
    fhir = read_shared("medcom-examples", "01-hospitalnotification-admit-inpatient.bundle.xml")
    st, body, raw, _ = submit(ap1, P_OK, fhir, original_sender="0088:5790000123117")
    check(st == 202, "discovery PMode accepted by the API (%s %s)" % (st, raw[:300]))
    msgid = body["message_id"] if body else ""
    out = ap1.wait_state(msgid, ("delivered", "failed"), direction="out")
    check(out is not None and out["state"] == "delivered",
          "delivered to the access point found by discovery (%s)" % (
              out and [out["state"], events(out)],))
    if out:
        check(out["endpoint"] == ap2.msh_url, "endpoint recorded: %s" % out["endpoint"])
        check(out["to"]["type"] == AP and out["to"]["value"] == "ap2",
              "eb:To PartyId is the receiving certificate's CN: %s" % out["to"])
        check(any(r.startswith("receiver discovered: %s (certificate " % ap2.msh_url) and
                  "CN=ap2" in r for r in events(out)),
              "the history names the endpoint and certificate found: %s" % events(out))
        check(out["receipt"] is True and out["attempts"] == 1, "receipt verified, 1 attempt")
    got = ap2.message(msgid, "in")
    check(got is not None and got["from"]["value"] == "ap1" and got["from"]["type"] == AP and
          got["final_recipient"] == P_OK and got["original_sender"] == "0088:5790000123117",
          "ap2 received it from the unknown sender ap1 (dynamic sender), four corners kept")
    if got and got["payloads"]:
        check(got["payloads"][0]["sha256"] == sha256_hex(fhir), "payload bytes identical")

    st, body, _, _ = submit(ap1, P_OK, b"<second/>")
    msgid2 = body["message_id"] if body else ""
    out2 = ap1.wait_state(msgid2, ("delivered", "failed"), direction="out")
    check(out2 is not None and out2["state"] == "delivered", "second message delivered")
    check(any(msgid2 in line and "from the cache" in line for line in ap1.log().splitlines()),
          "second lookup answered from the SMP cache")
    st, _, raw = ap1.http("GET", "/metrics",
                          headers={"Authorization": "Bearer " + TOKENS["reader"]})
    text = raw.decode(errors="replace") if raw else ""
    counters = dict(line.split()[:2] for line in text.splitlines()
                    if line.startswith("as4_smp_"))
    check(st == 200 and counters.get("as4_smp_lookups_total") == "2" and
          counters.get("as4_smp_cache_hits_total") == "1",
          "metrics: 2 lookups, 1 from the cache (%s %s)" % (st, counters))

    # ---- permanent failures: at once, with the reason -------------------------------------
    def fails_at_once(pv, what, words):
        st, body, raw, _ = submit(ap1, pv)
        if not check(st == 202, "%s: submission accepted (%s)" % (what, raw[:200])):
            return
        doc = ap1.wait_state(body["message_id"], ("delivered", "failed"), direction="out")
        ok = doc is not None and doc["state"] == "failed" and doc["attempts"] == 1
        detail = (doc or {}).get("last_error") or {}
        text = " ".join(events(doc or {}))
        check(ok and all(w in text for w in words) and
              all(w in (detail.get("detail") or "") for w in words),
              "%s: failed after one attempt, reason in the events (%s)" % (
                  what, doc and [doc["state"], doc["attempts"], events(doc)]))
    fails_at_once(P_NX, "participant not registered", ["not registered", "NXDOMAIN"])
    fails_at_once(P_FOREIGN, "endpoint certificate not from the AP CA", ["endpoint certificate"])
    fails_at_once(P_APSIGNED, "ServiceMetadata signed by an AP certificate",
                  ["not among the configured CA"])

    # ---- SMP down: retries, then delivered when it answers --------------------------------
    st, body, _, _ = submit(ap1, P_DOWN, b"<late/>")
    msgid3 = body["message_id"] if body else ""
    deadline = time.time() + 60
    doc = None
    while time.time() < deadline:
        doc = ap1.message(msgid3, "out")
        if doc is not None and (doc["state"] in ("delivered", "failed") or
                                (doc["state"] == "retrying" and doc["attempts"] >= 2)):
            break
        time.sleep(0.1)
    check(doc is not None and doc["state"] == "retrying" and doc["attempts"] >= 2 and
          "SMP unreachable" in (doc["last_error"] or {}).get("detail", "") and
          doc["endpoint"] is None,
          "SMP down: the message retries (%s)" % (
              doc and [doc["state"], doc["attempts"], doc["last_error"]],))
    late.up()
    doc = ap1.wait_state(msgid3, ("delivered", "failed"), direction="out")
    check(doc is not None and doc["state"] == "delivered" and doc["endpoint"] == ap2.msh_url,
          "SMP back: delivered (%s)" % (doc and [doc["state"], events(doc)],))

    # ---- reload: the SMP clients are rebuilt from the new settings ------------------------
    def reload(ap, old, new, wanted):
        with open(ap.config) as f:
            text = f.read()
        with open(ap.config, "w") as f:
            f.write(text.replace(old, new))
        seen = ap.log().count(wanted)
        ap.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 30
        while time.time() < deadline and ap.log().count(wanted) == seen:
            time.sleep(0.05)
        return ap.log().count(wanted) > seen

    dns_line = "dns_server: 127.0.0.1:%d" % dns_port
    check(reload(ap1, dns_line, "dns_server: '[::1]:%d'" % dns_port, "reload refused") and
          "discovery.networks[0]: network test-sml: DNS server" in ap1.log().split("reload refused")[-1].split("\n")[0],
          "a network the SMP client refuses (IPv6 DNS server): reload refused, naming it")
    st, body, _, _ = submit(ap1, P_OK, b"<after-refused-reload/>")
    doc = ap1.wait_state(body["message_id"] if body else "", ("delivered", "failed"),
                         direction="out")
    check(doc is not None and doc["state"] == "delivered", "the previous settings still send")
    check(reload(ap1, "dns_server: '[::1]:%d'" % dns_port, dns_line + "\n      cache_ttl: 0s",
                 "configuration reloaded"), "reload with the cache switched off")
    st, body, _, _ = submit(ap1, P_OK, b"<after-reload/>")
    msgid4 = body["message_id"] if body else ""
    doc = ap1.wait_state(msgid4, ("delivered", "failed"), direction="out")
    lines = [line for line in ap1.log().splitlines()
             if msgid4 in line and "receiver discovered" in line]
    check(doc is not None and doc["state"] == "delivered" and len(lines) == 1 and
          "from the cache" not in lines[0],
          "after the reload the lookup went to the SMP again (new client, no cache): %s" % lines)

    # ---- submission checks: nothing stored ------------------------------------------------
    before = ap1.store_files()
    st, body, _, _ = submit(ap1, None)
    check(st == 400 and body["error"]["field"] == "final_recipient",
          "no final_recipient: 400 naming the field (%s %s)" % (st, body))
    st, body, _, _ = submit(ap1, "0088:5798000000002")
    check(st == 400 and body["error"]["field"] == "final_recipient" and
          "check digit" in body["error"]["message"],
          "bad GLN in final_recipient: 400 naming the field (%s %s)" % (st, body))
    check(ap1.store_files() == before, "refused submissions stored nothing")

    # ---- a sender whose PartyId is not its certificate's CN -------------------------------
    ap1x = sender("ap1x", "impostor").start()
    aps.append(ap1x)
    st, body, _, _ = submit(ap1x, P_OK)
    doc = ap1x.wait_state(body["message_id"] if body else "", ("delivered", "failed"),
                          direction="out")
    err = (doc or {}).get("last_error") or {}
    check(doc is not None and doc["state"] == "failed" and err.get("code") == "EBMS:0101" and
          "not the CN" in (err.get("detail") or ""),
          "From PartyId 'impostor' signed by CN=ap1: EBMS:0101 from the receiver (%s)" % err)
    check(body is not None and ap2.message(body["message_id"], "in") is None,
          "ap2 stored nothing for the impostor")

    for ap in aps:
        rc = ap.stop()
        check(rc == 0, "%s stopped cleanly (exit %s)" % (ap.name, rc))
    aps = []
finally:
    for ap in aps:
        ap.stop()
    for s in smps:
        s.close()
    if dns is not None:
        dns.terminate()
        dns.wait()
    wd.cleanup()
finish()
