#!/usr/bin/env bash
# run_shared.sh NAME...: the integration tests test_NAME.sh again, each on a shared mesh of its
# own (MESHFS_TEST_SHARED=1, see lib.sh), against the PostgreSQL and Swift that
# tests/servers/with_pg.sh and with_swift.sh started around this script. Prints each test's TAP
# lines indented, then one line a test with its time; exits 1 if any test failed (a test that
# cannot run here, exit 77, counts as skipped).
set -u
here=$(cd "$(dirname "$0")" && pwd)

[ $# -gt 0 ] || {
	echo "usage: ${0##*/} NAME..." >&2
	exit 2
}
if [ -z "${MESHFS_PG_URL:-}" ] || [ -z "${AWS_ENDPOINT_URL:-}" ]; then
	echo "1..0 # SKIP run through tests/servers/with_pg.sh and with_swift.sh"
	exit 77
fi

out=$(mktemp "${TMPDIR:-/tmp}/meshfs-shared.XXXXXX")
trap 'rm -f -- "$out"' EXIT
n=0
failed=
for name in "$@"; do
	n=$((n + 1))
	t0=$(date +%s%N)
	MESHFS_TEST_SHARED=1 timeout -k 5 "${SHARED_TEST_TIMEOUT:-300}" \
		"$here/test_$name.sh" </dev/null >"$out" 2>&1
	status=$?
	sed 's/^/    /' "$out"
	took=$((($(date +%s%N) - t0) / 100000000))
	took="$((took / 10)).$((took % 10)) s"
	case $status in
	0) echo "ok $n - $name ($took)" ;;
	77) echo "ok $n - $name # SKIP $(sed -n 's/^1\.\.0 # SKIP //p' "$out") ($took)" ;;
	*)
		echo "not ok $n - $name: exit $status ($took)"
		failed="$failed $name"
		;;
	esac
done
echo "1..$n"
if [ -n "$failed" ]; then
	echo "failed on a shared mesh:$failed"
	exit 1
fi
