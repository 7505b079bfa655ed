# shellcheck shell=bash
# Shared part of the publish tests (test_publish_*.sh, one a section; docs/DESIGN.md §5): a scratch
# mesh mounted in the foreground (its log kept) with -o allow_other, written by the mesh admin and
# by Unix users made here and removed at exit, and what the sections check with. A section ends
# with publish_end, which unmounts.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

why=$(fuse_unusable)
[ -n "$why" ] && skip_all "$why"
for tool in tar gzip perl script mkfifo cksum diff; do
	command -v "$tool" >/dev/null || skip_all "$tool is missing"
done

P=$DATA/publish

# ---- users, removed at exit ----

# Names carry the test's pid: runs on one machine never share a user.
OWN=mfs_p_own$$ # in shop-team, the team owning domain shop
PUB=mfs_p_pub$$ # publish on shop/orders only, not in the owning team
RO=mfs_p_ro$$   # read on domain shop, no publish
USERS=
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null && command -v userdel >/dev/null &&
	command -v setpriv >/dev/null; then
	USERS=1
fi

if [ -n "$USERS" ]; then
	for u in "$OWN" "$PUB" "$RO"; do
		useradd -M -U -s /usr/sbin/nologin "$u" || bail_out "useradd $u"
		MADE_USERS+=("$u")
	done
	chmod 0755 "$T"
	if setpriv --reuid="$RO" --regid="$(id -g "$RO")" --init-groups -- test -x "$T"; then
		pass "created the users $OWN $PUB $RO"
	else
		USERS=
		skip "other users" "the scratch directory's parents are not traversable (TMPDIR)"
	fi
fi

# ---- the mesh: domain shop, owned by shop-team, with three products ----

setup_mesh
if [ -n "$USERS" ]; then
	setup_step "team shop-team with $ME and $OWN" team create shop-team "$ME" "$OWN" -m "$MESH"
else
	setup_step "team shop-team with $ME" team create shop-team "$ME" -m "$MESH"
fi
setup_step "domain shop owned by shop-team" domain create shop --owner shop-team -m "$MESH"
setup_step "product shop/orders" product create shop/orders --contract "$P/orders.yaml" \
	-m "$MESH"
setup_step "product shop/quality" product create shop/quality --contract "$P/quality.yaml" \
	-m "$MESH"
setup_step "product shop/report, downstream of shop/orders" product create shop/report \
	--contract "$P/report.yaml" -m "$MESH"
if [ -n "$USERS" ]; then
	setup_step "grant publish on shop/orders to $PUB" grant publish shop/orders "user:$PUB" \
		-m "$MESH"
	setup_step "grant read on shop to $RO" grant read shop "user:$RO" -m "$MESH"
fi

MNT=$T/mnt
mkdir "$MNT"
chmod 0755 "$MNT"
track_mount "$MNT"
mount_opts=()
[ -n "$USERS" ] && mount_opts=(-o allow_other)
# In the foreground, so that the daemon's log is kept.
"$MESHFS" mount -f -m "$MESH" "$MNT" "${mount_opts[@]}" >"$T/daemon.out" 2>"$T/daemon.log" \
	</dev/null &
DAEMON=$!
track_daemon "$DAEMON"
wait_for 10 mountpoint -q -- "$MNT" || bail_out "meshfs mount -f" "$(cat "$T/daemon.log")"
pass "meshfs mount -f ${mount_opts[*]}"

# shellcheck disable=SC2034 # used by the tests that source this file
S=$MNT/shop/orders
# shellcheck disable=SC2034 # used by the tests that source this file
Q=$MNT/shop/quality

# ---- helpers ----

# latest DIR: the product's latest version number, 0 before the first.
latest()
{
	readlink -- "$1/versions/latest" 2>/dev/null || echo 0
}

