#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Test PKI for the SMP client tests (unit and integration), made fresh in DIR:
#   root.pem                      Test Root CA (self-signed)
#   smp-ca.pem   <- root          "SMP CA": issues SMP signers (what a network's SMP CA file holds)
#   ap-ca.pem    <- root          "AP CA": issues access point certificates
#   smp.pem/key  <- smp-ca        SMP signer 1
#   smp2.pem/key <- smp-ca        SMP signer 2 (redirect targets)
#   ap.pem/key   <- ap-ca         an access point (endpoint certificate; negative case: signer)
#   other-ca.pem, rogue.pem/key   an unrelated CA and a certificate issued by it
# usage: mkpki.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
days=3650
ext_ca=ext-ca.cnf
ext_leaf=ext-leaf.cnf
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext_ca"
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext_leaf"

selfsigned() { # name subject
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -subj "$2" \
		-days $days -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
issue() { # name subject issuer extfile
	openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial \
		-out "$1.pem" -days $days -extfile "$4" 2>/dev/null
	rm -f "$1.csr"
}

selfsigned root "/C=DK/O=AS4 Test/CN=Test Root CA"
issue smp-ca "/C=DK/O=AS4 Test/CN=Test SMP CA" root "$ext_ca"
issue ap-ca "/C=DK/O=AS4 Test/CN=Test AP CA" root "$ext_ca"
issue smp "/C=DK/O=Test SMP One/OU=TEST SMP/CN=SMP000001" smp-ca "$ext_leaf"
issue smp2 "/C=DK/O=Test SMP Two/OU=TEST SMP/CN=SMP000002" smp-ca "$ext_leaf"
issue ap "/C=DK/O=Test AP/OU=TEST AP/CN=PDK000001" ap-ca "$ext_leaf"
selfsigned other-ca "/C=DK/O=Elsewhere/CN=Other CA"
issue rogue "/C=DK/O=Test SMP One/OU=TEST SMP/CN=SMP000001" other-ca "$ext_leaf"
rm -f "$ext_ca" "$ext_leaf" ./*.srl
