#!/usr/bin/env bash
# The mounted tree (docs/DESIGN.md §3, §6): a scratch mesh with two products, one holding PII, mounted
# in the background and in the foreground. Checks the tree, the generated documents, exact
# sequential and random reads, sizes, extended attributes and times, that new versions published
# by the CLI show up without a remount while old versions keep their bytes, that nothing can be
# changed through the mount, the plain and masked views, and that unmounting leaves nothing behind.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

why=$(fuse_unusable)
[ -n "$why" ] && skip_all "$why"
: "${PREADCHECK:?PREADCHECK must name the preadcheck binary (meson test sets it)}"

ORDERS_ROWS=20000
ORDERS2_ROWS=20003
CUSTOMERS_ROWS=10000
gen_orders $ORDERS_ROWS 1 >"$T/orders-v1.csv"
gen_orders $ORDERS2_ROWS 2 >"$T/orders-v2.csv"
gen_customers $CUSTOMERS_ROWS >"$T/customers.csv"
write_quoted_csv "$T/quoted.csv" "$T/quoted-normalized.csv"

setup_mesh
setup_step "domain create sales" domain create sales --owner data-eng \
	--description "Sales of the web shop" -m "$MESH"
setup_step "domain create crm" domain create crm --owner data-eng \
	--description "Customer relations" -m "$MESH"
setup_step "product create sales/orders" product create sales/orders \
	--contract "$DATA/orders.yaml" -m "$MESH"
setup_step "product create crm/customers" product create crm/customers \
	--contract "$DATA/customers.yaml" -m "$MESH"
sed 's/^dataProduct: orders$/dataProduct: refunds/' "$DATA/orders.yaml" >"$T/refunds.yaml"
setup_step "product create sales/refunds (never published)" product create sales/refunds \
	--contract "$T/refunds.yaml" -m "$MESH"
setup_step "publish sales/orders/orders ($ORDERS_ROWS rows)" publish sales/orders/orders \
	"$T/orders-v1.csv" -m "$MESH"
setup_step "publish crm/customers/customers ($CUSTOMERS_ROWS rows with PII)" \
	publish crm/customers/customers "$T/customers.csv" -m "$MESH"

# ---- helpers over the mount ----

# entries DIR: the names in DIR, sorted, on one line.
entries()
{
	timeout 30 ls -A -- "$1" 2>&1 | sort | tr '\n' ' '
}

# has_entries DESC DIR NAME...: DIR lists every NAME.
has_entries()
{
	local desc=$1 dir=$2 name listed missing=
	shift 2
	listed=$(entries "$dir")
	for name in "$@"; do
		case " $listed" in
		*" $name "*) ;;
		*) missing="$missing $name" ;;
		esac
	done
	if [ -z "$missing" ]; then
		pass "$desc"
	else
		fail "$desc" "missing:$missing" "listed: $listed"
	fi
}

# read_to FILE OUT: cat with a time limit.
read_to()
{
	timeout 60 cat -- "$1" >"$2"
}

# size_matches DESC FILE: stat's size is the number of bytes a read gives.
size_matches()
{
	local size bytes
	size=$(stat -c %s -- "$2" 2>&1)
	bytes=$(timeout 60 cat -- "$2" | wc -c)
	if [ "$size" = "$bytes" ]; then
		pass "$1"
	else
		fail "$1" "stat says $size, a read gives $bytes bytes"
	fi
}

# agree DESC FILE REF CMD...: `CMD FILE` and `CMD REF` print the same bytes.
agree()
{
	local desc=$1 file=$2 ref=$3 rc
	shift 3
	timeout 60 "$@" "$file" >"$T/agree-got" 2>"$T/agree-err"
	rc=$?
	"$@" "$ref" >"$T/agree-want"
	if [ "$rc" -eq 0 ] && cmp -s "$T/agree-got" "$T/agree-want"; then
		pass "$desc"
	else
		fail "$desc" "exit $rc: $(head -n 3 "$T/agree-err")" \
			"$(cmp "$T/agree-got" "$T/agree-want" 2>&1 | head -n 1)"
	fi
}

