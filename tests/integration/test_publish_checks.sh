#!/usr/bin/env bash
# What an upload is checked against: the contract's checks, the quality rules and the policy
# against undeclared PII, with the reasons in publish.log, the daemon's log and the audit table,
# and that a rejection changes nothing.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

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
# Batches after the one where the checks stop may be read meanwhile, even to a broken line: the
# report of the rows before still wins, and a broken line after fewer problems is the reason.
{
	head -n 1 "$P/orders.csv"
	for ((i = 1; i <= 12000; i++)); do
		amount=5
		if ((i > 100 && i <= 160)); then
			amount=1.5.5
		fi
		printf '%d,ann@example.com,2024-03-01T09:15:00Z,,%s,true,,R-%d,\n' "$i" "$amount" "$i"
	done
	echo "12001,ann@example.com"
} >"$T/bad-then-late-short.csv"
run cp -- "$T/bad-then-late-short.csv" "$S/orders.csv"
rejected "60 bad values, a short row three batches later: Invalid argument" "$S" "$v" \
	"Invalid argument"
reason_has "and the report names the values" "$S" \
	"orders\.csv:102:[0-9]+: column 'amount' \(number\): '1\.5\.5': not a number"
check "and not the short row" expect_reason_lacks "$S" "expected 9 fields"
sed -e '102,161s/,1\.5\.5,/,5,/' "$T/bad-then-late-short.csv" >"$T/late-short.csv"
run cp -- "$T/late-short.csv" "$S/orders.csv"
rejected "good rows, then a short row three batches on: Invalid argument" "$S" "$v" \
	"Invalid argument"
reason_has "and the short row is the reason" "$S" "orders\.csv:12002: expected 9 fields"
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
found=$(grep -r -a -l -F "Canaryfield" -- "$(mesh_at_rest)" 2>&1)
check "nor anywhere the mesh keeps data at rest" test -z "$found"

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

publish_end
