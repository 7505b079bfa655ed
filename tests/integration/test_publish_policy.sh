#!/usr/bin/env bash
# The mesh policy: meshfs policy show and set, MOUNT/policy.yaml, detectors turned off, required
# contract fields.

# shellcheck source=tests/integration/publish_lib.sh
. "$(dirname "$0")/publish_lib.sh"

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

publish_end
