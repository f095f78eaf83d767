#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Scenario 06-smp-lookup: `as4ctl smp lookup` through real parts on loopback.
#   - dnsmasq serves the SML zone sml.test.local: NAPTR records (one behind a CNAME), a name
#     with only a TXT record (NODATA), absent names (NXDOMAIN) and, for any other zone, REFUSED;
#   - a static SMP (smp_server.py on Debian's python3, http and https) serves ServiceMetadata
#     signed with xmlsec1 under a test PKI made here (root -> SMP CA -> SMP signer,
#     root -> AP CA -> AP);
#   - every outcome class is checked: found (direct, CNAME, https with a base path), not
#     registered (NXDOMAIN, NODATA), DNS refused (retryable), signed by an AP certificate,
#     tampered, wrong participant, expired endpoint, unknown document (404), SMP down
#     (retryable), http where https is required, TLS server not trusted, usage errors; and
#     `as4ctl smp inspect` on a saved response.
# Only 127.0.0.1 and random unprivileged ports are used; everything is removed on exit.
# Environment: AS4CTL (the binary), AS4_TEST_DATA (test/data).
set -eu

AS4CTL=${AS4CTL:?AS4CTL must name the as4ctl binary}
AS4_TEST_DATA=${AS4_TEST_DATA:?AS4_TEST_DATA must name test/data}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
for tool in dnsmasq xmlsec1 openssl base32 "$PY"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/as4-06-smp.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	for p in $pids; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fails=0
pass() { echo "ok   $1"; }
fail() {
	echo "FAIL $1"
	fails=$((fails + 1))
}

# ---- test PKI, plus a TLS server certificate for 127.0.0.1 -----------------------------------
sh "$AS4_TEST_DATA/smp/mkpki.sh" "$tmp/pki"
pki=$tmp/pki
printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/tls.cnf"
openssl req -newkey rsa:2048 -nodes -keyout "$pki/tls.key" -out "$pki/tls.csr" \
	-subj "/CN=127.0.0.1" 2>/dev/null
openssl x509 -req -in "$pki/tls.csr" -CA "$pki/root.pem" -CAkey "$pki/root.key" \
	-CAcreateserial -out "$pki/tls.pem" -days 30 -extfile "$pki/tls.cnf" 2>/dev/null

