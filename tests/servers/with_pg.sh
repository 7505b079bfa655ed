#!/usr/bin/env bash
# with_pg.sh CMD [ARG...]: runs CMD against a throwaway PostgreSQL 15 cluster (pg.sh) in a
# temporary directory, with the cluster's settings (its env file) in CMD's environment, and
# MESHFS_TEST_CATALOG set to its URL for the catalog's suites; MESHFS_PG_SH and MESHFS_PG_DIR let
# a test restart it ("$MESHFS_PG_SH" restart "$MESHFS_PG_DIR"). The cluster is stopped and the
# directory removed however CMD ends; exits with CMD's status, or 77 (meson's skip), saying
# why, where PostgreSQL 15 is not installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ $# -ge 1 ] || {
	echo "usage: ${0##*/} CMD [ARG...]" >&2
	exit 2
}
for p in initdb pg_ctl postgres psql; do
	[ -x "/usr/lib/postgresql/15/bin/$p" ] || {
		echo "skip: PostgreSQL 15 is not installed (apt-get install postgresql-15)"
		exit 77
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/meshfs-pg.XXXXXX")
# The server runs as its own user when this runs as root, and must reach its directory inside.
chmod 0755 "$work"
cleanup()
{
	local postmaster
	# A test that stops the server (SIGSTOP) and dies before letting it go on would leave a
	# server that cannot stop: its postmaster and every process it started get SIGCONT first.
	postmaster=$(head -n 1 "$work/pg/data/postmaster.pid" 2>/dev/null || true)
	if [ -n "$postmaster" ]; then
		# shellcheck disable=SC2046 # one pid a word
		kill -CONT $(ps -o pid= --ppid "$postmaster") "$postmaster" 2>/dev/null || true
	fi
	"$here/pg.sh" stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT
# Killed (Ctrl-C, a test runner's timeout), still stop the server: bash runs the EXIT trap on exit.
trap 'exit 1' INT TERM HUP

"$here/pg.sh" start "$work/pg" >/dev/null 2>"$work/start.log" || {
	cat "$work/start.log" >&2
	echo "with_pg.sh: pg.sh start failed" >&2
	exit 1
}
set -a
# shellcheck disable=SC1091 # written by pg.sh start
. "$work/pg/env"
set +a
export MESHFS_TEST_CATALOG=$MESHFS_PG_URL MESHFS_PG_SH=$here/pg.sh MESHFS_PG_DIR=$work/pg

# Its status is the script's: the trap on EXIT keeps it.
"$@"