# dd_agree DESC FILE REF DD-ARGS...: dd reads the same bytes from FILE as from REF.
dd_agree()
{
	local desc=$1 file=$2 ref=$3 rc
	shift 3
	timeout 60 dd if="$file" status=none "$@" >"$T/agree-got" 2>"$T/agree-err"
	rc=$?
	dd if="$ref" status=none "$@" >"$T/agree-want"
	if [ "$rc" -eq 0 ] && cmp -s "$T/agree-got" "$T/agree-want"; then
		pass "$desc"
	else
		fail "$desc" "exit $rc: $(head -n 3 "$T/agree-err")" \
			"$(cmp "$T/agree-got" "$T/agree-want" 2>&1 | head -n 1)"
	fi
}

# preadcheck DESC FILE REF [SEED]: random reads of FILE give REF's bytes.
preadcheck()
{
	RUN_TIMEOUT=300 run "$PREADCHECK" -r "$3" -n 3000 -s "${4:-1}" "$2"
	if [ "$RC" -eq 0 ]; then
		pass "$1"
	else
		fail "$1" "$(last_diag)"
	fi
}

# xattr FILE NAME: the value of user.meshfs.NAME.
xattr()
{
	getfattr --only-values -n "user.meshfs.$2" -- "$1" 2>/dev/null
}

HAVE_XATTR=1
command -v getfattr >/dev/null || HAVE_XATTR=

# xattr_is DESC FILE NAME VALUE
xattr_is()
{
	local got
	if [ -z "$HAVE_XATTR" ]; then
		skip "$1" "getfattr is missing"
		return
	fi
	got=$(xattr "$2" "$3")
	if [ "$got" = "$4" ]; then
		pass "$1"
	else
		fail "$1" "user.meshfs.$3 is '$got', expected '$4'"
	fi
}

# catalog_field DOMAIN PRODUCT N < catalog.csv: field N of the product's row (the descriptions
# here hold no comma).
catalog_field()
{
	awk -F, -v d="$1" -v p="$2" -v f="$3" '$1 == d && $2 == p { print $f }'
}

# shellcheck disable=SC2317 # called through check
enoent()
{
	stat -- "$1" 2>&1 | grep -q 'No such file or directory'
}

# mtime_near DESC FILE TIME: FILE's mtime is TIME, give or take a second.
mtime_near()
{
	local mtime
	mtime=$(stat -c %Y -- "$2" 2>/dev/null)
	if near "$mtime" "$3"; then
		pass "$1"
	else
		fail "$1" "mtime '$mtime', expected '$3'"
	fi
}

# ---- mount in the background ----

MNT=$T/mnt
mkdir "$MNT"
track_mount "$MNT"
RUN_TIMEOUT=30 mfs mount -m "$MESH" "$MNT"
[ "$RC" -eq 0 ] || bail_out "meshfs mount returns 0 once mounted" "$(last_diag)"
pass "meshfs mount returns 0 once mounted"
wait_for 10 mountpoint -q -- "$MNT" || bail_out "the mount point is mounted"
pass "the mount point is mounted"
pids=$(daemon_pids "$MNT")
# shellcheck disable=SC2086 # one argument per pid
track_daemon $pids
check "a meshfs daemon serves the mount in the background" test -n "$pids"

O=$MNT/sales/orders
C=$MNT/crm/customers

# ---- the tree ----

has_entries "the root lists README.md, catalog.csv and the domains" "$MNT" \
	README.md catalog.csv sales crm
has_entries "a domain lists README.md and its products" "$MNT/sales" README.md orders refunds
has_entries "a product lists README.md, contract.yaml, its table and versions" "$O" \
	README.md contract.yaml orders.csv versions
has_entries "versions/ lists 1 and latest" "$O/versions" 1 latest
has_entries "versions/1 lists contract.yaml and the table" "$O/versions/1" \
	contract.yaml orders.csv
check "directories are directories" test -d "$MNT/sales" -a -d "$O" -a -d "$O/versions/1"
check "versions/latest is a symbolic link" test -L "$O/versions/latest"
check "versions/latest -> 1" test "$(readlink "$O/versions/latest")" = 1
check "tables and documents are regular files" \
	test -f "$MNT/README.md" -a -f "$MNT/catalog.csv" -a -f "$O/orders.csv" -a -f "$O/README.md"