# ---- identifiers and their SML names (computed here independently: coreutils + openssl) -------
ZONE=sml.test.local
PS=iso6523-actorid-upis
DOC='busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1'
DOC_V=${DOC#busdox-docid-qns::}
PROC='cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0'
PROC_V=${PROC#cenbii-procid-ubl::}
P_OK=0088:5798000000001
P_CNAME=0088:5790000000005
P_NX=0088:5798009811578
P_NODATA=0088:5790001398644
P_APSIGNED=0184:DK00000011
P_TAMPERED=0184:DK00000012
P_WRONG=0184:DK00000013
P_EXPIRED=0184:DK00000014
P_DOWN=0184:DK00000015
P_HTTPS=0184:DK00000016
P_404=0184:DK00000017

sml_name() { # value -> Peppol SML name (base32(sha256(lower(value))), no padding)
	h=$(printf '%s' "$1" | tr 'A-Z' 'a-z' | openssl dgst -sha256 -binary | base32 -w0 |
		tr -d '=' | tr 'A-Z' 'a-z')
	echo "$h.$PS.$ZONE"
}

# ---- SMP documents ------------------------------------------------------------------------------
b64() { sed -e '1d' -e '$d' "$1"; }
AP_B64=$(b64 "$pki/ap.pem")
SIG='<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo></Signature>'

doc() { # participant-value expiration -> Peppol SignedServiceMetadata template on stdout
	cat <<-XML
	<?xml version="1.0" encoding="UTF-8"?>
	<m:SignedServiceMetadata xmlns:m="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:i="http://busdox.org/transport/identifiers/1.0/" xmlns:w="http://www.w3.org/2005/08/addressing"><m:ServiceMetadata><m:ServiceInformation>
	<i:ParticipantIdentifier scheme="$PS">$1</i:ParticipantIdentifier>
	<i:DocumentIdentifier scheme="busdox-docid-qns">$DOC_V</i:DocumentIdentifier>
	<m:ProcessList><m:Process><i:ProcessIdentifier scheme="cenbii-procid-ubl">$PROC_V</i:ProcessIdentifier>
	<m:ServiceEndpointList><m:Endpoint transportProfile="peppol-transport-as4-v2_0">
	<w:EndpointReference><w:Address>https://ap.test/as4</w:Address></w:EndpointReference>
	<m:RequireBusinessLevelSignature>false</m:RequireBusinessLevelSignature>
	<m:ServiceActivationDate>2020-01-01T00:00:00Z</m:ServiceActivationDate>
	<m:ServiceExpirationDate>$2</m:ServiceExpirationDate>
	<m:Certificate>$AP_B64</m:Certificate>
	<m:ServiceDescription>test AP</m:ServiceDescription>
	<m:TechnicalContactUrl>mailto:ap@test</m:TechnicalContactUrl>
	</m:Endpoint></m:ServiceEndpointList></m:Process></m:ProcessList>
	</m:ServiceInformation></m:ServiceMetadata>$SIG</m:SignedServiceMetadata>
	XML
}

sign() { # key-name template output
	xmlsec1 --sign --privkey-pem "$pki/$1.key,$pki/$1.pem" --output "$3" "$2"
}

mk() { # name participant-value signer expiration
	doc "$2" "$4" >"$tmp/$1.tmpl"
	sign "$3" "$tmp/$1.tmpl" "$tmp/$1.xml"
}
FAR=2099-01-01T00:00:00Z
mk ok "$P_OK" smp "$FAR"
mk cname "$P_CNAME" smp "$FAR"
mk https "$P_HTTPS" smp "$FAR"
mk apsigned "$P_APSIGNED" ap "$FAR"
mk tampered "$P_TAMPERED" smp "$FAR"
sed -i 's#https://ap.test/as4#https://evil.test/as4#' "$tmp/tampered.xml"
mk wrong 0184:DK99999999 smp "$FAR"
mk expired "$P_EXPIRED" smp 2021-01-01T00:00:00Z

route() { # status participant-value file [prefix]
	printf '%s\t%s/%s::%s/services/%s\t%s\n' "$1" "${4:-}" "$PS" "$2" "$DOC" "$3"
}
{
	route 200 "$P_OK" "$tmp/ok.xml"
	route 200 "$P_CNAME" "$tmp/cname.xml"
	route 200 "$P_APSIGNED" "$tmp/apsigned.xml"
	route 200 "$P_TAMPERED" "$tmp/tampered.xml"
	route 200 "$P_WRONG" "$tmp/wrong.xml"
	route 200 "$P_EXPIRED" "$tmp/expired.xml"
} >"$tmp/routes-http"
route 200 "$P_HTTPS" "$tmp/https.xml" /smp >"$tmp/routes-https"

# ---- servers ------------------------------------------------------------------------------------
port() { echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 20000)); }

wait_http() { # url [cafile]
	i=0
	while [ $i -lt 50 ]; do
		if $PY - "$@" <<-'PY' 2>/dev/null; then return 0; fi
		import ssl, sys, urllib.request, urllib.error
		ctx = ssl.create_default_context(cafile=sys.argv[2]) if len(sys.argv) > 2 else None
		try:
		    urllib.request.urlopen(sys.argv[1], timeout=1, context=ctx)
		except urllib.error.HTTPError:
		    pass
		PY
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}

