#!/usr/bin/env bash
# with_swift.sh COMMAND [ARG...]: runs COMMAND beside a throwaway Swift (swift.sh) in a scratch
# directory, with the settings of its env file exported (MESHFS_S3_ENDPOINT, AWS_ENDPOINT_URL,
# AWS_REGION, the keys), and stops Swift and removes the directory whatever happens. Exits with
# COMMAND's status, or 77 (meson's skip), saying why, where the Swift packages are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ $# -gt 0 ] || {
	echo "usage: ${0##*/} COMMAND [ARG...]" >&2
	exit 2
}
# shellcheck source=tests/servers/lib.sh
. "$here/lib.sh"
# PostgreSQL is not needed here.
# shellcheck disable=SC2046 # one package a word
mapfile -t absent < <(missing $("$here/deps.sh" | grep -v '^postgresql-'))
if [ ${#absent[@]} -gt 0 ]; then
	echo "skip: not installed: ${absent[*]} (install them with apt-get to run this test)"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/meshfs-swift.XXXXXX")
# Swift runs as its own user and must reach its directory inside.
chmod 0755 "$work"
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup()
{
	"$here/swift.sh" stop "$work/swift" || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"$here/swift.sh" start "$work/swift" >/dev/null 2>"$work/start.log" || {
	cat "$work/start.log" >&2
	echo "with_swift.sh: swift.sh start failed" >&2
	exit 1
}
set -a
# shellcheck disable=SC1091 # written by start
. "$work/swift/env"
set +a
# Not exec: the trap must outlive COMMAND.
status=0
"$@" || status=$?
exit "$status"