check "a name that does not exist is ENOENT" enoent "$MNT/sales/nothing"

# ---- generated documents ----

read_to "$MNT/README.md" "$T/readme"
if [ -s "$T/readme" ] && grep -qw sales "$T/readme" && grep -qw crm "$T/readme"; then
	pass "README.md describes the mesh and names its domains"
else
	fail "README.md describes the mesh and names its domains" "$(head -n 20 "$T/readme")"
fi

read_to "$MNT/catalog.csv" "$T/catalog"
check "catalog.csv has the header of docs/DESIGN.md §3" test "$(head -n 1 "$T/catalog")" = \
	"domain,product,description,owner,status,version,updated_at,freshness"
check "catalog.csv has one row per product" test "$(wc -l <"$T/catalog")" -eq 4
mfs log sales/orders -m "$MESH"
cp "$T/out" "$T/log-orders1"
t_orders1=$(log_time 1 "$T/log-orders1")
row="$(catalog_field sales orders 3 <"$T/catalog")|$(catalog_field sales orders 4 <"$T/catalog")"
row="$row|$(catalog_field sales orders 5 <"$T/catalog")|$(catalog_field sales orders 6 <"$T/catalog")"
row="$row|$(catalog_field sales orders 8 <"$T/catalog")"
check "catalog.csv row of sales/orders: description, owner, status, version 1, fresh" \
	test "$row" = "Orders placed in the web shop|data-eng|active|1|fresh"
updated=$(to_epoch "$(catalog_field sales orders 7 <"$T/catalog")")
if near "$updated" "$t_orders1"; then
	pass "catalog.csv updated_at is the latest version's publish time"
else
	fail "catalog.csv updated_at is the latest version's publish time" \
		"updated_at '$(catalog_field sales orders 7 <"$T/catalog")', log '$t_orders1'"
fi
check "catalog.csv row of crm/customers: owner, version 1" \
	test "$(catalog_field crm customers 4 <"$T/catalog")|$(catalog_field crm customers 6 \
		<"$T/catalog")" = "data-eng|1"

check "catalog.csv: a product never published is never fresh" \
	test "$(catalog_field sales refunds 8 <"$T/catalog")" = never

read_to "$MNT/sales/README.md" "$T/domain-readme"
if grep -qw data-eng "$T/domain-readme" && grep -qw orders "$T/domain-readme"; then
	pass "DOMAIN/README.md names the owning team and the products"
else
	fail "DOMAIN/README.md names the owning team and the products" \
		"$(head -n 20 "$T/domain-readme")"
fi

read_to "$O/README.md" "$T/product-readme"
if grep -q "Orders placed in the web shop" "$T/product-readme" &&
	grep -qw order_id "$T/product-readme" && grep -qw data-eng "$T/product-readme"; then
	pass "PRODUCT/README.md gives purpose, owner and columns"
else
	fail "PRODUCT/README.md gives purpose, owner and columns" "$(head -n 30 "$T/product-readme")"
fi

read_to "$O/contract.yaml" "$T/contract"
same_file "contract.yaml is the contract as written" "$T/contract" "$DATA/orders.yaml"
read_to "$O/versions/1/contract.yaml" "$T/contract1"
same_file "versions/1/contract.yaml is the contract of version 1" "$T/contract1" \
	"$DATA/orders.yaml"

for f in README.md catalog.csv sales/README.md sales/orders/README.md sales/orders/contract.yaml; do
	size_matches "stat size of $f is its length" "$MNT/$f"
done

# ---- a table without PII ----

read_to "$O/orders.csv" "$T/got"
same_file "cat TABLE.csv gives the published CSV byte for byte" "$T/got" "$T/orders-v1.csv"
check "stat size of TABLE.csv is the bytes read" \
	test "$(stat -c %s "$O/orders.csv")" = "$(stat -c %s "$T/orders-v1.csv")"