start_smp() { # routes [cert key] -> sets SPORT, appends the pid
	tries=0
	while [ $tries -lt 5 ]; do
		SPORT=$(port)
		$PY "$here/smp_server.py" "$SPORT" "$@" 2>>"$tmp/smp.log" &
		spid=$!
		pids="$pids $spid"
		scheme=http
		ca=""
		if [ $# -gt 1 ]; then
			scheme=https
			ca=$pki/root.pem
		fi
		if wait_http "$scheme://127.0.0.1:$SPORT/" $ca; then
			return 0
		fi
		kill "$spid" 2>/dev/null || true
		tries=$((tries + 1))
	done
	echo "cannot start the static SMP"
	exit 1
}
start_smp "$tmp/routes-http"
HP=$SPORT
start_smp "$tmp/routes-https" "$pki/tls.pem" "$pki/tls.key"
SP=$SPORT
# "SMP down": a port held by a socket that is bound but not listening, so connections are
# refused and no other test can take the port meanwhile
$PY -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(3600)' >"$tmp/dead.port" &
pids="$pids $!"
i=0
while [ ! -s "$tmp/dead.port" ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
DEAD=$(cat "$tmp/dead.port")

naptr() { # name url
	printf -- '--naptr-record=%s,100,10,U,Meta:SMP,!.*!%s!\n' "$1" "$2"
}
{
	naptr "$(sml_name "$P_OK")" "http://127.0.0.1:$HP/"
	printf -- '--cname=%s,smp-pub.%s\n' "$(sml_name "$P_CNAME")" "$ZONE"
	printf -- '--naptr-record=smp-pub.%s,100,10,U,meta:smp,!.*!http://127.0.0.1:%s!\n' "$ZONE" "$HP"
	printf -- '--txt-record=%s,no-smp-here\n' "$(sml_name "$P_NODATA")"
	for p in "$P_APSIGNED" "$P_TAMPERED" "$P_WRONG" "$P_EXPIRED" "$P_404"; do
		naptr "$(sml_name "$p")" "http://127.0.0.1:$HP"
	done
	naptr "$(sml_name "$P_DOWN")" "http://127.0.0.1:$DEAD/"
	naptr "$(sml_name "$P_HTTPS")" "https://127.0.0.1:$SP/smp"
} >"$tmp/records"

tries=0
while :; do
	DP=$(port)
	# one option per line, no spaces inside; no globbing of the regexps
	set -f
	dnsmasq --keep-in-foreground --conf-file=/dev/null --port="$DP" --listen-address=127.0.0.1 \
		--bind-interfaces --no-resolv --no-hosts --local=/$ZONE/ --local-ttl=60 \
		--pid-file="$tmp/dnsmasq.pid" --user="$(id -un)" --log-facility="$tmp/dnsmasq.log" \
		$(cat "$tmp/records") &
	dpid=$!
	set +f
	sleep 0.3
	if kill -0 "$dpid" 2>/dev/null; then
		pids="$pids $dpid"
		break
	fi
	tries=$((tries + 1))
	if [ $tries -ge 5 ]; then
		echo "cannot start dnsmasq"
		cat "$tmp/dnsmasq.log" 2>/dev/null || true
		exit 1
	fi
done

# ---- lookups --------------------------------------------------------------------------------------
COMMON="--zone $ZONE --dns 127.0.0.1:$DP --smp-ca $pki/smp-ca.pem --ap-ca $pki/ap-ca.pem --timeout 3s"

# lookup name participant-value expected-exit [extra options...]: JSON output in $tmp/name.json
lookup() {
	name=$1
	pv=$2
	want=$3
	shift 3
	set +e
	# shellcheck disable=SC2086 # COMMON holds several options
	"$AS4CTL" smp lookup "$PS::$pv" "$DOC" "$PROC" $COMMON --json "$@" >"$tmp/$name.json" \
		2>"$tmp/$name.err"
	rc=$?
	set -e
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit $rc, expected $want"
		cat "$tmp/$name.json" "$tmp/$name.err"
		return 1
	fi
	return 0
}

# json name python-expression: true when the expression over j (the output) holds
json() {
	$PY - "$tmp/$1.json" "$2" <<-'PY'
	import datetime, json, sys
	def until(text):  # seconds from now to an xsd:dateTime of the output
	    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
	    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
	    return (t - now).total_seconds()
	j = json.load(open(sys.argv[1]))
	steps = " | ".join(s["step"] + ":" + s["verdict"] + ":" + s["text"] for s in j["steps"])
	err = j.get("error", {})
	sys.exit(0 if eval(sys.argv[2]) else 1)
	PY
}

check() { # name description python-expression
	if json "$1" "$3"; then
		pass "$1: $2"
	else
		fail "$1: $2"
		cat "$tmp/$1.json"
	fi
}

OKNAME=$(sml_name "$P_OK")
if lookup found "$P_OK" 0 --insecure-http; then
	check found "endpoint, certificate and every step" \
		"j['ok'] and j['result']['endpoint_url'] == 'https://ap.test/as4' and 'CN=PDK000001' in j['result']['certificate_subject'] and j['result']['transport_profile'] == 'peppol-transport-as4-v2_0' and 'dns-name:info:$OKNAME' in steps and 'naptr:pass' in steps and 'HTTP 200' in steps and 'signature:pass' in steps and 'chain:pass' in steps and 'endpoint-cert:pass' in steps"
	check found "valid until the DNS TTL (60 s) at most" \
		"0 < until(j['result']['valid_until']) <= 61 and j['result']['process'] == '$PROC'"
fi
lookup cname "$P_CNAME" 0 --insecure-http &&
	check cname "NAPTR reached through a CNAME" "j['ok'] and ' CNAME smp-pub.$ZONE' in steps"
lookup https "$P_HTTPS" 0 --https-ca "$pki/root.pem" &&
	check https "https SMP with a base path, TLS checked against the given CA" \
		"j['ok'] and 'https://127.0.0.1:$SP/smp/$PS%3A%3A' in j['result']['metadata_url']"
lookup https-untrusted "$P_HTTPS" 1 &&
	check https-untrusted "TLS server certificate from an unknown CA" \
		"not j['ok'] and 'TLS certificate' in err['message'] and not err['retryable']"
lookup nxdomain "$P_NX" 1 --insecure-http &&
	check nxdomain "not registered (NXDOMAIN), permanent" \
		"err['code'] == 300 and 'NXDOMAIN' in err['message'] and not err['retryable']"
lookup nodata "$P_NODATA" 1 --insecure-http &&
	check nodata "not registered (NODATA), permanent" \
		"err['code'] == 300 and 'NODATA' in err['message'] and not err['retryable']"
lookup refused "$P_OK" 1 --insecure-http --zone other.test &&
	check refused "REFUSED is retryable, never 'not registered'" \
		"err['code'] == 302 and err['retryable'] and 'temporarily' in err['message']"
lookup apsigned "$P_APSIGNED" 1 --insecure-http &&
	check apsigned "signed by an AP certificate: refused" \
		"err['code'] == 304 and 'not among the configured CA' in err['message'] and 'signature:pass' in steps and 'chain:fail' in steps"
lookup tampered "$P_TAMPERED" 1 --insecure-http &&
	check tampered "changed after signing: refused" \
		"err['code'] == 304 and 'does not verify' in err['message']"
lookup wrong "$P_WRONG" 1 --insecure-http &&
	check wrong "metadata of another participant: refused" \
		"err['code'] == 303 and 'DK99999999' in err['message']"
lookup expired "$P_EXPIRED" 1 --insecure-http &&
	check expired "only an expired endpoint: no service" \
		"err['code'] == 301 and 'expired' in err['message'] and 'endpoint:skip' in steps"
lookup notfound "$P_404" 1 --insecure-http &&
	check notfound "HTTP 404: no service for the document" \
		"err['code'] == 301 and '404' in err['message']"
lookup down "$P_DOWN" 1 --insecure-http &&
	check down "SMP down: retryable" \
		"err['code'] == 302 and err['retryable'] and 'unreachable' in err['message']"
lookup need-https "$P_OK" 1 &&
	check need-https "http SMP URL where https is required" \
		"err['code'] == 303 and 'https' in err['message']"

# the network from the configuration's discovery section (as4d.yaml as the daemon reads it)
mkdir -p "$tmp/data"
cat >"$tmp/as4d.yaml" <<-YAML
	node:
	  name: smp-test
	  party: me
	  base_dir: $tmp
	  data_dir: data
	listeners:
	  msh:
	    address: 127.0.0.1
	    port: 18080
	    path: /as4
	    tls:
	      enabled: false
	  api:
	    address: 127.0.0.1
	    port: 18081
	keystore:
	  signing:
	    key: pki/ap.key
	    cert: pki/ap.pem
	truststores:
	  as4: [pki/ap-ca.pem]
	parties:
	  - name: me
	    ids:
	      - type: urn:x
	        value: me
	    endpoint: http://127.0.0.1:18080/as4
	    certificate: pki/ap.pem
	discovery:
	  networks:
	    - name: test-sml
	      sml_zone: $ZONE.
	      hashing: peppol
	      smp_dialect: peppol
	      smp_ca: [pki/smp-ca.pem]
	      ap_ca: [pki/ap-ca.pem]
	      transport_profile: peppol-transport-as4-v2_0
	      require_https: false
	      dns_server: 127.0.0.1:$DP
	      timeout: 3s
	YAML
set +e
"$AS4CTL" smp lookup "$PS::$P_CNAME" "$DOC" --config "$tmp/as4d.yaml" --network test-sml \
	--json >"$tmp/config.json" 2>"$tmp/config.err"
rc=$?
"$AS4CTL" smp lookup "$PS::$P_CNAME" "$DOC" --config "$tmp/as4d.yaml" --network nope \
	>/dev/null 2>&1
rc_nope=$?
set -e
if [ $rc -eq 0 ] && [ $rc_nope -eq 2 ]; then
	check config "--config + --network (any process); unknown network is a usage error" \
		"j['ok'] and j['result']['endpoint_url'] == 'https://ap.test/as4' and 'network test-sml' in steps"
else
	fail "config: exit $rc, unknown network exit $rc_nope"
	cat "$tmp/config.json" "$tmp/config.err"
fi

# text output and usage errors
set +e
# shellcheck disable=SC2086
"$AS4CTL" smp lookup "$PS::$P_OK" "$DOC" "$PROC" $COMMON --insecure-http >"$tmp/text.out" 2>&1
rc=$?
set -e
if [ $rc -eq 0 ] && grep -q '^lookup: OK' "$tmp/text.out" && grep -q '^endpoint: *https://ap.test/as4' "$tmp/text.out"; then
	pass "text output"
else
	fail "text output (exit $rc)"
	cat "$tmp/text.out"
fi
set +e
"$AS4CTL" smp lookup "$PS::0088:5798000000002" "$DOC" $COMMON >/dev/null 2>&1
rc_gln=$?
"$AS4CTL" smp lookup "$PS::$P_OK" >/dev/null 2>&1
rc_args=$?
"$AS4CTL" smp lookup "$PS::$P_OK" "$DOC" --zone $ZONE --dns 127.0.0.1:$DP >/dev/null 2>&1
rc_noca=$?
set -e
if [ $rc_gln -eq 2 ] && [ $rc_args -eq 2 ] && [ $rc_noca -eq 2 ]; then
	pass "usage errors exit 2 (bad GLN, missing arguments, missing CA files)"
else
	fail "usage errors: $rc_gln $rc_args $rc_noca"
fi

# offline inspection of a saved response
set +e
"$AS4CTL" smp inspect "$tmp/ok.xml" --trust "$pki/smp-ca.pem" "$pki/root.pem" \
	--ap-ca "$pki/ap-ca.pem" >"$tmp/inspect.out" 2>&1
rc_good=$?
"$AS4CTL" smp inspect "$tmp/ok.xml" --trust "$pki/ap-ca.pem" >/dev/null 2>&1
rc_bad=$?
"$AS4CTL" smp inspect "$tmp/tampered.xml" --signature-only >/dev/null 2>&1
rc_tampered=$?
"$AS4CTL" smp inspect "$tmp/ok.xml" >/dev/null 2>&1
rc_usage=$?
set -e
if [ $rc_good -eq 0 ] && [ $rc_bad -eq 1 ] && [ $rc_tampered -eq 1 ] && [ $rc_usage -eq 2 ] &&
	grep -q 'endpoint-cert: .*chains to the AP CA' "$tmp/inspect.out"; then
	pass "inspect: valid 0, wrong CA 1, tampered 1, no trust given 2"
else
	fail "inspect: $rc_good $rc_bad $rc_tampered $rc_usage"
	cat "$tmp/inspect.out"
fi

if [ $fails -ne 0 ]; then
	echo "$fails check(s) failed"
	echo "--- dnsmasq log"
	cat "$tmp/dnsmasq.log" 2>/dev/null || true
	echo "--- smp server log"
	cat "$tmp/smp.log" 2>/dev/null || true
	exit 1
fi
echo "all checks passed"
