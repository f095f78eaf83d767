#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Build the Debian package from a build tree (CPack) into a temporary folder and check it:
# every file of expected-files.txt is in it (and nothing else outside the PMode examples),
# modes of the binaries and the unit, the control fields (name, version, shared-library
# dependencies found by dpkg-shlibdeps), the conffile and the maintainer scripts; the shipped
# man pages open and the unit file names the installed paths and lets as4d write where the
# packaged configuration writes (check_unit_paths.py).
# usage: check_package.sh BUILD_DIR EXPECTED_FILES
set -u
build=$1
expected=$2
for tool in cpack dpkg-deb dpkg-shlibdeps; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not installed"
		exit 77
	fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/as4-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "  ok   $1"; passed=$((passed + 1)); }
bad() { echo "  FAIL $1"; failed=$((failed + 1)); }

if (cd "$build" && cpack --config CPackConfig.cmake -B "$tmp/out" >"$tmp/cpack.log" 2>&1); then
	ok "cpack built the package"
else
	bad "cpack failed"
	cat "$tmp/cpack.log"
	echo "$passed passed, $failed failed"
	exit 1
fi
deb=$(ls "$tmp"/out/as4_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] && ok "package file $(basename "$deb")" || bad "no as4_*.deb produced"

dpkg-deb -c "$deb" | awk '{print $1, $6}' >"$tmp/list"
awk '$1 !~ /^d/ {print $2}' "$tmp/list" | sort >"$tmp/files"
grep -v '^./usr/share/doc/as4/examples/pmodes/' "$tmp/files" >"$tmp/files-core"
if diff -u "$expected" "$tmp/files-core"; then
	ok "file list is exactly the expected one"
else
	bad "file list differs (above: - expected, + in the package)"
fi
grep -q '^./usr/share/doc/as4/examples/pmodes/.*\.yaml$' "$tmp/files" &&
	ok "example PModes shipped" || bad "no example PModes"
for f in ./usr/bin/as4d ./usr/bin/as4ctl; do
	grep -q "^-rwxr-xr-x $f\$" "$tmp/list" && ok "$f is 0755" || bad "$f mode: $(grep " $f\$" "$tmp/list")"
done
grep -q '^-rw-r--r-- ./lib/systemd/system/as4d.service$' "$tmp/list" &&
	ok "unit file is 0644" || bad "unit file mode"

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = as4 ] && ok "Package: as4" || bad "Package: $(field Package)"
ver=$(sed -n 's/^project(as4 VERSION \([0-9.]*\).*/\1/p' "$(dirname "$0")/../../CMakeLists.txt")
[ "$(field Version)" = "$ver" ] && ok "Version: $ver" || bad "Version: $(field Version) != $ver"
deps=$(field Depends)
for lib in libc6 libssl3 libxml2 libxmlsec1 libxmlsec1-openssl libmicrohttpd12 libcurl4 \
	liblmdb0 libjansson4 libyaml-0-2 zlib1g adduser; do
	echo "$deps" | grep -q "$lib" && ok "Depends names $lib" || bad "Depends lacks $lib: $deps"
done

dpkg-deb -e "$deb" "$tmp/control"
grep -qx '/etc/as4/as4d.yaml' "$tmp/control/conffiles" && ok "as4d.yaml is a conffile" ||
	bad "as4d.yaml is not a conffile"
for s in postinst postrm; do
	[ -x "$tmp/control/$s" ] && sh -n "$tmp/control/$s" && ok "$s present and valid sh" ||
		bad "$s missing or broken"
done
grep -q 'adduser --system' "$tmp/control/postinst" && ok "postinst creates the as4 account" ||
	bad "postinst does not create the account"

dpkg-deb -x "$deb" "$tmp/root"
grep -q '^ExecStart=/usr/bin/as4d --config /etc/as4/as4d.yaml$' \
	"$tmp/root/lib/systemd/system/as4d.service" && ok "unit starts /usr/bin/as4d on /etc/as4" ||
	bad "unit ExecStart"
grep -q '^User=as4$' "$tmp/root/lib/systemd/system/as4d.service" && ok "unit runs as as4" ||
	bad "unit user"
# ProtectSystem=strict: every folder the packaged as4d.yaml makes as4d write to (PModes,
# participants, managed certificates and keys, store, log) is in the unit's ReadWritePaths
if python3 "$(dirname "$0")/check_unit_paths.py" "$tmp/root/lib/systemd/system/as4d.service" \
	"$tmp/root/etc/as4/as4d.yaml" "$tmp/control/postinst"; then
	ok "the unit may write every folder the packaged config writes to"
else
	bad "the unit or postinst leaves a folder the packaged config writes to read-only"
fi
for m in man1/as4ctl.1.gz man8/as4d.8.gz; do
	if zcat "$tmp/root/usr/share/man/$m" | grep -q '^\.TH '; then
		ok "$m is a gzipped man page"
	else
		bad "$m is not a man page"
	fi
done
"$tmp/root/usr/bin/as4ctl" --help >/dev/null 2>&1 && ok "packaged as4ctl runs" ||
	bad "packaged as4ctl does not run"
"$tmp/root/usr/bin/as4d" --version >/dev/null 2>&1 && ok "packaged as4d runs" ||
	bad "packaged as4d does not run"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
