#!/usr/bin/env bash
# A segment damaged on disk after the mount has read it (issue 13): one byte of a stored blob
# changes while the daemon keeps the segment open, the page cache is dropped, and every view read
# again through the mount must fail with EIO, giving no byte that is not the true one. The views:
# a table without PII, the plain and the masked view of a table with PII, and versions/1/ of
# each, the same segment under another inode.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

why=$(fuse_unusable)
[ -n "$why" ] && skip_all "$why"
[ "$(id -u)" -eq 0 ] ||
	skip_all "needs root: it drops the page cache and reads as nobody through allow_other"
[ -w /proc/sys/vm/drop_caches ] || skip_all "cannot write /proc/sys/vm/drop_caches"
command -v getfattr >/dev/null || skip_all "getfattr is missing"
command -v setpriv >/dev/null || skip_all "setpriv is missing"
id nobody >/dev/null 2>&1 || skip_all "no user nobody to read the masked view"
# A shared mesh's daemon reads a segment's blocks from the store once and keeps them (checked at
# each read): an object that changes afterwards is met only by a later fetch, which
# test_access.sh's tampered chunk covers.
[ -z "$SHARED" ] ||
	skip_all "a shared mesh's segments are not files that can change under the daemon"

setup_mesh
setup_step "domain create sales" domain create sales --owner data-eng -m "$MESH"
setup_step "product create sales/orders" product create sales/orders \
	--contract "$DATA/orders.yaml" -m "$MESH"
gen_orders 20000 1 >"$T/orders.csv"
setup_step "publish sales/orders/orders" publish sales/orders/orders "$T/orders.csv" -m "$MESH"
setup_step "domain create crm" domain create crm --owner data-eng -m "$MESH"
setup_step "product create crm/customers" product create crm/customers \
	--contract "$DATA/customers.yaml" -m "$MESH"
gen_customers 20000 >"$T/customers.csv"
setup_step "publish crm/customers/customers" publish crm/customers/customers \
	"$T/customers.csv" -m "$MESH"
setup_step "grant read crm/customers to nobody" grant read crm/customers user:nobody -m "$MESH"

chmod 0755 "$T" # nobody reaches the mount point in here
MNT=$T/mnt
mkdir "$MNT"
track_mount "$MNT"
RUN_TIMEOUT=30 mfs mount -m "$MESH" "$MNT" -o allow_other
[ "$RC" -eq 0 ] || bail_out "meshfs mount" "$(last_diag)"
wait_for 10 mountpoint -q -- "$MNT" || bail_out "the mount point is mounted"
# shellcheck disable=SC2046 # one argument per pid
track_daemon $(daemon_pids "$MNT")

as_nobody()
{
	setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- "$@"
}

drop_caches()
{
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# segment_file FILE: the store file holding a table file's segment.
segment_file()
{
	local hash
	hash=$(getfattr --only-values -n user.meshfs.hash -- "$1" 2>/dev/null)
	hash=${hash#*:}
	[ ${#hash} -eq 64 ] && blob_file "$hash"
}

# damaged_eio DESC FILE REF [AS...]: reading FILE (as AS…) fails with EIO, having written only a
# part of REF's bytes, from its start, and not all of them.
damaged_eio()
{
	local desc=$1 file=$2 ref=$3 size
	shift 3
	"$@" timeout 60 cat -- "$file" >"$T/eio.out" 2>"$T/eio.err"
	size=$(stat -c %s "$T/eio.out")
	if ! grep -q "Input/output error" "$T/eio.err"; then
		fail "$desc" "no EIO: $(head -n 2 "$T/eio.err")" "$size bytes read"
	elif ! cmp -s -n "$size" -- "$T/eio.out" "$ref" || [ "$size" -ge "$(stat -c %s "$ref")" ]; then
		fail "$desc" "the $size bytes read are not a part of the true ones"
	else
		pass "$desc ($size true bytes before the error)"
	fi
}

# flip_in FILE OFFSET: flips a byte of a blob, as a disk fault would, and drops the page cache, so
# that the daemon's segment (still open) and the kernel both read it from the disk again.
flip_in()
{
	flip_byte "$1" "$2"
	drop_caches
}

O=$MNT/sales/orders/orders.csv
C=$MNT/crm/customers/customers.csv

# The views, read whole once: the daemon opens their segments and keeps them.
check "the table without PII reads whole" timeout 60 cmp -s "$O" "$T/orders.csv"
check "the plain view reads whole" timeout 60 cmp -s "$C" "$T/customers.csv"
as_nobody timeout 60 cat -- "$C" >"$T/masked.csv"
check "the masked view reads, with tokens in place of e-mail addresses" \
	grep -q '^1,.*,tok_[0-9a-f]\{16\},' "$T/masked.csv"
check "versions/1/ of each reads whole" \
	timeout 60 cmp -s "$MNT/sales/orders/versions/1/orders.csv" "$T/orders.csv"

# ---- a table without PII ----

seg=$(segment_file "$O")
check "sales/orders has its segment in the store" test -n "$seg" -a -f "$seg"
line=$(sed -n '15000p' "$T/orders.csv")
off=$(grep -obaF -- "$line" "$seg" | head -n 1 | cut -d: -f1)
check "row 15000 lies as it is in the segment" test -n "$off"
flip_in "$seg" "$((off + 2))"
damaged_eio "no PII, damaged after it was read: cat fails with EIO, only true bytes" \
	"$O" "$T/orders.csv"
damaged_eio "no PII, damaged: versions/1/ fails with EIO, only true bytes" \
	"$MNT/sales/orders/versions/1/orders.csv" "$T/orders.csv"
check "no PII, damaged: the first 64 KiB still read" \
	cmp -s <(timeout 60 head -c 65536 "$O") <(head -c 65536 "$T/orders.csv")
flip_in "$seg" "$((off + 2))"
check "no PII, the byte restored: the table reads whole again" timeout 60 cmp -s "$O" "$T/orders.csv"

# ---- a table with PII: a digit of a token in the masked bytes, which both views are made of ----

seg=$(segment_file "$C")
check "crm/customers has its segment in the store" test -n "$seg" -a -f "$seg"
line=$(sed -n '15000p' "$T/masked.csv")
off=$(grep -obaF -- "$line" "$seg" | head -n 1 | cut -d: -f1)
check "row 15000 of the masked view lies as it is in the segment" test -n "$off"
tok=$(($(printf '%s' "$line" | grep -ob 'tok_' | head -n 1 | cut -d: -f1) + 6))
flip_in "$seg" "$((off + tok))"
damaged_eio "masked, damaged after it was read: cat fails with EIO, only true bytes" \
	"$C" "$T/masked.csv" as_nobody
damaged_eio "plain, damaged after it was read: cat fails with EIO, only true bytes" \
	"$C" "$T/customers.csv"
damaged_eio "plain, damaged: versions/1/ fails with EIO, only true bytes" \
	"$MNT/crm/customers/versions/1/customers.csv" "$T/customers.csv"
damaged_eio "masked, damaged: versions/1/ fails with EIO, only true bytes" \
	"$MNT/crm/customers/versions/1/customers.csv" "$T/masked.csv" as_nobody
flip_in "$seg" "$((off + tok))"
check "PII, the byte restored: the plain view reads whole again" \
	timeout 60 cmp -s "$C" "$T/customers.csv"
check "PII, the byte restored: the masked view reads whole again" \
	test "$(as_nobody timeout 60 cat -- "$C" | sha256sum)" = "$(sha256sum <"$T/masked.csv")"

check_no_crash
finish