read_to "$O/versions/latest/orders.csv" "$T/got"
same_file "versions/latest/orders.csv is the same table" "$T/got" "$T/orders-v1.csv"
agree "head -c agrees with the full read" "$O/orders.csv" "$T/orders-v1.csv" head -c 1000
agree "head -n agrees with the full read" "$O/orders.csv" "$T/orders-v1.csv" head -n 25
agree "tail -c agrees with the full read" "$O/orders.csv" "$T/orders-v1.csv" tail -c 5000
agree "tail -n agrees with the full read" "$O/orders.csv" "$T/orders-v1.csv" tail -n 40
agree "tail -c +N (a seek) agrees with the full read" "$O/orders.csv" "$T/orders-v1.csv" \
	tail -c +654321
dd_agree "dd with a block size and skip agrees" "$O/orders.csv" "$T/orders-v1.csv" \
	bs=4096 skip=57 count=9
dd_agree "dd at an odd offset agrees" "$O/orders.csv" "$T/orders-v1.csv" \
	bs=1 skip=123457 count=777
preadcheck "random preads of TABLE.csv give the published bytes" "$O/orders.csv" \
	"$T/orders-v1.csv"

# Readers in parallel, on the daemon's many threads.
pcpids=()
for i in 1 2 3 4; do
	read_to "$O/orders.csv" "$T/par$i" &
	pcpids+=($!)
	"$PREADCHECK" -r "$T/orders-v1.csv" -n 300 -s $((i + 1)) "$O/orders.csv" \
		>"$T/pc$i" 2>&1 &
	pcpids+=($!)
done
parallel_ok=1
for p in "${pcpids[@]}"; do
	wait "$p" || parallel_ok=
done
for i in 1 2 3 4; do
	cmp -s "$T/par$i" "$T/orders-v1.csv" || parallel_ok=
done
if [ -n "$parallel_ok" ]; then
	pass "parallel sequential and random readers all get the published bytes"
else
	fail "parallel sequential and random readers all get the published bytes" \
		"$(cat "$T"/pc[1-4] | grep -v ' 0 mismatches' | head -n 10)"
fi

# ---- extended attributes and times ----

xattr_is "user.meshfs.version of TABLE.csv" "$O/orders.csv" version 1
xattr_is "user.meshfs.rows of TABLE.csv" "$O/orders.csv" rows $ORDERS_ROWS
xattr_is "user.meshfs.published_by of TABLE.csv" "$O/orders.csv" published_by "$ME"
if [ -n "$HAVE_XATTR" ]; then
	names=$(getfattr -d -m '^user\.meshfs\.' -- "$O/orders.csv" 2>/dev/null)
	missing=
	for n in version rows published_at published_by hash view; do
		grep -q "^user\.meshfs\.$n=" <<<"$names" || missing="$missing $n"
	done
	if [ -z "$missing" ]; then
		pass "listxattr of TABLE.csv names the six user.meshfs attributes"
	else
		fail "listxattr of TABLE.csv names the six user.meshfs attributes" "missing:$missing" \
			"$names"
	fi
	published_at=$(to_epoch "$(xattr "$O/orders.csv" published_at)")
	if near "$published_at" "$t_orders1"; then
		pass "user.meshfs.published_at is the publish time in meshfs log"
	else
		fail "user.meshfs.published_at is the publish time in meshfs log" \
			"xattr '$(xattr "$O/orders.csv" published_at)', log '$t_orders1'"
	fi
	hash1=$(xattr "$O/orders.csv" hash)
	check "user.meshfs.hash is a hex digest (algorithm: prefix allowed)" \
		grep -Eqx '([a-z0-9]+:)?[0-9a-f]{32,128}' <<<"$hash1"
	check "user.meshfs.view of a table without PII is plain or masked" \
		grep -Eqx 'plain|masked' <<<"$(xattr "$O/orders.csv" view)"
	check "versions/1/TABLE.csv has the same hash while it is the latest" \
		test "$(xattr "$O/versions/1/orders.csv" hash)" = "$hash1"
else
	skip "extended attributes of TABLE.csv" "getfattr is missing"
