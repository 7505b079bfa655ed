#!/usr/bin/env bash
# Contract evolution through the mount and meshfs contract, the same pipeline and reasons for
# meshfs publish, meshfs export and back, mkdir of products and domains, and immutable versions.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

# ---- contract evolution ----

# Tables for the new contracts to carry over, and a version 1 for the immutability checks.
setup_step "shop/orders holds orders.csv" publish shop/orders/orders "$P/orders.csv" -m "$MESH"
setup_step "and items.csv" publish shop/orders/items "$P/items.csv" -m "$MESH"

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

publish_end
