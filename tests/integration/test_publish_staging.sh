#!/usr/bin/env bash
# Private staging files: seen by their writer only, out-of-order and sparse writes, a rejected
# rename that keeps the file, staged bytes never plaintext.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

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
		"$MESH_HOST/staging/"*) echo "$fd" ;;
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
found=$(grep -r -a -l -F -e "$CANARY_STAGED" -- "$(mesh_at_rest)" 2>&1)
check "nor does anything the mesh keeps at rest" test -z "$found"
rm -f -- "$S/.canary.tmp"

publish_end
