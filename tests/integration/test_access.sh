#!/usr/bin/env bash
# Access control and PII end to end (docs/DESIGN.md §6-§8): real Unix users, made here and removed at
# exit, act through one mount made with -o allow_other by the service user (root here, who owns
# the mesh). Checks denied, masked and plain views byte for byte as each user sees them, sizes,
# mmap, per-view inodes, readers of different views at the same time, tokens that join across
# products, grants and revocations on the live mount (users, teams, Unix groups, everyone),
# writes that need publish, the audit table, key rotation, export, tampered ciphertext giving
# EIO, the master key's mode, and that no plaintext PII rests anywhere under the mesh directory.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

why=$(fuse_unusable)
[ -n "$why" ] && skip_all "$why"
[ "$(id -u)" -eq 0 ] || skip_all "needs root: it creates Unix users and acts as each of them"
for tool in useradd userdel groupadd groupdel setpriv getfattr tar unzip; do
	command -v "$tool" >/dev/null || skip_all "$tool is missing"
done
: "${PREADCHECK:?PREADCHECK must name the preadcheck binary (meson test sets it)}"
: "${MMAPCHECK:?MMAPCHECK must name the mmapcheck binary (meson test sets it)}"

# ---- users, removed at exit ----

# Names carry the test's pid: runs on one machine never share a user.
OWN=mfs_t_own$$     # in crm-team, the team owning domain crm: publish and unmask there
ANA=mfs_t_ana$$     # in team analysts, which has read on the mesh: masked views
GRP=mfs_t_grp$$     # in the Unix group below (supplementary): read and unmask through it
NONE=mfs_t_none$$   # no right at all
LIVE=mfs_t_live$$   # rights granted and revoked while mounted
UGROUP=mfs_t_g$$

groupadd "$UGROUP" || bail_out "groupadd $UGROUP"
MADE_GROUPS+=("$UGROUP")
for u in "$OWN" "$ANA" "$NONE" "$LIVE"; do
	useradd -M -U -s /usr/sbin/nologin "$u" || bail_out "useradd $u"
	MADE_USERS+=("$u")
done
useradd -M -U -G "$UGROUP" -s /usr/sbin/nologin "$GRP" || bail_out "useradd $GRP"
MADE_USERS+=("$GRP")
pass "created the users $OWN $ANA $GRP $NONE $LIVE and the group $UGROUP"

chmod 0755 "$T"
as "$NONE" test -x "$T" ||
	skip_all "the scratch directory's parents are not traversable by other users (TMPDIR)"
cp "$MMAPCHECK" "$T/mmapcheck"
cp "$PREADCHECK" "$T/preadcheck"
chmod 0755 "$T/mmapcheck" "$T/preadcheck"

# ---- the mesh: three products, two of them with PII ----

CUSTOMERS_ROWS=2000
gen_customers $CUSTOMERS_ROWS >"$T/customers-v1.csv"
gen_orders 500 1 >"$T/orders.csv"
# Invoices name customers by e-mail address: the same addresses as in crm/customers, and some
# that are not there.
awk 'BEGIN {
	print "invoice_id,email,amount"
	for (i = 1; i <= 600; i++)
		printf "%d,user%d@example.com,%d.%02d\n", i, (i * 7) % 2600, (i * 31) % 500, i % 100
}' >"$T/invoices.csv"
cat >"$T/invoices.yaml" <<'EOF'
apiVersion: v3.0.2
kind: DataContract
id: urn:meshfs:test:sales:invoices
name: Invoices
version: 1.0.0
status: active
domain: sales
dataProduct: invoices
description:
  purpose: Invoices sent to customers
schema:
  - name: invoices
    physicalType: table
    properties:
      - name: invoice_id
        logicalType: integer
        required: true
        primaryKey: true
      - name: email
        logicalType: string
        required: true
        classification: pii
      - name: amount
        logicalType: number
EOF

setup_mesh
setup_step "team crm-team with $OWN" team create crm-team "$OWN" -m "$MESH"
setup_step "team analysts with $ANA" team create analysts "$ANA" -m "$MESH"
setup_step "domain crm owned by crm-team" domain create crm --owner crm-team -m "$MESH"
setup_step "domain sales owned by data-eng" domain create sales --owner data-eng -m "$MESH"
setup_step "product crm/customers" product create crm/customers \
	--contract "$DATA/customers.yaml" -m "$MESH"
setup_step "product sales/invoices" product create sales/invoices \
	--contract "$T/invoices.yaml" -m "$MESH"
setup_step "product sales/orders" product create sales/orders --contract "$DATA/orders.yaml" \
	-m "$MESH"
setup_step "publish crm/customers version 1" publish crm/customers/customers \
	"$T/customers-v1.csv" -m "$MESH"
setup_step "publish sales/invoices" publish sales/invoices/invoices "$T/invoices.csv" -m "$MESH"
setup_step "publish sales/orders" publish sales/orders/orders "$T/orders.csv" -m "$MESH"
setup_step "grant read on the mesh to team:analysts" grant read mesh team:analysts -m "$MESH"
setup_step "grant read on crm to group:$UGROUP" grant read crm "group:$UGROUP" -m "$MESH"
setup_step "grant unmask on crm/customers to group:$UGROUP" grant unmask crm/customers \
	"group:$UGROUP" -m "$MESH"

# ---- expected views ----

# masked_shape < PLAIN: the customers masked view with tokens written TOKEN: full_name redacted,
# email tokenized, phone last4, birth_date null, the rest as published.
masked_shape()
{
	sed -E 's/^([0-9]+),("[^"]*"|[^,]*),/\1,REDACTED,/' |
		awk -F, -v OFS=, 'NR == 1 { print; next }
			{ $3 = "TOKEN"; if ($4 != "") $4 = "****" substr($4, length($4) - 3)
			  $8 = ""; print }'
}