fi
mtime_near "mtime of TABLE.csv is its version's publish time in meshfs log" "$O/orders.csv" \
	"$t_orders1"

# ---- a table with PII, read by the mesh admin ----

read_to "$C/customers.csv" "$T/got"
same_file "the admin reads the PII table's plain view: the real values, byte for byte" \
	"$T/got" "$T/customers.csv"
check "stat size of the plain view is the bytes read" \
	test "$(stat -c %s "$C/customers.csv")" = "$(stat -c %s "$T/customers.csv")"
preadcheck "random preads of the plain view give the published bytes" "$C/customers.csv" \
	"$T/customers.csv"
xattr_is "user.meshfs.view of the PII table for the admin is plain" "$C/customers.csv" view plain
xattr_is "user.meshfs.rows of the PII table" "$C/customers.csv" rows $CUSTOMERS_ROWS
mfs audit -m "$MESH"
if [ "$RC" -eq 0 ] && grep -E "open-plain" "$T/out" | grep -q "crm/customers"; then
	pass "opening the plain view is in the audit log"
else
	fail "opening the plain view is in the audit log" "$(last_diag)"
fi

# ---- nothing changes through the mount but a publish that passes the contract ----

# A shell redirection ignores errors at close: what matters is that nothing was published.
run sh -c 'echo x > "$1"' sh "$O/orders.csv"
printf 'id,what\n1,2\n' >"$T/bad-header.csv"
run cp "$T/bad-header.csv" "$O/orders.csv"
check "cp of a CSV with a bad header onto TABLE.csv fails" test "$RC" -ne 0 -a "$RC" -lt 124
check "and cp says why (EINVAL)" grep -q "Invalid argument" "$T/err"
run rm -f "$O/orders.csv"
check "rm TABLE.csv fails" test "$RC" -ne 0 -a "$RC" -lt 124
run truncate -s 0 "$O/orders.csv"
check "truncate TABLE.csv fails" test "$RC" -ne 0 -a "$RC" -lt 124
run mv "$O/orders.csv" "$O/renamed.csv"
check "mv TABLE.csv fails" test "$RC" -ne 0 -a "$RC" -lt 124
run chmod 666 "$O/orders.csv"
check "chmod TABLE.csv fails" test "$RC" -ne 0 -a "$RC" -lt 124
run rm -rf "$O/versions/1"
check "rm -r of a version fails" test "$RC" -ne 0 -a "$RC" -lt 124
read_to "$O/orders.csv" "$T/got"
same_file "after all that, TABLE.csv is unchanged" "$T/got" "$T/orders-v1.csv"
check "and versions/1 is still there" test -f "$O/versions/1/orders.csv"
mfs log sales/orders -m "$MESH"
check "and the log still lists one version" test "$(log_versions <"$T/out")" -eq 1

# ---- new versions published by the CLI while mounted ----

# A reader that opened version 1 before the publish must keep reading version 1.
exec 7<"$O/orders.csv"
# The kernel keeps this listing; the daemon must tell it when the CLI changes the catalog.
ls "$O/versions" >/dev/null
# The test clock puts version 2 an hour later, so that times cannot be mixed up.
t2=$(($(date +%s) + 3600))
MESHFS_NOW=$t2 mfs publish sales/orders/orders "$T/orders-v2.csv" -m "$MESH"
expect_ok "publish version 2 with the CLI while mounted"
mfs log sales/orders -m "$MESH"
cp "$T/out" "$T/log-orders2"
t_orders2=$(log_time 2 "$T/log-orders2")
check "publish takes its time from MESHFS_NOW (the test clock)" near "$t_orders2" "$t2"

read_to "$O/orders.csv" "$T/got"
same_file "TABLE.csv shows version 2 at once, without a remount" "$T/got" "$T/orders-v2.csv"
check "stat size of TABLE.csv is version 2's" \
	test "$(stat -c %s "$O/orders.csv")" = "$(stat -c %s "$T/orders-v2.csv")"
