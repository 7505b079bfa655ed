#!/usr/bin/env bash
# The meshfs command line (docs/DESIGN.md §2) end to end on a scratch mesh: init, how the mesh is found,
# --help, teams, domains, products and their contracts, publishing good and bad CSVs, the log, and
# verify finding a damaged blob, audit verify naming rows edited or deleted behind its back. No
# command may die by a signal.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# ---- the binary, and help ----

mfs --help
if [ "$RC" -eq 0 ] && [ -s "$T/out" ]; then
	pass "meshfs --help prints usage and exits 0"
else
	fail "meshfs --help prints usage and exits 0" "$(last_diag)"
fi

mfs --version
expect_ok "meshfs --version"

mfs
expect_fail "meshfs without a command fails with usage"

mfs frobnicate
expect_fail "an unknown command fails, naming it" "frobnicate"

for cmd in init mount team domain product publish log verify grant revoke audit export key \
	"team create" "team add" "team remove" "team list" "domain create" "domain list" \
	"product create" "product show" "product list" "key rotate"; do
	# shellcheck disable=SC2086 # the subcommand is two words
	mfs $cmd --help
	if [ "$RC" -eq 0 ] && [ -s "$T/out" ] && grep -q -- "${cmd##* }" "$T/out"; then
		pass "meshfs $cmd --help (no mesh needed)"
	else
		fail "meshfs $cmd --help (no mesh needed)" "$(last_diag)"
	fi
done

# ---- init ----

init_mesh
expect_ok "init creates a mesh"
if [ -z "$SHARED" ]; then
	check "the mesh has catalog.db, store/ and keys/master.key" \
		test -f "$MESH/catalog.db" -a -d "$MESH/store" -a -f "$MESH/keys/master.key"
else
	check "the database holds the catalog, the bucket is there and the key file is made" \
		test "$(psql -X -A -t "$MESH" -c 'SELECT count(*) FROM teams')" = 0 -a \
		-n "$(s3 GET "?list-type=2&max-keys=1" 2>&1 | grep ListBucketResult)" -a -f "$MESH_KEY"
fi
key_mode=$(stat -c %a "$MESH_KEY" 2>/dev/null)
if [ "$key_mode" = 600 ]; then
	pass "the master key has mode 0600"
else
	fail "the master key has mode 0600" "mode: $key_mode"
fi

key_sum=$(cksum <"$MESH_KEY")
init_mesh
expect_fail "init of an existing mesh fails"
check "init of an existing mesh leaves its key alone" test "$(cksum <"$MESH_KEY")" = "$key_sum"

mkdir "$T/full"
echo "keep me" >"$T/full/notes.txt"
mfs init -m "$T/full"
expect_fail "init into a non-empty directory fails"
check "init into a non-empty directory leaves it as it was" \
	test "$(ls -A "$T/full")" = notes.txt

mfs init
expect_fail "init without -m or MESHFS_MESH fails"

# the options of a shared mesh, refused for a local one before anything is made
for opt in "--store s3://bucket" "--endpoint http://127.0.0.1:9" "--region eu-west-1" \
	"--key $T/k.key"; do
	# shellcheck disable=SC2086 # an option and its value
	mfs init -m "$T/local-$RANDOM" $opt
	expect_usage "init of a local mesh with ${opt%% *} is a usage error naming the shared mesh" \
		"shared mesh"
done
check "no key file was made by a refused init" test ! -e "$T/k.key"
mfs init -m postgresql://nobody@127.0.0.1:1/mesh
expect_usage "init of a shared mesh without --store is a usage error" "--store"
mfs init -m postgresql://nobody:Secret123@127.0.0.1:1/mesh --store "file://$T/sstore" \
	--key "$T/k.key"
if [ "$RC" -eq 1 ] && [ -s "$T/err" ] && ! grep -q Secret123 "$T/err" "$T/out"; then
	pass "a catalog that cannot be reached fails init without printing the URL's password"
else
	fail "a catalog that cannot be reached fails init without printing the URL's password" \
		"$(last_diag)"
fi
check "a failed init of a shared mesh leaves no key file" test ! -e "$T/k.key"

# ---- finding the mesh ----

nomesh=/nonexistent
[ -e "$nomesh" ] && nomesh=$T/nonexistent
mfs team list -m "$nomesh"
expect_fail "-m with a missing directory fails, naming it" "$nomesh"

mkdir "$T/empty"
mfs team list -m "$T/empty"
expect_fail "-m with a directory that is not a mesh fails" "[Nn]ot a mesh"
check "opening a directory that is not a mesh creates nothing in it" \
	test -z "$(ls -A "$T/empty")"

