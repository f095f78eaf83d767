#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Make a MedCom pilot network: two access points that find each other through an SML (DNS)
and a static SMP, with everything they need, in one folder.

    mkpilot.py --out DIR [--mode docker|local] [--as4ctl PATH] [--mkpki PATH]
               [--dns-port N --smp-port N --msh1 N --api1 N --msh2 N --api2 N]

DIR receives:
  pki/              development AS4 PKI (as4ctl certs dev: CA, ap1, ap2)
  smppki/           SMP PKI (test/data/smp/mkpki.sh: root, SMP CA, SMP signer)
  smp/              signed Peppol ServiceMetadata for every participant and MedCom document,
                    laid out as the SMP's URL paths (any static HTTP server serves it)
  dnsmasq.conf      the SML zone: one U-NAPTR "Meta:SMP" record per participant
  ap1/, ap2/        as4d.yaml (medcom profile, participants, discovery network, dynamic
                    parties) and pmodes/ (each MedCom document out through discovery and in
                    from any access point of the network)
  pilot.json        names, GLNs, URLs and tokens, for scripts (send-examples.py)
Mode docker: host names ap1, ap2, smp and the DNS server at 172.30.53.53 (docker/compose.yaml);
mode local: everything on 127.0.0.1 with the given ports (the integration test).
Development keys and published tokens: for pilots and tests, never for production traffic.
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys

AP_TYPE = "urn:fdc:peppol.eu:2017:identifiers:ap"
PS = "iso6523-actorid-upis"
ZONE = "sml.pilot.local"
DOC_SCHEME = "busdox-docid-qns"
PROC_SCHEME = "dk-medcom-messaging"
PROCESS = "urn:ehmi:sdn-emergence"
SD = "urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::"
DOCUMENTS = {
    "hospitalnotification": SD + "hospitalnotification-message##urn:dk:medcom:fhir:"
                                 "hospitalnotification-message::4.0",
    "carecommunication": SD + "carecommunication-message##urn:dk:medcom:fhir:"
                              "carecommunication-message::4.0",
    "homecareobservation": SD + "homecareobservation-message##urn:dk:medcom:fhir:"
                                "homecareobservation-message::1.2",
    "acknowledgement": SD + "acknowledgement-message##urn:dk:medcom:fhir:"
                            "acknowledgement-message::2.0",
}
# ap1 serves a hospital department, ap2 a municipality (MedCom test GLNs)
GLN = {"ap1": "5790000121526", "ap2": "5790000201389"}
SOR = {"ap1": "8851000016006", "ap2": "263001000016001"}
TOKENS = {"admin": "pilot-admin-token", "submitter": "pilot-submitter-token",
          "reader": "pilot-reader-token"}

SIG = ('<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'
       '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>'
       '<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
       '<Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#'
       'enveloped-signature"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/'
       'xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo>'
       '<X509Data><X509Certificate/></X509Data></KeyInfo></Signature>')


def sml_name(value):
    """Peppol SML name (PFUOI 4.3 / SML 1.2): base32(sha256(lower(value))), no padding."""
    h = base64.b32encode(hashlib.sha256(value.lower().encode()).digest()).decode()
    return "%s.%s.%s" % (h.rstrip("=").lower(), PS, ZONE)


def pem_b64(path):
    with open(path) as f:
        return "".join(line.strip() for line in f if not line.startswith("-----"))


def metadata(participant, doc, url, cert):
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
        '<m:ServiceDescription>MedCom pilot access point</m:ServiceDescription>'
        '<m:TechnicalContactUrl>mailto:pilot@localhost</m:TechnicalContactUrl>'
        '</m:Endpoint></m:ServiceEndpointList></m:Process></m:ProcessList>'
        '</m:ServiceInformation></m:ServiceMetadata>%s</m:SignedServiceMetadata>\n'
        % (PS, participant, DOC_SCHEME, doc, PROC_SCHEME, PROCESS, url, pem_b64(cert), SIG))


