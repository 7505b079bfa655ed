#!/usr/bin/env bash
# Publishing with the tools people use: cp, shell redirection, tee, dd, rsync, a temporary file
# renamed onto the table's name, nano and vim on a terminal; each accepted path makes exactly one
# version.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

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

publish_end