timeout 60 cat <&7 >"$T/got"
exec 7<&-
same_file "a file opened before the publish still reads version 1" "$T/got" "$T/orders-v1.csv"
check "versions/latest -> 2" test "$(readlink "$O/versions/latest")" = 2
# lists_within SECONDS DIR NAME: DIR lists NAME within SECONDS.
lists_within()
{
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		ls -- "$2" | grep -qx -- "$3" && return 0
		sleep 0.1
	done
	return 1
}
check "versions/ lists version 2 within 2 s of the CLI's publish" lists_within 2 "$O/versions" 2
has_entries "versions/ lists 1, 2 and latest" "$O/versions" 1 2 latest
read_to "$O/versions/1/orders.csv" "$T/got"
same_file "versions/1/TABLE.csv keeps the old bytes" "$T/got" "$T/orders-v1.csv"
read_to "$O/versions/2/orders.csv" "$T/got"
same_file "versions/2/TABLE.csv has the new bytes" "$T/got" "$T/orders-v2.csv"
preadcheck "random preads of versions/1/TABLE.csv give version 1" "$O/versions/1/orders.csv" \
	"$T/orders-v1.csv" 2
xattr_is "user.meshfs.version of TABLE.csv is 2" "$O/orders.csv" version 2
xattr_is "user.meshfs.rows of TABLE.csv is version 2's" "$O/orders.csv" rows $ORDERS2_ROWS
xattr_is "user.meshfs.version of versions/1/TABLE.csv is still 1" "$O/versions/1/orders.csv" \
	version 1
if [ -n "$HAVE_XATTR" ]; then
	check "versions 1 and 2 have different hashes" \
		test "$(xattr "$O/orders.csv" hash)" != "$(xattr "$O/versions/1/orders.csv" hash)"
fi
mtime_near "mtime of TABLE.csv is version 2's publish time" "$O/orders.csv" "$t_orders2"
mtime_near "mtime of versions/1/TABLE.csv is still version 1's" "$O/versions/1/orders.csv" \
	"$(log_time 1 "$T/log-orders2")"
read_to "$MNT/catalog.csv" "$T/catalog"
check "catalog.csv shows version 2" test "$(catalog_field sales orders 6 <"$T/catalog")" = 2

mfs publish sales/orders/orders "$T/quoted.csv" -m "$MESH"
expect_ok "publish version 3: CRLF, quoted commas, quotes and line breaks"
read_to "$O/orders.csv" "$T/got"
same_file "TABLE.csv is version 3 normalized: LF ends, quotes only where needed" "$T/got" \
	"$T/quoted-normalized.csv"
size_matches "stat size of the normalized table is its length" "$O/orders.csv"
xattr_is "user.meshfs.rows counts records, not lines" "$O/orders.csv" rows "$QUOTED_ROWS"
read_to "$O/versions/2/orders.csv" "$T/got"
same_file "versions/2/TABLE.csv is unchanged by version 3" "$T/got" "$T/orders-v2.csv"

run ls -lR "$MNT"
if [ "$RC" -eq 0 ] && out_has 'orders\.csv' && out_has 'customers\.csv' && out_has 'latest -> 3'; then
	pass "ls -lR of the whole mount works"
else
	fail "ls -lR of the whole mount works" "$(last_diag)"
fi

# ---- mounting errors ----

mkdir "$T/empty" "$T/mnt-bad"
track_mount "$T/mnt-bad"
RUN_TIMEOUT=30 mfs mount -m "$T/empty" "$T/mnt-bad"
expect_fail "mount of a directory that is not a mesh fails" "[Nn]ot a mesh"
check "and leaves nothing mounted" not_mounted "$T/mnt-bad"
RUN_TIMEOUT=30 mfs mount -m "$MESH" "$T/no-such-dir"
expect_fail "mount on a missing mount point fails, naming it" "no-such-dir"
chmod 0640 "$MESH_KEY"
RUN_TIMEOUT=30 mfs mount -m "$MESH" "$T/mnt-bad"
expect_fail "mount refuses a master key that others can read" "master\.key|chmod"
check "and leaves nothing mounted" not_mounted "$T/mnt-bad"
chmod 0600 "$MESH_KEY"
for opt in cache_size=lots cache_size=0 cache_size=12Q timeout=0 timeout=3601 timeout=1.5; do
	RUN_TIMEOUT=30 mfs mount -m "$MESH" "$T/mnt-bad" -o "$opt"
	expect_usage "mount -o $opt is a usage error naming the option" "${opt%%=*}"