# tokens_shape < MASKED: the same with each token written TOKEN, so masks compare exactly.
tokens_shape()
{
	sed -E 's/^(([^,]*,){2})tok_[0-9a-f]{16},/\1TOKEN,/'
}

masked_shape <"$T/customers-v1.csv" >"$T/customers-v1.masked-shape"

# ---- the mount ----

MNT=$T/mnt
mkdir "$MNT"
chmod 0755 "$MNT"
track_mount "$MNT"

# mount_it: the allow_other mount, in the background.
mount_it()
{
	local pids
	RUN_TIMEOUT=30 mfs mount -m "$MESH" "$MNT" -o allow_other
	[ "$RC" -eq 0 ] && wait_for 10 mountpoint -q -- "$MNT" || return 1
	pids=$(daemon_pids "$MNT")
	# shellcheck disable=SC2086 # one argument per pid
	track_daemon $pids
}

mount_it || bail_out "meshfs mount -o allow_other" "$(last_diag)"
pass "meshfs mount -o allow_other"

C=$MNT/crm/customers
I=$MNT/sales/invoices
# what publish and reject rows name: the table, or the file name it was published under
CUSTOMERS_OBJ='crm/customers/customers([.]csv)?'
O=$MNT/sales/orders

# ---- helpers over the mount ----

# read_as USER FILE OUT: cat FILE as USER into OUT, its stderr into OUT.err.
read_as()
{
	as "$1" timeout 60 cat -- "$2" >"$3" 2>"$3.err"
}

# reads DESC USER FILE WANT: USER reads exactly WANT's bytes from FILE.
reads()
{
	if read_as "$2" "$3" "$T/got"; then
		same_file "$1" "$T/got" "$4"
	else
		fail "$1" "$(head -n 3 "$T/got.err")"
	fi
}

# denied DESC USER FILE: opening FILE as USER is EACCES, and no byte comes out.
denied()
{
	if read_as "$2" "$3" "$T/denied"; then
		fail "$1" "the read succeeded: $(head -c 200 "$T/denied")"
	elif grep -q "Permission denied" "$T/denied.err" && [ ! -s "$T/denied" ]; then
		pass "$1"
	else
		fail "$1" "$(head -n 3 "$T/denied.err")"
	fi
}

# size_is DESC USER FILE WANT: stat as USER gives WANT's size.
size_is()
{
	local got want
	got=$(as "$2" stat -c %s -- "$3" 2>&1)
	want=$(stat -c %s -- "$4")
	if [ "$got" = "$want" ]; then
		pass "$1"
	else
		fail "$1" "stat says $got, expected $want"
	fi
}

# view_is DESC USER FILE VIEW: user.meshfs.view as USER.
view_is()
{
	local got
	got=$(as "$2" getfattr --absolute-names --only-values -n user.meshfs.view -- "$3" 2>&1)
	if [ "$got" = "$4" ]; then
		pass "$1"
	else
		fail "$1" "user.meshfs.view is '$got', expected '$4'"
	fi
}

# shape_is DESC MASKED WANT-SHAPE: the masked file with tokens written TOKEN is WANT-SHAPE.
shape_is()
{
	tokens_shape <"$2" >"$T/shape"
	same_file "$1" "$T/shape" "$3"
}

# audit_count PRINCIPAL ACTION OBJECT [VIEW [OUTCOME]]: rows of meshfs audit that match; OBJECT
# is an ERE for the whole object.
audit_count()
{
	mfs audit -m "$MESH"
	awk -v p="$1" -v a="$2" -v o="^($3)\$" -v v="${4:-}" -v out="${5:-}" '
		NR > 1 && $2 == p && $3 == a && $4 ~ o && (v == "" || $6 == v) &&
			(out == "" || $7 == out) { n++ }
		END { print n + 0 }' "$T/out"
}

# todo DESC DETAIL...: a known product bug, reported to the lead; TAP's TODO keeps it visible
# without failing the suite.
todo()
{
	T_NUM=$((T_NUM + 1))
	echo "not ok $T_NUM - $1 # TODO known bug"
	shift
	diag "$@"
}

# forget_pages: empties the kernel's page cache (or, where that is not allowed, remounts), so
# that the next reads reach the daemon.
forget_pages()
{
	sync
	if ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
		fusermount3 -u "$MNT" && wait_for 10 not_mounted "$MNT" && mount_it
	fi
}

# ---- the mesh directory itself is the service user's ----

if [ -z "$SHARED" ]; then
	denied "other users cannot read the catalog under the mesh directory" "$ANA" "$MESH/catalog.db"
else
	# Without the role's password (in the service user's password file) the server refuses them.
	run_as "$ANA" psql -X -c 'SELECT count(*) FROM versions' "$MESH"
	expect_fail "other users cannot read the catalog in the database" "password"
fi
denied "nor the master key" "$OWN" "$MESH_KEY"

# ---- a user without any right ----

denied "no read: a PII table is EACCES on open" "$NONE" "$C/customers.csv"
denied "no read: a table without PII is EACCES on open" "$NONE" "$O/orders.csv"
denied "no read: an old version is EACCES too" "$NONE" "$C/versions/1/customers.csv"
run_as "$NONE" ls "$C"
if [ "$RC" -eq 0 ] && out_has '^customers\.csv$' && out_has '^README\.md$'; then
	pass "no read: the product directory still lists its files"
else
	fail "no read: the product directory still lists its files" "$(last_diag)"
fi
reads "no read: contract.yaml reads (metadata is for everyone)" "$NONE" "$C/contract.yaml" \
	"$DATA/customers.yaml"
check "no read: README.md and catalog.csv read" as "$NONE" cat "$C/README.md" "$MNT/catalog.csv"

# ---- plain, masked and plain-through-a-group views of one file ----

reads "the owning team reads the plain view, byte for byte" "$OWN" "$C/customers.csv" \
	"$T/customers-v1.csv"
size_is "stat size for the owning team is the plain view's" "$OWN" "$C/customers.csv" \
	"$T/customers-v1.csv"
