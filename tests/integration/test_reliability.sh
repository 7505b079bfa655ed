#!/usr/bin/env bash
# Reliability under faults, load and hostile input (docs/RELIABILITY.md). One scratch mesh with
# three products (one holding PII, one of two tables published together as an archive):
#   hostile      malformed CSV, YAML bombs, hostile archives and decompression bombs, through the
#                command line and the mount: each refused with a clear reason, in bounded time
#                and memory, publishing nothing
#   kill         kill -9 of the daemon or of the command line at a random point of a publish,
#                TRIALS times: after a new mount every version reads back byte for byte, no half
#                version shows, the catalog and the store check out, leftovers are cleaned up
#   concurrency  publishers to one product and to several, readers of every view and grant
#                changes at once for CONC_SECONDS: dense unique versions, whole reads, no hang
#   shutdown     SIGTERM and unmounting while readers and a publish are busy
#   tamper       a flipped byte in a segment or a sealed chunk, a wrong master key
#   disk         a full disk (a small tmpfs holding a mesh) during publishes
# The arguments or SECTIONS (a list of those names) run some of them, each meson test one; SEED
# makes the random choices repeat.

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

why=$(fuse_unusable)
[ -n "$why" ] && skip_all "$why"
for tool in sha256sum tar zstd xz; do
	command -v "$tool" >/dev/null || skip_all "$tool is missing"
done

TRIALS=${TRIALS:-24}
CONC_SECONDS=${CONC_SECONDS:-15}
SEED=${SEED:-$$}
sections hostile kill concurrency shutdown tamper disk
# Bounds on one hostile input: wall time, and peak memory of the process that reads it.
HOSTILE_SECONDS=${HOSTILE_SECONDS:-30}
# (AddressSanitizer's quarantine and shadow memory count too, when the suite runs under it.)
if [ -n "${ASAN_OPTIONS:-}" ]; then
	MEM_LIMIT_KB=${MEM_LIMIT_KB:-1048576}
else
	MEM_LIMIT_KB=${MEM_LIMIT_KB:-262144}
fi
# Rows of the tables that kill trials publish: large enough that a publish takes a while.
ORDERS_ROWS=${ORDERS_ROWS:-150000}
CUSTOMERS_ROWS=${CUSTOMERS_ROWS:-80000}
LEDGER_ROWS=${LEDGER_ROWS:-60000}
RANDOM=$SEED
diag "seed $SEED (SEED=$SEED repeats the random choices), sections: $SECTIONS"

IS_ROOT=
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
HAVE_SQLITE=
command -v sqlite3 >/dev/null && HAVE_SQLITE=1
TIME_CMD=()
[ -x /usr/bin/time ] && TIME_CMD=(/usr/bin/time -f 'maxrss %M' -o "$T/rss")

# The background loops of the concurrency and shutdown checks, stopped at exit, and the file
# whose creation tells them to stop.
BG=()
STOP=$T/stop

# running: a background loop goes on (until $STOP exists, or the scratch directory is gone).
running()
{
	[ -d "$T" ] && [ ! -e "$STOP" ]
}

# lib.sh's cleanup, after the loops, the daemons and the tmpfs of the full disk check are gone.
# shellcheck disable=SC2317 # called by the exit trap
rel_exit()
{
	local status=$? p m
	for p in "${BG[@]}"; do
		kill "$p" 2>/dev/null
	done
	for m in "${MOUNTS[@]}"; do
		is_mounted "$m" && { fusermount3 -u -- "$m" 2>/dev/null ||
			fusermount3 -u -z -- "$m" 2>/dev/null; }
	done
	for p in "${DAEMONS[@]}"; do
		wait_for 5 pids_gone "$p" || kill "$p" 2>/dev/null
	done
	if [ -n "${DISK:-}" ] && is_mounted "$DISK"; then
		wait_for 5 umount "$DISK" 2>/dev/null || umount -l "$DISK"
	fi
	(exit "$status")
	cleanup
}
trap rel_exit EXIT

as_nobody()
{
	setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups -- "$@"
}

# Readers without unmask act as the user nobody, when root can become it and reach the mount.
NOBODY=
if [ -n "$IS_ROOT" ] && command -v setpriv >/dev/null && getent passwd nobody >/dev/null; then
	NOBODY_UID=$(id -u nobody)
	NOBODY_GID=$(id -g nobody)
	chmod 0711 "$T"
	as_nobody test -x "$T" && NOBODY=1
fi

# ---- data ----

# rel_orders ROWS VARIANT: an orders table (data/orders.yaml), normalized, different for each
# VARIANT.
rel_orders()
{
	awk -v n="$1" -v v="$2" 'BEGIN {
		split("placed shipped delivered cancelled returned", st, " ")
		print "order_id,customer_id,order_date,amount,status,note"
		for (i = 1; i <= n; i++)
			printf "%d,%d,%04d-%02d-%02d,%d.%02d,%s,batch %d row %d\n", i,
				(i * 7919 + v) % 5000 + 1, 2023 + i % 2, i % 12 + 1, i % 28 + 1,
				(i * 37 + v) % 900 + 1, (i * 13 + v) % 100, st[(i + v) % 5 + 1],
				v, i
	}'
}

# rel_customers ROWS VARIANT: a customers table with PII (data/customers.yaml), normalized, no
# quoted field (so that `cut -d,` splits it), different for each VARIANT.
rel_customers()
{
	awk -v n="$1" -v v="$2" 'BEGIN {
		split("Anna Ben Chloé Dariusz Emma Farid Greta Hugo Ines Jonas", first, " ")
		split("Müller Smith Rossi Dubois Jansen García Nowak Berg", last, " ")
		split("DE FR NL ES IT", country, " ")
		split("bronze silver gold", tier, " ")
		print "customer_id,full_name,email,phone,country,tier,signup_date,birth_date"
		for (i = 1; i <= n; i++)
			printf "%d%06d,%s %s,user%d@example.com,+4915%08d,%s,%s,%04d-%02d-%02d," \
				"%04d-%02d-%02d\n", v, i, first[(i + v) % 10 + 1], last[i % 8 + 1],
				(i + v) % 4000, i * 7 + v, country[i % 5 + 1],
				tier[(i + v) % 3 + 1], 2020 + i % 5, i % 12 + 1, i % 28 + 1,
				1950 + i % 50, i % 12 + 1, i % 28 + 1
	}'
}

# sha < FILE: its SHA-256, in hex.
sha()
{
	sha256sum | cut -c1-64
}

# customers_projection < CSV: the columns without PII, which the masked view shows as published.
customers_projection()
{
	cut -d, -f1,5,6,7
}

# rel_ledger DIR ROWS VARIANT: DIR/entries.csv, DIR/totals.csv and DIR/batch.tar holding both.
rel_ledger()
{
	mkdir -p "$1"
	awk -v n="$2" -v v="$3" 'BEGIN {
		print "entry_id,account,amount"
		for (i = 1; i <= n; i++)
			printf "%d,acct-%04d,%d.%02d\n", i, (i * 31 + v) % 997, (i * 17 + v) % 5000,
				i % 100
	}' >"$1/entries.csv"
	awk -v n="$2" -v v="$3" 'BEGIN {
		print "account,total,batch"
		for (i = 1; i <= n; i++)
			printf "acct-%06d,%d.%02d,%d\n", i, (i * 13 + v) % 90000, v % 100, v
	}' >"$1/totals.csv"
	tar -cf "$1/batch.tar" -C "$1" entries.csv totals.csv
}

cat >"$T/ledger.yaml" <<'EOF'
apiVersion: v3.0.2
kind: DataContract
id: urn:meshfs:test:sales:ledger
name: Ledger
version: 1.0.0
status: active
domain: sales
dataProduct: ledger
description:
  purpose: Ledger entries and account totals, always published together
schema:
  - name: entries
    physicalType: table
    properties:
      - name: entry_id
        logicalType: integer
        required: true
        primaryKey: true
      - name: account
        logicalType: string
        required: true
      - name: amount
        logicalType: number
        required: true
  - name: totals
    physicalType: table
    properties:
      - name: account
        logicalType: string
        required: true
        primaryKey: true
      - name: total
        logicalType: number
        required: true
      - name: batch
        logicalType: integer
        required: true
EOF

# One optional string column and no key: any line is a row, so that a decompression bomb is
# refused for its size, not for its content.
cat >"$T/lines.yaml" <<'EOF'
apiVersion: v3.0.2
kind: DataContract
id: urn:meshfs:test:sales:lines
version: 1.0.0
status: active
domain: sales
dataProduct: lines
schema:
  - name: lines
    physicalType: table
    properties:
      - name: line
        logicalType: string
EOF

# ---- expected contents: $T/ref/DOMAIN_PRODUCT/N/TABLE.csv for every version N ----

PRODUCTS="sales/orders crm/customers sales/ledger"

ref_dir()
{
	echo "$T/ref/${1//\//_}"
}

# How many versions the references hold, by product.
declare -A REFN

ref_count()
{
	echo "${REFN[$1]:-0}"
}