# published DESC DIR BEFORE [NAME WANT]...: the last command succeeded and made exactly one
# version after BEFORE, in which each table file NAME reads as WANT, byte for byte.
published()
{
	local desc=$1 dir=$2 before=$3 now why=
	shift 3
	now=$(latest "$dir")
	if [ "$RC" -ne 0 ]; then
		why=$(last_diag)
	elif [ "$now" != $((before + 1)) ]; then
		why="versions/latest is $now, expected $((before + 1))"
	fi
	while [ -z "$why" ] && [ $# -ge 2 ]; do
		cmp -s -- "$dir/$1" "$2" ||
			why="$1 is not $(basename -- "$2"):
$(diff -- "$2" "$dir/$1" 2>&1 | head -n 8)"
		shift 2
	done
	if [ -z "$why" ]; then
		pass "$desc"
	else
		fail "$desc" "$why"
	fi
}

# rejected DESC DIR BEFORE TEXT: the last command failed cleanly, its stderr says TEXT (the
# errno's message, as the tool prints it), and DIR's latest version is still BEFORE.
rejected()
{
	local now
	now=$(latest "$2")
	if [ "$RC" -eq 0 ] || [ "$RC" -ge 124 ]; then
		fail "$1" "expected a clean failure" "$(last_diag)"
	elif ! grep -qF -- "$4" "$T/err"; then
		fail "$1" "stderr does not say '$4'" "$(last_diag)"
	elif [ "$now" != "$3" ]; then
		fail "$1" "a version was made: latest is $now, was $3"
	else
		pass "$1"
	fi
}

# last_attempt DIR: the last attempt DIR/publish.log lists, its line and its reasons.
last_attempt()
{
	awk '/^[^ #]/ { block = "" } /^[^#]/ { block = block $0 "\n" } END { printf "%s", block }' \
		"$1/publish.log"
}

# attempts DIR: how many attempts DIR/publish.log lists.
attempts()
{
	grep -c '^[^ #]' "$1/publish.log"
}

# reasons DESC DIR WANT: the last attempt in DIR/publish.log was rejected, and each line of the
# file WANT starts one of its reasons.
reasons()
{
	local line missing=
	last_attempt "$2" >"$T/attempt"
	while IFS= read -r line; do
		grep -qF -- "    $line" "$T/attempt" || missing="$missing
$line"
	done <"$3"
	if ! head -n 1 "$T/attempt" | grep -q REJECTED; then
		fail "$1" "the last attempt was not rejected:" "$(cat "$T/attempt")"
	elif [ -n "$missing" ]; then
		fail "$1" "missing:$missing" "the attempt:" "$(cat "$T/attempt")"
	else
		pass "$1"
	fi
}

# reason_has DESC DIR ERE...: the last attempt in DIR/publish.log was rejected, and its reasons
# match every ERE.
# expect_reason_lacks DIR TEXT: the last attempt's reasons do not say TEXT.
expect_reason_lacks()
{
	! last_attempt "$1" | grep -qF -- "$2"
}
reason_has()
{
	local desc=$1 dir=$2 re missing=
	shift 2
	last_attempt "$dir" >"$T/attempt"
	for re in "$@"; do
		tail -n +2 "$T/attempt" | grep -Eq -- "$re" || missing="$missing /$re/"
	done
	if ! head -n 1 "$T/attempt" | grep -q REJECTED; then
		fail "$desc" "the last attempt was not rejected:" "$(cat "$T/attempt")"
	elif [ -n "$missing" ]; then
		fail "$desc" "no reason matches$missing" "the attempt:" "$(cat "$T/attempt")"
	else
		pass "$desc"
	fi
}

# state D/P: what a rejected publish must leave as it was: the product's versions (each file of
# each, as the caller reads it), its contract, and the catalog's record of it (meshfs log,
# meshfs product show, its row of catalog.csv).
state()
{
	local dir=$MNT/$1 f
	"$MESHFS" log "$1" -m "$MESH" 2>&1
	"$MESHFS" product show "$1" -m "$MESH" 2>&1
	grep "^${1%/*},${1#*/}," "$MNT/catalog.csv"
	cat -- "$dir/contract.yaml"
	readlink -- "$dir/versions/latest"
	for f in "$dir"/versions/[0-9]*/*; do
		[ -f "$f" ] && echo "${f#"$dir"/} $(cksum <"$f")"
	done
}

# unchanged DESC D/P SAVED: D/P's state is the one saved in the file SAVED.
unchanged()
{
	state "$2" >"$T/state-now"
	if cmp -s -- "$3" "$T/state-now"; then
		pass "$1"
	else
		fail "$1" "$(diff -- "$3" "$T/state-now" | head -n 12)"
	fi
}

# orders_variant TAG: orders.csv with TAG in the first order's note, to tell publishes apart.
orders_variant()
{
	sed "2s/,first order\$/,first order ($1)/" "$P/orders.csv"
}

# items_variant QTY: items.csv with QTY (1-99) as the first line's quantity.
items_variant()
{
	sed "2s/,2\$/,$1/" "$P/items.csv"
}

# pii_note NOTE: orders.csv with NOTE as the first order's note (a column not classified PII).
pii_note()
{
	sed "2s/,first order\$/,$1/" "$P/orders.csv"
}

# gen_items ROWS SEED: an items table of ROWS rows.
gen_items()
{
	awk -v n="$1" -v seed="$2" 'BEGIN {
		print "order_id,line,sku,qty"
		for (i = 1; i <= n; i++)
			printf "%d,%d,SKU-%d,%d\n", i, i % 3 + 1, i * seed, (i * seed) % 99 + 1
	}'
}

# gen_readings ROWS NULLS: readings that pass every rule of quality.yaml at 10 rows and 1 null:
# the first code is "n/a" (a missing value), the next NULLS values of v are nulls.
gen_readings()
{
	awk -v n="$1" -v nulls="$2" 'BEGIN {
		split("a b c", code, " ")
		print "id,code,v,tag"
		for (i = 1; i <= n; i++) {
			c = (i == 1) ? "n/a" : code[i % 3 + 1]
			v = (i > 1 && i <= nulls + 1) ? "" : i * 10
			printf "%d,%s,%s,t%d\n", i, c, v, i
		}
	}'
}

# in_daemon_log DESC TEXT: the daemon's log holds TEXT.
in_daemon_log()
{
	if grep -qF -- "$2" "$T/daemon.log"; then
		pass "$1"
	else
		fail "$1" "not in the daemon's log: $2" "$(tail -n 5 "$T/daemon.log")"
	fi
}

# audit_has DESC PRINCIPAL ACTION OBJECT OUTCOME [TEXT]: meshfs audit has such a row (holding
# TEXT when given).
audit_has()
{
	mfs audit -m "$MESH"
	if awk -v p="$2" -v a="$3" -v o="$4" -v out="$5" -v text="${6:-}" '
		NR > 1 && $2 == p && $3 == a && $4 == o && $7 == out &&
			(text == "" || index($0, text)) { found = 1 }
		END { exit !found }' "$T/out"; then
		pass "$1"
	else
		fail "$1" "no row: $2 $3 $4 $5 ${6:-}" "$(tail -n 3 "$T/out")"
	fi
}

# hidden DIR: the names in DIR starting with a dot (temporary and staging files).
hidden()
{
	find "$1" -mindepth 1 -maxdepth 1 -name '.*' -printf '%f\n'
}

HAVE_XATTR=1
# shellcheck disable=SC2034 # used by the tests that source this file
command -v getfattr >/dev/null || HAVE_XATTR=
# Where rsync uploads from: rsync -a keeps the file's name.
mkdir "$T/rs"

# ---- unmount ----

# publish_end: unmounts, checks that the daemon exits 0 and that no command crashed, and finishes.
publish_end()
{
	run fusermount3 -u "$MNT"
	expect_ok "fusermount3 -u"
	# Generous: under the sanitizers on a busy machine, the daemon's exit (and its leak check)
	# takes seconds.
	if wait_for 30 pids_gone "$DAEMON"; then
		wait "$DAEMON"
		rc=$?
		check "meshfs mount -f exits 0" test "$rc" -eq 0
	else
		fail "meshfs mount -f exits once unmounted" "pid $DAEMON still running"
	fi
	check_no_crash
	finish
}