mfs team list
expect_fail "no -m and no MESHFS_MESH fails" "MESHFS_MESH|-m|mesh"

MESHFS_MESH=$MESH mfs team list
expect_ok "MESHFS_MESH names the mesh"

mfs team list --mesh "$MESH"
expect_ok "--mesh names the mesh, after the subcommand too"

# ---- teams ----

mfs team create data-eng "$ME" -m "$MESH"
expect_ok "team create with a member"
mfs team create analysts alice bob -m "$MESH"
expect_ok "team create with two members"
mfs team create data-eng -m "$MESH"
expect_fail "team create of an existing team fails" "data-eng"
mfs team create "Not A Name!" -m "$MESH"
expect_fail "team create with an invalid name fails"
mfs team add analysts carol -m "$MESH"
expect_ok "team add"
mfs team remove analysts bob -m "$MESH"
expect_ok "team remove"
mfs team add no-such-team dave -m "$MESH"
expect_fail "team add to an unknown team fails" "no-such-team"

mfs team list -m "$MESH"
if [ "$RC" -eq 0 ] && grep -E "data-eng" "$T/out" | grep -qw "$ME" &&
	grep -E "analysts" "$T/out" | grep -qw alice &&
	grep -E "analysts" "$T/out" | grep -qw carol && ! grep -qw bob "$T/out"; then
	pass "team list shows the teams with their members"
else
	fail "team list shows the teams with their members" "$(last_diag)"
fi

# ---- domains ----

mfs domain create sales --owner data-eng --description "Sales of the web shop" -m "$MESH"
expect_ok "domain create"
mfs domain create crm --owner no-such-team -m "$MESH"
expect_fail "domain create with an unknown owner team fails" "no-such-team"
mfs domain create sales --owner data-eng -m "$MESH"
expect_fail "domain create of an existing domain fails" "sales"
mfs domain create finance -m "$MESH"
expect_fail "domain create without --owner fails"
mfs domain list -m "$MESH"
if [ "$RC" -eq 0 ] && grep -w sales "$T/out" | grep -qw data-eng && ! grep -qw crm "$T/out"; then
	pass "domain list shows the domain and its owner, not the failed ones"
else
	fail "domain list shows the domain and its owner, not the failed ones" "$(last_diag)"
fi

# ---- products and contracts ----

C=$DATA/orders.yaml

sed 's/^status: active$/status: @active/' "$C" >"$T/bad-syntax.yaml"
line=$(grep -n '^status: @active' "$T/bad-syntax.yaml" | cut -d: -f1)
mfs product create sales/orders --contract "$T/bad-syntax.yaml" -m "$MESH"
expect_one_line "a contract that is not YAML: one line FILE:LINE:COLUMN on stderr" \
	"bad-syntax\.yaml:$line:9:"

sed 's/logicalType: date$/logicalType: money/' "$C" >"$T/bad-type.yaml"
line=$(grep -n 'logicalType: money' "$T/bad-type.yaml" | cut -d: -f1)
mfs product create sales/orders --contract "$T/bad-type.yaml" -m "$MESH"
expect_one_line "a contract with an unknown logicalType: one line FILE:LINE:COLUMN on stderr" \
	"bad-type\.yaml:$line:[0-9]+:.*money"

sed 's/^dataProduct: orders$/dataProduct: invoices/' "$C" >"$T/other-product.yaml"
mfs product create sales/orders --contract "$T/other-product.yaml" -m "$MESH"
expect_fail "a contract whose dataProduct does not match fails" "invoices|dataProduct"

sed 's/^domain: sales$/domain: crm/' "$C" >"$T/other-domain.yaml"
mfs product create sales/orders --contract "$T/other-domain.yaml" -m "$MESH"
expect_fail "a contract whose domain does not match fails" "crm|domain"

sed 's/^domain: sales$/domain: nowhere/' "$C" >"$T/unknown-domain.yaml"
mfs product create nowhere/orders --contract "$T/unknown-domain.yaml" -m "$MESH"
expect_fail "product create in an unknown domain fails, naming it" "nowhere"

mfs product create sales/orders --contract "$T/missing.yaml" -m "$MESH"
expect_fail "product create with a missing contract file fails, naming it" "missing\.yaml"

mfs product list -m "$MESH"
if [ "$RC" -eq 0 ] && ! grep -qw orders "$T/out"; then
	pass "failed product creates leave no product"
else
	fail "failed product creates leave no product" "$(last_diag)"
fi

