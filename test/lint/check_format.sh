#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# STYLE rule 19: formatting is done by clang-format with the root .clang-format.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 1; }
files=$(git ls-files -- '*.c' '*.h')
[ -n "$files" ] || exit 0
clang-format --dry-run -Werror $files
