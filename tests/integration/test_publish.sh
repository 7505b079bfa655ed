#!/usr/bin/env bash
# Publishing through the mount (docs/DESIGN.md §5): a scratch mesh mounted in the foreground (its log
# kept) with -o allow_other, written with the tools people use — cp, shell redirection, tee, dd,
# rsync, nano and vim on a terminal, perl writing at offsets, a temporary file renamed onto the
# table's name — by the mesh admin and by Unix users made here and removed at exit. Checks each
# accepted path and that it makes exactly one version; private staging files, out-of-order and
# sparse writes, staged bytes never plaintext; every input kind (CSV, JSON Lines, compressed,
# archives) and the bounds on archives; the contract's checks, the quality rules and the policy
# against undeclared PII, with the errno each tool reports and the reasons in publish.log, the
# daemon's log and the audit table; that a rejection changes nothing; atomic versions under a
# concurrent reader; the mesh policy; contract evolution; mkdir; immutable versions; and that
# meshfs publish, meshfs contract and meshfs export go through the same pipeline.

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
MADE_USERS=()
USERS=
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null && command -v userdel >/dev/null &&
	command -v setpriv >/dev/null; then
	USERS=1
fi

# shellcheck disable=SC2317 # called by the exit trap
remove_users()
{
	local u
	for u in "${MADE_USERS[@]}"; do
		userdel "$u" 2>/dev/null
		getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null
	done
}
# lib.sh's cleanup unmounts and removes $T; the users go first (the daemon runs as root).
# shellcheck disable=SC2317 # called by the exit trap
publish_exit()
{
	local status=$?
	remove_users
	(exit "$status")
	cleanup
}
trap publish_exit EXIT

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

# as USER COMMAND...: runs COMMAND as USER, with USER's groups.
as()
{
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
}

# run_as USER COMMAND...: lib.sh's run (time limit, $T/out, $T/err, $RC) as USER.
run_as()
{
	local u=$1
	shift
	run setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
}

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

S=$MNT/shop/orders
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
command -v getfattr >/dev/null || HAVE_XATTR=

# ---- publishing with the tools people use ----

run cp -- "$P/orders.csv" "$S/orders.csv"
published "cp TABLE.csv publishes version 1; it reads back byte for byte" "$S" 0 \
	orders.csv "$P/orders.csv"
check "versions/latest -> 1 and versions/1/orders.csv is the same table" \
	cmp -- "$S/versions/latest/orders.csv" "$P/orders.csv"
check "publish.log lists the accepted upload" \
	grep -q '^[^ ].* orders\.csv accepted as version 1$' "$S/publish.log"
check "the daemon's log names the new version" \
	grep -Eq 'shop/orders/orders\.csv.*version 1' "$T/daemon.log"
audit_has "the publish is in the audit table" "$ME" publish shop/orders/orders.csv ok

run cp -- "$P/items.csv" "$S/items.csv"
published "cp of a second table makes version 2, the first carried over" "$S" 1 \
	items.csv "$P/items.csv" orders.csv "$P/orders.csv"

orders_variant redirect >"$T/o-redirect.csv"
v=$(latest "$S")
# shellcheck disable=SC2016 # expanded by the inner shell
run sh -c 'cat -- "$1" >"$2"' sh "$T/o-redirect.csv" "$S/orders.csv"
published "cat FILE > TABLE.csv (a shell redirection) publishes" "$S" "$v" \
	orders.csv "$T/o-redirect.csv"

orders_variant tee >"$T/o-tee.csv"
v=$(latest "$S")
# shellcheck disable=SC2016
run sh -c 'tee -- "$2" <"$1" >/dev/null' sh "$T/o-tee.csv" "$S/orders.csv"
published "tee TABLE.csv publishes" "$S" "$v" orders.csv "$T/o-tee.csv"

orders_variant dd >"$T/o-dd.csv"
v=$(latest "$S")
run dd if="$T/o-dd.csv" of="$S/orders.csv" bs=50 status=none
published "dd in 50-byte blocks (many writes, one close) publishes once" "$S" "$v" \
	orders.csv "$T/o-dd.csv"

orders_variant fsync >"$T/o-fsync.csv"
v=$(latest "$S")
run dd if="$T/o-fsync.csv" of="$S/orders.csv" conv=fsync status=none
published "dd conv=fsync publishes once: the close after the fsync does not publish again" \
	"$S" "$v" orders.csv "$T/o-fsync.csv"

# Publish happens at fsync, while the file is still open; the close then has nothing new.
orders_variant sync >"$T/o-sync.csv"
v=$(latest "$S")
run perl -e 'use IO::Handle;
	open(my $in, "<", $ARGV[0]) or die "$ARGV[0]: $!\n";
	my $data = do { local $/; <$in> };
	open(my $out, ">", $ARGV[1]) or die "open: $!\n";
	syswrite($out, $data) == length($data) or die "write: $!\n";
	$out->sync or die "fsync: $!\n";
	print readlink($ARGV[2]) // "none", "\n";
	close($out) or die "close: $!\n";' "$T/o-sync.csv" "$S/orders.csv" "$S/versions/latest"
check "fsync publishes, before the close" test "$RC" -eq 0 -a "$(cat "$T/out")" = $((v + 1))
published "and the close publishes nothing more" "$S" "$v" orders.csv "$T/o-sync.csv"

# Each child of the shell closes its copy of the descriptor (a FUSE flush) when it exits: the
# upload must still publish once, whole.
gen_items 40 3 >"$T/i-compound.csv"
head -n 15 "$T/i-compound.csv" >"$T/i-part1"
tail -n +16 "$T/i-compound.csv" >"$T/i-part2"
v=$(latest "$S")
# shellcheck disable=SC2016
run sh -c '{ cat -- "$1"; cat -- "$2"; } >"$3"' sh "$T/i-part1" "$T/i-part2" "$S/items.csv"
published "{ cat a; cat b; } > TABLE.csv (two writers in turn) publishes once, the whole file" \
	"$S" "$v" items.csv "$T/i-compound.csv"

v=$(latest "$S")
cp -- "$S/orders.csv" "$T/before-trunc.csv"
# shellcheck disable=SC2016
run sh -c ': >"$1"' sh "$S/orders.csv"
if [ "$RC" -eq 0 ] && [ "$(latest "$S")" = "$v" ] && cmp -s "$S/orders.csv" "$T/before-trunc.csv"
then
	pass ": > TABLE.csv (an O_TRUNC open, no write) succeeds and publishes nothing"
else
	fail ": > TABLE.csv (an O_TRUNC open, no write) succeeds and publishes nothing" \
		"latest $(latest "$S"), was $v" "$(last_diag)"
fi

if command -v rsync >/dev/null; then
	mkdir "$T/rs"
	items_variant 17 >"$T/rs/items.csv"
	v=$(latest "$S")
	run rsync -a "$T/rs/items.csv" "$S/"
	published "rsync -a (a temporary file renamed onto the name) publishes" "$S" "$v" \
		items.csv "$T/rs/items.csv"
	check "and leaves no temporary file behind" test -z "$(hidden "$S")"
else
	skip "rsync publishes" "rsync is missing"
fi

# A library's way: write a temporary name, then rename it onto the table.
orders_variant rename >"$T/o-rename.csv"
v=$(latest "$S")
run cp -- "$T/o-rename.csv" "$S/.orders.csv.tmp"
check "cp to a name that is no table succeeds and publishes nothing" \
	test "$RC" -eq 0 -a "$(latest "$S")" = "$v"
run mv -- "$S/.orders.csv.tmp" "$S/orders.csv"
published "mv of the temporary file onto TABLE.csv publishes" "$S" "$v" \
	orders.csv "$T/o-rename.csv"
check "and the temporary name is gone" test ! -e "$S/.orders.csv.tmp"

# ---- editors, on a terminal made by script(1) ----

