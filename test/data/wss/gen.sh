#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerates the WS-Security test PKI (test keys only, never for production). The unit tests
# copy the keys to a private temporary directory with mode 0600 before loading them.
#   ca          test root CA                      inter     intermediate CA under ca
#   ap1, ap2    RSA-2048 leaves issued by ca       ap3       RSA-2048 leaf issued by inter
#   weak        RSA-1024 leaf issued by ca         rogue     RSA-2048 leaf of an unrelated CA (other-ca)
#   ec          P-256 leaf issued by ca (keystores refuse non-RSA keys)
set -eu
cd "$(dirname "$0")"
days=36500
ext() {
	printf 'basicConstraints=critical,CA:%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n%s\n' "$1" "$2"
}
ca() { # name cn [issuer]
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key.pem" 2>/dev/null
	if [ $# -eq 2 ]; then
		openssl req -x509 -new -key "$1.key.pem" -subj "/O=AS4 Test/CN=$2" -days $days -sha256 \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-addext "subjectKeyIdentifier=hash" -out "$1.pem"
	else
		openssl req -new -key "$1.key.pem" -subj "/O=AS4 Test/CN=$2" -out "$1.csr"
		ext TRUE "keyUsage=critical,keyCertSign,cRLSign" >"$1.ext"
		openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key.pem" -CAcreateserial -days $days \
			-sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
		rm -f "$1.csr" "$1.ext"
	fi
}
leaf() { # name cn issuer keyalg-opts...
	n=$1 cn=$2 is=$3
	shift 3
	openssl genpkey "$@" -out "$n.key.pem" 2>/dev/null
	openssl req -new -key "$n.key.pem" -subj "/O=AS4 Test/CN=$cn" -out "$n.csr"
	ext FALSE "keyUsage=critical,digitalSignature,keyEncipherment" >"$n.ext"
	openssl x509 -req -in "$n.csr" -CA "$is.pem" -CAkey "$is.key.pem" -CAcreateserial -days $days \
		-sha256 -extfile "$n.ext" -out "$n.cert.pem" 2>/dev/null
	rm -f "$n.csr" "$n.ext"
}
rsa2048="-algorithm RSA -pkeyopt rsa_keygen_bits:2048"
ca ca "AS4 Test Root CA"
ca inter "AS4 Test Intermediate CA" ca
ca other-ca "Unrelated Test CA"
leaf ap1 ap1 ca $rsa2048
leaf ap2 ap2 ca $rsa2048
leaf ap3 ap3 inter $rsa2048
leaf weak weak ca -algorithm RSA -pkeyopt rsa_keygen_bits:1024
leaf rogue rogue other-ca $rsa2048
leaf ec ec ca -algorithm EC -pkeyopt ec_paramgen_curve:P-256
cat ap3.cert.pem inter.pem >ap3.chain.pem
rm -f ./*.srl other-ca.key.pem