def pmodes(me):
    """Each MedCom document: out to any access point found by discovery, in from any."""
    out = {}
    for key, doc in DOCUMENTS.items():
        common = [
            "  service: %s" % PROCESS,
            "  service_type: %s" % PROC_SCHEME,
            '  action: "%s::%s"' % (DOC_SCHEME, doc),
            "  payload:",
            "    compress: true",
            "    min_parts: 1",
            "    max_parts: 1",
            "  security:",
            "    sign: true",
            "    encrypt: true",
        ]
        out["%s-out.yaml" % key] = "\n".join(
            ["pmode:", "  id: %s-out" % key, "  initiator: %s" % me,
             "  responder: {party: any-ap, discovery: true, discovery_network: pilot-sml}"]
            + common + ["  reliability:", "    retries: 10", "    interval: 2s",
                        "    backoff: constant"]) + "\n"
        out["%s-in.yaml" % key] = "\n".join(
            ["pmode:", "  id: %s-in" % key, "  initiator: any-ap", "  responder: %s" % me]
            + common) + "\n"
    return out


def config(me, a, out):
    pki = os.path.join(out, "pki") if a.mode == "local" else "/pilot/pki"
    smppki = os.path.join(out, "smppki") if a.mode == "local" else "/pilot/smppki"
    base = os.path.join(out, me) if a.mode == "local" else "/pilot/" + me
    data = os.path.join(base, "data") if a.mode == "local" else "/var/lib/as4"
    dns = "127.0.0.1:%d" % a.dns_port if a.mode == "local" else "172.30.53.53"
    msh = a.msh1 if me == "ap1" else a.msh2
    api = a.api1 if me == "ap1" else a.api2
    lines = [
        "# MedCom pilot access point %s (made by docker/pilot/mkpilot.py, mode %s)" % (me, a.mode),
        "node:",
        "  name: pilot-%s" % me,
        "  party: %s" % me,
        "  data_dir: %s" % data,
        "  pmode_dir: %s" % os.path.join(base, "pmodes"),
        "listeners:",
        "  msh:",
        "    address: %s" % ("127.0.0.1" if a.mode == "local" else "0.0.0.0"),
        "    port: %d" % msh,
        "    tls:",
        "      enabled: false       # plain HTTP inside the pilot network only",
        "  api:",
        "    address: %s" % ("127.0.0.1" if a.mode == "local" else "0.0.0.0"),
        "    port: %d" % api,
        "keystore:",
        "  signing:",
        "    key: %s/%s.key.pem" % (pki, me),
        "    cert: %s/%s.cert.pem" % (pki, me),
        "truststores:",
        "  as4: [%s/ca.pem]" % pki,
        "parties:",
        "  - name: %s" % me,
        "    ids:",
        "      - type: %s" % AP_TYPE,
        "        value: %s" % me,
        "  - name: any-ap            # every access point of the pilot network",
        "    dynamic: true",
        "    ids:",
        "      - type: %s" % AP_TYPE,
        "discovery:",
        "  networks:",
        "    - name: pilot-sml",
        "      sml_zone: %s" % ZONE,
        "      hashing: peppol",
        "      smp_dialect: peppol",
        "      smp_ca: [%s/smp-ca.pem]" % smppki,
        "      ap_ca: [%s/ca.pem]" % pki,
        "      transport_profile: peppol-transport-as4-v2_0",
        "      require_https: false",
        "      dns_server: %s" % dns,
        "      timeout: 5s",
        "api:",
        "  tokens:",
    ]
    for role, tok in TOKENS.items():
        lines += ["    - name: pilot-%s" % role, "      role: %s" % role,
                  "      sha256: %s" % hashlib.sha256(tok.encode()).hexdigest()]
    lines += [
        "log:",
        "  format: logfmt",
        "  level: info",
    ]
    if a.mode == "local":
        lines.append("  file: %s" % os.path.join(base, "as4d.log"))
    lines += [
        "medcom:",
        "  routing: peppol",
        "  process_scheme: %s" % PROC_SCHEME,
        "  processes: [\"%s\"]" % PROCESS,
        "  documents:",
    ]
    for key, doc in DOCUMENTS.items():
        lines += ['    - id: "%s"' % doc, "      name: %s" % key]
    lines += ["participants:", '  - gln: "%s"' % GLN[me], '    sor: "%s"' % SOR[me],
              "    name: pilot participant of %s" % me]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--mode", choices=("docker", "local"), default="docker")
    p.add_argument("--as4ctl", default=shutil.which("as4ctl") or "/usr/bin/as4ctl")
    here = os.path.dirname(os.path.abspath(__file__))
    # next to this script in the image, test/data/smp/mkpki.sh in the source tree
    mkpki = os.path.join(here, "mkpki.sh")
    if not os.path.exists(mkpki):
        mkpki = os.path.join(here, "..", "..", "test", "data", "smp", "mkpki.sh")
    p.add_argument("--mkpki", default=mkpki)
    p.add_argument("--owner", help="uid:gid to own the access points' files (docker)")
    for name, d in (("dns-port", 53), ("smp-port", 8080), ("msh1", 8080), ("api1", 8081),
                    ("msh2", 8080), ("api2", 8081)):
        p.add_argument("--" + name, type=int, default=d)
    a = p.parse_args()
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    subprocess.run([a.as4ctl, "certs", "dev", os.path.join(out, "pki")], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["sh", a.mkpki, os.path.join(out, "smppki")], check=True)

    host = {"ap1": "ap1", "ap2": "ap2", "smp": "smp"}
    if a.mode == "local":
        host = {"ap1": "127.0.0.1", "ap2": "127.0.0.1", "smp": "127.0.0.1"}
    msh = {"ap1": a.msh1, "ap2": a.msh2}
    url = dict((ap, "http://%s:%d/as4" % (host[ap], msh[ap])) for ap in ("ap1", "ap2"))
    smp_url = "http://%s:%d/" % (host["smp"], a.smp_port)

    # the SMP: one signed ServiceMetadata per participant and document, at its URL path
    smp_dir = os.path.join(out, "smp")
    key = "%s,%s" % (os.path.join(out, "smppki", "smp.key"), os.path.join(out, "smppki",
                                                                          "smp.pem"))
    naptr = []
    for ap in ("ap1", "ap2"):
        participant = "0088:" + GLN[ap]
        folder = os.path.join(smp_dir, "%s::%s" % (PS, participant), "services")
        os.makedirs(folder, exist_ok=True)
        for doc in DOCUMENTS.values():
            tmpl = os.path.join(out, "metadata.tmpl")
            with open(tmpl, "w") as f:
                f.write(metadata(participant, doc, url[ap],
                                 os.path.join(out, "pki", "%s.cert.pem" % ap)))
            target = os.path.join(folder, "%s::%s" % (DOC_SCHEME, doc))
            subprocess.run(["xmlsec1", "--sign", "--privkey-pem", key, "--output", target,
                            tmpl], check=True, capture_output=True)
            os.unlink(tmpl)
        naptr.append("naptr-record=%s,100,10,U,Meta:SMP,!.*!%s!" % (sml_name(participant),
                                                                     smp_url))
    with open(os.path.join(out, "dnsmasq.conf"), "w") as f:
        f.write("# the pilot SML zone %s (made by mkpilot.py)\n" % ZONE)
        # authoritative for the zone: a name without records is NXDOMAIN (not registered)
        f.write("port=%d\nno-resolv\nno-hosts\nlocal=/%s/\nlocal-ttl=60\nlog-queries\n" % (
            a.dns_port, ZONE))
        if a.mode == "local":
            f.write("listen-address=127.0.0.1\nbind-interfaces\n")
        f.write("\n".join(naptr) + "\n")

    for ap in ("ap1", "ap2"):
        base = os.path.join(out, ap)
        os.makedirs(os.path.join(base, "pmodes"), exist_ok=True)
        with open(os.path.join(base, "as4d.yaml"), "w") as f:
            f.write(config(ap, a, out))
        for name, text in pmodes(ap).items():
            with open(os.path.join(base, "pmodes", name), "w") as f:
                f.write(text)
    pilot = {
        "zone": ZONE, "process": PROCESS, "documents": DOCUMENTS, "tokens": TOKENS,
        "aps": dict((ap, {"gln": GLN[ap], "sor": SOR[ap], "msh": url[ap],
                          "api": "http://%s:%d/api/v1" % (
                              host[ap], a.api1 if ap == "ap1" else a.api2)})
                    for ap in ("ap1", "ap2")),
    }
    with open(os.path.join(out, "pilot.json"), "w") as f:
        json.dump(pilot, f, indent=2)
    if a.owner:
        uid, gid = (int(x) for x in a.owner.split(":"))
        for root, dirs, files in os.walk(out):
            for n in dirs + files:
                os.chown(os.path.join(root, n), uid, gid)
        os.chown(out, uid, gid)
    print("pilot network ready in %s (%s mode): ap1 serves 0088:%s, ap2 serves 0088:%s" % (
        out, a.mode, GLN["ap1"], GLN["ap2"]))


if __name__ == "__main__":
    sys.exit(main())