# tty_start OUT COMMAND: runs the shell command line COMMAND on a pseudo-terminal, its screen
# going to OUT; tty_keys types, tty_wait waits for the screen to show something, tty_end waits
# for the end and sets RC.
tty_start()
{
	TTY_OUT=$1
	LAST_CMD=$2
	rm -f -- "$T/tty-keys"
	mkfifo -- "$T/tty-keys"
	TERM=xterm timeout -k 5 30 script -qec "$2" /dev/null <"$T/tty-keys" >"$TTY_OUT" 2>&1 &
	TTY_PID=$!
	exec 8>"$T/tty-keys"
}

tty_wait()
{
	wait_for 10 grep -aqF -- "$1" "$TTY_OUT"
}

tty_keys()
{
	printf '%b' "$1" >&8
}

tty_end()
{
	exec 8>&-
	wait "$TTY_PID"
	RC=$?
	tr -c '[:print:]\n' ' ' <"$TTY_OUT" >"$T/err"
	: >"$T/out"
}

if command -v nano >/dev/null; then
	items_variant 5 >"$T/i-nano.csv"
	cp -- "$T/i-nano.csv" "$S/items.csv"
	v=$(latest "$S")
	{
		cat "$T/i-nano.csv"
		echo "7,1,SKU-700,4"
	} >"$T/i-nano-want.csv"
	# -t saves on exit without asking; +999 puts the cursor on the empty last line. In the
	# product directory, so that the title bar and the messages are not cut short; the help
	# lines are drawn last.
	tty_start "$T/nano.screen" "cd $(printf %q "$S") && exec nano --ignorercfile -t +999 items.csv"
	tty_wait "Go To Line"
	tty_keys '7,1,SKU-700,4\x18'
	tty_end
	published "nano saving in place publishes" "$S" "$v" items.csv "$T/i-nano-want.csv"

	v=$(latest "$S")
	bad_line=$(($(wc -l <"$S/items.csv") + 1))
	tty_start "$T/nano-bad.screen" "cd $(printf %q "$S") && exec nano --ignorercfile +999 items.csv"
	tty_wait "Go To Line" && tty_keys '8,1,SKU-800,0\x0f'
	tty_wait "File Name to Write" && tty_keys '\r'
	tty_wait "Error writing" && tty_keys '\x18'
	tty_wait "Save modified buffer" && tty_keys 'n'
	tty_end
	if grep -q "Error writing .*: Invalid argument" "$T/err" && [ "$(latest "$S")" = "$v" ]; then
		pass "nano saving a row that breaks the contract says 'Invalid argument'"
	else
		fail "nano saving a row that breaks the contract says 'Invalid argument'" \
			"latest $(latest "$S"), was $v" "the screen's last messages:" \
			"$(grep -ao '\[ [^]]* \]' "$T/err" | tail -n 3)"
	fi
	reasons "and publish.log says why" "$S" <(echo "items.csv:$bad_line:13: column 'qty': '0'")
else
	skip "nano saving in place" "nano is missing"
fi

VIM=$(command -v vim || command -v vim.tiny)
if [ -n "$VIM" ]; then
	items_variant 6 >"$T/i-vim.csv"
	cp -- "$T/i-vim.csv" "$S/items.csv"
	v=$(latest "$S")
	{
		cat "$T/i-vim.csv"
		echo "7,1,SKU-701,4"
	} >"$T/i-vim-want.csv"
	# Ex commands from standard input: append a line after the last, write, quit (-V1: with
	# its messages on stderr).
	# shellcheck disable=SC2016
	run sh -c 'printf "\$a\n7,1,SKU-701,4\n.\nwq\n" | "$1" -Es -V1 -u NONE -i NONE "$2"' sh \
		"$VIM" "$S/items.csv"
	published "vim saving in place (:wq) publishes" "$S" "$v" items.csv "$T/i-vim-want.csv"

	v=$(latest "$S")
	n=$(attempts "$S")
	# shellcheck disable=SC2016
	run sh -c 'printf "\$a\n8,1,SKU-801,0\n.\nwq\n" | "$1" -Es -V1 -u NONE -i NONE "$2"' sh \
		"$VIM" "$S/items.csv"
	if [ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] && [ "$(latest "$S")" = "$v" ] &&
		[ "$(attempts "$S")" = $((n + 1)) ]; then
		pass "vim saving a row that breaks the contract fails, after one publish attempt"
	else
		fail "vim saving a row that breaks the contract fails, after one publish attempt" \
			"latest $(latest "$S") (was $v), attempts $(attempts "$S") (were $n)" \
			"$(last_diag)"
	fi
else
	skip "vim saving in place" "vim is missing"
fi

# ---- private staging files ----

v=$(latest "$S")
printf 'order_id,line,sku,qty\n' >"$T/staged"
run cp -- "$T/staged" "$S/.items.part"
expect_ok "a name that is no table can be written (a private staging file)"
check "its writer lists it" grep -qx '\.items\.part' <(ls -A "$S")
check "its writer reads back what was written" cmp -- "$S/.items.part" "$T/staged"
check "stat gives its size" test "$(stat -c %s "$S/.items.part")" = "$(stat -c %s "$T/staged")"
if [ -n "$USERS" ]; then
	run_as "$PUB" ls -A "$S"
	check "another publisher of the product does not see it" \
		test "$RC" -eq 0 -a -z "$(grep -x '\.items\.part' "$T/out")"
	run_as "$PUB" cat -- "$S/.items.part"
	check "nor open it" test "$RC" -ne 0
fi
run rm -- "$S/.items.part"
check "rm removes it" test "$RC" -eq 0 -a ! -e "$S/.items.part"
check "and nothing was published" test "$(latest "$S")" = "$v"

# Out of order: 4 KiB blocks, the last first, each by its own dd into a staging file.
gen_items 3000 7 >"$T/ooo.csv"
blocks=$((($(stat -c %s "$T/ooo.csv") + 4095) / 4096))
ooo_ok=1
for ((b = blocks - 1; b >= 0; b--)); do
	dd if="$T/ooo.csv" of="$S/.ooo.tmp" bs=4096 skip=$b seek=$b count=1 conv=notrunc \
		status=none 2>>"$T/ooo.err" || ooo_ok=
done
check "$blocks blocks written last to first into a staging file" test -n "$ooo_ok"
check "read back, they are the file" cmp -- "$S/.ooo.tmp" "$T/ooo.csv"
v=$(latest "$S")
run mv -- "$S/.ooo.tmp" "$S/items.csv"
published "mv of the staging file onto TABLE.csv publishes it" "$S" "$v" items.csv "$T/ooo.csv"

# Sparse: a write far past the end; the gap reads as zeros.
run perl -e 'open(my $f, ">", $ARGV[0]) or die "open: $!\n";
	sysseek($f, 1048576, 0) or die "seek: $!\n";
	syswrite($f, "end\n") == 4 or die "write: $!\n";
	close($f) or die "close: $!\n";' "$S/.sparse.tmp"
truncate -s 1048576 "$T/sparse"
printf 'end\n' >>"$T/sparse"
check "a write 1 MiB past the start of an empty staging file succeeds" test "$RC" -eq 0
check "stat gives the size up to its end" test "$(stat -c %s "$S/.sparse.tmp")" = 1048580
check "and the gap reads as zeros" cmp -- "$S/.sparse.tmp" "$T/sparse"
rm -f -- "$S/.sparse.tmp"

# Out of order in one open of a table's name: the second half, then the first.
gen_items 2000 11 >"$T/halves.csv"
v=$(latest "$S")
run perl -e 'open(my $in, "<", $ARGV[0]) or die "$ARGV[0]: $!\n";
	my $d = do { local $/; <$in> };
	my $h = int(length($d) / 2);
	open(my $f, ">", $ARGV[1]) or die "open: $!\n";
	sysseek($f, $h, 0) or die "seek: $!\n";
	syswrite($f, substr($d, $h)) == length($d) - $h or die "write: $!\n";
	sysseek($f, 0, 0) or die "seek: $!\n";
	syswrite($f, substr($d, 0, $h)) == $h or die "write: $!\n";
	close($f) or die "close: $!\n";' "$T/halves.csv" "$S/items.csv"
