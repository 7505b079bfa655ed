#!/usr/bin/env bash
# pg.sh start DIR | stop DIR | restart DIR
#
# A throwaway PostgreSQL 15 cluster kept whole in DIR: its data (DIR/data), unix socket (DIR/run),
# log (DIR/postgres.log), and the settings a test needs (DIR/env, also printed by start). It listens
# on a unix socket in DIR/run and on 127.0.0.1 at a free port. The test's role has a password, kept
# in DIR/pgpass, so that TCP connections go through password authentication and libpq's
# PGPASSFILE. Nothing is kept safe from a crash (fsync is off): a test starts a new one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/servers/lib.sh
. "$here/lib.sh"

BIN=/usr/lib/postgresql/15/bin
ROLE=meshfs
DB=meshfs

usage()
{
	echo "usage: ${0##*/} start DIR | stop DIR | restart DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
[ -x "$BIN/initdb" ] || die "$BIN/initdb missing: install postgresql-15"
mkdir -p "$2"
dir=$(cd "$2" && pwd)
plain_path "$dir"

# initdb and postgres refuse to run as root: as root, the cluster is the package's postgres
# user's; otherwise the caller's own.
as_server=()
server_user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
	server_user=postgres
	as_server=(runuser -u postgres --)
fi

start()
{
	local port password elapsed t0
	t0=$(date +%s%N)
	[ ! -e "$dir/data" ] || die "$dir/data exists: stop it and use an empty DIR"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
	"${as_server[@]}" test -w "$dir" ||
		die "$dir is not writable by $server_user (is a parent directory mode 0700?)"
	mkdir -m 0700 "$dir/run"
	[ "$(id -u)" -ne 0 ] || chown postgres: "$dir/run"
	port=$(free_ports 1)
	# The kernel's limit on a unix socket's path (108 bytes with the final NUL).
	[ ${#dir} -le 80 ] || die "$dir is too long a path for a unix socket in it"

	password=$(random_secret)
	# The superuser is local-only (trust on the socket in DIR/run, mode 0700); TCP wants a password.
	"${as_server[@]}" "$BIN/initdb" -D "$dir/data" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-sync --no-instructions \
		>"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		die "initdb failed"
	}
	cat >>"$dir/data/postgresql.conf" <<-EOF
		listen_addresses = '127.0.0.1'
		port = $port
		unix_socket_directories = '$dir/run'
		# Throwaway data: no waiting on the disk.
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF
	"${as_server[@]}" "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start \
		>/dev/null || {
		tail -n 20 "$dir/postgres.log" >&2
		die "postgres did not start"
	}

	"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/run" -p "$port" -U postgres -d postgres \
		-c "CREATE ROLE $ROLE LOGIN PASSWORD '$password'" \
		-c "CREATE DATABASE $DB OWNER $ROLE" >/dev/null
	# libpq ignores a password file that others can read.
	(umask 077 && echo "127.0.0.1:$port:$DB:$ROLE:$password" >"$dir/pgpass")

	cat >"$dir/env" <<-EOF
		MESHFS_PG_URL=postgresql://$ROLE@127.0.0.1:$port/$DB
		PGHOST=127.0.0.1
		PGPORT=$port
		PGUSER=$ROLE
		PGDATABASE=$DB
		PGPASSFILE=$dir/pgpass
		MESHFS_PG_SOCKET_DIR=$dir/run
	EOF
	cat "$dir/env"
	elapsed=$((($(date +%s%N) - t0) / 1000000))
	echo "pg.sh: started in $elapsed ms" >&2
}

stop()
{
	[ -f "$dir/data/postmaster.pid" ] || return 0
	# immediate: no checkpoint, the data is thrown away anyway.
	"${as_server[@]}" "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null
}

# For a client's test of a server that goes away and comes back: on the same port, its sessions
# ended (fast: no waiting for them).
restart()
{
	[ -f "$dir/data/postmaster.pid" ] || die "$dir: not running"
	"${as_server[@]}" "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t 30 \
		restart >/dev/null
}

case $1 in
start) start ;;
stop) stop ;;
restart) restart ;;
*) usage ;;
esac
