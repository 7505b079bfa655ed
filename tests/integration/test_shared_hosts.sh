#!/usr/bin/env bash
# One shared mesh (catalog on a real PostgreSQL, segments in a real Swift: tests/servers/with_pg.sh
# and with_swift.sh start them around this script) mounted by two hosts, A and B, each with its
# own key file, cache directory and mount point, checked with cat, ls and grep through the mounts
# against docs/DEPLOYMENT.md's promises: what one host publishes, grants or revokes reaches the
# other within a second; publishers on both hosts at once get dense, unique versions; with the
# catalog or the store stopped, operations fail within the timeout, open files keep reading, no
# half version appears and both mounts recover by themselves; a refused credential is named as
# such; no plaintext PII reaches the database, the bucket or a cache.
#
# Each host runs in a network namespace of its own (its daemon and its commands), where the servers
# appear at the addresses they have here (127.0.0.1 and their ports) through a relay
# (tests/servers/nsrelay.py): the hosts share no network stack, only the servers. The mounts are
# in the one mount namespace, so that this script reads both. Where no network namespace can be
# made, both hosts run on this one and the test says so.

# Checks given as eval 'TEXT' expand TEXT when they run; helpers are called through check and
# wait_for.
# shellcheck disable=SC2016,SC2317
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

[ -n "${MESHFS_PG_URL:-}" ] && [ -n "${MESHFS_S3_ENDPOINT:-}" ] ||
	skip_all "run through tests/servers/with_pg.sh and with_swift.sh"
reason=$(fuse_unusable)
[ -z "$reason" ] || skip_all "$reason"
[ "$(id -u)" -eq 0 ] || skip_all "needs root: network namespaces, Unix users, allow_other"
: "${MESHFS_SOURCE_ROOT:?}" "${MESHFS_PG_DIR:?}"

sections publish concurrent access catalog-down store-down credential pii

# A call to the catalog or the store may take this long (the mounts' timeout=, the commands'
# MESHFS_TIMEOUT); an operation that needs a stopped server must end within BOUND seconds.
TIMEOUT=3
BOUND=$((TIMEOUT + 2))
BUCKET=mfs-hosts
HOSTS=(A B)
RELAYS=()
HOLDERS=()
STOPPED=()