mfs product create sales/orders --contract "$C" -m "$MESH"
expect_ok "product create with a good contract"
mfs product create sales/orders --contract "$C" -m "$MESH"
expect_fail "product create of an existing product fails" "orders"

mfs product list -m "$MESH"
if [ "$RC" -eq 0 ] && grep -qw orders "$T/out"; then
	pass "product list shows the product"
else
	fail "product list shows the product" "$(last_diag)"
fi
mfs product show sales/orders -m "$MESH"
if [ "$RC" -eq 0 ] && out_has order_id && out_has "Orders placed in the web shop"; then
	pass "product show prints the data sheet (purpose, columns)"
else
	fail "product show prints the data sheet (purpose, columns)" "$(last_diag)"
fi

mfs product show sales/nothing -m "$MESH"
expect_fail "product show of an unknown product fails, naming it" "nothing"
mfs log sales/nothing -m "$MESH"
expect_fail "log of an unknown product fails, naming it" "nothing"

# ---- publishing ----

mfs log sales/orders -m "$MESH"
if [ "$RC" -eq 0 ] && [ "$(log_versions <"$T/out")" -eq 0 ]; then
	pass "log of a product never published lists no version"
else
	fail "log of a product never published lists no version" "$(last_diag)"
fi

before=$(date +%s)
mfs publish sales/orders/orders "$DATA/orders-7.csv" -m "$MESH"
after=$(date +%s)
expect_ok "publish a good CSV"

mfs log sales/orders -m "$MESH"
cp "$T/out" "$T/log1"
if [ "$RC" -eq 0 ] && [ "$(log_versions <"$T/log1")" -eq 1 ] && log_has_rows 1 7 "$T/log1"; then
	pass "log shows version 1 with its 7 rows"
else
	fail "log shows version 1 with its 7 rows" "$(last_diag)"
fi
t1=$(log_time 1 "$T/log1")
if [ -n "$t1" ] && [ "$t1" -ge $((before - 1)) ] && [ "$t1" -le $((after + 1)) ]; then
	pass "log gives version 1 the time it was published"
else
	fail "log gives version 1 the time it was published" \
		"published between $before and $after, log says '${t1:-no time}'" "$(cat "$T/log1")"
fi

# A rejected publish: clean failure, one line naming FILE:LINE(:COLUMN), and no new version.
reject()
{
	local desc=$1 file=$2 where=$3
	mfs log sales/orders -m "$MESH"
	cp "$T/out" "$T/log-before"
	mfs publish sales/orders/orders "$DATA/$file" -m "$MESH"
	expect_one_line "$desc: rejected with one line $file:$where" "$file:$where"
	mfs log sales/orders -m "$MESH"
	if [ "$RC" -eq 0 ] && cmp -s "$T/out" "$T/log-before"; then
		pass "$desc: log unchanged"
	else
		fail "$desc: log unchanged" "$(diff "$T/log-before" "$T/out")"
	fi
}

reject "a CSV with a wrong header" bad-header.csv "1[:]"
reject "a value that is not a number" bad-number.csv "4:17:"
reject "a date that does not exist" bad-date.csv "3:6:"
reject "a required value missing" missing-required.csv "2:23:"
reject "a duplicate primary key" duplicate-key.csv "4[:]"
reject "a row with too few fields" short-row.csv "3[:]"

mfs publish sales/orders/no_such_table "$DATA/orders-7.csv" -m "$MESH"
expect_fail "publish to a table the contract does not have fails" "no_such_table"
mfs publish sales/nothing/orders "$DATA/orders-7.csv" -m "$MESH"
expect_fail "publish to an unknown product fails" "nothing"
mfs publish sales/orders/orders "$T/missing.csv" -m "$MESH"
expect_fail "publish of a missing file fails, naming it" "missing\.csv"

# If a rejection above was wrongly accepted, that is reported there; count from what is.
mfs log sales/orders -m "$MESH"
v=$(($(log_versions <"$T/out") + 1))
write_quoted_csv "$T/quoted.csv" "$T/quoted-normalized.csv"
blobs_before=$(store_blobs)
mfs publish sales/orders/orders "$T/quoted.csv" -m "$MESH"
expect_ok "publish a CSV with CRLF and quoted commas, quotes and newlines"
mfs log sales/orders -m "$MESH"
cp "$T/out" "$T/log2"
if [ "$RC" -eq 0 ] && [ "$(log_versions <"$T/log2")" -eq "$v" ] &&
	log_has_rows "$v" "$QUOTED_ROWS" "$T/log2" && log_has_rows 1 7 "$T/log2"; then
	pass "the second publish is version $v with $QUOTED_ROWS rows; version 1 stays"
