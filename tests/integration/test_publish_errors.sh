#!/usr/bin/env bash
# The errno each tool reports for a rejected upload, one publish attempt per upload, and EACCES for
# users without the publish right.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

# ---- errors of the tools, by errno ----

# Version 1 of shop/quality, as the checks test leaves it, for a user to be refused a publish
# onto it.
gen_readings 10 1 >"$T/readings.csv"
setup_step "shop/quality holds version 1" publish shop/quality/readings "$T/readings.csv" \
	-m "$MESH"

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

publish_end