published "one open writing the second half before the first publishes the whole, once" \
	"$S" "$v" items.csv "$T/halves.csv"

# A rename that is rejected keeps the staging file, so that it can be fixed.
state shop/orders >"$T/state-before"
printf 'id,what\n1,x\n' >"$T/bad-header.csv"
cp -- "$T/bad-header.csv" "$S/.bad.tmp"
v=$(latest "$S")
run perl -e 'rename($ARGV[0], $ARGV[1]) or die "rename: $!\n"' "$S/.bad.tmp" "$S/items.csv"
rejected "rename of a bad staging file onto TABLE.csv fails: Invalid argument" "$S" "$v" \
	"Invalid argument"
# mv words EINVAL from rename(2) as "cannot move ... to a subdirectory of itself".
run mv -- "$S/.bad.tmp" "$S/items.csv"
check "mv of it fails too" test "$RC" -ne 0 -a "$RC" -lt 124 -a "$(latest "$S")" = "$v"
check "the staging file is still there, under its name" cmp -- "$S/.bad.tmp" "$T/bad-header.csv"
run mv -- "$S/.bad.tmp" "$S/.renamed.tmp"
check "renaming it onto another name that is no table keeps it private and unpublished" \
	test "$RC" -eq 0 -a -e "$S/.renamed.tmp" -a ! -e "$S/.bad.tmp" -a "$(latest "$S")" = "$v"
rm -f -- "$S/.renamed.tmp"
unchanged "the product is as it was" shop/orders "$T/state-before"

