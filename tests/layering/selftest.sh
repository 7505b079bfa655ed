#!/usr/bin/env bash
# The layering check must fail on what it is for: a tree of its own with one include that runs
# upward (common/ including fs/), one that names no folder, and a folder that is not a layer.
set -euo pipefail
check=$1
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/common" "$t/fs"
printf '#include "common/a.h"\n' >"$t/fs/b.c"
printf '/* fine */\n' >"$t/common/a.h"
MESHFS_SOURCE_ROOT=$t "$check" >/dev/null || { echo "selftest: a tree that runs downward failed"; exit 1; }

printf '#include "fs/b.h"\n' >"$t/common/a.c"
out=$(MESHFS_SOURCE_ROOT=$t "$check") && { echo "selftest: an upward include passed"; exit 1; }
grep -q 'common/a.c: #include "fs/b.h" runs upward' <<<"$out" || { echo "selftest: $out"; exit 1; }

printf '#include "a.h"\n' >"$t/common/a.c"
out=$(MESHFS_SOURCE_ROOT=$t "$check") && { echo "selftest: an include without its folder passed"; exit 1; }
grep -q 'name the folder' <<<"$out" || { echo "selftest: $out"; exit 1; }

rm "$t/common/a.c"
mkdir "$t/extra" && printf 'int x;\n' >"$t/extra/x.c"
out=$(MESHFS_SOURCE_ROOT=$t "$check") && { echo "selftest: a folder outside the layers passed"; exit 1; }
grep -q 'extra/: sources in a folder that is not a layer' <<<"$out" || { echo "selftest: $out"; exit 1; }
echo "selftest: the layering check refuses an upward include, a bare include and a stray folder"