chmod 0755 "$T"
URL=${MESHFS_PG_URL%/*}/hosts$$
S3PORT=${MESHFS_S3_ENDPOINT##*:}

now_ms()
{
	echo $(($(date +%s%N) / 1000000))
}

# ---- the hosts ----

# host_make H: host H's namespace (held by a sleeping process), its relay, key, cache and mount
# point; NETNS_H is empty where no namespace could be made.
host_make()
{
	local h=$1 holder ns=
	mkdir -p "$T/$h/cache" "$T/$h/cli" "$T/$h/mnt"
	chmod 0755 "$T/$h" "$T/$h/mnt"
	if unshare --net sh -c 'ip link set lo up && exec sleep 3600' 2>/dev/null & then
		holder=$!
		HOLDERS+=("$holder")
		# up once its loopback is: the relay listens there
		if wait_for 5 nsenter --net="/proc/$holder/ns/net" ip -o link show up dev lo \
			>/dev/null 2>&1 && [ "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/self/ns/net)" ]; then
			ns=/proc/$holder/ns/net
		fi
	fi
	if [ -n "$ns" ]; then
		python3 "$MESHFS_SOURCE_ROOT/tests/servers/nsrelay.py" "$ns" "$T/$h/relay" \
			"$PGPORT" "$S3PORT" 2>"$T/$h/relay.log" &
		RELAYS+=($!)
		wait_for 10 test -s "$T/$h/relay" || bail_out "relay into host $h" "$(cat "$T/$h/relay.log")"
	fi
	printf -v "NETNS_$h" '%s' "$ns"
}

# on_cmd H: ON, the words that run a command on host H: in its namespace, with its key.
on_cmd()
{
	local ns=NETNS_$1
	ON=(env MESHFS_KEY="$T/$1/key" MESHFS_TIMEOUT="$TIMEOUT" MESHFS_CACHE_DIR="$T/$1/cli")
	[ -z "${!ns}" ] || ON+=(nsenter --net="${!ns}" --)
}

# on H COMMAND...
on()
{
	on_cmd "$1"
	shift
	"${ON[@]}" "$@"
}

# hfs H ARGS...: meshfs on host H against the shared mesh, as mfs runs it.
hfs()
{
	local h=$1
	shift
	on_cmd "$h"
	run "${ON[@]}" "$MESHFS" "$@" -m "$URL"
	if [ "$RC" -ge 124 ]; then
		CRASHES="$CRASHES
meshfs $* on $h -> exit $RC"
	fi
}

# mount_host H: host H's mount of the shared mesh.
mount_host()
{
	local h=$1
	track_mount "$T/$h/mnt"
	RUN_TIMEOUT=30 hfs "$h" mount "$T/$h/mnt" \
		-o "allow_other,cache_dir=$T/$h/cache,cache_size=64M,timeout=$TIMEOUT"
}

# Stopped servers go on, the mounts go, then the relays and namespaces, then lib.sh's cleanup.
# shellcheck disable=SC2317 # run by the EXIT trap
host_cleanup()
{
	local status=$? p h
	[ ${#STOPPED[@]} -eq 0 ] || kill -CONT "${STOPPED[@]}" 2>/dev/null
	for h in "${HOSTS[@]}"; do
		is_mounted "$T/$h/mnt" && fusermount3 -u -- "$T/$h/mnt" 2>/dev/null
	done
	for p in "${RELAYS[@]}" "${HOLDERS[@]}"; do
		kill "$p" 2>/dev/null
	done
	(exit "$status")
	cleanup
}
trap host_cleanup EXIT

# ---- the servers, stopped and let go ----

pg_pids()
{
	local postmaster
	postmaster=$(head -n 1 "$MESHFS_PG_DIR/data/postmaster.pid")
	# shellcheck disable=SC2046 # one pid a word
	echo "$postmaster" $(ps -o pid= --ppid "$postmaster")
}

# The Swift proxy: the process listening on the endpoint's port.
swift_proxy_pid()
{
	ss -ltnpH "sport = :$S3PORT" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

# stop_servers PID...: SIGSTOP, noted so that the exit trap lets them go on.
stop_servers()
{
	STOPPED=("$@")
	kill -STOP "$@"
}

cont_servers()
{
	kill -CONT "${STOPPED[@]}"
	STOPPED=()
}

# ---- data ----

# customers N: gen_customers with N rows (PII in full_name, email, phone, birth_date).
gen_customers 400 >"$T/customers.csv"
gen_customers 500 >"$T/customers-2.csv"

# ---- the mesh, made from host A, mounted on both ----

t_start=$(now_ms)
for h in "${HOSTS[@]}"; do
	host_make "$h"
done
if [ -n "$NETNS_A" ] && [ -n "$NETNS_B" ]; then
	pass "hosts A and B in network namespaces of their own"
else
	skip "hosts in network namespaces of their own" "unshare --net failed: both hosts run here"
fi

psql -X -q -h "$MESHFS_PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres \
	-c "CREATE DATABASE hosts$$ OWNER $PGUSER" >/dev/null || bail_out "CREATE DATABASE"
pass_word=$(head -n 1 "$PGPASSFILE" | cut -d: -f5)
echo "127.0.0.1:$PGPORT:hosts$$:$PGUSER:$pass_word" >>"$PGPASSFILE"

# host_step H DESC ARGS...: a meshfs command on H that the rest of the test depends on.
host_step()
{
	local h=$1 desc=$2
	shift 2
	hfs "$h" "$@"
	if [ "$RC" -eq 0 ]; then
		pass "$desc"
	else
		bail_out "$desc" "$(last_diag)"
	fi
}

host_step A "meshfs init of a shared mesh, from A" init --store "s3://$BUCKET/mesh" --key "$T/A/key"
install -m 0600 "$T/A/key" "$T/B/key"
host_step A "team crm-team" team create crm-team "$ME"
host_step A "domain crm" domain create crm --owner crm-team
host_step A "product crm/customers (PII)" product create crm/customers \
	--contract "$DATA/customers.yaml"
host_step A "domain sales" domain create sales --owner crm-team
host_step A "product sales/orders" product create sales/orders --contract "$DATA/orders.yaml"
for h in "${HOSTS[@]}"; do
	mount_host "$h"
	[ "$RC" -eq 0 ] || bail_out "host $h mounts the shared mesh" "$(last_diag)"
	pass "host $h mounts the shared mesh (cache_dir, cache_size, timeout=$TIMEOUT)"
done
A=$T/A/mnt
B=$T/B/mnt
diag "setup: $(($(now_ms) - t_start)) ms"

# versions_of MNT DP: the version numbers MNT lists for DP, in order.
versions_of()
{
	# shellcheck disable=SC2010 # version numbers, no odd characters
	ls "$1/$2/versions" 2>/dev/null | grep -E '^[0-9]+$' | sort -n
}

# seen_within MS COMMAND...: polls COMMAND every 20 ms for up to MS; WAITED holds how long it took.
seen_within()
{
	local limit=$1 t0
	shift
	t0=$(now_ms)
	while ! "$@" 2>/dev/null; do
		WAITED=$(($(now_ms) - t0))
		[ "$WAITED" -lt "$limit" ] || return 1
		sleep 0.02
	done
	WAITED=$(($(now_ms) - t0))
}

# reaches DESC COMMAND...: COMMAND succeeds within a second (DESC, with how long it took).
reaches()
{
	local desc=$1
	shift
	if seen_within 1000 "$@"; then
		pass "$desc after $WAITED ms"
	else
		fail "$desc within 1 s" "$(cat "$T/reader.err" 2>/dev/null)"
	fi
}

has_version()
{
	versions_of "$1" "$2" | grep -qx "$3"
}

# ---- a publish on A, read on B ----

if section publish; then
	diag "section publish"
	cp "$T/customers.csv" "$A/crm/customers/customers.csv"
	RC=$?
	LAST_CMD="cp customers.csv into A"
	expect_ok "cp of a CSV into A's crm/customers/customers.csv publishes it"
	reaches "B lists version 1" has_version "$B" crm/customers 1
	check "version 1 reads the same on B as on A" cmp -s "$A/crm/customers/versions/1/customers.csv" \
		"$B/crm/customers/versions/1/customers.csv"
	check "and its e-mail column is as published (the admin holds the key)" \
		grep -qF "user399@example.com" "$B/crm/customers/customers.csv"
	hfs A publish crm/customers/customers "$T/customers-2.csv"
	expect_ok "meshfs publish on A"
	reaches "B lists version 2" has_version "$B" crm/customers 2
	reaches "B's customers.csv is version 2" grep -qF "user499@example.com" \
		"$B/crm/customers/customers.csv"
	check "version 2 reads the same on B as on A" cmp -s "$A/crm/customers/customers.csv" \
		"$B/crm/customers/customers.csv"
fi

# ---- publishers on both hosts at once ----

# dense MNT DP N: MNT lists exactly versions 1..N of DP.
dense()
{
	[ "$(versions_of "$1" "$2" | tr '\n' ' ')" = "$(seq -s ' ' 1 "$3") " ]
}

if section concurrent; then
	diag "section concurrent"
	# A first version, so that orders.csv exists: two cp to a missing name race as on any
	# filesystem (the loser's O_EXCL open fails with EEXIST).
	gen_orders 10 0 >"$T/orders-first.csv"
	hfs A publish sales/orders/orders "$T/orders-first.csv"
	[ "$RC" -eq 0 ] || bail_out "a first version of sales/orders" "$(last_diag)"
	cksum <"$T/orders-first.csv" >"$T/published.sums"
	t0=$(now_ms)
	pids=()
	for h in "${HOSTS[@]}"; do
		for i in 0 1 2 3 4 5 6 7 8 9; do
			f=$T/$h/orders-$i.csv
			# every input different: the variant changes the amounts
			gen_orders $((20 + i)) $((${#pids[@]} + 2)) >"$f"
			# half through the mount, half with meshfs publish
			if [ "$i" -lt 5 ]; then
				(on "$h" timeout -k 5 60 cp "$f" "$T/$h/mnt/sales/orders/orders.csv" 2>"$f.err"
					echo $? >"$f.rc") &
			else
				(on "$h" timeout -k 5 60 "$MESHFS" publish sales/orders/orders "$f" -m "$URL" >/dev/null \
					2>"$f.err"
					echo $? >"$f.rc") &
			fi
			pids+=($!)
		done
	done
	wait "${pids[@]}"
	diag "20 publishes: $(($(now_ms) - t0)) ms"
	ok=0
	for h in "${HOSTS[@]}"; do
		for i in 0 1 2 3 4 5 6 7 8 9; do
			f=$T/$h/orders-$i.csv
			if [ "$(cat "$f.rc")" = 0 ]; then
				ok=$((ok + 1))
				cksum <"$f" >>"$T/published.sums"
			else
				diag "publish $h$i failed: $(head -n 3 "$f.err")"
			fi
		done
	done
	check "every one of the 20 publishes succeeded ($ok)" test "$ok" = 20
	n=$((ok + 1))
	for h in "${HOSTS[@]}"; do
		check "host $h lists versions 1..$n, dense and unique" wait_for 2 dense "$T/$h/mnt" \
			sales/orders "$n"
	done
	hfs B log sales/orders
	check "meshfs log on B lists $n versions" test "$(log_versions <"$T/out")" = "$n"
	: >"$T/read.sums"
	for v in $(versions_of "$B" sales/orders); do
		cksum <"$B/sales/orders/versions/$v/orders.csv" >>"$T/read.sums"
	done
	check "each version read on B is exactly one publish's file, and each publish is there" \
		diff <(sort "$T/published.sums") <(sort "$T/read.sums")
fi

# ---- a grant and a revoke on A, enforced on B ----

READER=mfs_h_rd$$
if section access; then
	diag "section access"
	useradd -M -U -s /usr/sbin/nologin "$READER" || bail_out "useradd $READER"
	MADE_USERS+=("$READER")
	F=$B/crm/customers/customers.csv
	reads()
	{
		as "$READER" cat -- "$F" >/dev/null 2>"$T/reader.err"
	}
	refused()
	{
		! reads && grep -q 'Permission denied' "$T/reader.err"
	}
	check "before any grant, $READER's open on B is refused (EACCES)" refused
	hfs A grant read crm/customers "user:$READER"
	expect_ok "meshfs grant read on A"
	reaches "B lets $READER read" reads
	hfs A revoke read crm/customers "user:$READER"
	expect_ok "meshfs revoke read on A"
	reaches "B refuses $READER's open (EACCES)" refused
fi

# ---- servers that stop answering ----

# timed_bg NAME COMMAND...: COMMAND in the background (its time limit, well past BOUND, is
# ${LIMIT[@]} in COMMAND); its status in $T/NAME.rc, its stderr in $T/NAME.err, when it ended
# (ms) in $T/NAME.end.
LIMIT=(timeout -k 2 30)
timed_bg()
{
	local n=$1
	shift
	rm -f "$T/$n.rc" "$T/$n.end"
	(
		"$@" >"$T/$n.out" 2>"$T/$n.err" </dev/null
		echo $? >"$T/$n.rc.tmp"
		now_ms >"$T/$n.end"
		mv "$T/$n.rc.tmp" "$T/$n.rc"
	) &
	BG+=($!)
}

# bg_took NAME T0: how long, in ms from T0, NAME took.
bg_took()
{
	echo $(($(cat "$T/$1.end") - $2))
}

# ended_within NAME T0 DESC: NAME ended no later than BOUND seconds after T0.
ended_within()
{
	local took
	took=$(bg_took "$1" "$2")
	if [ "$took" -le $((BOUND * 1000)) ]; then
		pass "$3 ended after $took ms (exit $(cat "$T/$1.rc"))"
	else
		fail "$3 ended within $BOUND s" "it took $took ms, exit $(cat "$T/$1.rc")" \
			"$(head -n 3 "$T/$1.err")"
	fi
}

# failed_bounded NAME T0 DESC: NAME failed, with EIO or ETIMEDOUT or meshfs's message, within BOUND.
failed_bounded()
{
	local took
	took=$(bg_took "$1" "$2")
	if [ "$(cat "$T/$1.rc")" = 0 ]; then
		fail "$3 fails while the server is stopped" "it succeeded after $took ms"
	elif [ "$(cat "$T/$1.rc")" -ge 124 ]; then
		fail "$3 fails within $BOUND s" "it hung: killed after $took ms"
	elif [ "$took" -gt $((BOUND * 1000)) ]; then
		fail "$3 fails within $BOUND s" "it took $took ms" "$(head -n 3 "$T/$1.err")"
	else
		pass "$3 fails after $took ms: $(head -n 1 "$T/$1.err")"
	fi
}

# outage NAME PIDS...: one server stopped (SIGSTOP of PIDS) during a publish through A, with a
# file open on B, then let go. Checks that the publish and a first read on B fail within BOUND,
# that the mounts' roots still list, that the open file reads on, that no half version appears,
# and that both mounts work again without remounting.
outage()
{
	local what=$1 t0 n0 v1 took s k
	shift
	BG=()
	# Three versions B has listed but never read: their segments are in no cache of B, and
	# the first reads of them, at once, must each end within the bound, not one after another.
	for k in 1 2 3; do
		gen_orders 300 $((${#what} * 10 + 100 + k)) >"$T/$what-pre-$k.csv"
		hfs A publish sales/orders/orders "$T/$what-pre-$k.csv"
		[ "$RC" -eq 0 ] || bail_out "a publish before the $what stops" "$(last_diag)"
	done
	v1=$(versions_of "$A" sales/orders | tail -n 1)
	wait_for 2 has_version "$B" sales/orders "$v1" || bail_out "B lists version $v1"
	n0=$(versions_of "$A" sales/orders | wc -l)
	# a file open on B, read whole once, and its first 1000 bytes from the descriptor
	cat "$B/crm/customers/customers.csv" >"$T/open.want"
	exec 3<"$B/crm/customers/customers.csv"
	dd bs=1000 count=1 status=none <&3 >"$T/open.got"

	# The publish through A writes half its table, waits for the server to stop, writes the
	# rest and closes: dd reports what close (the commit) says.
	rm -f "$T/go"
	mkfifo "$T/go"
	timed_bg publish "${LIMIT[@]}" sh -c '{ head -n 50000 "$1"; read -r _ <"$2"; tail -n +50001 "$1"; } |
		dd of="$3" bs=64k status=none' sh "$T/big.csv" "$T/go" "$A/sales/orders/orders.csv"
	sleep 0.3
	if [ -e "$T/publish.rc" ]; then
		fail "the publish through A is still going when the $what stops" \
			"it ended first, exit $(cat "$T/publish.rc"): $(head -n 3 "$T/publish.err")"
	fi
	t0=$(now_ms)
	stop_servers "$@"
	echo go >"$T/go"
	for k in 1 2 3; do
		timed_bg "read-$k" "${LIMIT[@]}" cat "$B/sales/orders/versions/$((v1 - 3 + k))/orders.csv"
	done
	timed_bg ls-A "${LIMIT[@]}" ls "$A"
	timed_bg ls-B "${LIMIT[@]}" ls "$B/sales/orders/versions"
	"${LIMIT[@]}" cat <&3 >>"$T/open.got"
	s=$?
	took=$(($(now_ms) - t0))
	exec 3<&-
	wait "${BG[@]}"
	failed_bounded publish "$t0" "the publish through A ($what stopped)"
	for k in 1 2 3; do
		if [ "$(cat "$T/read-$k.rc")" = 0 ]; then
			check "a first read on B of version $((v1 - 3 + k)) ($what stopped) ended within $BOUND s with the right bytes" \
				eval '[ "$(bg_took "read-$k" "$t0")" -le $((BOUND * 1000)) ] &&
					cmp -s "$T/read-$k.out" "$T/$what-pre-$k.csv"'
		else
			failed_bounded "read-$k" "$t0" "a first read on B of version $((v1 - 3 + k))"
		fi
	done
	ended_within ls-A "$t0" "ls of A's root ($what stopped)"
	ended_within ls-B "$t0" "ls of a versions directory on B ($what stopped)"
	if [ "$s" -eq 0 ] && cmp -s "$T/open.got" "$T/open.want" && [ "$took" -le $((BOUND * 1000)) ]; then
		pass "a file open on B before the $what stopped read on to its end ($took ms)"
	else
		fail "a file open on B before the $what stopped reads on to its end" \
			"exit $s after $took ms; $(cmp "$T/open.got" "$T/open.want" 2>&1)"
	fi

	cont_servers
	# once a server is back, the mounts reconnect by themselves
	t0=$(now_ms)
	gen_orders 40 $((${#what} + 200)) >"$T/$what-after.csv"
	if wait_for 10 eval 'on B cp "$T/$what-after.csv" "$B/sales/orders/orders.csv" 2>/dev/null'; then
		pass "a publish through B works again $(($(now_ms) - t0)) ms after the $what goes on"
	else
		fail "a publish through B works again after the $what goes on"
	fi
	check "A lists its root again" ls "$A"
	check "and reads B's new version" wait_for 2 eval 'cmp -s "$A/sales/orders/orders.csv" "$T/$what-after.csv"'
	# a server that did not answer is not asked again for a second
	check "B reads version $v1 within 2 s" wait_for 2 cmp -s "$B/sales/orders/versions/$v1/orders.csv" \
		"$T/$what-pre-3.csv"
	# the cut-off publish: absent, or there whole if its commit had reached the server
	local n1 v
	n1=$(versions_of "$A" sales/orders | wc -l)
	check "the versions stay dense on both hosts" eval \
		'dense "$A" sales/orders "$n1" && dense "$B" sales/orders "$n1"'
	if [ "$n1" -eq $((n0 + 1)) ]; then
		pass "the cut-off publish left no version"
	elif [ "$n1" -eq $((n0 + 2)) ]; then
		v=$((v1 + 1))
		check "the cut-off publish, committed as version $v though it failed, is whole" \
			cmp -s "$B/sales/orders/versions/$v/orders.csv" "$T/big.csv"
	else
		fail "the cut-off publish left no half version" "$n0 versions before, $n1 after"
	fi
}

# large enough that its publish is still going when a server stops
if section catalog-down || section store-down; then
	gen_orders 100000 99 >"$T/big.csv"
fi
if section catalog-down; then
	diag "section catalog-down"
	# shellcheck disable=SC2046 # one pid a word
	outage catalog $(pg_pids)
fi
if section store-down; then
	diag "section store-down"
	pid=$(swift_proxy_pid)
	[ -n "$pid" ] || bail_out "the Swift proxy's pid" "$(ss -ltnpH "sport = :$S3PORT")"
	outage store "$pid"
fi

# ---- a refused credential ----

if section credential; then
	diag "section credential"
	mkdir "$T/wrong"
	on_cmd B
	RUN_TIMEOUT=30 run env AWS_SECRET_ACCESS_KEY=wrong "${ON[@]}" "$MESHFS" mount -m "$URL" "$T/wrong" \
		-o "cache_dir=$T/B/cache-wrong,timeout=$TIMEOUT"
	is_mounted "$T/wrong" && track_mount "$T/wrong"
	expect_fail "a mount with a wrong secret key fails, saying the credential was refused" \
		"credential was refused"
	check "and does not print the secret" eval '! grep -q wrong "$T/err"'
	check "and leaves nothing mounted" not_mounted "$T/wrong"
fi

# ---- no plaintext PII at rest ----

# s3 PATH: a signed GET from the bucket. A tempauth access key is "account:user", and curl's
# --user cuts at the first colon: the keys go in a netrc file, whose login is taken whole. curl
# sends no payload hash of its own, and signs the query as written (keys sorted, encoded).
s3()
{
	curl -sf --max-time 10 --netrc-file "$T/netrc" --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		-H "x-amz-content-sha256: $(sha256sum </dev/null | cut -d' ' -f1)" \
		"$MESHFS_S3_ENDPOINT/$BUCKET$1"
}

if section pii; then
	diag "section pii"
	# the e-mail addresses and phone numbers published into crm/customers
	cut -d, -f3,4 "$T/customers.csv" "$T/customers-2.csv" | grep -v '^email' | tr ',' '\n' |
		sort -u >"$T/pii.values"
	check "the PII values looked for are there in what was published ($(wc -l <"$T/pii.values"))" \
		grep -qFf "$T/pii.values" "$T/customers.csv"
	pg_dump -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" "hosts$$" >"$T/dump.sql" 2>"$T/dump.err"
	check "pg_dump of the catalog" grep -q 'CREATE TABLE' "$T/dump.sql"
	check "no plaintext PII in the database" eval '! grep -qFf "$T/pii.values" "$T/dump.sql"'
	mkdir "$T/bucket"
	(umask 077 && echo "machine 127.0.0.1 login $AWS_ACCESS_KEY_ID password $AWS_SECRET_ACCESS_KEY" \
		>"$T/netrc")
	s3 "?list-type=2&prefix=mesh%2F" >"$T/list.xml"
	grep -o '<Key>[^<]*</Key>' "$T/list.xml" | sed 's/<[^>]*>//g' >"$T/keys"
	check "the bucket lists the mesh's objects in one page ($(wc -l <"$T/keys"))" eval \
		'[ -s "$T/keys" ] && ! grep -q "<IsTruncated>true" "$T/list.xml"'
	n=0
	while read -r k; do
		n=$((n + 1))
		s3 "/$k" >"$T/bucket/$n" || fail "GET of object $k"
	done <"$T/keys"
	check "no plaintext PII in any of the bucket's $n objects ($(du -sk "$T/bucket" | cut -f1) KiB)" \
		eval '! grep -rqFf "$T/pii.values" "$T/bucket"'
	for h in "${HOSTS[@]}"; do
		check "host $h's cache holds segments ($(du -sk "$T/$h/cache" | cut -f1) KiB)" \
			eval '[ "$(find "$T/$h/cache" -type f | wc -l)" -gt 0 ]'
		check "no plaintext PII in host $h's cache and staging directories" \
			eval '! grep -rqFf "$T/pii.values" "$T/$h/cache" "$T/$h/cli"'
	done
fi

check_no_crash
diag "whole test: $(($(now_ms) - t_start)) ms"
finish