done
check "and a refused option mounts nothing" not_mounted "$T/mnt-bad"

# ---- mount in the foreground; the masked view ----

# Another user reads through a mount made with allow_other: only root can run a command as them.
masked=
as_nobody()
{
	setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- "$@"
}

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && getent passwd nobody >/dev/null; then
	chmod 0711 "$T"
	# The scratch directory's parents must let nobody through too (TMPDIR may not).
	as_nobody test -x "$T" && masked=1
fi
if [ -n "$masked" ]; then
	cp "$PREADCHECK" "$T/preadcheck"
	mfs grant read crm/customers user:nobody -m "$MESH"
	expect_ok "grant read on crm/customers to user:nobody"
fi

MNT2=$T/mnt-fg
mkdir "$MNT2"
track_mount "$MNT2"
# meshfs's own -o options mix with libfuse's
fg_opts=(-o timeout=5,cache_size=64M)
[ -n "$masked" ] && fg_opts+=(-o allow_other)
"$MESHFS" mount -f -m "$MESH" "$MNT2" "${fg_opts[@]}" >"$T/fg.out" 2>"$T/fg.err" </dev/null &
fg_pid=$!
track_daemon "$fg_pid"
if wait_for 10 mountpoint -q -- "$MNT2"; then
	pass "meshfs mount -f mounts"
else
	fail "meshfs mount -f mounts" "$(cat "$T/fg.err")"
fi
check "meshfs mount -f stays in the foreground while mounted" kill -0 "$fg_pid"
read_to "$MNT2/sales/orders/orders.csv" "$T/got"
same_file "the foreground mount serves the same table" "$T/got" "$T/quoted-normalized.csv"

if [ -n "$masked" ]; then
	P=$MNT2/crm/customers/customers.csv
	read_to "$P" "$T/got"
	same_file "the admin reads the plain view through the second mount" "$T/got" \
		"$T/customers.csv"
	as_nobody timeout 60 cat -- "$P" >"$T/masked.csv" 2>"$T/masked.err"
	check "a reader with read but not unmask may open the PII table" \
		test $? -eq 0 -a -s "$T/masked.csv"
	# What the masked view must be: full_name redacted, email tokenized, phone last4, birth_date
	# null; the other columns as published. Tokens are keyed, so they are compared by shape here.
	sed -E 's/^([0-9]+),("[^"]*"|[^,]*),/\1,REDACTED,/' "$T/customers.csv" |
		awk -F, -v OFS=, 'NR == 1 { print; next }
			{ $3 = "TOKEN"; $4 = "****" substr($4, length($4) - 3); $8 = ""; print }' \
			>"$T/masked-want.csv"
	sed -E 's/^(([^,]*,){2})tok_[0-9a-f]{16},/\1TOKEN,/' "$T/masked.csv" >"$T/masked-shape.csv"
	same_file "the masked view: redact, token, last4 and null masks, other columns as published" \
		"$T/masked-shape.csv" "$T/masked-want.csv"
	check "the masked view holds no e-mail address and no phone number" \
		test "$(grep -c -e @ -e +4915 "$T/masked.csv")" = 0
	paste -d ' ' <(tail -n +2 "$T/customers.csv" | grep -o 'user[0-9]*@example\.com') \
		<(tail -n +2 "$T/masked.csv" | cut -d, -f3) | sort -u >"$T/token-pairs"
	pairs=$(wc -l <"$T/token-pairs")
	emails=$(cut -d ' ' -f 1 "$T/token-pairs" | sort -u | wc -l)
	tokens=$(cut -d ' ' -f 2 "$T/token-pairs" | sort -u | wc -l)
	if [ "$pairs" -eq "$emails" ] && [ "$pairs" -eq "$tokens" ] && [ "$pairs" -gt 1 ]; then
		pass "equal values get equal tokens, different values different ones"
	else
		fail "equal values get equal tokens, different values different ones" \
			"$pairs pairs, $emails e-mail addresses, $tokens tokens"
	fi
	check "stat size of the masked view is the bytes read" \
		test "$(as_nobody stat -c %s "$P")" = "$(stat -c %s "$T/masked.csv")"
	if [ -n "$HAVE_XATTR" ]; then
		check "user.meshfs.view of the PII table for that reader is masked" \
			test "$(as_nobody getfattr --only-values -n user.meshfs.view "$P" 2>/dev/null)" = \
			masked
	fi
	RUN_TIMEOUT=300 run setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" \
		--clear-groups -- "$T/preadcheck" -r "$T/masked.csv" -n 2000 -s 3 "$P"
	if [ "$RC" -eq 0 ]; then
		pass "random preads of the masked view agree with its sequential read"
	else
		fail "random preads of the masked view agree with its sequential read" "$(last_diag)"
	fi
	read_to "$P" "$T/got"
	same_file "the admin still reads the plain view after the masked one was read" "$T/got" \
		"$T/customers.csv"
	as_nobody timeout 60 cat -- "$MNT2/sales/orders/orders.csv" >/dev/null 2>"$T/denied.err"
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q "Permission denied" "$T/denied.err"; then
		pass "a table without read is EACCES on open"
	else
		fail "a table without read is EACCES on open" "exit $rc: $(cat "$T/denied.err")"
	fi
	check "but its product directory lists" as_nobody ls "$MNT2/sales/orders"
	check "and its README.md reads" as_nobody cat "$MNT2/sales/orders/README.md"