# record_version PRODUCT TABLE=FILE...: the product's next version holds these tables (the files
# are moved), the others as in the version before.
record_version()
{
	local d n pair
	d=$(ref_dir "$1")
	n=$(ref_count "$1")
	REFN[$1]=$((n + 1))
	shift
	mkdir -p "$d/$((n + 1))"
	[ "$n" -gt 0 ] && ln -- "$d/$n"/*.csv "$d/$((n + 1))/"
	for pair in "$@"; do
		rm -f -- "$d/$((n + 1))/${pair%%=*}.csv"
		mv -- "${pair#*=}" "$d/$((n + 1))/${pair%%=*}.csv"
	done
}

# readback MNT: every version of every product, and the latest, read through MNT and compared
# with the references; prints each difference.
readback()
{
	local mnt=$1 p d n v f t link got
	for p in $PRODUCTS; do
		d=$(ref_dir "$p")
		n=$(ref_count "$p")
		for ((v = 1; v <= n; v++)); do
			for f in "$d/$v"/*.csv; do
				t=$(basename "$f")
				got=$mnt/$p/versions/$v/$t
				timeout 120 cmp -s -- "$got" "$f" && continue
				echo "$p version $v $t:" \
					"$(timeout 120 cmp -- "$got" "$f" 2>&1 | head -n 1)"
			done
		done
		[ "$n" -gt 0 ] || continue
		for f in "$d/$n"/*.csv; do
			t=$(basename "$f")
			timeout 120 cmp -s -- "$mnt/$p/$t" "$f" ||
				echo "$p/$t is not version $n:" \
					"$(timeout 120 cmp -- "$mnt/$p/$t" "$f" 2>&1 | head -n 1)"
		done
		link=$(readlink -- "$mnt/$p/versions/latest" 2>&1)
		[ "$link" = "$n" ] || echo "$p/versions/latest -> '$link', expected $n"
	done
}

# adopt_versions: versions that a failed check let through become references as they read, so
# that the checks after it judge only what they do themselves.
adopt_versions()
{
	local p n v f t pairs
	for p in $PRODUCTS; do
		n=$(log_count "$p")
		for ((v = $(ref_count "$p") + 1; v <= n; v++)); do
			pairs=()
			for f in "$(ref_dir "$p")/$((v - 1))"/*.csv; do
				t=$(basename "$f" .csv)
				timeout 120 cat -- "$MNT/$p/versions/$v/$t.csv" >"$T/adopt-$t.csv"
				pairs+=("$t=$T/adopt-$t.csv")
			done
			record_version "$p" "${pairs[@]}"
			diag "$p version $v (let through above) is taken as it reads"
		done
	done
}

# ---- the mesh's state ----

# log_numbers PRODUCT: the version numbers meshfs log lists (see lib.sh's log_block).
log_numbers()
{
	timeout 60 "$MESHFS" log "$1" -m "$MESH" 2>/dev/null | awk '
		/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]/ {
			for (i = 1; i <= NF; i++) {
				f = $i
				gsub(/^(v|#|version)/, "", f)
				gsub(/[:,]$/, "", f)
				if (f ~ /^[0-9]+$/) {
					print f
					break
				}
			}
		}'
}

# log_count PRODUCT: how many versions meshfs log lists.
log_count()
{
	log_numbers "$1" | wc -l
}

# log_dense PRODUCT N: meshfs log lists versions 1 to N, each once.
log_dense()
{
	[ "$(log_numbers "$1" | sort -n | tr '\n' ' ')" = "$(seq 1 "$2" | tr '\n' ' ')" ]
}

# leftovers: files under store/tmp and staging (interrupted writes, uploads).
leftovers()
{
	find "$MESH/store/tmp" "$MESH/staging" -mindepth 1 2>/dev/null | wc -l
}

# blobs_digest: one line that changes when any blob is added or removed.
blobs_digest()
{
	store_blobs | sha256sum | cut -c1-16
}

# catalog_integrity: "ok" when SQLite's integrity check passes on the catalog.
catalog_integrity()
{
	if [ -n "$HAVE_SQLITE" ]; then
		timeout 60 sqlite3 -readonly "$MESH/catalog.db" 'PRAGMA integrity_check;' 2>&1
	else
		echo ok
	fi
}

# verify_mesh: runs meshfs verify; VERIFY_RC its status, UNREFERENCED the blobs it reports.
verify_mesh()
{
	timeout 300 "$MESHFS" verify -m "$MESH" >"$T/verify.out" 2>"$T/verify.err" </dev/null
	VERIFY_RC=$?
	UNREFERENCED=$(grep -Eo '[0-9]+ unreferenced blob' "$T/verify.out" | grep -Eo '^[0-9]+')
	: "${UNREFERENCED:=?}"
}

verify_diag()
{
	echo "meshfs verify: exit $VERIFY_RC"
	head -n 8 "$T/verify.out" "$T/verify.err"
}

# ---- daemons ----

DPID=

# start_daemon MNT [OPTION...]: a foreground daemon serving MESH on MNT, its pid in DPID.
start_daemon()
{
	local mnt=$1
	shift
	"$MESHFS" mount -f -m "$MESH" "$mnt" "$@" </dev/null >>"$T/daemon.log" 2>&1 &
	DPID=$!
	track_daemon "$DPID"
	wait_for 10 mountpoint -q -- "$mnt"
}

# stop_daemon MNT: unmounts MNT and waits for its daemon to exit.
stop_daemon()
{
	fusermount3 -u -- "$1" 2>/dev/null || fusermount3 -u -z -- "$1" 2>/dev/null
	wait_for 30 pids_gone "$DPID"
	wait "$DPID" 2>/dev/null
}

now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

sleep_ms()
{
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# peak_kb PID: the peak resident memory of a running process, in KiB.
peak_kb()
{
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ---- the mesh ----

setup_mesh
setup_step "domain create sales" domain create sales --owner data-eng -m "$MESH"
setup_step "domain create crm" domain create crm --owner data-eng -m "$MESH"
setup_step "product create sales/orders" product create sales/orders \
	--contract "$DATA/orders.yaml" -m "$MESH"
setup_step "product create crm/customers (PII)" product create crm/customers \
	--contract "$DATA/customers.yaml" -m "$MESH"
setup_step "product create sales/ledger (two tables)" product create sales/ledger \
	--contract "$T/ledger.yaml" -m "$MESH"
setup_step "product create sales/lines" product create sales/lines --contract "$T/lines.yaml" \
	-m "$MESH"

MNT=$T/mnt
mkdir "$MNT" "$T/in"
track_mount "$MNT"

# Version 1 of each product through the command line, version 2 through the mount; each timed,
# to aim the kills of the trials below.
declare -A DURATION
rel_orders "$ORDERS_ROWS" 1 >"$T/in/orders.csv"
start=$(now_ms)
setup_step "publish sales/orders version 1 ($ORDERS_ROWS rows)" publish sales/orders/orders \
	"$T/in/orders.csv" -m "$MESH"
DURATION[orders:cli]=$(($(now_ms) - start))
record_version sales/orders orders="$T/in/orders.csv"
rel_customers "$CUSTOMERS_ROWS" 1 >"$T/in/customers.csv"
start=$(now_ms)
setup_step "publish crm/customers version 1 ($CUSTOMERS_ROWS rows)" \
	publish crm/customers/customers "$T/in/customers.csv" -m "$MESH"
DURATION[customers:cli]=$(($(now_ms) - start))
record_version crm/customers customers="$T/in/customers.csv"
rel_ledger "$T/in/ledger" "$LEDGER_ROWS" 1
start=$(now_ms)
setup_step "publish sales/ledger version 1 (an archive of two tables)" publish sales/ledger \
	"$T/in/ledger/batch.tar" -m "$MESH"
DURATION[ledger:cli]=$(($(now_ms) - start))
record_version sales/ledger entries="$T/in/ledger/entries.csv" totals="$T/in/ledger/totals.csv"

start_daemon "$MNT" || bail_out "meshfs mount -f mounts" "$(tail -n 5 "$T/daemon.log")"
rel_orders "$ORDERS_ROWS" 2 >"$T/in/orders.csv"
start=$(now_ms)
check "publish sales/orders version 2 through the mount" \
	timeout 120 cp "$T/in/orders.csv" "$MNT/sales/orders/orders.csv"
DURATION[orders:mount]=$(($(now_ms) - start))
record_version sales/orders orders="$T/in/orders.csv"
rel_customers "$CUSTOMERS_ROWS" 2 >"$T/in/customers.csv"
start=$(now_ms)
check "publish crm/customers version 2 through the mount" \
	timeout 120 cp "$T/in/customers.csv" "$MNT/crm/customers/customers.csv"
DURATION[customers:mount]=$(($(now_ms) - start))
record_version crm/customers customers="$T/in/customers.csv"
rel_ledger "$T/in/ledger" "$LEDGER_ROWS" 2
start=$(now_ms)
check "publish sales/ledger version 2 through the mount (an archive)" \
	timeout 120 cp "$T/in/ledger/batch.tar" "$MNT/sales/ledger/batch.tar"
DURATION[ledger:mount]=$(($(now_ms) - start))
record_version sales/ledger entries="$T/in/ledger/entries.csv" totals="$T/in/ledger/totals.csv"
problems=$(readback "$MNT")
if [ -z "$problems" ]; then
	pass "versions 1 and 2 of each product read back byte for byte"
else
	bail_out "versions 1 and 2 of each product read back byte for byte" "$problems"
fi
diag "publish times (ms): $(for k in "${!DURATION[@]}"; do echo -n "$k=${DURATION[$k]} "; done)"

# ---- hostile input ----

# snapshot PRODUCT: what a refused input must leave as it was.
snapshot()
{
	local products policy
	products=$(timeout 60 "$MESHFS" product list -m "$MESH" 2>&1 | sha | cut -c1-16)
	policy=$(timeout 60 "$MESHFS" policy show -m "$MESH" 2>&1 | sha | cut -c1-16)
	echo "versions $(log_count "$1"), blobs $(blobs_digest), leftovers $(leftovers)," \
		"products $products, policy $policy"
}

# judge DESC ERE BEFORE AFTER ELAPSED_MS RSS_KB: the last command ($RC, $T/err) refused its input
# with a reason matching ERE, within the bounds, and changed nothing.
judge()
{
	local desc=$1 ere=$2 why=()
	if [ "$RC" -eq 0 ]; then
		why+=("it was accepted")
	elif [ "$RC" -ge 124 ]; then
		why+=("it did not end cleanly (exit $RC: killed, or over ${HOSTILE_SECONDS}s)")
	elif ! grep -Eqi -- "$ere" "$T/err"; then
		why+=("the reason does not match /$ere/")
	fi
	[ "$5" -le $((HOSTILE_SECONDS * 1000)) ] || why+=("took $5 ms")
	[ -z "$6" ] || [ "$6" -le "$MEM_LIMIT_KB" ] ||
		why+=("peak memory $6 KiB > $MEM_LIMIT_KB KiB")
	[ "$3" = "$4" ] || why+=("the mesh changed: before: $3" "after: $4")
	if [ ${#why[@]} -eq 0 ]; then
		pass "$desc: $(head -c 160 "$T/err" | head -n 1) (${5} ms${6:+, ${6} KiB})"
	else
		fail "$desc" "${why[@]}" "$(last_diag)"
	fi
	HOSTILE_INPUTS=$((HOSTILE_INPUTS + 1))
}

HOSTILE_INPUTS=0

# hostile DESC ERE PRODUCT GENERATOR|- MESHFS-ARGS...: meshfs MESHFS-ARGS (reading GENERATOR's
# output on its standard input, unless -) refuses the input: see judge. PRODUCT is the one that
# must not get a version.
hostile()
{
	local desc=$1 ere=$2 product=$3 gen=$4 before start elapsed rss
	shift 4
	before=$(snapshot "$product")
	rm -f "$T/rss"
	LAST_CMD="meshfs $*"
	start=$(now_ms)
	if [ "$gen" = - ]; then
		${TIME_CMD[@]+"${TIME_CMD[@]}"} timeout -k 5 "$HOSTILE_SECONDS" "$MESHFS" "$@" \
			-m "$MESH" </dev/null >"$T/out" 2>"$T/err"
		RC=$?
	else
		"$gen" 2>/dev/null | ${TIME_CMD[@]+"${TIME_CMD[@]}"} timeout -k 5 \
			"$HOSTILE_SECONDS" "$MESHFS" "$@" -m "$MESH" >"$T/out" 2>"$T/err"
		RC=${PIPESTATUS[1]}
	fi
	elapsed=$(($(now_ms) - start))
	rss=$(awk '$1 == "maxrss" { print $2 }' "$T/rss" 2>/dev/null)
	judge "$desc" "$ere" "$before" "$(snapshot "$product")" "$elapsed" "$rss"
}

# last_rejection < publish.log: the last refused attempt and its reasons.
last_rejection()
{
	awk '/REJECTED/ { block = "" } { block = block $0 "\n" } END { printf "%s", block }'
}

# hostile_mount DESC ERE PRODUCT FILE NAME: cp FILE MNT/PRODUCT/NAME fails, publish.log gives a
# reason matching ERE for it, and the rest as judge. The daemon's memory is checked at the end.
hostile_mount()
{
	local desc=$1 ere=$2 product=$3 before start elapsed
	before=$(snapshot "$product")
	LAST_CMD="cp $4 MNT/$product/$5"
	start=$(now_ms)
	timeout -k 5 "$HOSTILE_SECONDS" cp -- "$4" "$MNT/$product/$5" >"$T/out" 2>"$T/cp.err" \
		</dev/null
	RC=$?
	elapsed=$(($(now_ms) - start))
	timeout 30 cat -- "$MNT/$product/publish.log" 2>&1 | last_rejection >"$T/err"
	cat "$T/cp.err" >>"$T/err"
	rm -f -- "$MNT/$product/$5" 2>/dev/null
	judge "$desc" "$ere" "$before" "$(snapshot "$product")" "$elapsed" ""
}

ORDERS_HEADER=order_id,customer_id,order_date,amount,status,note

# big_field: a row whose last field is 100 MiB long.
# shellcheck disable=SC2317 # called through hostile
big_field()
{
	echo "$ORDERS_HEADER"
	printf '1,1,2024-01-01,1.00,placed,"'
	head -c $((100 << 20)) /dev/zero | tr '\0' a
	printf '"\n'
}

# wide_header: a header of a billion columns (a gigabyte of commas).
# shellcheck disable=SC2317 # called through hostile
wide_header()
{
	head -c 1000000000 /dev/zero | tr '\0' ,
	printf '\n1\n'
}

# repeat FILE N: FILE's bytes N times (N a power of two), by doubling.
repeat()
{
	local n=1
	cp -- "$1" "$1.x1"
	while [ "$n" -lt "$2" ]; do
		cat -- "$1.x$n" "$1.x$n" >"$1.x$((n * 2))"
		rm -f -- "$1.x$n"
		n=$((n * 2))
	done
	cat -- "$1.x$n"
	rm -f -- "$1.x$n"
}

# frames COMPRESSOR N: N MiB of "x" lines as N + 1 concatenated compressed streams of one MiB
# each, after a header line: small, and huge once decompressed.
frames()
{
	yes x | head -c $((1 << 20)) >"$T/h/xs"
	"$1" -9 <"$T/h/xs" >"$T/h/frame-$1"
	{ printf 'line\n'; cat "$T/h/xs"; } | "$1" -9
	repeat "$T/h/frame-$1" "$2"
}

if section hostile; then
	S0=$SECONDS
	H=$T/h
	mkdir -p "$H/arc"
	base_versions=$(log_count sales/orders)
	printf '%s\n' "$ORDERS_HEADER" '1,1,2024-01-01,1.00,placed,"unbalanced' \
		'2,2,2024-01-01,1.00,placed,x' >"$H/quote.csv"
	printf '%s\n' "$ORDERS_HEADER" '1,1,2024-01-01,1.00,placed,x' '2,2,2024-01-01,1.00,placed' \
		>"$H/short.csv"
	printf '%s\n' "$ORDERS_HEADER" '1,1,2024-01-01,1.00,placed,x,surplus' >"$H/long.csv"
	{
		echo "$ORDERS_HEADER"
		printf '1,1,2024-01-01,1.00,placed,a\0b\n'
	} >"$H/nul.csv"
	{
		echo "$ORDERS_HEADER"
		printf '1,1,2024-01-01,1.00,placed,caf\xe9 \xff\xfe\n'
	} >"$H/utf8.csv"
	{
		echo "$ORDERS_HEADER"
		printf '1,1,2024-01-01,1.00,placed,"'
		head -c $((20 << 20)) /dev/zero | tr '\0' a
		printf '"\n'
	} >"$H/field20m.csv"
	{
		head -c 1000000 /dev/zero | tr '\0' ,
		printf '\n1\n'
	} >"$H/wide1m.csv"

	hostile "CSV with an unbalanced quote is refused, naming line and column" \
		'quote.csv:[0-9]+:[0-9]+:.*(quot|terminat)' sales/orders - \
		publish sales/orders/orders "$H/quote.csv"
	hostile "CSV with a short row is refused" 'short.csv:3.*(field|column)' sales/orders - \
		publish sales/orders/orders "$H/short.csv"
	hostile "CSV with a long row is refused" 'long.csv:2.*(field|column)' sales/orders - \
		publish sales/orders/orders "$H/long.csv"
	hostile "CSV with a NUL byte is refused" 'nul.csv:2.*NUL' sales/orders - \
		publish sales/orders/orders "$H/nul.csv"
	hostile "CSV with invalid UTF-8 is refused" 'utf8.csv:2.*(UTF-?8|encoding)' sales/orders - \
		publish sales/orders/orders "$H/utf8.csv"
	hostile "CSV with a 100 MiB field (from a pipe) is refused" \
		'(field|value).*(long|large|limit)' sales/orders big_field \
		publish sales/orders/orders -
	hostile "CSV with a billion-column header (from a pipe) is refused" \
		'(fields|columns)' sales/orders wide_header publish sales/orders/orders -

	# YAML bombs: a billion laughs in ten-fold aliases, and deep nesting, flow and block.
	{
		printf '%s\n' 'apiVersion: v3.0.2' 'kind: DataContract' 'id: urn:meshfs:test:bomb' \
			'version: 1.0.0' 'status: active' 'domain: sales' 'dataProduct: bomb' \
			'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'
		for i in 1 2 3 4 5 6 7 8 9; do
			printf 'a%d: &a%d [%s]\n' "$i" "$i" \
				"$(printf "*a$((i - 1)), %.0s" 1 2 3 4 5 6 7 8 9)*a$((i - 1))"
		done
		echo 'schema: *a9'
	} >"$H/laughs.yaml"
	{
		printf '%s\n' 'apiVersion: v3.0.2' 'kind: DataContract' 'domain: sales' \
			'dataProduct: bomb'
		printf 'x: '
		printf '%100000s' '' | tr ' ' '['
		printf '%100000s' '' | tr ' ' ']'
		echo
	} >"$H/deep-flow.yaml"
	{
		printf '%s\n' 'apiVersion: v3.0.2' 'kind: DataContract' 'domain: sales' \
			'dataProduct: bomb' 'x:'
		awk 'BEGIN { for (i = 1; i <= 1000; i++) printf "%" (i + 1) "sk:\n", "" }'
	} >"$H/deep-block.yaml"
	{
		sed 's/^dataProduct: orders$/dataProduct: bomb/' "$DATA/orders.yaml"
		printf 'x: "'
		head -c $((4 << 20)) /dev/zero | tr '\0' a
		echo '"'
	} >"$H/huge.yaml"
	for y in laughs deep-flow deep-block huge; do
		case $y in
		laughs) ere='alias|anchor' ;;
		huge) ere='too large|exceed|larger|limit' ;;
		*) ere='nest|deep|depth' ;;
		esac
		hostile "YAML $y: product create is refused" "$ere" sales/orders - \
			product create sales/bomb --contract "$H/$y.yaml"
		hostile "YAML $y: a proposed contract is refused" "$ere" sales/orders - \
			contract sales/orders "$H/$y.yaml"
		hostile "YAML $y: policy set is refused" "$ere" sales/orders - \
			policy set "$H/$y.yaml"
	done

	# Archives that reach outside, hold links or nest.
	printf '%s\n' "$ORDERS_HEADER" '1,1,2024-01-01,1.00,placed,x' >"$H/arc/orders.csv"
	ln -s /etc/passwd "$H/arc/link.csv"
	ln "$H/arc/orders.csv" "$H/arc/hard.csv"
	gzip -c "$H/arc/orders.csv" >"$H/arc/orders.csv.gz"
	tar -cf "$H/arc/inner.tar" -C "$H/arc" orders.csv
	mkdir -p "$H/arc/many"
	(cd "$H/arc/many" && mkdir d{1..1500})
	tar -cf "$H/dotdot.tar" -C "$H/arc" -P --transform 's,^,../,' orders.csv
	tar -cf "$H/absolute.tar" -C "$H/arc" -P --transform 's,^,/tmp/,' orders.csv
	tar -cf "$H/symlink.tar" -C "$H/arc" --transform 's,^link,orders,' link.csv
	tar -cf "$H/hardlink.tar" -C "$H/arc" orders.csv hard.csv
	tar -cf "$H/nested-gz.tar" -C "$H/arc" orders.csv.gz
	tar -cf "$H/nested-tar.tar" -C "$H/arc" inner.tar
	tar -cf "$H/many.tar" -C "$H/arc" many
	hostile "an archive entry with '..' is refused" '\.\./orders\.csv|\.\.' sales/orders - \
		publish sales/orders "$H/dotdot.tar"
	hostile "an archive entry with an absolute path is refused" 'absolute' sales/orders - \
		publish sales/orders "$H/absolute.tar"
	hostile "an archive entry that is a symbolic link is refused" 'link' sales/orders - \
		publish sales/orders "$H/symlink.tar"
	hostile "an archive entry that is a hard link is refused" 'link' sales/orders - \
		publish sales/orders "$H/hardlink.tar"
	hostile "a compressed file inside an archive is refused" 'compress|archive' sales/orders - \
		publish sales/orders "$H/nested-gz.tar"
	hostile "an archive inside an archive is refused" 'archive|compress' sales/orders - \
		publish sales/orders "$H/nested-tar.tar"
	hostile "an archive of 1500 entries is refused" 'entries' sales/orders - \
		publish sales/orders "$H/many.tar"
	if command -v python3 >/dev/null; then
		python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("../orders.csv", open(sys.argv[2]).read())' "$H/dotdot.zip" "$H/arc/orders.csv"
		hostile "a zip entry with '..' is refused" '\.\.' sales/orders - \
			publish sales/orders "$H/dotdot.zip"
	else
		skip "a zip entry with '..' is refused" "python3 is missing"
	fi

	# Decompression bombs: concatenated streams, each one MiB of lines.
	frames zstd 4096 >"$H/lines.csv.zst"
	frames xz 4096 >"$H/lines.csv.xz"
	frames gzip 256 >"$H/lines.csv.gz"
	truncate -s 4G "$H/arc/lines.csv"
	tar -cf - -C "$H/arc" lines.csv 2>/dev/null | head -c 512 >"$H/tar-header"
	rm -f "$H/arc/lines.csv"
	{
		{
			cat "$H/tar-header"
			printf 'line\n'
			cat "$H/xs"
		} | zstd -9
		repeat "$H/frame-zstd" 4096
	} >"$H/lines.tar.zst" 2>/dev/null
	diag "bombs: $(stat -c '%n %s bytes' "$H"/lines.* | sed "s,$H/,,")"
	bomb='bomb|decompress|ratio|expand|limit'
	for z in zst:4GiB xz:4GiB gz:256MiB; do
		f=$H/lines.csv.${z%:*}
		hostile "a .csv.${z%:*} bomb (${z#*:} of lines in $(stat -c %s "$f") bytes)" \
			"$bomb" sales/lines - publish sales/lines "$f"
	done
	hostile "a .tar.zst bomb (an entry of 4 GiB) is refused" "$bomb" sales/lines - \
		publish sales/lines "$H/lines.tar.zst"

	# The same through the mount: close() fails, publish.log says why.
	hostile_mount "mount: CSV with an unbalanced quote is refused" '(quot|terminat)' \
		sales/orders "$H/quote.csv" orders.csv
	hostile_mount "mount: CSV with a NUL byte is refused" 'NUL' sales/orders "$H/nul.csv" \
		orders.csv
	hostile_mount "mount: CSV with invalid UTF-8 is refused" 'UTF-?8|encoding' sales/orders \
		"$H/utf8.csv" orders.csv
	hostile_mount "mount: CSV with a 20 MiB field is refused" \
		'(field|value).*(long|large|limit)' sales/orders "$H/field20m.csv" orders.csv
	hostile_mount "mount: CSV with a million-column header is refused" '(fields|columns)' \
		sales/orders "$H/wide1m.csv" orders.csv
	hostile_mount "mount: an archive entry with '..' is refused" '\.\.' sales/orders \
		"$H/dotdot.tar" batch.tar
	hostile_mount "mount: a .csv.zst bomb is refused" "$bomb" sales/lines "$H/lines.csv.zst" \
		lines.csv.zst
	hostile_mount "mount: a billion laughs as contract.yaml is refused" 'alias|anchor' \
		sales/orders "$H/laughs.yaml" contract.yaml
	hostile_mount "mount: a deeply nested contract.yaml is refused" 'nest|deep|depth' \
		sales/orders "$H/deep-flow.yaml" contract.yaml
	peak=$(peak_kb "$DPID")
	if [ -n "$peak" ] && [ "$peak" -le "$MEM_LIMIT_KB" ]; then
		pass "the daemon's peak memory stays bounded through all that ($peak KiB)"
	else
		fail "the daemon's peak memory stays bounded through all that" \
			"peak ${peak:-unknown} KiB, limit $MEM_LIMIT_KB KiB"
	fi
	check "the daemon is still serving" timeout 30 cmp -s \
		"$MNT/sales/orders/versions/1/orders.csv" "$(ref_dir sales/orders)/1/orders.csv"
	check "sales/orders has the versions it had before" \
		test "$(log_count sales/orders)" = "$base_versions"
	check "no product named bomb was created" \
		test "$(timeout 30 "$MESHFS" product list -m "$MESH" | grep -c bomb)" = 0
	diag "hostile inputs tried: $HOSTILE_INPUTS"
	rm -rf -- "$H"
	adopt_versions
	diag "section hostile: $((SECONDS - S0)) s"
fi

# ---- kill -9 during publishes ----

# What went wrong, by property, over all trials; one line per trial at fault.
declare -A KFAIL
kfail()
{
	KFAIL[$1]+="trial $TRIAL ($MODE, kill after $DELAY ms): ${*:2}"$'\n'
}

kreport()
{
	if [ -z "${KFAIL[$2]:-}" ]; then
		pass "$1"
	else
		fail "$1" "$(printf '%s' "${KFAIL[$2]}" | head -n 20)"
	fi
}

# Each trial publishes in one of these ways (product:path) and kills the daemon (mount) or the
# command (cli) after a random delay, at most a quarter more than such a publish takes.
MODES=(orders:mount customers:cli ledger:mount orders:cli customers:mount ledger:cli)

if section kill; then
	S0=$SECONDS
	mountpoint -q -- "$MNT" || start_daemon "$MNT" ||
		bail_out "meshfs mount -f mounts" "$(tail -n 5 "$T/daemon.log")"
	# bash reports each killed job on stderr: that is the point here, not news
	exec 3>&2 2>>"$T/shell.log"
	K_INTERRUPTED=0
	K_COMMITTED=0
	K_ORPHANS=0
	K_ORPHAN_TRIALS=0
	K_LEFTOVERS=0
	K_LEFTOVER_TRIALS=0
	k_start=$(now_ms)
	for ((TRIAL = 1; TRIAL <= TRIALS; TRIAL++)); do
		MODE=${MODES[(TRIAL - 1) % ${#MODES[@]}]}
		kind=${MODE%%:*}
		via=${MODE#*:}
		variant=$((TRIAL + 2))
		in=$T/in/trial
		rm -rf -- "$in"
		mkdir -p "$in"
		case $kind in
		orders)
			product=sales/orders target=sales/orders/orders name=orders.csv
			rel_orders "$ORDERS_ROWS" "$variant" >"$in/orders.csv"
			file=$in/orders.csv
			pairs=(orders="$in/orders.csv")
			;;
		customers)
			product=crm/customers target=crm/customers/customers name=customers.csv
			rel_customers "$CUSTOMERS_ROWS" "$variant" >"$in/customers.csv"
			file=$in/customers.csv
			pairs=(customers="$in/customers.csv")
			;;
		ledger)
			product=sales/ledger target=sales/ledger name=batch.tar
			rel_ledger "$in" "$LEDGER_ROWS" "$variant"
			file=$in/batch.tar
			pairs=(entries="$in/entries.csv" totals="$in/totals.csv")
			;;
		esac
		before=$(log_count "$product")
		DELAY=$((RANDOM % (DURATION[$MODE] * 5 / 4 + 20)))
		if [ "$via" = mount ]; then
			cp -- "$file" "$MNT/$product/$name" 2>"$T/writer.err" &
		else
			"$MESHFS" publish "$target" "$file" -m "$MESH" </dev/null >/dev/null \
				2>"$T/writer.err" &
		fi
		wpid=$!
		sleep_ms "$DELAY"
		if [ "$via" = mount ]; then
			kill -9 "$DPID"
		else
			kill -9 "$wpid" 2>/dev/null
		fi
		if ! wait_for 60 pids_gone "$wpid"; then
			kfail hang "the writer did not end within 60 s of the kill"
			kill -9 "$wpid" 2>/dev/null
		fi
		wait "$wpid"
		wrc=$?
		if [ "$via" = mount ]; then
			wait "$DPID" 2>/dev/null
			fusermount3 -u -z -- "$MNT" 2>/dev/null
			wait_for 10 not_mounted "$MNT" ||
				kfail mount "the dead mount cannot be unmounted"
		else
			stop_daemon "$MNT"
		fi

		# What the kill left, before a new mount cleans up.
		left=$(leftovers)
		integrity=$(catalog_integrity)
		[ "$integrity" = ok ] || kfail integrity "$integrity"
		verify_mesh
		[ "$VERIFY_RC" -eq 0 ] || kfail verify "$(verify_diag | tr '\n' ' ')"
		orphans=$UNREFERENCED

		if ! start_daemon "$MNT"; then
			kfail mount "no new mount: $(tail -n 3 "$T/daemon.log" | tr '\n' ' ')"
			break
		fi
		[ "$(leftovers)" -eq 0 ] ||
			kfail clean "after the new mount, $(leftovers) files in store/tmp, staging"
		verify_mesh
		if [ "$VERIFY_RC" -ne 0 ] || [ "$UNREFERENCED" != 0 ]; then
			kfail clean "after the new mount: $(verify_diag | tr '\n' ' ')"
		fi
		after=$(log_count "$product")
		case $((after - before)) in
		0)
			[ "$wrc" -ne 0 ] ||
				kfail lost "the $via publish succeeded but no version was added"
			;;
		1)
			record_version "$product" "${pairs[@]}"
			K_COMMITTED=$((K_COMMITTED + 1))
			;;
		*)
			kfail half "$product went from $before to $after versions"
			adopt_versions
			;;
		esac
		log_dense "$product" "$after" ||
			kfail dense "$product: $(log_numbers "$product" | tr '\n' ' ')"
		problems=$(readback "$MNT")
		[ -z "$problems" ] || kfail readback "$(echo "$problems" | head -n 3 | tr '\n' ' ')"
		[ "$wrc" -ne 0 ] && K_INTERRUPTED=$((K_INTERRUPTED + 1))
		if [ "$orphans" != 0 ]; then
			K_ORPHAN_TRIALS=$((K_ORPHAN_TRIALS + 1))
			K_ORPHANS=$((K_ORPHANS + ${orphans//[!0-9]/}))
		fi
		if [ "$left" -ne 0 ]; then
			K_LEFTOVER_TRIALS=$((K_LEFTOVER_TRIALS + 1))
			K_LEFTOVERS=$((K_LEFTOVERS + left))
		fi
	done
	TRIAL=all MODE=all DELAY=-
	kreport "kill -9: the writer always ends after the kill" hang
	kreport "kill -9: a dead mount unmounts and a new one starts after every kill" mount
	kreport "kill -9: the catalog passes PRAGMA integrity_check after every kill" integrity
	kreport "kill -9: meshfs verify passes after every kill" verify
	kreport "kill -9: each new mount removes store/tmp, staging and orphaned blobs" clean
	kreport "kill -9: no half version: a publish adds one whole version or none" half
	kreport "kill -9: a publish that reported success is never lost" lost
	kreport "kill -9: versions stay numbered 1..N, each once" dense
	kreport "kill -9: after each new mount every version reads back byte for byte" readback
	if [ "$TRIALS" -ge ${#MODES[@]} ]; then
		check "kill -9: the kills interrupted publishes (else the trials test nothing)" \
			test "$K_INTERRUPTED" -gt 0
	fi
	exec 2>&3 3>&-
	msg="kill -9: $TRIALS trials in $((($(now_ms) - k_start) / 1000)) s, $K_INTERRUPTED"
	msg+=" publishes interrupted, $K_COMMITTED versions committed; before the new mount,"
	msg+=" $K_ORPHAN_TRIALS trials had left $K_ORPHANS orphaned blobs, $K_LEFTOVER_TRIALS"
	msg+=" trials $K_LEFTOVERS files in store/tmp or staging"
	diag "$msg"
	diag "section kill: $((SECONDS - S0)) s"
fi

# ---- concurrency ----

# conc_publisher NAME VIA PRODUCT BASE: publishes new versions of PRODUCT through VIA (mount or
# cli) until $STOP exists, variants BASE+1, BASE+2…; one line per attempt in $C/NAME.log:
# "STATUS HASH…" (the tables' hashes, and for customers the masked columns' hash).
conc_publisher()
{
	local name=$1 via=$2 product=$3 k=0 v rc dir=$C/$1 file upload target hashes
	mkdir -p "$dir"
	while running; do
		k=$((k + 1))
		v=$(($4 + k))
		case $product in
		sales/orders)
			rel_orders "$C_ROWS" "$v" >"$dir/orders.csv"
			file=$dir/orders.csv upload=orders.csv target=sales/orders/orders
			hashes=$(sha <"$file")
			;;
		crm/customers)
			rel_customers "$C_ROWS" "$v" >"$dir/customers.csv"
			file=$dir/customers.csv upload=customers.csv target=crm/customers/customers
			hashes="$(sha <"$file") $(customers_projection <"$file" | sha)"
			;;
		sales/ledger)
			rel_ledger "$dir" "$C_ROWS" "$v"
			file=$dir/batch.tar upload=batch.tar target=sales/ledger
			hashes="$(sha <"$dir/entries.csv") $(sha <"$dir/totals.csv")"
			;;
		esac
		if [ "$via" = mount ]; then
			timeout 60 cp -- "$file" "$MNT/$product/$upload" 2>"$dir/err"
		else
			timeout 60 "$MESHFS" publish "$target" "$file" -m "$MESH" </dev/null \
				>/dev/null 2>"$dir/err"
		fi
		rc=$?
		echo "$rc $hashes" >>"$C/$name.log"
		[ "$rc" -eq 0 ] ||
			echo "$name attempt $k: exit $rc: $(head -n 2 "$dir/err" | tr '\n' ' ')" \
				>>"$C/failures"
	done
}

# conc_read WHO FILE OUT: reads FILE as WHO (root or nobody) into OUT, errors in OUT.err.
conc_read()
{
	if [ "$1" = nobody ]; then
		as_nobody timeout 30 cat -- "$2" >"$3" 2>"$3.err"
	else
		timeout 30 cat -- "$2" >"$3" 2>"$3.err"
	fi
}

# conc_reader NAME WHO WHAT: reads WHAT until $STOP exists; one line per read in $C/NAME.log:
# "STATUS WHAT HASH PROJECTION-HASH AT-SIGNS ERROR". WHAT: orders or customers (the latest),
# versions (a random version of either), ledger (both tables of a random version: "STATUS
# ledger HASH HASH") or meta (the generated documents and listings).
conc_reader()
{
	local name=$1 who=$2 what=$3 buf=$C/$1.buf file n v rc rc2 i=0 p
	local meta=(README.md catalog.csv lineage.dot sales/README.md sales/orders/README.md
		crm/customers/README.md crm/customers/contract.yaml sales/orders/publish.log)
	while running; do
		case $what in
		orders) file=$MNT/sales/orders/orders.csv ;;
		customers) file=$MNT/crm/customers/customers.csv ;;
		versions)
			p=sales/orders/orders
			[ $((RANDOM % 2)) -eq 0 ] && p=crm/customers/customers
			n=$(readlink -- "$MNT/${p%/*}/versions/latest")
			v=$((RANDOM % ${n:-1} + 1))
			file=$MNT/${p%/*}/versions/$v/${p##*/}.csv
			;;
		ledger)
			n=$(readlink -- "$MNT/sales/ledger/versions/latest")
			v=$((RANDOM % ${n:-1} + 1))
			conc_read "$who" "$MNT/sales/ledger/versions/$v/entries.csv" "$buf"
			rc=$?
			conc_read "$who" "$MNT/sales/ledger/versions/$v/totals.csv" "$buf.2"
			rc2=$?
			echo "$((rc | rc2)) ledger $(sha <"$buf") $(sha <"$buf.2")" >>"$C/$name.log"
			continue
			;;
		meta)
			i=$((i + 1))
			file=$MNT/${meta[i % ${#meta[@]}]}
			if [ $((i % 5)) -eq 0 ]; then
				timeout 30 ls -la -- "$MNT/sales/orders/versions" >"$buf" \
					2>"$buf.err"
				echo "$? meta-ls" >>"$C/$name.log"
				continue
			fi
			;;
		esac
		conc_read "$who" "$file" "$buf"
		rc=$?
		echo "$rc $what $(sha <"$buf") $(customers_projection <"$buf" | sha)" \
			"$(grep -c @ "$buf") $(head -n 1 "$buf.err" | tr ' ' _)" >>"$C/$name.log"
	done
}

# conc_versions PRODUCT: its versions are 1..N, one more for each successful publish, and the
# new ones are the successful publishes' bytes, each once.
conc_versions()
{
	local p=$1 n ok v d desc ok_file=$C/ok-${1//\//_} got_file=$C/got-${1//\//_}
	n=$(log_count "$p")
	ok=$(wc -l <"$ok_file")
	if log_dense "$p" "$n" && [ $((n - V0[$p])) -eq "$ok" ]; then
		pass "concurrency: $p has versions 1..$n, one more for each of its $ok publishes"
	else
		fail "concurrency: $p has versions 1..N, one more for each successful publish" \
			"$ok publishes succeeded, versions went from ${V0[$p]} to $n" \
			"listed: $(log_numbers "$p" | tr '\n' ' ' | head -c 300)"
	fi
	for ((v = V0[$p] + 1; v <= n; v++)); do
		d=$(ref_dir "$p")/$v
		case $p in
		sales/ledger) echo "$(sha <"$d/entries.csv") $(sha <"$d/totals.csv")" ;;
		*) sha <"$d"/*.csv ;;
		esac
	done | sort >"$got_file"
	desc="concurrency: each new version of $p is exactly one successful publish, whole"
	if cmp -s "$got_file" "$ok_file"; then
		pass "$desc"
	else
		fail "$desc" "$(diff "$got_file" "$ok_file" | head -n 6)"
	fi
}

# conc_granter: changes grants until $STOP exists; one line per change in $C/granter.log.
conc_granter()
{
	local ops=("grant read sales/orders team:conc" "grant unmask crm/customers team:conc"
		"revoke read sales/orders team:conc" "revoke unmask crm/customers team:conc") i=0 rc
	if [ -n "$NOBODY" ]; then
		ops+=("grant unmask crm/customers user:nobody"
			"revoke read sales/orders user:nobody"
			"revoke unmask crm/customers user:nobody"
			"grant read sales/orders user:nobody")
	fi
	while running; do
		# shellcheck disable=SC2086 # an operation is several words
		timeout 60 "$MESHFS" ${ops[i % ${#ops[@]}]} -m "$MESH" </dev/null >/dev/null \
			2>"$C/granter.err"
		rc=$?
		echo "$rc ${ops[i % ${#ops[@]}]}" >>"$C/granter.log"
		[ "$rc" -eq 0 ] || echo "granter: ${ops[i % ${#ops[@]}]}: exit $rc:" \
			"$(head -n 1 "$C/granter.err")" >>"$C/failures"
		i=$((i + 1))
	done
}

if section concurrency; then
	S0=$SECONDS
	C=$T/conc
	STOP=$C/stop
	C_ROWS=${C_ROWS:-2000}
	mkdir -p "$C"
	touch "$C/failures"
	mount_opts=()
	if [ -n "$NOBODY" ]; then
		mount_opts=(-o allow_other)
		setup_step "grant read on crm/customers to user:nobody" grant read crm/customers \
			user:nobody -m "$MESH"
		setup_step "grant read on sales/ledger to user:nobody" grant read sales/ledger \
			user:nobody -m "$MESH"
		setup_step "grant read on sales/orders to user:nobody" grant read sales/orders \
			user:nobody -m "$MESH"
	else
		skip "readers of the masked view as user nobody" \
			"needs root, setpriv, the user nobody and a TMPDIR that nobody can traverse"
	fi
	setup_step "team conc, whose grants change during the run" team create conc "$ME" -m "$MESH"
	mountpoint -q -- "$MNT" && stop_daemon "$MNT"
	start_daemon "$MNT" "${mount_opts[@]}" ||
		bail_out "meshfs mount -f mounts" "$(tail -n 5 "$T/daemon.log")"
	# versions a failed check above let through, if any, are taken as they read
	adopt_versions

	declare -A V0
	for p in $PRODUCTS; do
		V0[$p]=$(log_count "$p")
	done
	# What a whole read may give: a version published before, or one published now.
	for f in "$T"/ref/*/*/*.csv; do
		sha <"$f"
	done >"$C/known"
	for f in "$(ref_dir crm/customers)"/*/customers.csv; do
		customers_projection <"$f" | sha
	done >"$C/known-masked"
	for d in "$(ref_dir sales/ledger)"/*/; do
		echo "$(sha <"$d/entries.csv") $(sha <"$d/totals.csv")"
	done >"$C/known-ledger"

	pids=()
	conc_publisher pub-orders-1 mount sales/orders 100000 &
	pids+=($!)
	conc_publisher pub-orders-2 mount sales/orders 200000 &
	pids+=($!)
	conc_publisher pub-orders-3 cli sales/orders 300000 &
	pids+=($!)
	conc_publisher pub-customers-1 mount crm/customers 400000 &
	pids+=($!)
	conc_publisher pub-customers-2 cli crm/customers 500000 &
	pids+=($!)
	conc_publisher pub-ledger-1 mount sales/ledger 600000 &
	pids+=($!)
	conc_publisher pub-ledger-2 cli sales/ledger 700000 &
	pids+=($!)
	conc_reader read-orders root orders &
	pids+=($!)
	conc_reader read-customers root customers &
	pids+=($!)
	conc_reader read-versions root versions &
	pids+=($!)
	conc_reader read-ledger root ledger &
	pids+=($!)
	conc_reader read-meta root meta &
	pids+=($!)
	if [ -n "$NOBODY" ]; then
		conc_reader nobody-customers nobody customers &
		pids+=($!)
		conc_reader nobody-orders nobody orders &
		pids+=($!)
		conc_reader nobody-ledger nobody ledger &
		pids+=($!)
	fi
	conc_granter &
	pids+=($!)
	BG+=("${pids[@]}")
	sleep "$CONC_SECONDS"
	touch "$STOP"
	hung=
	for p in "${pids[@]}"; do
		wait_for 90 pids_gone "$p" || hung="$hung $p"
	done
	if [ -z "$hung" ]; then
		pass "concurrency: every publisher, reader and granter stops within 90 s"
	else
		fail "concurrency: every publisher, reader and granter stops within 90 s" \
			"still running:$hung"
		# shellcheck disable=SC2086 # one argument per pid
		kill $hung 2>/dev/null
	fi
	wait "${pids[@]}" 2>/dev/null

	timeouts=$(grep -h '^12[4-9] \|^13[0-9] ' "$C"/*.log | head -n 10)
	if [ -z "$timeouts" ]; then
		pass "concurrency: no operation hung or was killed (no deadlock)"
	else
		fail "concurrency: no operation hung or was killed (no deadlock)" "$timeouts"
	fi
	if kill -0 "$DPID" 2>/dev/null; then
		pass "concurrency: the daemon served throughout"
	else
		wait "$DPID"
		fail "concurrency: the daemon served throughout" "it exited with status $?" \
			"$(tail -n 5 "$T/daemon.log")"
	fi
	check "concurrency: the mount still answers" timeout 10 ls "$MNT/sales/orders/versions"
	if [ ! -s "$C/failures" ]; then
		pass "concurrency: every publish and every grant change succeeded"
	else
		fail "concurrency: every publish and every grant change succeeded" \
			"$(head -n 10 "$C/failures")" "($(wc -l <"$C/failures") failures)"
	fi

	# Versions: dense, one per successful publish, each exactly one publish's bytes.
	awk '$1 == 0 { print $2 }' "$C"/pub-orders-*.log | sort >"$C/ok-sales_orders"
	awk '$1 == 0 { print $2 }' "$C"/pub-customers-*.log | sort >"$C/ok-crm_customers"
	awk '$1 == 0 { print $2, $3 }' "$C"/pub-ledger-*.log | sort >"$C/ok-sales_ledger"
	adopt_versions >/dev/null
	for p in $PRODUCTS; do
		conc_versions "$p"
	done

	# Reads: each one whole.
	cat "$C/ok-sales_orders" "$C/ok-crm_customers" >>"$C/known"
	awk '$1 == 0 { print $3 }' "$C"/pub-customers-*.log >>"$C/known-masked"
	cat "$C/ok-sales_ledger" >>"$C/known-ledger"
	if bad=$(awk -v known="$C/known" -v masked="$C/known-masked" -v ledger="$C/known-ledger" '
		BEGIN {
			while ((getline l < known) > 0) plain[l] = 1
			while ((getline l < masked) > 0) mask[l] = 1
			while ((getline l < ledger) > 0) pair[l] = 1
		}
		{
			reader = FILENAME
			sub(/.*\//, "", reader)
			sub(/\.log$/, "", reader)
			reads[reader]++
			nobody = reader ~ /^nobody/
			if ($2 == "ledger")
				ok = $1 == 0 && (($3 " " $4) in pair)
			else if ($2 ~ /^meta/)
				ok = $1 == 0
			else if ($1 != 0)
				ok = nobody && $2 == "orders" && $6 ~ /Permission_denied/
			else if ($3 in plain)
				ok = 1
			else
				ok = nobody && $2 == "customers" && ($4 in mask) && $5 == 0
			if (!ok) {
				bad++
				if (bad <= 10)
					print reader ": " $0
			}
		}
		END {
			for (r in reads)
				printf "reads %s %d\n", r, reads[r] > "/dev/stderr"
			exit bad > 0
		}' "$C"/read-*.log "$C"/nobody-*.log 2>"$C/reads"); then
		n=$(awk '{ n += $3 } END { print n }' "$C/reads")
		pass "concurrency: every read gave a whole version in the caller's view ($n reads)"
	else
		fail "concurrency: every read gave a whole version in the caller's view" "$bad"
	fi
	if [ -n "$NOBODY" ]; then
		# a masked read holds no e-mail address, a plain one has one in every row
		masked=$(awk '$1 == 0 && $5 == 0' "$C/nobody-customers.log" | wc -l)
		check "concurrency: the reader without unmask got masked views ($masked)" \
			test "$masked" -gt 0
	fi

	verify_mesh
	if [ "$VERIFY_RC" -eq 0 ]; then
		pass "concurrency: meshfs verify passes afterwards"
	else
		fail "concurrency: meshfs verify passes afterwards" "$(verify_diag)"
	fi
	check "concurrency: the catalog passes PRAGMA integrity_check" \
		test "$(catalog_integrity)" = ok
	problems=$(readback "$MNT")
	if [ -z "$problems" ]; then
		pass "concurrency: every version of every product reads back"
	else
		fail "concurrency: every version of every product reads back" "$problems"
	fi
	msg="concurrency: $CONC_SECONDS s, publishes (ok): orders $(wc -l <"$C/ok-sales_orders"),"
	msg+=" customers $(wc -l <"$C/ok-crm_customers"), ledger $(wc -l <"$C/ok-sales_ledger");"
	msg+=" grant changes: $(wc -l <"$C/granter.log");"
	msg+=" reads: $(sort "$C/reads" | awk '{ printf "%s %s ", $2, $3 }');"
	msg+=" daemon peak memory $(peak_kb "$DPID") KiB"
	diag "$msg"
	rm -rf -- "$C"
	diag "section concurrency: $((SECONDS - S0)) s"
fi

# ---- unmount and shutdown while busy ----

# busy_reader NAME FILE REF: reads FILE over and over until $STOP exists; one line per read in
# $B/NAME.log: "STATUS STATE", STATE whole (REF's bytes), prefix (the start of them) or GARBAGE.
busy_reader()
{
	local buf=$B/$1.buf rc size state
	while running; do
		timeout 30 cat -- "$2" >"$buf" 2>/dev/null
		rc=$?
		size=$(stat -c %s -- "$buf")
		state=GARBAGE
		if [ "$size" -eq "$(stat -c %s -- "$3")" ] && cmp -s -- "$buf" "$3"; then
			state=whole
		elif cmp -s -n "$size" -- "$buf" "$3"; then
			state=prefix
		fi
		echo "$rc $state" >>"$B/$1.log"
	done
}

# busy_start: readers of a version of each product.
busy_start()
{
	rm -f -- "$STOP" "$B"/*.log
	BUSY=()
	busy_reader orders "$MNT/sales/orders/versions/1/orders.csv" \
		"$(ref_dir sales/orders)/1/orders.csv" &
	BUSY+=($!)
	busy_reader customers "$MNT/crm/customers/versions/1/customers.csv" \
		"$(ref_dir crm/customers)/1/customers.csv" &
	BUSY+=($!)
	busy_reader ledger "$MNT/sales/ledger/versions/1/entries.csv" \
		"$(ref_dir sales/ledger)/1/entries.csv" &
	BUSY+=($!)
	BG+=("${BUSY[@]}")
}

# busy_stop DESC: stops the readers; checks that none hung, none was given wrong bytes and none
# was told a short read was whole.
busy_stop()
{
	local p bad reads errors hung=
	touch "$STOP"
	for p in "${BUSY[@]}"; do
		wait_for 60 pids_gone "$p" || hung="$hung $p"
	done
	bad=$(cat "$B"/*.log | awk '$2 == "GARBAGE" || ($1 == 0 && $2 != "whole") || $1 >= 124' |
		sort | uniq -c)
	if [ -z "$hung" ] && [ -z "$bad" ]; then
		reads=$(cat "$B"/*.log | wc -l)
		errors=$(cat "$B"/*.log | awk '$1 != 0' | wc -l)
		pass "$1: readers got true bytes or an error ($reads reads, $errors errors)"
	else
		fail "$1: readers got true bytes or an error" "${hung:+still reading:$hung}" "$bad"
	fi
}

# busy_writer VARIANT: starts publishing a large orders table through the mount.
busy_writer()
{
	rel_orders $((ORDERS_ROWS * 3)) "$1" >"$B/big.csv"
	WRITER_BEFORE=$(log_count sales/orders)
	cp -- "$B/big.csv" "$MNT/sales/orders/orders.csv" 2>"$B/writer.err" &
	WPID=$!
}

# clean_restart DESC: after the writer ends, a new mount starts clean, the writer's publish is
# whole or absent (present if it succeeded), and every version reads back.
clean_restart()
{
	local wrc after why=() problems inflight
	wait_for 60 pids_gone "$WPID" || why+=("the writer still runs")
	wait "$WPID"
	wrc=$?
	if ! start_daemon "$MNT"; then
		fail "$1: the next mount starts" "$(tail -n 3 "$T/daemon.log")"
		return
	fi
	[ "$(leftovers)" -eq 0 ] || why+=("$(leftovers) files left under store/tmp or staging")
	verify_mesh
	[ "$VERIFY_RC" -eq 0 ] && [ "$UNREFERENCED" = 0 ] || why+=("$(verify_diag)")
	[ "$(catalog_integrity)" = ok ] || why+=("integrity_check: $(catalog_integrity)")
	after=$(log_count sales/orders)
	case $((after - WRITER_BEFORE)) in
	0) [ "$wrc" -ne 0 ] || why+=("the publish in flight succeeded but left no version") ;;
	1) record_version sales/orders orders="$B/big.csv" ;;
	*) why+=("sales/orders went from $WRITER_BEFORE to $after versions") ;;
	esac
	log_dense sales/orders "$after" ||
		why+=("versions: $(log_numbers sales/orders | tr '\n' ' ')")
	problems=$(readback "$MNT")
	[ -z "$problems" ] || why+=("$problems")
	if [ ${#why[@]} -eq 0 ]; then
		inflight="refused, exit $wrc"
		[ "$after" -gt "$WRITER_BEFORE" ] && inflight=committed
		pass "$1: the next mount is clean, every version reads back (publish: $inflight)"
	else
		fail "$1: the next mount is clean, every version reads back" "${why[@]}"
	fi
}

if section shutdown; then
	S0=$SECONDS
	B=$T/busy
	STOP=$B/stop
	mkdir -p "$B"
	exec 3>&2 2>>"$T/shell.log"
	mountpoint -q -- "$MNT" && stop_daemon "$MNT"
	start_daemon "$MNT" || bail_out "meshfs mount -f mounts" "$(tail -n 5 "$T/daemon.log")"
	adopt_versions

	# SIGTERM while readers read and a publish is in flight.
	busy_start
	busy_writer 900001
	sleep 0.3
	kill -TERM "$DPID"
	if wait_for 30 pids_gone "$DPID"; then
		wait "$DPID"
		drc=$?
		if [ "$drc" -eq 0 ]; then
			pass "SIGTERM while busy: the daemon exits 0 within 30 s"
		else
			fail "SIGTERM while busy: the daemon exits 0 within 30 s" "exit $drc" \
				"$(tail -n 5 "$T/daemon.log")"
		fi
	else
		fail "SIGTERM while busy: the daemon exits within 30 s" "pid $DPID still running"
		kill -9 "$DPID"
	fi
	check "SIGTERM while busy: nothing is left mounted" not_mounted "$MNT"
	busy_stop "SIGTERM while busy"
	clean_restart "SIGTERM while busy"

	# fusermount3 -u while a file is open is refused and changes nothing; -z detaches at once,
	# and the daemon serves what is open until it is closed.
	busy_start
	exec 9<"$MNT/sales/orders/versions/1/orders.csv"
	run fusermount3 -u "$MNT"
	expect_fail "fusermount3 -u while a file is open is refused" 'busy'
	check "and the mount keeps serving" timeout 30 cmp -s \
		"$MNT/sales/orders/versions/1/orders.csv" "$(ref_dir sales/orders)/1/orders.csv"
	busy_writer 900002
	sleep 0.3
	run fusermount3 -u -z "$MNT"
	expect_ok "fusermount3 -u -z while busy"
	check "the mount point is detached at once" not_mounted "$MNT"
	check "the daemon still serves the file left open" timeout 30 cmp -s - \
		"$(ref_dir sales/orders)/1/orders.csv" <&9
	exec 9<&-
	busy_stop "lazy unmount while busy"
	if wait_for 30 pids_gone "$DPID" && wait_for 30 pids_gone "$WPID"; then
		wait "$DPID"
		drc=$?
		check "once the last file is closed the daemon exits 0" test "$drc" -eq 0
	else
		fail "once the last file is closed the daemon exits" "pid $DPID still running"
		kill -9 "$DPID"
	fi
	clean_restart "lazy unmount while busy"
	exec 2>&3 3>&-
	rm -rf -- "$B"
	diag "section shutdown: $((SECONDS - S0)) s"
fi

# ---- tampering ----

# segment_file FILE: the store file holding a table file's segment.
segment_file()
{
	local hash
	hash=$(getfattr --only-values -n user.meshfs.hash -- "$1" 2>/dev/null)
	hash=${hash#*:}
	[ ${#hash} -eq 64 ] && echo "$MESH/store/${hash:0:2}/${hash:2}"
}

# remount: a new daemon, so that no page of the old one is cached.
remount()
{
	stop_daemon "$MNT"
	start_daemon "$MNT" "${MOUNT_OPTS[@]}" ||
		bail_out "meshfs mount -f mounts" "$(tail -n 5 "$T/daemon.log")"
}

# eio DESC COMMAND...: COMMAND fails with EIO and prints nothing.
eio()
{
	local desc=$1
	shift
	if ! "$@" >"$T/eio.out" 2>"$T/eio.err" && grep -q "Input/output error" "$T/eio.err" &&
		[ ! -s "$T/eio.out" ]; then
		pass "$desc"
	else
		fail "$desc" "$(head -n 3 "$T/eio.err")" "$(stat -c '%s bytes out' "$T/eio.out")"
	fi
}

# prefix_eio DESC FILE REF [AS...]: reading FILE (as AS…) stops with EIO, having given only the
# start of REF's bytes, never others.
prefix_eio()
{
	local desc=$1 file=$2 ref=$3 size
	shift 3
	"$@" timeout 60 cat -- "$file" >"$T/eio.out" 2>"$T/eio.err"
	size=$(stat -c %s "$T/eio.out")
	if ! grep -q "Input/output error" "$T/eio.err"; then
		fail "$desc" "no EIO: $(head -n 2 "$T/eio.err")" "$size bytes read"
	elif ! cmp -s -n "$size" -- "$T/eio.out" "$ref"; then
		fail "$desc" "the $size bytes before the error are not the true ones"
	else
		pass "$desc ($size true bytes before the error)"
	fi
}

MOUNT_OPTS=()

# tamper_segment: a bit flipped three quarters into a segment without PII, in the masked bytes
# of a late row group (such a segment is its file header, the view's bytes group after group,
# then its index).
tamper_segment()
{
	local f=$MNT/sales/orders/versions/1/orders.csv ref seg off
	ref=$(ref_dir sales/orders)/1/orders.csv
	seg=$(segment_file "$f")
	check "sales/orders version 1 has its segment in the store" test -n "$seg" -a -f "$seg"
	off=$(($(stat -c %s "$seg") * 3 / 4))
	flip_byte "$seg" "$off"
	remount
	eio "a flipped byte in a segment: the read over it fails with EIO" \
		timeout 60 dd if="$f" bs=65536 iflag=skip_bytes \
		skip=$(((off - 24) / 4096 * 4096)) count=1 status=none
	prefix_eio "a flipped byte in a segment: a whole read stops with EIO, true bytes before" \
		"$f" "$ref"
	check "a flipped byte in a segment: a read far from it still gives the true bytes" \
		cmp -s <(timeout 60 dd if="$f" bs=4096 count=16 status=none) <(head -c 65536 "$ref")
	check "a flipped byte in a segment: the other versions read" timeout 60 cmp -s \
		"$MNT/sales/orders/versions/2/orders.csv" "$(ref_dir sales/orders)/2/orders.csv"
	verify_mesh
	if [ "$VERIFY_RC" -eq 1 ] &&
		grep -q "$(blob_id "$seg")" "$T/verify.err" "$T/verify.out"; then
		pass "a flipped byte in a segment: meshfs verify exits 1 naming it"
	else
		fail "a flipped byte in a segment: meshfs verify exits 1 naming it" "$(verify_diag)"
	fi
	flip_byte "$seg" "$off"
	remount
	check "with the byte restored, the version reads whole again" \
		timeout 60 cmp -s "$f" "$ref"
}

# tamper_chunk: a bit flipped in the first sealed chunk of a table of 500 rows.
tamper_chunk()
{
	local p=$MNT/crm/tamper/customers.csv seg off
	sed 's/^dataProduct: customers$/dataProduct: tamper/' "$DATA/customers.yaml" \
		>"$T/tamper.yaml"
	rel_customers 500 31 >"$T/tamper.csv"
	mfs product create crm/tamper --contract "$T/tamper.yaml" -m "$MESH"
	mfs publish crm/tamper/customers "$T/tamper.csv" -m "$MESH"
	mfs grant read crm/tamper user:nobody -m "$MESH"
	as_nobody timeout 60 cat -- "$p" >"$T/tamper-masked.csv"
	seg=$(segment_file "$p")
	off=$(first_chunk_offset "$seg")
	off=$((${off:-0} + 64))
	check "crm/tamper has a segment and a masked view" \
		test -n "$seg" -a -s "$T/tamper-masked.csv"
	flip_byte "$seg" "$off"
	remount
	prefix_eio "a flipped byte in a sealed chunk: the plain view fails with EIO" "$p" \
		"$T/tamper.csv"
	check "a flipped byte in a sealed chunk: the masked view still reads whole" \
		test -s "$T/tamper-masked.csv" -a \
		"$(as_nobody timeout 60 cat -- "$p" | sha)" = "$(sha <"$T/tamper-masked.csv")"
	verify_mesh
	if [ "$VERIFY_RC" -eq 1 ] && grep -q "crm/tamper" "$T/verify.err" "$T/verify.out"; then
		pass "a flipped byte in a sealed chunk: meshfs verify exits 1 naming the table"
	else
		fail "a flipped byte in a sealed chunk: meshfs verify exits 1 naming the table" \
			"$(verify_diag)"
	fi
	flip_byte "$seg" "$off"
	remount
	check "with the byte restored, the plain view reads whole again" \
		timeout 60 cmp -s "$p" "$T/tamper.csv"
}

# tamper_key: a wrong, a truncated and a missing master key, each refused with one clear line.
tamper_key()
{
	local key=$MESH/keys/master.key versions bad ere problems
	stop_daemon "$MNT"
	cp -p -- "$key" "$T/master.key"
	versions=$(log_count sales/orders)
	rel_orders 10 77 >"$T/key-test.csv"
	for bad in wrong truncated missing; do
		case $bad in
		wrong)
			head -c 32 /dev/urandom >"$key"
			ere='wrong master key'
			;;
		truncated)
			head -c 16 "$T/master.key" >"$key"
			ere='master key.*32 bytes|32 bytes'
			;;
		missing)
			rm -f -- "$key"
			ere='no master key|master\.key'
			;;
		esac
		[ -e "$key" ] && chmod 0600 "$key"
		RUN_TIMEOUT=30 mfs mount -m "$MESH" "$MNT"
		expect_one_line "a $bad master key is refused at mount with one clear line" "$ere"
		check "and nothing is mounted" not_mounted "$MNT"
		mfs publish sales/orders/orders "$T/key-test.csv" -m "$MESH"
		expect_fail "a publish with a $bad master key is refused" "$ere"
	done
	cp -p -- "$T/master.key" "$key"
	check "nothing was published under a bad key" \
		test "$(log_count sales/orders)" = "$versions"
	start_daemon "$MNT" "${MOUNT_OPTS[@]}" ||
		bail_out "with the right key back, the mesh mounts" "$(tail -n 5 "$T/daemon.log")"
	problems=$(readback "$MNT")
	if [ -z "$problems" ]; then
		pass "with the right key back, every version reads back"
	else
		fail "with the right key back, every version reads back" "$problems"
	fi
}

if section tamper; then
	S0=$SECONDS
	[ -n "$NOBODY" ] && MOUNT_OPTS=(-o allow_other)
	mountpoint -q -- "$MNT" && stop_daemon "$MNT"
	start_daemon "$MNT" "${MOUNT_OPTS[@]}" ||
		bail_out "meshfs mount -f mounts" "$(tail -n 5 "$T/daemon.log")"
	adopt_versions
	if command -v getfattr >/dev/null; then
		tamper_segment
		if [ -n "$NOBODY" ]; then
			tamper_chunk
		else
			skip "a flipped byte in a sealed chunk" \
				"needs root, setpriv, the user nobody and a TMPDIR it can traverse"
		fi
	else
		skip "a flipped byte in a segment or a sealed chunk" "getfattr is missing"
	fi
	tamper_key
	diag "section tamper: $((SECONDS - S0)) s"
fi

# ---- a full disk ----

# free_to DIR BYTES: fills the filesystem of DIR until only BYTES are free.
free_to()
{
	local avail
	rm -f -- "$1/filler"
	avail=$(($(stat -f -c '%a * %S' -- "$1")))
	[ "$avail" -gt "$2" ] && fallocate -l $((avail - $2)) -- "$1/filler"
}

# disk_state: what a failed publish must leave as it was.
disk_state()
{
	echo "versions $(log_count sales/orders), blobs $(blobs_digest), leftovers $(leftovers)," \
		"integrity $(catalog_integrity)"
}

# disk_publish FREE VIA: publishes $DISK_IN through VIA (cli or mount) with FREE bytes free on
# the mesh's filesystem: one whole new version, or ENOSPC and nothing changed.
disk_publish()
{
	local desc="full disk ($1 bytes free), $2 publish" before after problems
	free_to "$DISK" "$1"
	before=$(disk_state)
	if [ "$2" = cli ]; then
		mfs publish sales/orders/orders "$DISK_IN" -m "$MESH"
	else
		LAST_CMD="cp into the mount"
		timeout 60 cp -- "$DISK_IN" "$MNT/sales/orders/orders.csv" >"$T/out" 2>"$T/err"
		RC=$?
	fi
	rm -f -- "$DISK/filler"
	if [ "$RC" -eq 0 ]; then
		DISK_OK=$((DISK_OK + 1))
		cp -- "$DISK_IN" "$T/in/disk-v.csv"
		record_version sales/orders orders="$T/in/disk-v.csv"
		if [ "$(log_count sales/orders)" -eq "$(ref_count sales/orders)" ]; then
			pass "$desc: succeeded, as one new version"
		else
			fail "$desc: succeeded, as one new version" \
				"versions: $(log_numbers sales/orders | tr '\n' ' ')"
		fi
	else
		DISK_FAILED=$((DISK_FAILED + 1))
		after=$(disk_state)
		if [ "$RC" -lt 124 ] && [ "$before" = "$after" ] &&
			grep -Eqi 'No space left|disk is full|ENOSPC' "$T/err"; then
			pass "$desc: fails with ENOSPC and changes nothing"
		else
			fail "$desc: fails with ENOSPC and changes nothing" \
				"before: $before" "after: $after" "$(last_diag)"
		fi
	fi
	problems=$(readback "$MNT")
	[ -z "$problems" ] || fail "$desc: the mesh keeps serving every version" "$problems"
}

# disk_check: a mesh of its own on a 64 MiB tmpfs, mounted, publishing a 3.3 MB table with less
# and less room, then with room again.
disk_check()
{
	local size free via problems
	setup_mesh
	setup_step "a mesh on a 64 MiB tmpfs" domain create sales --owner data-eng -m "$MESH"
	setup_step "product sales/orders on it" product create sales/orders \
		--contract "$DATA/orders.yaml" -m "$MESH"
	rel_orders 2000 1 >"$T/in/disk1.csv"
	setup_step "publish version 1" publish sales/orders/orders "$T/in/disk1.csv" -m "$MESH"
	record_version sales/orders orders="$T/in/disk1.csv"
	start_daemon "$MNT" || bail_out "the mesh on tmpfs mounts" "$(tail -n 5 "$T/daemon.log")"
	DISK_IN=$T/in/disk-big.csv
	rel_orders 60000 2 >"$DISK_IN"
	size=$(stat -c %s "$DISK_IN")
	DISK_OK=0
	DISK_FAILED=0
	for free in 0 16384 262144 1048576 $((size / 2)) $((size - 65536)) $((size + 8192)) \
		$((size + 65536)) $((size + 262144)) $((size + 1048576)); do
		for via in cli mount; do
			disk_publish "$free" "$via"
		done
	done
	check "full disk: publishes that did not fit were tried (the disk was full)" \
		test "$DISK_FAILED" -gt 0
	check "the mount kept serving metadata" timeout 30 cat "$MNT/README.md" \
		"$MNT/catalog.csv" "$MNT/sales/orders/README.md"
	check "the daemon is still running" kill -0 "$DPID"
	rel_orders 3000 3 >"$T/in/disk-v.csv"
	check "with room again, a publish through the mount succeeds" \
		timeout 60 cp "$T/in/disk-v.csv" "$MNT/sales/orders/orders.csv"
	record_version sales/orders orders="$T/in/disk-v.csv"
	problems=$(readback "$MNT")
	if [ -z "$problems" ]; then
		pass "and every version reads back"
	else
		fail "and every version reads back" "$problems"
	fi
	verify_mesh
	if [ "$VERIFY_RC" -eq 0 ]; then
		pass "meshfs verify passes on the mesh that was full"
	else
		fail "meshfs verify passes on the mesh that was full" "$(verify_diag)"
	fi
	diag "full disk: $DISK_FAILED publishes failed for want of space, $DISK_OK fitted"
	stop_daemon "$MNT"
}

if section disk; then
	S0=$SECONDS
	DISK=$T/disk
	mkdir -p "$DISK" "$T/mnt-disk"
	if [ -n "$IS_ROOT" ] && command -v fallocate >/dev/null &&
		mount -t tmpfs -o size=64m,mode=0700 tmpfs "$DISK" 2>/dev/null; then
		# The sections' globals, pointed at the small mesh for a while.
		saved=("$MESH" "$MNT" "$PRODUCTS" "$DPID" "${REFN[sales/orders]}")
		mv "$(ref_dir sales/orders)" "$T/ref-orders"
		MESH=$DISK/mesh MNT=$T/mnt-disk PRODUCTS=sales/orders
		REFN[sales/orders]=0
		track_mount "$MNT"
		disk_check
		rm -rf -- "$(ref_dir sales/orders)"
		mv "$T/ref-orders" "$(ref_dir sales/orders)"
		MESH=${saved[0]} MNT=${saved[1]} PRODUCTS=${saved[2]} DPID=${saved[3]}
		REFN[sales/orders]=${saved[4]}
		umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null
	else
		skip "a full disk" "needs root, fallocate and a tmpfs"
	fi
	diag "section disk: $((SECONDS - S0)) s"
fi

check_no_crash
finish
