#!/usr/bin/env bash
# meshfs migrate: a local mesh (the example one) moved to a shared one, its catalog on a real
# PostgreSQL and its segments in a real Swift (tests/servers/with_pg.sh and with_swift.sh start
# them around this script): everything arrives and reads the same through a mount, the local mesh
# is left as it was, and a move that cannot be done leaves nothing half made.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -n "${MESHFS_PG_URL:-}" ] && [ -n "${MESHFS_S3_ENDPOINT:-}" ] ||
	skip_all "run through tests/servers/with_pg.sh and with_swift.sh"
reason=$(fuse_unusable)
[ -z "$reason" ] || skip_all "$reason"
: "${MESHFS_EXAMPLE_GEN:?}" "${MESHFS_SOURCE_ROOT:?}"
export MESHFS_CACHE_DIR=$T/cache

# new_database NAME: a database owned by the test's role, its URL on stdout; made through the
# superuser's socket, with the role's password for it in the password file.
new_database()
{
	local pass
	psql -X -q -h "$MESHFS_PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres \
		-c "CREATE DATABASE $1 OWNER $PGUSER" >/dev/null || return 1
	pass=$(head -n 1 "$PGPASSFILE" | cut -d: -f5)
	echo "127.0.0.1:$PGPORT:$1:$PGUSER:$pass" >>"$PGPASSFILE"
	echo "${MESHFS_PG_URL%/*}/$1"
}

# tables_of URL: the rows of every table of a shared catalog, one line a row.
tables_of()
{
	psql -X -A -t "$1" -c "SELECT 'teams', count(*) FROM teams UNION ALL
		SELECT 'versions', count(*) FROM versions UNION ALL
		SELECT 'grants', count(*) FROM grants UNION ALL
		SELECT 'audit', count(*) FROM audit UNION ALL SELECT 'keys', count(*) FROM keys"
}

RUN_TIMEOUT=300 run env MESHFS="$MESHFS" "$MESHFS_SOURCE_ROOT/examples/create-mesh.sh" "$MESH" 200
[ "$RC" -eq 0 ] || bail_out "the example mesh" "$(last_diag)"
setup_step "a grant to move along" grant read orders/orders team:customer-care -m "$MESH"
local_sum=$(cksum <"$MESH/catalog.db")
# shellcheck disable=SC2012 # names of blob files, no odd characters
local_blobs=$(store_blobs | wc -l)

URL=$(new_database moved) || bail_out "CREATE DATABASE moved"
KEY=$T/shared.key

# ---- refusals that make nothing ----

mfs migrate -m "$MESH" --store "s3://moved/p" --key "$KEY"
expect_usage "migrate without --to is a usage error" "--to"
mfs migrate -m "$MESH" --to "$URL" --key "$KEY"
expect_usage "migrate without --store is a usage error" "--store"
mfs migrate -m "$MESH" --to "$T/elsewhere" --store "s3://moved/p" --key "$KEY"
expect_usage "migrate to a directory is a usage error" "postgresql"
echo keep >"$T/taken.key"
mfs migrate -m "$MESH" --to "$URL" --store "s3://moved/p" --key "$T/taken.key"
expect_fail "migrate into an existing key file is refused" "already exists"
check "and leaves the key file as it was" test "$(cat "$T/taken.key")" = keep
check "and the database empty" test "$(psql -X -A -t "$URL" -c \
	"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0

# ---- the move ----

RUN_TIMEOUT=300 mfs migrate -m "$MESH" --to "$URL" --store "s3://moved/p" --key "$KEY"
expect_ok "migrate moves the example mesh"
check "it copied every segment ($local_blobs)" out_has "segments +$local_blobs\$"
check "it checked the moved mesh as verify does" out_has "0 problems"
check "the new key file has mode 0600" test "$(stat -c %a "$KEY")" = 600
check "the new key is the local mesh's" cmp -s "$KEY" "$MESH/keys/master.key"
check "the local mesh is left as it was" test "$(cksum <"$MESH/catalog.db")" = "$local_sum"
tables_of "$URL" >"$T/moved.rows"
for t in teams versions grants audit keys; do
	want=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM " + sys.argv[2]).fetchone()[0])' \
		"$MESH/catalog.db" "$t")
	check "table $t has its $want rows" grep -qx "$t|$want" "$T/moved.rows"
