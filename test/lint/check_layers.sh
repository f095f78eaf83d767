#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# STYLE rule 18: a file may include public headers of its own layer and lower ones only.
# The header -> layer table below is the architecture of docs/architecture.md.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
layer_of_header() {
	case "$1" in
	compiler|err|diag|buf|arena|str|log|limits|xml|time|blob|part|conf) echo 0 ;;
	store) echo 1 ;;
	pmode|config|sbdh) echo 2 ;;
	wss) echo 3 ;;
	mime|gzip|ebms3|msg) echo 4 ;;
	smp) echo S ;;
	*) echo 5 ;;
	esac
}
layer_of_file() {
	case "$1" in
	ap/base/*) echo 0 ;;
	ap/store/*) echo 1 ;;
	ap/pmode/*|ap/sbdh/*) echo 2 ;;
	ap/wss/*) echo 3 ;;
	ap/ebms3/*) echo 4 ;;
	smp-client/*) echo S ;;
	ap/*) echo 5 ;;
	*) echo - ;;
	esac
}
bad=0
for f in $(git ls-files -- 'ap/*.c' 'ap/*.h' 'smp-client/*.c' 'smp-client/*.h'); do
	fl=$(layer_of_file "$f")
	for h in $(grep -oE '^#include "as4/[a-z0-9_]+\.h"' "$f" | sed -E 's/.*as4\/([a-z0-9_]+)\.h"/\1/'); do
		hl=$(layer_of_header "$h")
		ok=1
		if [ "$fl" = S ]; then
			# the discovery client uses the base layer only
			[ "$hl" = 0 ] || [ "$hl" = S ] || ok=0
		elif [ "$hl" = S ]; then
			[ "$fl" = 5 ] || ok=0
		elif [ "$hl" -gt "$fl" ]; then
			ok=0
		fi
		if [ $ok = 0 ]; then
			echo "$f (layer $fl) includes as4/$h.h (layer $hl)"
			bad=1
		fi
	done
done
[ $bad = 0 ] && echo "layering ok"
exit $bad