view_is "user.meshfs.view for the owning team is plain" "$OWN" "$C/customers.csv" plain

if read_as "$ANA" "$C/customers.csv" "$T/customers-v1.masked"; then
	pass "a reader without unmask opens the PII table"
else
	fail "a reader without unmask opens the PII table" "$(cat "$T/customers-v1.masked.err")"
fi
shape_is "the masked view: REDACTED, tokens, ****last4 and null exactly, the rest as published" \
	"$T/customers-v1.masked" "$T/customers-v1.masked-shape"
check "the masked view holds no e-mail address, name or phone number" \
	test "$(grep -c -e @ -e +4915 -e Müller -e Anna "$T/customers-v1.masked")" = 0
size_is "stat size for the masked reader is the masked view's" "$ANA" "$C/customers.csv" \
	"$T/customers-v1.masked"
check "the masked view is shorter than the plain one here" \
	test "$(stat -c %s "$T/customers-v1.masked")" -lt "$(stat -c %s "$T/customers-v1.csv")"
view_is "user.meshfs.view for the masked reader is masked" "$ANA" "$C/customers.csv" masked
ino_plain=$(as "$OWN" stat -c %i -- "$C/customers.csv")
ino_masked=$(as "$ANA" stat -c %i -- "$C/customers.csv")
check "each view of the same name is its own inode (§7.5)" \
	test -n "$ino_plain" -a -n "$ino_masked" -a "$ino_plain" != "$ino_masked"

# Listings as each user sees them. The kernel keeps listings and checks them against the
# directory's mtime, which carries a digest of the listing as its caller sees it: users taking
# turns must each get their own, however quickly they follow each other.
# listed_ino USER: the inode number ls -i lists for customers.csv, as USER.
listed_ino()
{
	as "$1" ls -i -- "$C" | awk '$2 == "customers.csv" { print $1 }'
}
for round in 1 2; do
	got_plain=$(listed_ino "$OWN")
	got_masked=$(listed_ino "$ANA")
	check "listing, round $round: each user's ls -i names the inode of their own view" \
		test "$got_plain" = "$ino_plain" -a "$got_masked" = "$ino_masked"
done
as "$OWN" sh -c 'echo draft >"$1"' sh "$C/.draft.tmp"
lists_draft()
{
	as "$1" ls -a -- "$C" | grep -qx '.draft.tmp'
}
hides_draft()
{
	! lists_draft "$1"
}
check "a private file is listed to its writer" lists_draft "$OWN"
check "... and not to another user listing right after" hides_draft "$ANA"
check "... and still to its writer listing after them" lists_draft "$OWN"
as "$OWN" rm -f -- "$C/.draft.tmp"
check "... until its writer removes it" hides_draft "$OWN"
run_as "$ANA" getfattr -n security.selinux -- "$C/customers.csv"
if [ "$RC" -ne 0 ] && err_has "Operation not supported"; then
	pass "attributes outside user.* are not supported (ls -l stops asking for them)"
else
	fail "attributes outside user.* are not supported (ls -l stops asking for them)" \
		"$(last_diag)"
fi

reads "a supplementary Unix group's unmask grant gives the plain view" "$GRP" \
	"$C/customers.csv" "$T/customers-v1.csv"
size_is "stat size through the group grant is the plain view's" "$GRP" "$C/customers.csv" \
	"$T/customers-v1.csv"
denied "the group's grants stop at domain crm" "$GRP" "$I/invoices.csv"
denied "the owning team's rights stop at its domain" "$OWN" "$I/invoices.csv"

# ---- tokens: equal values, equal tokens, across the whole mesh ----

# flat < CUSTOMERS: the names (which may be quoted, with commas) replaced, so that the other
# fields can be cut at commas.
flat()
{
	sed -E 's/^([0-9]+),("[^"]*"|[^,]*),/\1,NAME,/'
}

# email_pairs PLAIN MASKED FIELD: "value token" pairs of a column, once each; neither file may
# have a comma inside a field.
email_pairs()
{
	paste -d ' ' <(tail -n +2 "$1" | cut -d, -f"$3") <(tail -n +2 "$2" | cut -d, -f"$3") |
		sort -u
}

flat <"$T/customers-v1.csv" >"$T/customers-v1.flat"
email_pairs "$T/customers-v1.flat" "$T/customers-v1.masked" 3 >"$T/pairs-customers"
n_pairs=$(wc -l <"$T/pairs-customers")
n_values=$(cut -d ' ' -f 1 "$T/pairs-customers" | sort -u | wc -l)
n_tokens=$(cut -d ' ' -f 2 "$T/pairs-customers" | sort -u | wc -l)
if [ "$n_pairs" -gt 100 ] && [ "$n_pairs" -eq "$n_values" ] && [ "$n_pairs" -eq "$n_tokens" ]; then
	pass "one token per e-mail address and one address per token ($n_pairs)"
else
	fail "one token per e-mail address and one address per token" \
		"$n_pairs pairs, $n_values addresses, $n_tokens tokens"
fi
if read_as "$ANA" "$I/invoices.csv" "$T/invoices.masked"; then
	pass "read on the mesh reaches every domain: invoices in sales"
else
	fail "read on the mesh reaches every domain: invoices in sales" \
		"$(cat "$T/invoices.masked.err")"
fi
check "the invoices' masked view has tokens, no address" \
	test "$(grep -c @ "$T/invoices.masked")" = 0 -a \
	"$(grep -Ec '^[0-9]+,tok_[0-9a-f]{16},' "$T/invoices.masked")" = 600
email_pairs "$T/invoices.csv" "$T/invoices.masked" 2 >"$T/pairs-invoices"
join "$T/pairs-customers" "$T/pairs-invoices" >"$T/joined"
n_joined=$(wc -l <"$T/joined")
n_mismatch=$(awk '$2 != $3' "$T/joined" | wc -l)
if [ "$n_joined" -gt 100 ] && [ "$n_mismatch" -eq 0 ]; then
	pass "masked tables join: $n_joined addresses have the same token in crm and in sales"