done

mfs verify -m "$URL" --key "$KEY"
expect_ok "meshfs verify of the moved mesh"
mfs log orders/orders -m "$MESH"
cp "$T/out" "$T/log.local"
mfs log orders/orders -m "$URL"
same_file "the versions' log is the same" "$T/log.local" "$T/out"
mfs audit -m "$MESH"
cp "$T/out" "$T/audit.local"
mfs audit -m "$URL"
same_file "the audit is the same, the grant's row among it" "$T/audit.local" "$T/out"
check "the grant moved along" test "$(psql -X -A -t "$URL" -c \
	"SELECT count(*) FROM grants WHERE principal = 'team:customer-care'")" = 1

# ---- the same data through both mounts ----

mkdir "$T/mnt-local" "$T/mnt-shared"
track_mount "$T/mnt-local"
track_mount "$T/mnt-shared"
RUN_TIMEOUT=30 mfs mount -m "$MESH" "$T/mnt-local"
expect_ok "the local mesh mounts"
RUN_TIMEOUT=30 mfs mount -m "$URL" --key "$KEY" "$T/mnt-shared"
expect_ok "the moved mesh mounts"
for f in orders/orders/orders.csv customers/customers/customers.csv \
	payments/transactions/versions/1/transactions.csv catalog.csv; do
	check "$f reads the same in both" cmp -s "$T/mnt-local/$f" "$T/mnt-shared/$f"
done

# after the move, the new mesh goes on: the next version number follows the moved ones
head -n 50 "$T/mnt-shared/orders/orders/orders.csv" >"$T/next.csv"
before=$(ls "$T/mnt-shared/orders/orders/versions" | grep -c '^[0-9]')
mfs publish orders/orders/orders "$T/next.csv" -m "$URL" --key "$KEY"
expect_ok "a publish into the moved mesh"
check "it is version $((before + 1))" wait_for 5 test -d \
	"$T/mnt-shared/orders/orders/versions/$((before + 1))"

# time travel on the shared catalog: versions/@INSTANT and export D/P@INSTANT
V=$T/mnt-shared/orders/orders/versions
mfs log orders/orders -m "$URL" --key "$KEY"
cp "$T/out" "$T/log-orders"
t_first=$(log_time 1 "$T/log-orders")
t_new=$(log_time $((before + 1)) "$T/log-orders")
at_first=$(date -u -d "@$((t_first - 1))" +%Y-%m-%dT%H:%M:%SZ)
at_new=$(date -u -d "@$t_new" +%Y-%m-%dT%H:%M:%SZ)
check "versions/@ before version 1 is ENOENT on the shared mesh" \
	test ! -e "$V/@$at_first" -a ! -L "$V/@$at_first"
check "versions/@ the new version's second -> $((before + 1))" \
	test "$(readlink "$V/@$at_new")" = $((before + 1))
check "versions/@ in the future -> the latest" \
	test "$(readlink "$V/@9999-12-31T23:59:59Z")" = $((before + 1))
check "a table reads the same through @ as through versions/N" \
	cmp -s "$V/@$at_new/orders.csv" "$V/$((before + 1))/orders.csv"
mfs export "orders/orders@$at_new" "$T/at.tar" -m "$URL" --key "$KEY"
expect_ok "meshfs export orders/orders@INSTANT from the shared mesh"
mfs export "orders/orders@$((before + 1))" "$T/n.tar" -m "$URL" --key "$KEY"
same_file "it has the bytes of the export @N" "$T/at.tar" "$T/n.tar"

# ---- a second move into the same database is refused, whole ----

RUN_TIMEOUT=120 mfs migrate -m "$MESH" --to "$URL" --store "s3://moved/q" --key "$T/again.key"
expect_fail "a move into a database that holds a mesh is refused" "already holds a mesh"
check "and leaves no key file" test ! -e "$T/again.key"

finish
