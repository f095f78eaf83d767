#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# STYLE rule 22: banned libc calls in project C sources (tests included).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|sscanf|strncpy|rand'
# a call is the name followed by "(" and not preceded by an identifier character or "_"
hits=$(cd "$top" && git ls-files -- '*.c' '*.h' 2>/dev/null | grep -v '^test/fuzz/corpus/' |
	xargs -r grep -nE "(^|[^A-Za-z0-9_])($banned)[[:space:]]*\(" | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)')
if [ -n "$hits" ]; then
	echo "banned calls (use as4_str_*, as4_parse_u64, RAND_bytes):"
	echo "$hits"
	exit 1
fi
echo "no banned calls"