else
	fail "masked tables join across products and domains" \
		"$n_joined addresses in both, $n_mismatch with different tokens" \
		"$(awk '$2 != $3' "$T/joined" | head -n 3)"
fi
# the reverse: a masked join gives exactly what a plain join gives
join -t, -1 3 -2 2 -o 1.1,2.1 \
	<(tail -n +2 "$T/customers-v1.masked" | sort -t, -k3,3) \
	<(tail -n +2 "$T/invoices.masked" | sort -t, -k2,2) | sort >"$T/join-masked"
join -t, -1 3 -2 2 -o 1.1,2.1 \
	<(tail -n +2 "$T/customers-v1.flat" | sort -t, -k3,3) \
	<(tail -n +2 "$T/invoices.csv" | sort -t, -k2,2) | sort >"$T/join-plain"
if [ -s "$T/join-plain" ] && cmp -s "$T/join-masked" "$T/join-plain"; then
	pass "joining customers and invoices on masked e-mail gives the plain join's rows"
else
	fail "joining customers and invoices on masked e-mail gives the plain join's rows" \
		"$(wc -l <"$T/join-masked") rows masked, $(wc -l <"$T/join-plain") plain"
fi

# ---- mmap, random access ----

chmod 0644 "$T"/*.csv "$T/customers-v1.masked"
run_as "$OWN" "$T/mmapcheck" -r "$T/customers-v1.csv" -n 3 "$C/customers.csv"
expect_ok "mmap of the plain view gives what read() gives, and the plain bytes"
run_as "$ANA" "$T/mmapcheck" -r "$T/customers-v1.masked" -n 3 "$C/customers.csv"
expect_ok "mmap of the masked view gives what read() gives, and the masked bytes"
RUN_TIMEOUT=300 run_as "$ANA" "$T/preadcheck" -r "$T/customers-v1.masked" -n 500 -s 7 \
	"$C/customers.csv"
expect_ok "random reads of the masked view agree with it"

# ---- readers of different views at the same time ----

# Every reader loops over the same name; the plain and masked pages must never mix, whether
# they come through read(), mmap or the page cache.
conc_pids=()
for who in "$OWN:$T/customers-v1.csv" "$ANA:$T/customers-v1.masked" \
	"$GRP:$T/customers-v1.csv"; do
	u=${who%%:*}
	want=${who#*:}
	# shellcheck disable=SC2016 # expanded by the inner shell
	as "$u" sh -c 'for i in $(seq 15); do cat -- "$1" | cmp -s - "$2" || exit 1; done' sh \
		"$C/customers.csv" "$want" >"$T/conc-cat-$u" 2>&1 &
	conc_pids+=($!)
	as "$u" "$T/mmapcheck" -r "$want" -n 15 "$C/customers.csv" >"$T/conc-mmap-$u" 2>&1 &
	conc_pids+=($!)
done
USER_PIDS+=("${conc_pids[@]}")
conc_ok=1
for p in "${conc_pids[@]}"; do
	wait "$p" || conc_ok=
done
if [ -n "$conc_ok" ]; then
	pass "concurrent plain and masked readers (cat and mmap) each see only their own view"
else
	fail "concurrent plain and masked readers (cat and mmap) each see only their own view" \
		"$(cat "$T"/conc-* | grep -v ' 0 mismatches' | head -n 10)"
fi

# ---- grants and revocations on the live mount ----

denied "before any grant, $LIVE is EACCES" "$LIVE" "$C/customers.csv"
mfs grant read crm/customers "user:$LIVE" -m "$MESH"
expect_ok "grant read on crm/customers to user:$LIVE"
reads "at once, without a remount, $LIVE reads the masked view" "$LIVE" "$C/customers.csv" \
	"$T/customers-v1.masked"
size_is "and stat gives the masked size" "$LIVE" "$C/customers.csv" "$T/customers-v1.masked"
mfs grant unmask crm/customers "user:$LIVE" -m "$MESH"
expect_ok "grant unmask on crm/customers to user:$LIVE"
reads "at once, $LIVE reads the plain view" "$LIVE" "$C/customers.csv" "$T/customers-v1.csv"
size_is "and stat gives the plain size" "$LIVE" "$C/customers.csv" "$T/customers-v1.csv"
view_is "and user.meshfs.view says plain" "$LIVE" "$C/customers.csv" plain
run_as "$LIVE" "$T/mmapcheck" -r "$T/customers-v1.csv" "$C/customers.csv"
expect_ok "and mmap gives the plain bytes"
mfs revoke unmask crm/customers "user:$LIVE" -m "$MESH"
expect_ok "revoke unmask from user:$LIVE"
reads "at once, $LIVE is back to the masked view" "$LIVE" "$C/customers.csv" \
	"$T/customers-v1.masked"
size_is "and stat gives the masked size again" "$LIVE" "$C/customers.csv" \
	"$T/customers-v1.masked"
run_as "$LIVE" "$T/mmapcheck" -r "$T/customers-v1.masked" "$C/customers.csv"
expect_ok "and mmap gives the masked bytes, not the plain pages cached before"
mfs revoke read crm/customers "user:$LIVE" -m "$MESH"
expect_ok "revoke read from user:$LIVE"
denied "at once, $LIVE is EACCES again" "$LIVE" "$C/customers.csv"

mfs team remove crm-team "$OWN" -m "$MESH"
expect_ok "remove $OWN from crm-team"
denied "at once, $OWN has no right on crm/customers" "$OWN" "$C/customers.csv"
mfs team add crm-team "$OWN" -m "$MESH"
expect_ok "add $OWN back to crm-team"
reads "at once, $OWN reads the plain view again" "$OWN" "$C/customers.csv" "$T/customers-v1.csv"

mfs grant read sales/orders everyone -m "$MESH"
expect_ok "grant read on sales/orders to everyone"
reads "everyone: $NONE reads sales/orders" "$NONE" "$O/orders.csv" "$T/orders.csv"
denied "but still not crm/customers" "$NONE" "$C/customers.csv"
mfs revoke read sales/orders everyone -m "$MESH"
expect_ok "revoke read on sales/orders from everyone"
denied "at once, $NONE is EACCES on sales/orders again" "$NONE" "$O/orders.csv"

mfs revoke unmask crm/customers "group:$UGROUP" -m "$MESH"
expect_ok "revoke unmask from group:$UGROUP"
reads "at once, the group's member reads the masked view" "$GRP" "$C/customers.csv" \
	"$T/customers-v1.masked"

# ---- the audit table ----

before=$(audit_count "$OWN" open-plain crm/customers/customers plain ok)
for _ in 1 2 3; do
	as "$OWN" cat -- "$C/customers.csv" >/dev/null
done
as "$ANA" cat -- "$C/customers.csv" >/dev/null
after=$(audit_count "$OWN" open-plain crm/customers/customers plain ok)
check "every open of the plain view is one audit row (3 opens: $before -> $after)" \
	test "$after" -eq $((before + 3))
check "opens of the masked view are not plaintext accesses" \
	test "$(audit_count "$ANA" open-plain crm/customers/customers)" -eq 0
mfs audit -m "$MESH" --principal "$OWN"
if awk -v o="$OWN" '$2 == o && $3 == "open-plain" && $4 == "crm/customers/customers" &&
	$5 == 1 && $6 == "plain" && $7 == "ok" { f = 1 } END { exit !f }' "$T/out"; then
	pass "an open-plain row names the principal, the table, version 1, the view and the outcome"
else
	fail "an open-plain row names the principal, the table, version 1, the view and the outcome" \
		"$(head -n 5 "$T/out")"
fi
check "grants are audited" test "$(audit_count "$ME" grant crm/customers "" ok)" -ge 2
check "revocations are audited" test "$(audit_count "$ME" revoke crm/customers "" ok)" -ge 2
check "team changes are audited" test "$(audit_count "$ME" team-remove crm-team "" ok)" -eq 1
check "publishes are audited" \
	test "$(audit_count "$ME" publish "$CUSTOMERS_OBJ" "" ok)" -eq 1

# ---- writes need publish ----

gen_customers 300 >"$T/customers-v2.csv"
# distinctive PII, to be looked for at rest later, and a value of a column that is not PII, which
# is expected there (masked views are stored as they are)
CANARY_NAME="Zebulon Quillfeather-Canary"
CANARY_EMAIL="zq7.canary@pii-canary.example"
CANARY_PHONE="+49-1555-937-6412-canary"
CANARY_REJECTED="Ottoline Rejectedhurst-Canary"
CONTROL=ctl-visible-k3j9
printf '99999,%s,%s,%s,DE,%s,2024-02-03,1990-04-05\n' "$CANARY_NAME" "$CANARY_EMAIL" \
	"$CANARY_PHONE" "$CONTROL" >>"$T/customers-v2.csv"
{
	head -n 1 "$T/customers-v1.csv"
	printf '1,%s,otto@pii-canary.example,+49-1555-000-0000,DE,gold,not-a-date,\n' \
		"$CANARY_REJECTED"
} >"$T/customers-bad.csv"
chmod 0644 "$T/customers-v2.csv" "$T/customers-bad.csv"

# PII in a column not classified PII is refused at publish (docs/DESIGN.md §5); it must not reach the
# disk either, not even in the reason given.
CANARY_UNDECLARED=canary.undeclared@pii-canary.example
{
	head -n 1 "$T/orders.csv"
	printf '1,1,2024-01-05,12.50,placed,mail %s please\n' "$CANARY_UNDECLARED"
} >"$T/orders-undeclared.csv"
mfs publish sales/orders/orders "$T/orders-undeclared.csv" -m "$MESH"
expect_fail "an e-mail address in a column not classified PII is refused"
cp "$T/err" "$T/undeclared.err"
mfs audit -m "$MESH"
check "the refusal's reason (stderr, audit table) does not quote the value" \
	test "$(cat "$T/undeclared.err" "$T/out" | grep -c -F -e "$CANARY_UNDECLARED")" = 0

run_as "$ANA" cp -- "$T/customers-v2.csv" "$C/customers.csv"
if [ "$RC" -ne 0 ] && err_has "Permission denied"; then
	pass "read without publish: cp onto TABLE.csv is EACCES"
else
	fail "read without publish: cp onto TABLE.csv is EACCES" "$(last_diag)"
fi
# shellcheck disable=SC2016 # expanded by the inner shell
run_as "$ANA" sh -c 'cat -- "$1" >"$2"' sh "$T/customers-v2.csv" "$C/new-upload.csv"
if [ "$RC" -ne 0 ] && err_has "Permission denied"; then
	pass "read without publish: creating a file in the product is EACCES"
else
	fail "read without publish: creating a file in the product is EACCES" "$(last_diag)"
fi
if [ "$(audit_count "$ANA" reject "$CUSTOMERS_OBJ" "" denied)" -ge 1 ]; then
	pass "a publish refused for want of publish is in the audit table"
else
	todo "a publish refused for want of publish is in the audit table" \
		"fs/fs.c may_publish (open_for_publish, fs_create) refuses with EACCES but writes" \
		"no audit row; docs/DESIGN.md §5 wants the reasons in the audit table"
fi

run_as "$OWN" cp -- "$T/customers-bad.csv" "$C/customers.csv"
if [ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] && err_has "Invalid argument"; then
	pass "the owning team's publish of a bad file fails on close with EINVAL"
else
	fail "the owning team's publish of a bad file fails on close with EINVAL" "$(last_diag)"
fi
check "the rejection is in the audit table, for that user" \
	test "$(audit_count "$OWN" reject "$CUSTOMERS_OBJ" "" rejected)" -ge 1
mfs audit -m "$MESH"
check "the rejection's reason in the audit table does not quote the PII value" \
	test "$(grep -c -e "$CANARY_REJECTED" -e otto@ "$T/out")" = 0

run_as "$OWN" cp -- "$T/customers-v2.csv" "$C/customers.csv"
expect_ok "the owning team publishes version 2 by cp into the mount"
reads "the owning team reads version 2, canaries included" "$OWN" "$C/customers.csv" \
	"$T/customers-v2.csv"
reads "and still version 1 under versions/1" "$OWN" "$C/versions/1/customers.csv" \
	"$T/customers-v1.csv"
check "its publish is audited as that user" \
	test "$(audit_count "$OWN" publish "$CUSTOMERS_OBJ" "" ok)" -eq 1
read_as "$ANA" "$C/customers.csv" "$T/customers-v2.masked"
masked_shape <"$T/customers-v2.csv" >"$T/customers-v2.masked-shape"
shape_is "the masked reader sees version 2 masked" "$T/customers-v2.masked" \
	"$T/customers-v2.masked-shape"
reads "and version 1 masked as before" "$ANA" "$C/versions/1/customers.csv" \
	"$T/customers-v1.masked"

# ---- key rotation ----

# The key id of a table's first sealed chunk: its format byte comes first, then the u32 key id.
segment_file()
{
	local hash
	hash=$(getfattr --only-values -n user.meshfs.hash -- "$1" 2>/dev/null)
	hash=${hash#*:}
	[ ${#hash} -eq 64 ] && blob_file "$hash"
}
chunk_offset()
{
	first_chunk_offset "$(segment_file "$1")"
}
chunk_key_id()
{
	od -An -tu4 -j $(($(chunk_offset "$1") + 1)) -N4 -- "$(segment_file "$1")" | tr -d ' '
}

key_v2=$(chunk_key_id "$C/versions/2/customers.csv")
check "version 2's chunks name a data key ($key_v2)" test -n "$key_v2"
mfs key rotate --domain crm -m "$MESH"
if [ "$RC" -eq 0 ] && out_has "crm"; then
	pass "meshfs key rotate --domain crm"
else
	fail "meshfs key rotate --domain crm" "$(last_diag)"
fi
mfs key rotate -m "$MESH"
if [ "$RC" -eq 0 ] && out_has "crm" && out_has "sales"; then
	pass "meshfs key rotate rotates every domain"
else
	fail "meshfs key rotate rotates every domain" "$(last_diag)"
fi
check "rotations are audited, one row per domain" \
	test "$(audit_count "$ME" key-rotate crm "" ok)" -eq 2 -a \
	"$(audit_count "$ME" key-rotate sales "" ok)" -eq 1
mfs key rotate --domain nothing -m "$MESH"
expect_fail "key rotate of an unknown domain fails, naming it" "nothing"

gen_customers 1200 | sed 's/,gold,/,platinum,/' >"$T/customers-v3.csv"
chmod 0644 "$T/customers-v3.csv"
run_as "$OWN" cp -- "$T/customers-v3.csv" "$C/customers.csv"
expect_ok "version 3 is published through the running mount after the rotation"
key_v3=$(chunk_key_id "$C/versions/3/customers.csv")
check "the mount seals version 3 with the new key at once ($key_v2 -> $key_v3)" \
	test -n "$key_v3" -a "${key_v3:-0}" -gt "${key_v2:-0}"
reads "the owning team reads version 3 in plaintext" "$OWN" "$C/customers.csv" \
	"$T/customers-v3.csv"
reads "and version 2 under its old key" "$OWN" "$C/versions/2/customers.csv" \
	"$T/customers-v2.csv"
reads "and version 1" "$OWN" "$C/versions/1/customers.csv" "$T/customers-v1.csv"
read_as "$ANA" "$C/customers.csv" "$T/customers-v3.masked"
masked_shape <"$T/customers-v3.csv" >"$T/customers-v3.masked-shape"
shape_is "the masked view of version 3" "$T/customers-v3.masked" "$T/customers-v3.masked-shape"
flat <"$T/customers-v3.csv" >"$T/customers-v3.flat"
email_pairs "$T/customers-v3.flat" "$T/customers-v3.masked" 3 >"$T/pairs-v3"
n_joined=$(join "$T/pairs-customers" "$T/pairs-v3" | wc -l)
n_mismatch=$(join "$T/pairs-customers" "$T/pairs-v3" | awk '$2 != $3' | wc -l)
check "tokens do not change with the data key: versions 1 and 3 join ($n_joined addresses)" \
	test "$n_joined" -gt 100 -a "$n_mismatch" -eq 0

# ---- no plaintext PII at rest ----

reads "the canaries read back through the mount, in plaintext" "$OWN" \
	"$C/versions/2/customers.csv" "$T/customers-v2.csv"
REST=$(mesh_at_rest) || fail "a copy of what the shared mesh keeps at rest" "$REST"
if [ -z "$SHARED" ]; then
	check "the search covers the catalog, its WAL (the mount has it open), store and staging" \
		test -f "$MESH/catalog.db" -a -f "$MESH/catalog.db-wal" -a -d "$MESH/store" -a \
		-d "$MESH/staging"
else
	check "the search covers the database, the store's objects, the cache and staging" \
		test -s "$REST/catalog.sql" -a -s "$REST/catalog-bytea" -a \
		"$(find "$REST/objects" -type f | wc -l)" -gt 0 -a \
		"$(find "$REST/host/blocks" -type f | wc -l)" -gt 0 -a -d "$REST/host/staging"
fi
find "$REST" -type f | sort >"$T/mesh-files"
found=$(grep -r -a -F -l -e "$CANARY_NAME" -e "$CANARY_EMAIL" -e "$CANARY_PHONE" \
	-e "$CANARY_REJECTED" -e "otto@pii-canary" -e "$CANARY_UNDECLARED" -- "$REST" 2>&1)
if [ -z "$found" ]; then
	pass "no plaintext PII in any of the $(wc -l <"$T/mesh-files") files the mesh keeps at rest"
else
	fail "no plaintext PII in any file the mesh keeps at rest" "found in: $found"
fi
found=$(grep -r -a -F -l -e "$CONTROL" -- "$REST" 2>&1)
check "while a value of a column that is not PII is found there (the search works)" \
	test -n "$found"
found=$(grep -r -a -l -E 'user[0-9]+@example\.com' -- "$REST" 2>&1)
check "none of the published e-mail addresses either" test -z "$found"

# ---- export ----

mfs export crm/customers@1 "$T/export-v1.tar.gz" -m "$MESH"
expect_ok "meshfs export crm/customers@1 FILE.tar.gz"
mkdir "$T/x1"
check "the export is a gzip'd tar" tar -xzf "$T/export-v1.tar.gz" -C "$T/x1"
same_file "the export's customers.csv is version 1's plain view" "$T/x1/customers.csv" \
	"$T/customers-v1.csv"
same_file "the export's contract.yaml is version 1's" "$T/x1/contract.yaml" \
	"$DATA/customers.yaml"
check "the entries' times are version 1's publish time" test \
	"$(stat -c %Y "$T/x1/customers.csv")" = "$(stat -c %Y "$C/versions/1/customers.csv")"
check "an export with plaintext PII is mode 0600" \
	test "$(stat -c %a "$T/export-v1.tar.gz")" = 600
check "plaintext exports are audited" \
	test "$(audit_count "$ME" export crm/customers plain ok)" -eq 1
mfs export crm/customers "$T/export.zip" -m "$MESH"
expect_ok "meshfs export of the latest version as .zip"
mkdir "$T/x3"
check "the export is a zip" unzip -q "$T/export.zip" -d "$T/x3"
same_file "the zip holds version 3" "$T/x3/customers.csv" "$T/customers-v3.csv"

# ---- tampered ciphertext ----

V1=$C/versions/1/customers.csv
seg1=$(segment_file "$V1")
off1=$(chunk_offset "$V1")
check "version 1's segment is in the store" test -n "$seg1" -a -f "$seg1"
# a byte well inside the first chunk's ciphertext (after format, key id and nonce)
flip_byte "$seg1" $((off1 + 1 + 4 + 24 + 10))
forget_pages
run_as "$OWN" cat -- "$V1"
if [ "$RC" -ne 0 ] && err_has "Input/output error"; then
	pass "a plain read of a tampered chunk fails with EIO"
else
	fail "a plain read of a tampered chunk fails with EIO" "$(last_diag)"
fi
if cmp -s -n "$(stat -c %s "$T/out")" "$T/out" "$T/customers-v1.csv"; then
	pass "and what came before the error is true bytes, never garbage"
else
	fail "and what came before the error is true bytes, never garbage"
fi
# 2 KiB in: inside the first group, which closes at 4 KiB of masked bytes (table/segment_write.c)
run_as "$OWN" dd if="$V1" bs=2048 skip=1 count=1 status=none
check "a read at an offset inside the tampered group is EIO too" \
	test "$RC" -ne 0 -a "$(stat -c %s "$T/out")" = 0
reads "the masked view of the tampered version still reads" "$ANA" "$V1" \
	"$T/customers-v1.masked"
mfs verify -m "$MESH"
expect_fail "meshfs verify finds the damaged segment" "damaged|hash"
mfs export crm/customers@1 "$T/tampered.tar" -m "$MESH"
expect_fail "an export of the tampered version fails" "sealed chunk|Input/output"
check "and leaves no file behind" test ! -e "$T/tampered.tar" -a ! -e "$T/tampered.tar.tmp"
flip_byte "$seg1" $((off1 + 1 + 4 + 24 + 10))
forget_pages
reads "with the byte restored, the plain view reads again" "$OWN" "$V1" "$T/customers-v1.csv"

# ---- time travel: versions/@INSTANT and export D/P@INSTANT ----

mfs log crm/customers -m "$MESH"
cp "$T/out" "$T/log-customers"
tt1=$(log_time 1 "$T/log-customers")
tt2=$(log_time 2 "$T/log-customers")
tt3=$(log_time 3 "$T/log-customers")
# The mount, the reads and the publishes of the sections above take seconds.
check "versions 1, 2 and 3 were published in that order, 1 and 2 in different seconds" \
	test -n "$tt3" -a "${tt1:-0}" -lt "${tt2:-0}" -a "${tt2:-0}" -le "${tt3:-0}"
# instant EPOCH [FORMAT]: the instant in UTC as a name after @, RFC 3339 unless FORMAT is given.
instant()
{
	date -u -d "@$1" "+${2:-%Y-%m-%dT%H:%M:%SZ}"
}
# at_is DESC USER INSTANT WANT: versions/@INSTANT, as USER, is a symbolic link to WANT.
at_is()
{
	local got
	got=$(as "$2" readlink -- "$C/versions/@$3" 2>&1)
	if [ "$got" = "$4" ] && as "$2" test -L "$C/versions/@$3"; then
		pass "$1"
	else
		fail "$1" "readlink says '$got', expected '$4'"
	fi
}
# at_enoent DESC INSTANT: versions/@INSTANT does not exist.
at_enoent()
{
	local err
	if err=$(as "$ANA" stat -- "$C/versions/@$2" 2>&1); then
		fail "$1" "it exists: $err"
	elif [[ $err == *"No such file or directory"* ]]; then
		pass "$1"
	else
		fail "$1" "stat says: $err"
	fi
}
# Version 2 counts from its second on, as the catalog keeps publish times to the second.
tt12=$((tt2 - 1))
if [ "$tt3" -gt "$tt2" ]; then want2=2; else want2=3; fi
at_enoent "@ a second before version 1 is ENOENT" "$(instant $((tt1 - 1)))"
at_is "@ version 1's second -> 1" "$ANA" "$(instant "$tt1")" 1
at_is "@ between versions 1 and 2 -> 1" "$ANA" "$(instant "$tt12")" 1
at_is "@ version 2's second -> $want2 (the last published by then)" "$ANA" "$(instant "$tt2")" \
	"$want2"
at_is "@ after the latest version -> 3" "$ANA" "$(instant $((tt3 + 1)))" 3
at_is "@ far in the future -> the latest, 3" "$OWN" 9999-12-31T23:59:59Z 3
at_is "a fraction of a second and a numeric zone are taken" "$ANA" \
	"$(TZ=Etc/GMT-2 date -d "@$tt12" +%Y-%m-%dT%H:%M:%S.999+02:00)" 1
at_enoent "a time without a zone is ENOENT" "$(instant "$tt12" %Y-%m-%dT%H:%M:%S)"
at_enoent "a day that does not exist is ENOENT" 2026-02-30T10:00:00Z
at_enoent "a word is ENOENT" yesterday
check "versions/ lists no @ names" test "$(as "$ANA" ls -a -- "$C/versions" | grep -c @)" = 0
BETWEEN=$C/versions/@$(instant "$tt12")
check "ls of versions/@INSTANT/ lists the version's files" \
	test "$(as "$ANA" ls -- "$BETWEEN/" | tr '\n' ' ')" = "contract.yaml customers.csv "
reads "the owning team reads version 1 in plaintext through @" "$OWN" "$BETWEEN/customers.csv" \
	"$T/customers-v1.csv"
reads "a masked reader reads through @ exactly what versions/1 gives it" "$ANA" \
	"$BETWEEN/customers.csv" "$T/customers-v1.masked"
view_is "user.meshfs.view through @ for the masked reader is masked" "$ANA" \
	"$BETWEEN/customers.csv" masked
denied "no read: a table through @ is EACCES, as through versions/1" "$NONE" \
	"$BETWEEN/customers.csv"
# plain_reads_v1 USER: the audit's open-plain rows of USER for version 1 of the table.
plain_reads_v1()
{
	mfs audit -m "$MESH"
	awk -v p="$1" 'NR > 1 && $2 == p && $3 == "open-plain" && $4 == "crm/customers/customers" &&
		$5 == 1 { n++ } END { print n + 0 }' "$T/out"
}
before=$(plain_reads_v1 "$OWN")
reads "the owning team reads version 1 through @ again" "$OWN" "$BETWEEN/customers.csv" \
	"$T/customers-v1.csv"
check "a plaintext read through @ is audited as one of version 1" \
	test "$(plain_reads_v1 "$OWN")" -eq $((before + 1))
mfs export "crm/customers@$(instant "$tt12")" "$T/export-at.tar" -m "$MESH"
expect_ok "meshfs export crm/customers@INSTANT"
mfs export crm/customers@1 "$T/export-1.tar" -m "$MESH"
same_file "the export @INSTANT has the bytes of the export @1" "$T/export-at.tar" "$T/export-1.tar"
mfs export "crm/customers@$(instant $((tt1 - 1)))" "$T/export-before.tar" -m "$MESH"
expect_fail "an export @ before version 1 fails, saying so" "had no version yet at"
mfs export crm/customers@2026-02-30T10:00:00Z "$T/export-bad.tar" -m "$MESH"
expect_usage "an export @ a malformed time is a usage error naming the format" \
	"YYYY-MM-DDThh:mm:ssZ"

# ---- the master key ----

MNT2=$T/mnt-key
mkdir "$MNT2"
track_mount "$MNT2"
for mode in 0640 0604; do
	chmod "$mode" "$MESH_KEY"
	RUN_TIMEOUT=30 mfs mount -m "$MESH" "$MNT2" -o allow_other
	expect_fail "mount refuses a master key of mode $mode" "master\.key"
	check "and leaves nothing mounted" not_mounted "$MNT2"
done
chmod 0600 "$MESH_KEY"
reads "the running mount is unaffected" "$OWN" "$C/customers.csv" "$T/customers-v3.csv"

# ---- the command line follows the same rules ----

# The service user stops being a mesh admin (another admin remains), keeping read on
# crm/customers only; its next commands are judged like anyone's.
mfs grant read crm/customers "user:$ME" -m "$MESH"
expect_ok "grant read on crm/customers to the service user"
mfs grant admin mesh "user:$OWN" -m "$MESH"
expect_ok "grant admin on the mesh to $OWN"
mfs revoke admin mesh "user:$ME" -m "$MESH"
expect_ok "the service user gives up admin on the mesh"
mfs grant read mesh everyone -m "$MESH"
expect_fail "a grant by a non-admin is refused" "permission denied"
mfs key rotate -m "$MESH"
expect_fail "key rotate by a non-admin is refused" "permission denied"
mfs publish crm/customers/customers "$T/customers-v1.csv" -m "$MESH"
expect_fail "a publish without publish is refused"
exports_before=$(audit_count "$ME" export crm/customers)
mfs export crm/customers "$T/masked.tar" -m "$MESH"
expect_ok "export with read but not unmask"
mkdir "$T/xm"
tar -xf "$T/masked.tar" -C "$T/xm"
same_file "the export holds the masked view, byte for byte as the mount shows it" \
	"$T/xm/customers.csv" "$T/customers-v3.masked"
check "a masked export is not mode 0600-restricted (no plaintext)" \
	test "$(stat -c %a "$T/masked.tar")" != 600
check "the refused grant is audited" test "$(audit_count "$ME" grant mesh "" denied)" -eq 1
check "the refused key rotation is audited" \
	test "$(audit_count "$ME" key-rotate mesh "" denied)" -eq 1
check "the refused publish is audited" \
	test "$(audit_count "$ME" reject "$CUSTOMERS_OBJ" "" denied)" -eq 1
check "the masked export is not a plaintext access: no audit row" \
	test "$(audit_count "$ME" export crm/customers)" -eq "$exports_before"

# ---- unmount ----

run fusermount3 -u "$MNT"
expect_ok "fusermount3 -u"
check "nothing is left mounted" not_mounted "$MNT"
check_no_crash
finish
