#!/usr/bin/env bash
# Regressions of defects found by trying the mesh as a newcomer would: a master key removed
# while mounted, metadata commands without the key, a mesh directory the caller may not read,
# and an upload that ends empty.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

why=$(fuse_unusable)
[ -n "$why" ] && skip_all "$why"

setup_mesh
setup_step "domain create sales" domain create sales --owner data-eng -m "$MESH"
setup_step "product create sales/orders" product create sales/orders \
	--contract "$DATA/orders.yaml" -m "$MESH"
setup_step "publish sales/orders/orders" publish sales/orders/orders "$DATA/orders-7.csv" \
	-m "$MESH"

MNT=$T/mnt
mkdir "$MNT"
track_mount "$MNT"
RUN_TIMEOUT=30 mfs mount -m "$MESH" "$MNT"
[ "$RC" -eq 0 ] || bail_out "meshfs mount" "$(last_diag)"
wait_for 10 mountpoint -q -- "$MNT" || bail_out "the mount point is mounted"
# shellcheck disable=SC2046 # one argument per pid
track_daemon $(daemon_pids "$MNT")
O=$MNT/sales/orders

# ---- an upload that ends empty is a rejected publish, not a silent no-op ----

: >"$T/empty.csv"
run cp "$T/empty.csv" "$O/orders.csv"
if [ "$RC" -ne 0 ] && grep -q 'Invalid argument' "$T/err"; then
	pass "cp of an empty file fails with EINVAL"
else
	fail "cp of an empty file fails with EINVAL" "$(last_diag)"
fi
check "the empty upload's reason is in publish.log" grep -q 'expected a header row' "$O/publish.log"
mfs log sales/orders -m "$MESH"
check "the empty upload made no version" test "$(grep -c '^version ' "$T/out")" -eq 1
mfs audit -m "$MESH"
check "the empty upload has its audit row" grep -Eq 'reject.*sales/orders/orders' "$T/out"

# ---- the master key removed while mounted ----

mv "$MESH_KEY" "$T/master.key"
run cp "$DATA/orders-7.csv" "$O/orders.csv"
if [ "$RC" -ne 0 ] && grep -q 'Input/output error' "$T/err"; then
	pass "cp without the master key fails with EIO"
else
	fail "cp without the master key fails with EIO" "$(last_diag)"
fi
check "the daemon's log names the missing key" \
	grep -q 'keys/master.key: the master key is missing' "$MESH_HOST/meshfs.log"
run cat "$O/orders.csv"
check "a table still reads while the key file is gone" test "$RC" -eq 0 -a -s "$T/out"

mfs log sales/orders -m "$MESH"
expect_ok "meshfs log needs no master key"
mfs product list -m "$MESH"
expect_ok "meshfs product list needs no master key"
mfs publish sales/orders/orders "$DATA/orders-7.csv" -m "$MESH"
expect_fail "meshfs publish without the master key says which key is missing" \
	'keys/master.key: the master key is missing'
mv "$T/master.key" "$MESH_KEY"
run cp "$DATA/orders-7.csv" "$O/orders.csv"
check "with the key back, the same cp publishes" test "$RC" -eq 0

# ---- a mesh the caller may not read ----

# refused_to_nobody DESC ERE: meshfs product list as nobody fails with a message matching ERE,
# which does not call the mesh no mesh.
refused_to_nobody()
{
	run setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
		"$MESHFS" product list -m "$MESH"
	if [ "$RC" -ne 0 ] && grep -Eq "$2" "$T/err" && ! grep -q 'not a meshfs mesh' "$T/err"; then
		pass "$1"
	else
		fail "$1" "$(last_diag)"
	fi
}

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	skip "a mesh the caller may not read" "needs root and setpriv to act as another user"
elif [ -n "$SHARED" ]; then
	chmod 0755 "$T"
	# The role's password is in the caller's password file, which nobody cannot read.
	refused_to_nobody "a catalog the caller may not reach is reported as the server's refusal" \
		'password'
	skip "a mesh directory the caller may not read" "a shared mesh has no mesh directory"
else
	chmod 0755 "$T"
	chmod 0700 "$MESH"
	refused_to_nobody "a mesh the caller may not read is reported as permission denied" \
		'Permission denied'
	chmod 0755 "$MESH"
	chmod 0600 "$MESH/catalog.db"
	refused_to_nobody "a catalog the caller may not read is reported as permission denied" \
		'Permission denied'
fi

check_no_crash
finish