else
	skip "the masked view as another user" \
		"needs root, setpriv, the user nobody and a TMPDIR that nobody can traverse"
fi

# Stopped while a file is open: the kernel never releases it, the daemon frees it itself (the
# sanitizer run of this test reports what it would leave).
exec 8<"$MNT2/sales/orders/orders.csv"
kill -TERM "$fg_pid"
if wait_for 10 pids_gone "$fg_pid"; then
	wait "$fg_pid"
	fg_rc=$?
	if [ "$fg_rc" -eq 0 ]; then
		pass "meshfs mount -f stopped with a file open exits 0"
	else
		fail "meshfs mount -f stopped with a file open exits 0" "exit $fg_rc: $(cat "$T/fg.err")"
	fi
else
	fail "meshfs mount -f stopped with a file open exits" "pid $fg_pid still running"
fi
exec 8<&-
check "the foreground mount point is not mounted any more" not_mounted "$MNT2"

# ---- a directory read in several requests ----

# Listings are built for each request; one that takes several (1,500 products: about 800 entries
# with their attributes fit a request) must give each entry once, also with attributes (ls -l).
if mkdir "$MNT/wide" && (cd "$MNT/wide" && mkdir $(seq -f 'p%g' 1 1500)); then
	pass "mkdir of a domain and 1,500 products in it"
else
	fail "mkdir of a domain and 1,500 products in it"
fi
check "ls of the domain lists README.md and the 1,500 products, each once" \
	test "$(ls -f "$MNT/wide" | sort -u | grep -c -x -e README.md -e 'p[0-9]*')" = 1501 \
	-a "$(ls -f "$MNT/wide" | wc -l)" = 1503
check "ls -l of it too" test "$(ls -l "$MNT/wide" | grep -c ' p[0-9]*$')" = 1500

# ---- unmount ----

# shellcheck disable=SC2086 # one argument per pid
if [ -n "$pids" ] && ! pids_gone $pids; then
	pass "the daemon is still running after all that"
else
	fail "the daemon is still running after all that" "pids: ${pids:-none found}"
fi
run fusermount3 -u "$MNT"
expect_ok "fusermount3 -u"
check "nothing is left mounted" not_mounted "$MNT"
# shellcheck disable=SC2086 # one argument per pid
if [ -n "$pids" ] && wait_for 10 pids_gone $pids; then
	pass "the daemon exits after the unmount"
else
	fail "the daemon exits after the unmount" "pids: ${pids:-none found}"
fi

check_no_crash
finish