# Staged bytes are never plaintext: the daemon's staging files (unlinked, so looked at through
# its descriptors) while a staging file with PII is open, and after it is closed.
CANARY_STAGED="zq7.staged-canary@pii-canary.example"
{
	head -n 1 "$P/orders.csv"
	printf '9,%s,2024-03-01T09:15:00Z,,1,true,,R9,staged\n' "$CANARY_STAGED"
} >"$T/o-canary.csv"
# staged_files: the daemon's open files under MESH/staging.
staged_files()
{
	local fd
	for fd in /proc/"$DAEMON"/fd/*; do
		case $(readlink -- "$fd" 2>/dev/null) in
		"$MESH/staging/"*) echo "$fd" ;;
		esac
	done
}
# no_plain_staged DESC: the daemon's staging files hold at least the bytes written, and none
# holds the canary.
no_plain_staged()
{
	local files f found='' bytes=0
	files=$(staged_files)
	for f in $files; do
		bytes=$((bytes + $(stat -L -c %s -- "$f")))
	done
	if [ "$bytes" -lt "$(stat -c %s -- "$T/o-canary.csv")" ]; then
		fail "$1" "the daemon's staging files hold $bytes bytes: where is the upload?"
		return
	fi
	# shellcheck disable=SC2086 # one argument per file
	found=$(grep -a -l -F -e "$CANARY_STAGED" $files 2>&1)
	if [ -z "$found" ]; then
		pass "$1"
	else
		fail "$1" "found in: $found"
	fi
}
exec 9>"$S/.canary.tmp"
cat "$T/o-canary.csv" >&9
no_plain_staged "a staging file being written holds no plaintext PII on disk"
exec 9>&-
no_plain_staged "nor once closed"
found=$(grep -r -a -l -F -e "$CANARY_STAGED" -- "$MESH" 2>&1)
check "nor does any file under the mesh" test -z "$found"
rm -f -- "$S/.canary.tmp"

# ---- inputs: JSON Lines, compressed, archives ----

v=$(latest "$S")
run cp -- "$P/orders.jsonl" "$S/orders.jsonl"
published "orders.jsonl publishes; TABLE.csv reads as the same rows in CSV" "$S" "$v" \
	orders.csv "$P/orders.csv"
check "the upload's own name is not left in the directory" test ! -e "$S/orders.jsonl"

declare -A ZIP_TOOL=([gz]=gzip [bz2]=bzip2 [xz]=xz [zst]=zstd)
for z in gz bz2 xz zst; do
	tool=${ZIP_TOOL[$z]}
	if ! command -v "$tool" >/dev/null; then
		skip "TABLE.csv.$z and TABLE.jsonl.$z publish" "$tool is missing"
		continue
	fi
	orders_variant "csv $z" >"$T/o-$z.csv"
	"$tool" -c <"$T/o-$z.csv" >"$T/orders.csv.$z"
	v=$(latest "$S")
	run cp -- "$T/orders.csv.$z" "$S/orders.csv.$z"
	published "orders.csv.$z publishes" "$S" "$v" orders.csv "$T/o-$z.csv"
	orders_variant "jsonl $z" >"$T/oj-$z.csv"
	sed "1s/\"first order\"/\"first order (jsonl $z)\"/" "$P/orders.jsonl" | "$tool" -c \
		>"$T/orders.jsonl.$z"
	v=$(latest "$S")
	run cp -- "$T/orders.jsonl.$z" "$S/orders.jsonl.$z"
	published "orders.jsonl.$z publishes" "$S" "$v" orders.csv "$T/oj-$z.csv"
done

head -c 200 "$T/orders.csv.gz" >"$T/cut.csv.gz"
v=$(latest "$S")
run cp -- "$T/cut.csv.gz" "$S/orders.csv.gz"
rejected "a truncated orders.csv.gz is rejected: Invalid argument" "$S" "$v" "Invalid argument"

# Archives of two tables: one version in which both change.
mkdir "$T/arch"
# archive NAME QTY: NAME (in $T) holding orders.csv and items.csv, their variants for NAME and
# QTY (kept in $T/arch/want-*), made with tar or zip as NAME says.
archive()
{
	local dir=$T/arch/$1
	mkdir -p "$dir"
	orders_variant "$1" >"$dir/orders.csv"
	items_variant "$2" >"$dir/items.csv"
	cp "$dir/orders.csv" "$T/arch/want-orders.csv"
	cp "$dir/items.csv" "$T/arch/want-items.csv"
	case $1 in
	*.zip) (cd "$dir" && zip -q -X "$T/$1" orders.csv items.csv) ;;
	*.tar) tar -C "$dir" -cf "$T/$1" orders.csv items.csv ;;
	*.tar.gz | *.tgz) tar -C "$dir" -czf "$T/$1" orders.csv items.csv ;;
	*.tar.bz2) tar -C "$dir" -cjf "$T/$1" orders.csv items.csv ;;
	*.tar.xz) tar -C "$dir" -cJf "$T/$1" orders.csv items.csv ;;
	*.tar.zst) tar -C "$dir" -cf - orders.csv items.csv | zstd -q -c >"$T/$1" ;;
	esac
}
qty=20
for a in batch.tar batch.tar.gz batch.tgz batch.tar.bz2 batch.tar.xz batch.tar.zst batch.zip; do
	case $a in
	*.bz2) need=bzip2 ;;
	*.xz) need=xz ;;
	*.zst) need=zstd ;;
	*.zip) need=zip ;;
	*) need=tar ;;
	esac
	if ! command -v "$need" >/dev/null; then
		skip "$a publishes" "$need is missing"
		continue
	fi
	qty=$((qty + 1))
	archive "$a" "$qty"
	v=$(latest "$S")
	run cp -- "$T/$a" "$S/$a"
	published "$a of two tables publishes them as one version" "$S" "$v" \
		orders.csv "$T/arch/want-orders.csv" items.csv "$T/arch/want-items.csv"
done

# Archives that must be refused, each leaving the product as it was.
state shop/orders >"$T/state-before"
mkdir "$T/evil"
cp "$P/orders.csv" "$P/items.csv" "$T/evil/"
tar -C "$T/evil" -cf "$T/dotdot.tar" --transform 's,^items,../items,' orders.csv items.csv
v=$(latest "$S")
run cp -- "$T/dotdot.tar" "$S/dotdot.tar"
rejected "an archive with an entry ../items.csv is refused: Invalid argument" "$S" "$v" \
	"Invalid argument"
reason_has "and publish.log names the entry" "$S" '\.\./items\.csv'
tar -C "$T/evil" -cPf "$T/absolute.tar" --transform 's,^items,/items,' orders.csv items.csv
run cp -- "$T/absolute.tar" "$S/absolute.tar"
rejected "an archive with an entry /items.csv is refused: Invalid argument" "$S" "$v" \
	"Invalid argument"
reason_has "and publish.log names the entry" "$S" '/items\.csv'
cp "$P/items-bad.csv" "$T/evil/items.csv"
tar -C "$T/evil" -cf "$T/half-bad.tar" orders.csv items.csv
run cp -- "$T/half-bad.tar" "$S/half-bad.tar"
rejected "an archive of a good table and a bad one is refused whole: Invalid argument" \
	"$S" "$v" "Invalid argument"
reasons "and publish.log says why" "$S" "$P/items-bad.reasons"
printf 'notes\n' >"$T/evil/notes.txt"
tar -C "$T/evil" -cf "$T/other.tar" orders.csv notes.txt
run cp -- "$T/other.tar" "$S/other.tar"
rejected "an archive with an entry that is no table is refused" "$S" "$v" "Invalid argument"
reason_has "and publish.log names it" "$S" 'notes\.txt'
gzip -c "$P/items.csv" >"$T/evil/items.csv.gz"
tar -C "$T/evil" -cf "$T/nested.tar" items.csv.gz
run cp -- "$T/nested.tar" "$S/nested.tar"
rejected "an archive holding a compressed file is refused" "$S" "$v" "Invalid argument"
sed '1s/^order_id,/id,/' "$P/items.csv" >"$T/evil/returns.csv"
tar -C "$T/evil" -cf "$T/unknown.tar" returns.csv
run cp -- "$T/unknown.tar" "$S/unknown.tar"
rejected "an archive with a table the contract does not have is refused" "$S" "$v" \
	"Invalid argument"
reason_has "and publish.log names the table" "$S" "returns"

# Bounded expansion: a header and 20 MiB of blank lines compress a thousandfold and more.
bomb_tool=$(command -v zstd || command -v xz)
if [ -n "$bomb_tool" ]; then
	{
		echo "order_id,line,sku,qty"
		head -c 20971520 /dev/zero | tr '\0' '\n'
	} >"$T/bomb.csv"
	ext=zst
	[ "$(basename "$bomb_tool")" = xz ] && ext=xz
	"$bomb_tool" -q -c -9 <"$T/bomb.csv" >"$T/items.csv.$ext"
	run cp -- "$T/items.csv.$ext" "$S/items.csv.$ext"
	rejected "a compressed table expanding more than allowed is refused: File too large" \
		"$S" "$v" "File too large"
	mv "$T/bomb.csv" "$T/evil/items.csv"
	tar -C "$T/evil" -cf - items.csv | "$bomb_tool" -q -c -9 >"$T/bomb.tar.$ext"
	rm -f "$T/evil/items.csv"
	run cp -- "$T/bomb.tar.$ext" "$S/bomb.tar.$ext"
	rejected "an archive expanding more than allowed is refused: File too large" "$S" "$v" \
		"File too large"
else
	skip "bounded expansion" "neither zstd nor xz is there"
fi
unchanged "after all those refusals the product is as it was" shop/orders "$T/state-before"

# ---- the contract's checks ----

state shop/orders >"$T/state-before"
v=$(latest "$S")
for f in orders-bad-types orders-bad-values orders-bad-keys; do
	run cp -- "$P/$f.csv" "$S/orders.csv"
	rejected "cp of $f.csv is rejected at close: Invalid argument" "$S" "$v" \
		"Invalid argument"
	reasons "publish.log gives file:line:column and rule of each problem in $f.csv" "$S" \
		"$P/$f.reasons"
done
run cp -- "$P/items-bad.csv" "$S/items.csv"
rejected "cp of items-bad.csv is rejected: Invalid argument" "$S" "$v" "Invalid argument"
reasons "publish.log: a pattern with \\d, a key of two columns, a minimum" "$S" \
	"$P/items-bad.reasons"

# header_case DESC CSV ERE: a header problem, rejected with a reason matching ERE.
header_case()
{
	printf '%s' "$2" >"$T/header.csv"
	run cp -- "$T/header.csv" "$S/orders.csv"
	rejected "$1: Invalid argument" "$S" "$v" "Invalid argument"
	reason_has "and publish.log says why" "$S" "$3"
}
row=$(sed -n 2p "$P/orders.csv")
header_case "a header with a column the contract lacks" \
	"order_id,email,placed_at,ship_date,amount,paid,coupon,ref,note,discount
$row,5
" "orders\.csv:1:[0-9]+: column 'discount' is not in the contract"
header_case "a header without one of the contract's columns" \
	"order_id,email,placed_at,ship_date,amount,paid,coupon,ref
${row%,*}
" "lacks column 'note'"
header_case "a header naming a column twice" \
	"order_id,email,placed_at,ship_date,amount,paid,coupon,ref,note,ref
$row,R9
" "column 'ref' appears twice"
header_case "a row with fewer fields than the header" \
	"$(head -n 1 "$P/orders.csv")
$row
2,ben@example.com,2024-03-01T10:00:00Z
" "orders\.csv:3: expected 9 fields"
header_case "a file with only data rows (no header)" "$row
" "orders\.csv:1:"
# Rows are checked on one thread while the next are read on another: the outcome must still be
# that of one row at a time. 60 bad amounts stop the reading before the short row after them,
# all in the first batch the reader fills (4,096 rows).
{
	head -n 1 "$P/orders.csv"
	for ((i = 1; i <= 4060; i++)); do
		if ((i <= 4000)); then
			amount=5
		else
			amount=1.5.5
		fi
		printf '%d,ann@example.com,2024-03-01T09:15:00Z,,%s,true,,R-%d,\n' "$i" "$amount" "$i"
	done
	echo "4061,ann@example.com"
} >"$T/many-bad.csv"
run cp -- "$T/many-bad.csv" "$S/orders.csv"
rejected "60 bad values, then a short row: Invalid argument" "$S" "$v" "Invalid argument"
reason_has "and the report names the values, as reading stopped there" "$S" \
	"orders\.csv:4002:[0-9]+: column 'amount' \(number\): '1\.5\.5': not a number"
check "and not the short row" expect_reason_lacks "$S" "expected 9 fields"
run cp -- "$P/orders.csv" "$Q/orders.csv"
rejected "a table the contract does not have is rejected" "$Q" 0 "Invalid argument"
reason_has "and publish.log names it" "$Q" "no table 'orders'"

# What the rejections left: the product as it was, the reasons in the daemon's log and the audit
# table, and nowhere the value of the PII column that was wrong.
unchanged "after the rejected uploads the product is as it was" shop/orders "$T/state-before"
in_daemon_log "the daemon's log has the reasons" \
	"orders.csv:3:18: column 'placed_at' (timestamp): 'yesterday'"
audit_has "the audit table has the rejection and its first reason" "$ME" reject \
	shop/orders/orders.csv rejected "orders.csv:2:1: column 'order_id'"
found=$(grep -l -F "Canaryfield" "$S/publish.log" "$T/daemon.log" 2>&1)
mfs audit -m "$MESH"
grep -q -F "Canaryfield" "$T/out" && found="$found audit"
check "the bad value of the PII column is in no message (publish.log, daemon log, audit)" \
	test -z "$found"
found=$(grep -r -a -l -F "Canaryfield" -- "$MESH" 2>&1)
check "nor anywhere under the mesh directory" test -z "$found"

# ---- quality rules: every operator, both units, both severities ----

gen_readings 10 1 >"$T/readings.csv"
run cp -- "$T/readings.csv" "$Q/readings.csv"
published "readings passing every quality rule publish" "$Q" 0 readings.csv "$T/readings.csv"
mfs log shop/quality -m "$MESH"
check "a failed warning is recorded with the version, which was published all the same" \
	grep -q "readings.v nullValues = 1 (mustBe 0): failed (warning)" "$T/out"
state shop/quality >"$T/state-before"
# quality_case RULES ROWS NULLS [SED]: readings of ROWS rows and NULLS nulls (edited with SED)
# are rejected, the reasons naming each of RULES (space separated).
quality_case()
{
	local rules=$1 res=() r
	gen_readings "$2" "$3" | sed -e "${4:-}" >"$T/readings-bad.csv"
	run cp -- "$T/readings-bad.csv" "$Q/readings.csv"
	rejected "quality: $2 rows, $3 nulls${4:+, $4}: rejected, Invalid argument" "$Q" 1 \
		"Invalid argument"
	for r in $rules; do
		res+=("quality rule '$r' ")
	done
	reason_has "and publish.log names the rules $rules" "$Q" "${res[@]}"
}
quality_case "rows_between" 2 0
quality_case "rows_gt rows_ge rows_between" 1 0
quality_case "rows_not_between" 14 1
quality_case "rows_not" 20 1
quality_case "rows_lt rows_between" 41 1
quality_case "v_nulls" 16 3
quality_case "v_nulls_pct" 5 2
quality_case "code_valid" 10 1 '4s/,[abc],/,z,/'
quality_case "code_missing" 10 1 '3s/,[abc],/,n\/a,/'
quality_case "tag_dups" 10 1 '10s/,t9$/,t1/;11s/,t10$/,t2/'
reason_has "a percentage is given as one, with its rows" "$Q" \
	"duplicateValues is 20% \(2 of 10 rows\); it must be at most 10%"
unchanged "after the rejected readings the product is as it was" shop/quality \
	"$T/state-before"

# ---- undeclared PII: EPERM ----

# pii_note NOTE: orders.csv with NOTE as the first order's note (a column not classified PII).
pii_note()
{
	sed "2s/,first order\$/,$1/" "$P/orders.csv"
}
state shop/orders >"$T/state-before"
v=$(latest "$S")
PII_VALUES=()
while IFS='|' read -r what value; do
	pii_note "$value" >"$T/pii.csv"
	run cp -- "$T/pii.csv" "$S/orders.csv"
	rejected "cp of $what in a column not classified PII: Operation not permitted" "$S" "$v" \
		"Operation not permitted"
	reason_has "and publish.log says the column holds $what" "$S" \
		"orders\.csv:2:[0-9]+: column 'note' holds what looks like $what"
	PII_VALUES+=("${value#* }")
done <<'EOF'
an e-mail address|mail zq.canary@example.org
a phone number|call +44 20 7946 0958
a payment card number|card 4111 1111 1111 1111
an IBAN|iban DE89 3704 0044 0532 0130 00
a national identity number|ssn 123-45-6789
a national identity number|ni AB 12 34 56 C
EOF
unchanged "after the refusals the product is as it was" shop/orders "$T/state-before"
found=
for value in "${PII_VALUES[@]}"; do
	grep -q -F -- "$value" "$S/publish.log" "$T/daemon.log" && found="$found '$value'"
done
check "no message quotes the values that look like personal data" test -z "$found"
pii_note "a tee'd phone +44 20 7946 0958" >"$T/pii.csv"
# shellcheck disable=SC2016
run sh -c 'tee -- "$2" <"$1" >/dev/null' sh "$T/pii.csv" "$S/orders.csv"
rejected "tee says it too: Operation not permitted" "$S" "$v" "Operation not permitted"
run dd if="$T/pii.csv" of="$S/orders.csv" conv=fsync status=none
rejected "dd conv=fsync says it at fsync: Operation not permitted" "$S" "$v" \
	"Operation not permitted"
if command -v rsync >/dev/null; then
	cp "$T/pii.csv" "$T/rs/orders.csv"
	run rsync -a "$T/rs/orders.csv" "$S/"
	rejected "rsync says it (the rename fails): Operation not permitted" "$S" "$v" \
		"Operation not permitted"
	check "and leaves no temporary file behind" test -z "$(hidden "$S")"
fi

# Near misses are no PII: a failing Luhn check, an IBAN with wrong check digits, an SSN of an
# area never issued.
while IFS='|' read -r what value; do
	pii_note "$value" >"$T/pii.csv"
	v=$(latest "$S")
	run cp -- "$T/pii.csv" "$S/orders.csv"
	published "$what is no PII: it publishes" "$S" "$v" orders.csv "$T/pii.csv"
done <<'EOF'
a card number failing the Luhn check|card 4111 1111 1111 1112
an IBAN with wrong check digits|iban DE00 3704 0044 0532 0130 00
an SSN of area 000|ssn 000-12-3456
EOF

# ---- errors of the tools, by errno ----

state shop/orders >"$T/state-before"
v=$(latest "$S")
n=$(attempts "$S")
run cp -- "$P/orders-bad-types.csv" "$S/orders.csv"
check "cp reports EINVAL at close" grep -q "failed to close.*Invalid argument" "$T/err"
# shellcheck disable=SC2016
run sh -c 'tee -- "$2" <"$1" >/dev/null' sh "$P/orders-bad-types.csv" "$S/orders.csv"
rejected "tee reports EINVAL: Invalid argument" "$S" "$v" "Invalid argument"
run dd if="$P/orders-bad-types.csv" of="$S/orders.csv" conv=fsync status=none
rejected "dd conv=fsync reports EINVAL: Invalid argument" "$S" "$v" "Invalid argument"
check "dd reports it at fsync" grep -q "fsync failed" "$T/err"
# A shell redirection ignores the errors of close: nothing may be published all the same.
# shellcheck disable=SC2016
run sh -c 'cat -- "$1" >"$2"' sh "$P/orders-bad-types.csv" "$S/orders.csv"
check "a redirection of a bad file publishes nothing" test "$(latest "$S")" = "$v"
if command -v rsync >/dev/null; then
	cp "$P/orders-bad-types.csv" "$T/rs/orders.csv"
	run rsync -a "$T/rs/orders.csv" "$S/"
	rejected "rsync reports EINVAL: Invalid argument" "$S" "$v" "Invalid argument"
	n=$((n + 1))
fi
check "each upload was one publish attempt, however many closes and fsyncs" \
	test "$(attempts "$S")" = $((n + 4))
unchanged "and the product is as it was" shop/orders "$T/state-before"

if [ -n "$USERS" ]; then
	cp "$P/orders.csv" "$T/ro.csv"
	cp "$P/orders.yaml" "$T/ro.yaml"
	chmod 0644 "$T/ro.csv" "$T/ro.yaml" "$T/readings.csv"
	run_as "$RO" cp -- "$T/ro.csv" "$S/orders.csv"
	rejected "no publish right: cp fails at open: Permission denied" "$S" "$v" \
		"Permission denied"
	check "cp says so on creating the file, not at close" \
		grep -q "cannot create regular file" "$T/err"
	# shellcheck disable=SC2016
	run_as "$RO" sh -c 'cat -- "$1" >"$2"' sh "$T/ro.csv" "$S/orders.csv"
	rejected "no publish right: a redirection fails: Permission denied" "$S" "$v" \
		"Permission denied"
	# shellcheck disable=SC2016
	run_as "$RO" sh -c 'tee -- "$2" <"$1" >/dev/null' sh "$T/ro.csv" "$S/orders.csv"
	rejected "no publish right: tee fails: Permission denied" "$S" "$v" "Permission denied"
	run_as "$RO" cp -- "$T/ro.csv" "$S/.private.tmp"
	rejected "no publish right: a staging file cannot be created: Permission denied" "$S" \
		"$v" "Permission denied"
	run_as "$RO" cp -- "$T/ro.csv" "$S/new.csv"
	rejected "no publish right: a new table name cannot be created: Permission denied" "$S" \
		"$v" "Permission denied"
	# shellcheck disable=SC2016
	run_as "$RO" sh -c 'cat -- "$1" >"$2"' sh "$T/ro.yaml" "$S/contract.yaml"
	rejected "no publish right: contract.yaml cannot be written: Permission denied" "$S" \
		"$v" "Permission denied"
	audit_has "a publish refused at open is in the audit table" "$RO" reject \
		shop/orders/orders.csv denied
	check "and in the daemon's log" grep -q "$RO" "$T/daemon.log"
	unchanged "the refused writes left the product as it was" shop/orders "$T/state-before"

	orders_variant pub >"$T/o-pub.csv"
	chmod 0644 "$T/o-pub.csv"
	run_as "$PUB" cp -- "$T/o-pub.csv" "$S/orders.csv"
	published "a user with publish on the product publishes with cp" "$S" "$v" \
		orders.csv "$T/o-pub.csv"
	if [ -n "$HAVE_XATTR" ]; then
		check "user.meshfs.published_by names that user" test "$(getfattr --only-values \
			-n user.meshfs.published_by -- "$S/orders.csv" 2>/dev/null)" = "$PUB"
	fi
	run_as "$PUB" cat -- "$S/publish.log"
	if [ "$RC" -eq 0 ] && out_has "orders\.csv accepted as version $((v + 1))" &&
		! out_has "column 'order_id'"; then
		pass "publish.log shows a user their own attempts only"
	else
		fail "publish.log shows a user their own attempts only" "$(last_diag)"
	fi
	run_as "$PUB" cp -- "$T/readings.csv" "$Q/readings.csv"
	rejected "the same user cannot publish to another product: Permission denied" "$Q" 1 \
		"Permission denied"
else
	skip "EACCES for users without publish" "needs root, useradd and setpriv"
fi

# ---- atomic versions: a reader never sees a mix, TABLE.csv and versions/latest move at once ----

gen_items 300 13 >"$T/atom-a.csv"
gen_items 3000 17 >"$T/atom-b.csv"
cp -- "$T/atom-a.csv" "$S/items.csv"
chmod 0644 "$T/atom-a.csv" "$T/atom-b.csv"
# The reader, another user where there are users (a table without PII is one view, one inode,
# for all): each read of TABLE.csv must be one whole version, and when versions/latest is the
# same before and after the read, that version's table. Problems go to stdout, the number of
# reads to stderr.
# shellcheck disable=SC2016 # perl's
reader=(perl -e 'my ($dir, $stop, @tables) = @ARGV;
	my %published;
	for (@tables) { open(my $f, "<", $_) or die "$_: $!\n"; local $/; $published{<$f>} = 1 }
	my ($reads, $bad) = (0, 0);
	until (-e $stop || $bad >= 5 || $reads >= 100000) {
		my $l1 = readlink("$dir/versions/latest");
		open(my $f, "<", "$dir/items.csv") or die "open: $!\n";
		my $got = do { local $/; <$f> };
		close($f);
		my $l2 = readlink("$dir/versions/latest");
		$reads++;
		if (!$published{$got}) {
			print "read $reads: ", length($got), " bytes that were never published\n";
			$bad++;
		} elsif ($l1 eq $l2) {
			open(my $g, "<", "$dir/versions/$l1/items.csv") or die "versions/$l1: $!\n";
			my $want = do { local $/; <$g> };
			if ($got ne $want) { print "read $reads: TABLE.csv is not versions/$l1\n"; $bad++ }
		}
	}
	print STDERR "$reads\n";' "$S" "$T/reader-stop" "$T/atom-a.csv" "$T/atom-b.csv")
# atomic_round WHO: twenty publishes (and a hundred opens with O_TRUNC that publish nothing)
# while the reader reads as WHO: another user, or the publisher itself, whose lookups give it
# its own inodes of the table, which its writes must not disturb for its reads.
atomic_round()
{
	local who=$1 v i reader_pid reader_rc reads atom_ok=1
	rm -f -- "$T/reader-stop"
	if [ "$who" = publisher ]; then
		timeout 60 "${reader[@]}" >"$T/reader.out" 2>"$T/reader.count" &
	else
		as "$RO" timeout 60 "${reader[@]}" >"$T/reader.out" 2>"$T/reader.count" &
	fi
	reader_pid=$!
	v=$(latest "$S")
	for i in $(seq 1 20); do
		if [ $((i % 2)) -eq 1 ]; then
			cp -- "$T/atom-b.csv" "$S/items.csv" || atom_ok=
		else
			cp -- "$T/atom-a.csv" "$S/items.csv" || atom_ok=
		fi
		for _ in 1 2 3 4 5; do
			: >"$S/items.csv" || atom_ok=
		done
	done
	touch "$T/reader-stop"
	wait "$reader_pid"
	reader_rc=$?
	check "$who reading: twenty publishes and a hundred empty opens with O_TRUNC make twenty versions" \
		test -n "$atom_ok" -a "$(latest "$S")" = $((v + 20))
	reads=$(tail -n 1 "$T/reader.count")
	if [ "$reader_rc" -eq 0 ] && [ ! -s "$T/reader.out" ]; then
		pass "the $who ($reads reads) saw whole versions only, TABLE.csv and versions/latest in step"
	else
		fail "the $who saw whole versions only, TABLE.csv and versions/latest in step" \
			"exit $reader_rc, $reads reads" "$(head -n 5 "$T/reader.out")"
	fi
	check "versions/N/items.csv is still version N's whole table" \
		cmp -- "$S/versions/$((v + 5))/items.csv" "$T/atom-b.csv"
}
if [ -n "$USERS" ]; then
	atomic_round "other user"
fi
atomic_round publisher

# ---- the mesh policy ----

mfs policy show -m "$MESH"
expect_ok "meshfs policy show"
cp "$T/out" "$T/policy-default.yaml"
check "the default policy runs every detector" \
	grep -q "detectors: \[email, phone, card, iban, national_id\]" "$T/policy-default.yaml"
if cat -- "$MNT/policy.yaml" >"$T/policy-mount.yaml" 2>"$T/policy-mount.err"; then
	same_file "MOUNT/policy.yaml is the policy meshfs policy show prints" \
		"$T/policy-mount.yaml" "$T/policy-default.yaml"
else
	fail "MOUNT/policy.yaml is the policy meshfs policy show prints" \
		"$(cat "$T/policy-mount.err")"
fi
sed 's/detectors: \[email, phone, card, iban, national_id\]/detectors: [email, card, iban, national_id]/' \
	"$T/policy-default.yaml" >"$T/policy-nophone.yaml"
if [ -n "$USERS" ]; then
	chmod 0644 "$T/policy-nophone.yaml"
	run_as "$OWN" "$MESHFS" policy set "$T/policy-nophone.yaml" -m "$MESH"
	expect_fail "meshfs policy set by a user who is no mesh admin is refused"
fi
mfs policy set "$T/policy-nophone.yaml" -m "$MESH"
expect_ok "meshfs policy set: no phone detector"
mfs policy show -m "$MESH"
same_file "meshfs policy show prints the new policy" "$T/out" "$T/policy-nophone.yaml"
if cat -- "$MNT/policy.yaml" >"$T/policy-mount.yaml" 2>"$T/policy-mount.err"; then
	same_file "MOUNT/policy.yaml shows it at once" "$T/policy-mount.yaml" \
		"$T/policy-nophone.yaml"
else
	fail "MOUNT/policy.yaml shows it at once" "$(cat "$T/policy-mount.err")"
fi
pii_note "call +44 20 7946 0958" >"$T/phone.csv"
v=$(latest "$S")
run cp -- "$T/phone.csv" "$S/orders.csv"
published "with the phone detector off, a phone number in a column not PII publishes" "$S" \
	"$v" orders.csv "$T/phone.csv"
pii_note "mail zq.canary@example.org" >"$T/pii.csv"
run cp -- "$T/pii.csv" "$S/orders.csv"
rejected "an e-mail address is still refused: Operation not permitted" "$S" $((v + 1)) \
	"Operation not permitted"
printf 'apiVersion: meshfs/v1\nkind: MeshPolicy\ndetecters: [email]\n' >"$T/policy-typo.yaml"
mfs policy set "$T/policy-typo.yaml" -m "$MESH"
expect_fail "a policy with an unknown key is refused, naming where" "policy-typo\.yaml:3:"
sed 's/^required: \[\]/required: [team]/' "$T/policy-default.yaml" >"$T/policy-team.yaml"
mfs policy set "$T/policy-team.yaml" -m "$MESH"
expect_ok "meshfs policy set: every contract must name its team"
sed 's/^version: 1\.0\.0$/version: 1.0.1/' "$P/orders.yaml" >"$T/c-1.0.1.yaml"
state shop/orders >"$T/state-before"
v=$(latest "$S")
run cp -- "$T/c-1.0.1.yaml" "$S/contract.yaml"
rejected "a contract without a team breaks the policy: Operation not permitted" "$S" "$v" \
	"Operation not permitted"
reason_has "and publish.log names the field" "$S" "team"
unchanged "and the product is as it was" shop/orders "$T/state-before"
mfs policy set "$T/policy-default.yaml" -m "$MESH"
expect_ok "the default policy set again"

# ---- contract evolution ----

# 1.1.0, compatible: items gets an optional column gift.
sed -e 's/^version: 1\.0\.0$/version: 1.1.0/' -e '/^          maximum: 99$/a\
      - name: gift\
        logicalType: boolean' "$P/orders.yaml" >"$T/c-1.1.yaml"
v=$(latest "$S")
cp -- "$S/orders.csv" "$T/carried-orders.csv"
cp -- "$S/items.csv" "$T/carried-items.csv"
run cp -- "$T/c-1.1.yaml" "$S/contract.yaml"
published "a compatible contract written through the mount is a new version" "$S" "$v" \
	contract.yaml "$T/c-1.1.yaml" orders.csv "$T/carried-orders.csv" \
	items.csv "$T/carried-items.csv"
check "versions/N/contract.yaml is the new contract" \
	cmp -- "$S/versions/$((v + 1))/contract.yaml" "$T/c-1.1.yaml"
check "versions/N-1/contract.yaml is still the old one" \
	cmp -- "$S/versions/$v/contract.yaml" "$P/orders.yaml"
{
	echo "order_id,line,sku,qty,gift"
	tail -n +2 "$P/items.csv" | sed 's/$/,true/'
} >"$T/items-gift.csv"
v=$(latest "$S")
run cp -- "$T/items-gift.csv" "$S/items.csv"
published "items with the new column publish" "$S" "$v" items.csv "$T/items-gift.csv"

# 1.2.0 with meshfs contract, compatible: maxLength widened.
sed -e 's/^version: 1\.1\.0$/version: 1.2.0/' -e 's/maxLength: 10$/maxLength: 12/' \
	"$T/c-1.1.yaml" >"$T/c-1.2.yaml"
v=$(latest "$S")
mfs contract shop/orders "$T/c-1.2.yaml" -m "$MESH"
RC_CONTRACT=$RC
run cat -- "$S/contract.yaml"
if [ "$RC_CONTRACT" -eq 0 ] && cmp -s "$T/out" "$T/c-1.2.yaml" && [ "$(latest "$S")" = $((v + 1)) ]
then
	pass "meshfs contract with a compatible change is in force at once in the mount"
else
	fail "meshfs contract with a compatible change is in force at once in the mount" \
		"exit $RC_CONTRACT, latest $(latest "$S") (was $v)" "$(diff "$T/c-1.2.yaml" "$T/out")"
fi

# 1.3.0, breaking: the column note removed without a new major version.
sed -e 's/^version: 1\.2\.0$/version: 1.3.0/' -e '/^      - name: note$/,/^        logicalType: string$/d' \
	"$T/c-1.2.yaml" >"$T/c-1.3.yaml"
state shop/orders >"$T/state-before"
v=$(latest "$S")
run cp -- "$T/c-1.3.yaml" "$S/contract.yaml"
rejected "a breaking change without a new major version: Operation not permitted" "$S" "$v" \
	"Operation not permitted"
reason_has "publish.log says what breaks and names the products downstream" "$S" \
	"breaking.*note" "shop/report"
last_attempt "$S" | tail -n +2 | sed 's/^    //' >"$T/mount-reasons"
mkdir "$T/cli"
cp "$T/c-1.3.yaml" "$T/cli/contract.yaml"
cd "$T/cli" || bail_out "cd $T/cli"
mfs contract shop/orders contract.yaml -m "$MESH"
cd - >/dev/null || bail_out "cd back"
expect_fail "meshfs contract refuses it too"
sed -n 's/^meshfs: //p' "$T/err" >"$T/cli-reasons"
same_file "and prints the same reasons as publish.log" "$T/cli-reasons" "$T/mount-reasons"
unchanged "the refused contract left the product as it was" shop/orders "$T/state-before"

sed -e 's/^version: 1\.3\.0$/version: 2.0.0/' "$T/c-1.3.yaml" >"$T/c-2.0.yaml"
if [ -n "$USERS" ]; then
	chmod 0644 "$T/c-2.0.yaml"
	run_as "$PUB" cp -- "$T/c-2.0.yaml" "$S/contract.yaml"
	rejected "a new major version from outside the owning team: Operation not permitted" \
		"$S" "$v" "Operation not permitted"
	run_as "$PUB" cat -- "$S/publish.log"
	if grep -q "owning team" "$T/out"; then
		pass "and the user's publish.log says only the owning team may"
	else
		fail "and the user's publish.log says only the owning team may" "$(tail -n 5 "$T/out")"
	fi
	BREAKER=$OWN
else
	BREAKER=$ME
fi
if [ "$BREAKER" = "$ME" ]; then
	run cp -- "$T/c-2.0.yaml" "$S/contract.yaml"
else
	run_as "$BREAKER" cp -- "$T/c-2.0.yaml" "$S/contract.yaml"
fi
published "the owning team's new major version is in force" "$S" "$v" contract.yaml \
	"$T/c-2.0.yaml"
if [ "$BREAKER" = "$ME" ]; then
	run cat -- "$S/publish.log"
else
	run_as "$BREAKER" cat -- "$S/publish.log"
fi
if awk '/^[^ #]/ { block = "" } /^[^#]/ { block = block $0 "\n" } END { printf "%s", block }' \
	"$T/out" | grep -q "shop/report"; then
	pass "publish.log names the products downstream of the accepted breaking change"
else
	fail "publish.log names the products downstream of the accepted breaking change" \
		"$(tail -n 3 "$T/out")"
fi
v=$(latest "$S")
run cp -- "$P/orders.csv" "$S/orders.csv"
rejected "orders.csv with the removed column is now rejected" "$S" "$v" "Invalid argument"
reason_has "publish.log: the column is not in the contract" "$S" "column 'note' is not in the"
# The columns but the last (no field before it holds a comma), without the note's second line.
cut -d, -f1-8 "$P/orders.csv" | sed '/^lines"$/d' >"$T/orders-2.0.csv"
run cp -- "$T/orders-2.0.csv" "$S/orders.csv"
published "orders.csv without it publishes" "$S" "$v" orders.csv "$T/orders-2.0.csv"

state shop/orders >"$T/state-before"
v=$(latest "$S")
sed 's/^  purpose: .*/  purpose: Changed without a new version/' "$T/c-2.0.yaml" >"$T/c-same.yaml"
run cp -- "$T/c-same.yaml" "$S/contract.yaml"
rejected "a contract whose version does not go up is refused: Invalid argument" "$S" "$v" \
	"Invalid argument"
sed -e 's/^version: 2\.0\.0$/version: 2.0.1/' -e 's/^dataProduct: orders$/dataProduct: quality/' \
	"$T/c-2.0.yaml" >"$T/c-other.yaml"
run cp -- "$T/c-other.yaml" "$S/contract.yaml"
rejected "a contract of another product is refused: Invalid argument" "$S" "$v" \
	"Invalid argument"
unchanged "and the product is as it was" shop/orders "$T/state-before"

# A contract and the tables it describes in one archive: one version.
sed -e 's/^version: 2\.0\.0$/version: 2.1.0/' -e '/^      - name: ref$/i\
      - name: channel\
        logicalType: string' "$T/c-2.0.yaml" >"$T/c-2.1.yaml"
mkdir "$T/with-contract"
cp "$T/c-2.1.yaml" "$T/with-contract/contract.yaml"
awk -F, -v OFS=, 'NR == 1 { $8 = "channel," $8; print; next } { $8 = "web," $8; print }' \
	"$T/orders-2.0.csv" >"$T/with-contract/orders.csv"
tar -C "$T/with-contract" -cf "$T/contract-first.tar" contract.yaml orders.csv
v=$(latest "$S")
run cp -- "$T/contract-first.tar" "$S/contract-first.tar"
published "an archive of a contract and the table it changes is one version" "$S" "$v" \
	contract.yaml "$T/c-2.1.yaml" orders.csv "$T/with-contract/orders.csv"
sed -e 's/^version: 2\.1\.0$/version: 2.2.0/' "$T/c-2.1.yaml" >"$T/with-contract/contract.yaml"
tar -C "$T/with-contract" -cf "$T/contract-last.tar" orders.csv contract.yaml
v=$(latest "$S")
run cp -- "$T/contract-last.tar" "$S/contract-last.tar"
rejected "an archive with the contract after the tables is refused: Invalid argument" "$S" \
	"$v" "Invalid argument"
reason_has "and publish.log says the contract must come first" "$S" "before the tables"
cp "$T/with-contract/contract.yaml" "$T/cli/contract.yaml"
mfs publish shop/orders "$T/cli/contract.yaml" -m "$MESH"
expect_ok "meshfs publish DOMAIN/PRODUCT contract.yaml proposes a contract too"
check "and it is in force" cmp -- "$S/contract.yaml" "$T/cli/contract.yaml"

# ---- the command line: the same pipeline, the same reasons ----

v=$(latest "$S")
# The table as the contract has it now, with a value out of range and one of the wrong type.
sed -e '2s/,19\.90,/,-1,/' -e '3s/,5,/,x,/' "$T/with-contract/orders.csv" >"$T/cli/orders.csv"
run cp -- "$T/cli/orders.csv" "$S/orders.csv"
last_attempt "$S" | tail -n +2 | sed 's/^    //' >"$T/mount-reasons"
cd "$T/cli" || bail_out "cd $T/cli"
mfs publish shop/orders/orders orders.csv -m "$MESH"
cd - >/dev/null || bail_out "cd back"
expect_fail "meshfs publish of the same bad file fails"
sed -n 's/^meshfs: //p' "$T/err" >"$T/cli-reasons"
same_file "and prints the reasons publish.log gives for it through the mount" \
	"$T/cli-reasons" "$T/mount-reasons"
check "no version was made" test "$(latest "$S")" = "$v"

# ---- export: a version as an archive, and back ----

v=$(latest "$S")
mfs export "shop/orders@$v" "$T/export.tar.gz" -m "$MESH"
expect_ok "meshfs export shop/orders@$v FILE.tar.gz"
mkdir "$T/x"
check "the export is a gzip'd tar" tar -xzf "$T/export.tar.gz" -C "$T/x"
same_file "it holds the version's orders.csv" "$T/x/orders.csv" "$S/versions/$v/orders.csv"
same_file "and items.csv" "$T/x/items.csv" "$S/versions/$v/items.csv"
same_file "and contract.yaml" "$T/x/contract.yaml" "$S/versions/$v/contract.yaml"
run cp -- "$T/export.tar.gz" "$S/restore.tar.gz"
published "the export published back through the mount is a version with the same rows" \
	"$S" "$v" orders.csv "$T/x/orders.csv" items.csv "$T/x/items.csv"

# ---- mkdir: products by the domain's team, domains by mesh admins ----

if [ -n "$USERS" ]; then
	run_as "$OWN" mkdir "$MNT/shop/daily"
	expect_ok "mkdir of a product by the domain's team"
	check "it has a draft contract.yaml" test -s "$MNT/shop/daily/contract.yaml"
	mfs product list shop -m "$MESH"
	check "meshfs product list shows it" out_has "daily"
	sed -e 's/^dataProduct: report$/dataProduct: daily/' -e 's/^id: .*/id: shop-daily/' \
		"$P/report.yaml" >"$T/daily.yaml"
	printf 'day,total\n2024-03-01,19.9\n2024-03-02,5\n' >"$T/daily.csv"
	chmod 0644 "$T/daily.yaml" "$T/daily.csv"
	run_as "$OWN" cp -- "$T/daily.yaml" "$MNT/shop/daily/contract.yaml"
	expect_ok "its team writes its contract.yaml"
	run_as "$OWN" cp -- "$T/daily.csv" "$MNT/shop/daily/daily.csv"
	published "and publishes its first table" "$MNT/shop/daily" 0 daily.csv "$T/daily.csv"
	run_as "$PUB" mkdir "$MNT/shop/other"
	rejected "mkdir of a product by a user outside the domain's team: Permission denied" \
		"$MNT/shop/orders" "$(latest "$S")" "Permission denied"
	run_as "$OWN" mkdir "$MNT/elsewhere"
	rejected "mkdir of a domain by a user who is no mesh admin: Permission denied" \
		"$MNT/shop/orders" "$(latest "$S")" "Permission denied"
fi
run mkdir "$MNT/warehouse"
expect_ok "mkdir of a domain by a mesh admin"
mfs domain list -m "$MESH"
check "meshfs domain list shows it" out_has "warehouse"
run mkdir "$MNT/warehouse/stock"
expect_ok "mkdir of a product in it by its creator"
run mkdir "$S/versions/99"
check "mkdir under versions/ fails: Read-only file system" \
	test "$RC" -ne 0 -a -n "$(grep "Read-only file system" "$T/err")"

# ---- published versions are immutable ----

state shop/orders >"$T/state-before"
v=$(latest "$S")
# immutable DESC COMMAND...: COMMAND fails with EROFS or EPERM.
immutable()
{
	local desc=$1
	shift
	run "$@"
	if [ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] &&
		grep -Eq "Read-only file system|Operation not permitted" "$T/err"; then
		pass "$desc"
	else
		fail "$desc" "expected EROFS or EPERM" "$(last_diag)"
	fi
}
immutable "rm TABLE.csv: EROFS or EPERM" rm -f -- "$S/orders.csv"
immutable "rm versions/1/orders.csv" rm -f -- "$S/versions/1/orders.csv"
immutable "mv TABLE.csv" mv -- "$S/orders.csv" "$S/gone.csv"
immutable "mv versions/1/orders.csv" mv -- "$S/versions/1/orders.csv" "$S/versions/1/x.csv"
immutable "truncate TABLE.csv" truncate -s 0 -- "$S/orders.csv"
immutable "truncate versions/1/orders.csv" truncate -s 0 -- "$S/versions/1/orders.csv"
immutable "chmod TABLE.csv" chmod 0666 -- "$S/orders.csv"
immutable "chmod versions/1/orders.csv" chmod 0666 -- "$S/versions/1/orders.csv"
# A table the contract accepts, so that only immutability can refuse it.
immutable "cp onto versions/1/orders.csv" cp -- "$T/with-contract/orders.csv" \
	"$S/versions/1/orders.csv"
immutable "a new file in versions/1" cp -- "$P/orders.csv" "$S/versions/1/new.csv"
immutable "rm -r versions/1" rm -rf -- "$S/versions/1"
immutable "rm contract.yaml" rm -f -- "$S/contract.yaml"
immutable "rm publish.log" rm -f -- "$S/publish.log"
immutable "rmdir of a product" rmdir -- "$MNT/shop/report"
check "versions/latest and TABLE.csv are where they were" test "$(latest "$S")" = "$v"
unchanged "every version is as it was" shop/orders "$T/state-before"

# ---- unmount ----

run fusermount3 -u "$MNT"
expect_ok "fusermount3 -u"
if wait_for 10 pids_gone "$DAEMON"; then
	wait "$DAEMON"
	rc=$?
	check "meshfs mount -f exits 0" test "$rc" -eq 0
else
	fail "meshfs mount -f exits once unmounted" "pid $DAEMON still running"
fi
check_no_crash
finish