else
	fail "the second publish is version $v with $QUOTED_ROWS rows; version 1 stays" \
		"$(last_diag)"
fi
first_listed=$(grep -E '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:' "$T/log2" | head -n 1)
if [ -n "$first_listed" ] && [ "$(log_block "$v" <"$T/log2" | head -n 1)" = "$first_listed" ]; then
	pass "log lists the newest version first"
else
	fail "log lists the newest version first" "$(cat "$T/log2")"
fi

# ---- verify ----

mfs verify -m "$MESH"
expect_ok "verify passes on an intact mesh"

# The blob that the last publish added is referenced by the latest version.
blob=$(comm -13 <(echo "$blobs_before") <(store_blobs) | head -n 1)
if [ -n "$blob" ]; then
	id=$(blob_id "$blob")
	size=$(stat -c %s "$blob")
	flip_byte "$blob" $((size / 2))
	mfs verify -m "$MESH"
	if [ "$RC" -eq 1 ] && cat "$T/out" "$T/err" | grep -q "$id"; then
		pass "verify exits 1 naming a blob with one flipped byte"
	else
		fail "verify exits 1 naming a blob with one flipped byte" "blob $id" "$(last_diag)"
	fi
	flip_byte "$blob" $((size / 2))
	mfs verify -m "$MESH"
	expect_ok "verify passes again once the byte is restored"

	blob_move "$blob" "$T/moved-blob"
	mfs verify -m "$MESH"
	if [ "$RC" -eq 1 ] && cat "$T/out" "$T/err" | grep -q "$id"; then
		pass "verify exits 1 naming a missing blob"
	else
		fail "verify exits 1 naming a missing blob" "blob $id" "$(last_diag)"
	fi
	blob_move "$T/moved-blob" "$blob"
	mfs verify -m "$MESH"
	expect_ok "verify passes again once the blob is back"
else
	fail "the second publish added a blob to the store" "$(store_blobs | head -n 20)"
fi

# ---- the audit's hash chain, tampered with as whoever can write catalog.db ----

# audit_sql SQL...: runs statements on the mesh's catalog, outside meshfs (SQLite, or the shared
# mesh's PostgreSQL); prints what a SELECT gives.
audit_sql()
{
	if [ -n "${SHARED:-}" ]; then
		psql -X -q -A -t -v ON_ERROR_STOP=1 "$MESH" -c "$1"
		return
	fi
	python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for row in c.execute(sys.argv[2]):
    print(*row)
c.commit()' "$MESH/catalog.db" "$1"
}

mfs audit verify -m "$MESH"
if [ "$RC" -eq 0 ] && out_has '^[0-9]+ rows, chain intact$' && out_has '^head: place [0-9]+ at row [0-9]+, hash [0-9a-f]{64}$'; then
	pass "audit verify finds the chain intact and prints its head"
else
	fail "audit verify finds the chain intact and prints its head" "$(last_diag)"
fi
head_line=$(grep '^head:' "$T/out")
mfs audit verify --since 2026-01-01 -m "$MESH"
expect_usage "audit verify takes no --since" "neither"
mfs audit frobnicate -m "$MESH"
expect_usage "audit with an unknown operand fails, naming it" "frobnicate"

row=$(audit_sql "SELECT id FROM audit WHERE seq IS NOT NULL ORDER BY id LIMIT 1 OFFSET 2")
audit_sql "CREATE TABLE keep AS SELECT * FROM audit WHERE id = $row"
audit_sql "UPDATE audit SET outcome = 'ok', detail = 'nothing happened' WHERE id = $row"
mfs audit verify -m "$MESH"
expect_fail "audit verify names a row edited behind its back" "^meshfs: audit row $row: edited"
audit_sql "DELETE FROM audit WHERE id = $row"
mfs audit verify -m "$MESH"
expect_fail "audit verify names where a row was deleted" \
	"^meshfs: audit rows deleted: 1 between row $((row - 1)) and row $((row + 1))$"
# PostgreSQL makes ids itself unless told otherwise
audit_sql "INSERT INTO audit ${SHARED:+OVERRIDING SYSTEM VALUE} SELECT * FROM keep"
audit_sql "DROP TABLE keep"
mfs audit verify -m "$MESH"
if [ "$RC" -eq 0 ] && grep -qxF "$head_line" "$T/out"; then
	pass "audit verify passes again, with the same head, once the row is back"
else
	fail "audit verify passes again, with the same head, once the row is back" "$(last_diag)"
fi

check_no_crash
finish
