# shellcheck shell=bash
# Shared helpers of the integration tests, sourced by test_*.sh.
#
# A test made of sections (see sections) runs those named by its arguments, else by SECTIONS,
# else all of them; meson runs one section a test, so that a failure names its section.
#
# With MESHFS_TEST_SHARED=1 (tests/integration/run_shared.sh sets it, inside tests/servers/with_pg.sh
# and with_swift.sh) the mesh a test makes is a shared one: see "the mesh" below.
#
# A test prints TAP lines ("ok N - ...", "not ok N - ..." with "# " diagnostics), then "1..N" and
# a closing "NAME: P passed, F failed", and exits 1 if anything failed, 77 when it cannot run here.
# Everything it makes lives in one scratch directory that a trap removes, after unmounting whatever
# the test mounted and stopping the daemons it started.

set -u
export LC_ALL=C TZ=UTC
unset MESHFS_MESH MESHFS_NOW

: "${MESHFS:?MESHFS must name the meshfs binary (meson test sets it)}"
TEST_NAME=$(basename "$0" .sh)
# shellcheck disable=SC2034 # used by the tests that source this file
DATA=$(cd "$(dirname "$0")" && pwd)/data
ME=$(id -un)

# Arguments name sections before SECTIONS does, so that one environment serves every meson test.
SECTIONS=${*:-${SECTIONS:-}}

T_NUM=0
T_PASSED=0
T_FAILED=0
CRASHES=
MOUNTS=()
DAEMONS=()

# Resolved, so that it reads as in the mount table.
T=$(mktemp -d "${TMPDIR:-/tmp}/meshfs-$TEST_NAME.XXXXXX") && T=$(realpath -- "$T") || exit 99
# The mesh: its -m, its master key's file, and the directory of this host's files of it (the
# daemon's log meshfs.log, staging/). A shared mesh replaces them at the end of this file.
MESH=$T/mesh
MESH_KEY=$MESH/keys/master.key
MESH_HOST=$MESH
SHARED=

# ---- reporting ----

# diag TEXT...: diagnostic lines, each prefixed "# ".
diag()
{
	printf '%s\n' "$@" | sed 's/^/# /'
}

pass()
{
	T_NUM=$((T_NUM + 1))
	T_PASSED=$((T_PASSED + 1))
	echo "ok $T_NUM - $1"
}

# fail DESC [DETAIL...]
fail()
{
	T_NUM=$((T_NUM + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_NUM - $1"
	shift
	[ $# -gt 0 ] && diag "$@"
	return 0
}

# skip DESC REASON: a check that cannot run on this machine.
skip()
{
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM - $1 # SKIP $2"
}

# check DESC COMMAND...: passes when COMMAND succeeds (its output is only shown on failure).
check()
{
	local desc=$1
	shift
	if "$@" >"$T/check-out" 2>&1; then
		pass "$desc"
	else
		fail "$desc" "failed: $*" "$(head -n 10 "$T/check-out")"
	fi
}

# skip_all REASON: the whole test cannot run here (meson counts exit 77 as skipped).
skip_all()
{
	echo "1..0 # SKIP $1"
	exit 77
}

# bail_out REASON: a setup step failed, so what follows would only report the same cause.
bail_out()
{
	fail "$1" "${@:2}"
	echo "Bail out! $1"
	finish
}

# finish: prints the plan and the closing counts, exits 1 if anything failed.
finish()
{
	echo "1..$T_NUM"
	echo "$TEST_NAME${SECTIONS:+ ($SECTIONS)}: $T_PASSED passed, $T_FAILED failed"
	[ "$T_FAILED" -eq 0 ] && exit 0
	exit 1
}

# ---- sections ----

# sections NAME...: the test's sections, in the order they run; SECTIONS (all of them when
# empty) must name only those, so that a misspelt name fails instead of running nothing.
sections()
{
	local s
	SECTIONS=${SECTIONS:-$*}
	for s in $SECTIONS; do
		case " $* " in
		*" $s "*) ;;
		*) bail_out "no section '$s'" "the sections are: $*" ;;
		esac
	done
}

# section NAME: whether the section NAME runs.
section()
{
	case " $SECTIONS " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# ---- running commands ----

# run COMMAND...: runs with a time limit, stdout in $T/out, stderr in $T/err, status in $RC.
run()
{
	LAST_CMD="$*"
	timeout -k 5 "${RUN_TIMEOUT:-120}" "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
}

# mfs ARGS...: runs meshfs; an exit by a signal or the time limit is noted as a crash.
mfs()
{
	run "$MESHFS" "$@"
	if [ "$RC" -ge 124 ]; then
		CRASHES="$CRASHES
meshfs $* -> exit $RC"
	fi
}

# What the last command did, for a failure's diagnostics.
last_diag()
{
	echo "command: $LAST_CMD"
	echo "exit status: $RC"
	if [ -s "$T/out" ]; then
		echo "stdout:"
		head -n 15 "$T/out"
	fi
	if [ -s "$T/err" ]; then
		echo "stderr:"
		head -n 15 "$T/err"
	fi
}

# expect_ok DESC: the last command succeeded.
expect_ok()
{
	if [ "$RC" -eq 0 ]; then
		pass "$1"
	else
		fail "$1" "$(last_diag)"
	fi
}

# expect_fail DESC [ERE]: the last command failed cleanly (non-zero, not by a signal or the
# time limit) with a message on stderr, matching ERE when given.
expect_fail()
{
	if [ "$RC" -eq 0 ] || [ "$RC" -ge 124 ]; then
		fail "$1" "expected a clean failure" "$(last_diag)"
	elif [ ! -s "$T/err" ]; then
		fail "$1" "failed without a message on stderr" "$(last_diag)"
	elif [ $# -ge 2 ] && ! grep -Eq -- "$2" "$T/err"; then
		fail "$1" "stderr does not match /$2/" "$(last_diag)"
	else
		pass "$1"
	fi
}

# expect_usage DESC ERE: the last command was refused as a usage error (exit 2), with a message
# matching ERE.
expect_usage()
{
	if [ "$RC" -ne 2 ]; then
		fail "$1" "expected exit 2, a usage error" "$(last_diag)"
	else
		expect_fail "$@"
	fi
}

# expect_one_line DESC ERE: the last command failed cleanly with exactly one line on stderr, and
# that line matches ERE.
expect_one_line()
{
	local lines
	lines=$(wc -l <"$T/err")
	if [ "$RC" -eq 0 ] || [ "$RC" -ge 124 ]; then
		fail "$1" "expected a clean failure" "$(last_diag)"
	elif [ "$lines" -ne 1 ]; then
		fail "$1" "expected one line on stderr, got $lines" "$(last_diag)"
	elif ! grep -Eq -- "$2" "$T/err"; then
		fail "$1" "stderr does not match /$2/" "$(last_diag)"
	else
		pass "$1"
	fi
}

# out_has ERE / err_has ERE: the last command's output matches.
out_has()
{
	grep -Eq -- "$1" "$T/out"
}

err_has()
{
	grep -Eq -- "$1" "$T/err"
}

# check_no_crash: one check over every meshfs run of the test.
check_no_crash()
{
	if [ -z "$CRASHES" ]; then
		pass "no meshfs command was killed by a signal or hung"
	else
		fail "no meshfs command was killed by a signal or hung" "$CRASHES"
	fi
}

# same_file DESC GOT WANT: byte for byte, with where they first differ on failure.
same_file()
{
	if cmp -s -- "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "$(cmp -- "$2" "$3" 2>&1 | head -n 1)" \
			"sizes: $(stat -c %s -- "$2" 2>&1) vs $(stat -c %s -- "$3" 2>&1)"
	fi
}

# ---- meshes, contracts and data ----

# init_mesh: meshfs init of $MESH, with the store of a shared one.
init_mesh()
{
	if [ -n "$SHARED" ]; then
		mfs init -m "$MESH" --store "$MESHFS_STORE"
	else
		mfs init -m "$MESH"
	fi
}

# setup_mesh: a mesh at $MESH owned by the caller, with the team data-eng holding the caller.
setup_mesh()
{
	init_mesh
	[ "$RC" -eq 0 ] || bail_out "meshfs init" "$(last_diag)"
	mfs team create data-eng "$ME" -m "$MESH"
	[ "$RC" -eq 0 ] || bail_out "meshfs team create" "$(last_diag)"
}

# setup_step DESC ARGS...: a meshfs command the rest of the test depends on.
setup_step()
{
	local desc=$1
	shift
	mfs "$@"
	if [ "$RC" -eq 0 ]; then
		pass "$desc"
	else
		bail_out "$desc" "$(last_diag)"
	fi
}

# gen_orders ROWS VARIANT: an orders table, already normalized (LF, minimal quoting), with notes
# that need quoting (commas, quotes, newlines) and no value that looks like personal data.
gen_orders()
{
	awk -v n="$1" -v variant="$2" 'BEGIN {
		split("placed shipped delivered cancelled returned", status, " ")
		print "order_id,customer_id,order_date,amount,status,note"
		for (i = 1; i <= n; i++) {
			if (i % 10 == 0)
				note = "\"gift, wrapped\""
			else if (i % 17 == 0)
				note = "\"said \"\"leave it at the door\"\"\""
			else if (i % 101 == 0)
				note = "\"two\nlines\""
			else if (i % 3 == 0)
				note = ""
			else
				note = variant == 1 ? "standard" : "express"
			printf "%d,%d,%04d-%02d-%02d,%d.%02d,%s,%s\n", i, (i * 7919) % 5000 + 1,
				2023 + i % 2, i % 12 + 1, i % 28 + 1, (i * 37 + variant) % 900 + 1,
				(i * 13) % 100, status[i % 5 + 1], note
		}
	}'
}

# gen_customers ROWS: a customers table with PII columns (see data/customers.yaml), normalized.
# E-mail addresses repeat so that equal values can be seen to get equal tokens.
gen_customers()
{
	awk -v n="$1" 'BEGIN {
		split("Anna Ben Chloé Dariusz Emma Farid Greta Hugo Ines Jonas", first, " ")
		split("Müller Smith Rossi Dubois Jansen García Nowak Berg", last, " ")
		split("DE FR NL ES IT", country, " ")
		split("bronze silver gold", tier, " ")
		print "customer_id,full_name,email,phone,country,tier,signup_date,birth_date"
		for (i = 1; i <= n; i++) {
			name = first[i % 10 + 1] " " last[i % 8 + 1]
			if (i % 50 == 0)
				name = "\"" last[i % 8 + 1] ", " first[i % 10 + 1] "\""
			birth = i % 23 == 0 ? "" : sprintf("%04d-%02d-%02d", 1950 + i % 50,
				i % 12 + 1, i % 28 + 1)
			printf "%d,%s,user%d@example.com,+4915%08d,%s,%s,%04d-%02d-%02d,%s\n", i,
				name, i % 4000, i * 7, country[i % 5 + 1], tier[i % 3 + 1],
				2020 + i % 5, i % 12 + 1, i % 28 + 1, birth
		}
	}'
}

# write_quoted_csv IN WANT: an orders CSV with CRLF line ends, needless and needed quotes, quoted
# commas, quotes, LF and CRLF, UTF-8 and no final line end (IN), and its normalized form (WANT).
write_quoted_csv()
{
	printf '%s\r\n' \
		'"order_id",customer_id,order_date,amount,status,note' \
		'1,10,2024-01-05,12.50,placed,"gift, wrapped"' \
		'2,11,2024-01-06,7.25,"shipped","said ""hi"" twice"' \
		'3,12,2024-01-07,100,delivered,"two'$'\n''lines"' \
		'"4",13,2024-01-08,0.99,cancelled,""' \
		'5,14,2024-01-09,3.00,placed,"CRLF' \
		'inside"' >"$1"
	printf '%s' '6,15,2024-01-10,42,returned,"Zoë, Müller ""café"""' >>"$1"
	printf '%s\n' \
		'order_id,customer_id,order_date,amount,status,note' \
		'1,10,2024-01-05,12.50,placed,"gift, wrapped"' \
		'2,11,2024-01-06,7.25,shipped,"said ""hi"" twice"' \
		'3,12,2024-01-07,100,delivered,"two' \
		'lines"' \
		'4,13,2024-01-08,0.99,cancelled,' \
		'5,14,2024-01-09,3.00,placed,"CRLF'$'\r' \
		'inside"' \
		'6,15,2024-01-10,42,returned,"Zoë, Müller ""café"""' >"$2"
}

# Records in the quoted CSV (on more lines: two values hold line breaks).
# shellcheck disable=SC2034 # used by the tests that source this file
QUOTED_ROWS=6

# ---- meshfs log ----

# log_block N < LOG: the lines meshfs log prints for version N. A version's block starts at a
# line holding an ISO 8601 time; its number is the first whole number on that line.
log_block()
{
	awk -v want="$1" '
		/[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]/ {
			in_block = 0
			for (i = 1; i <= NF; i++) {
				f = $i
				gsub(/^(v|#|version)/, "", f)
				gsub(/[:,]$/, "", f)
				if (f ~ /^[0-9]+$/) {
					in_block = (f == want)
					break
				}
			}
		}
		in_block'
}

# log_versions < LOG: how many versions the log lists.
log_versions()
{
	grep -Ec '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}'
}

# log_time N LOG: version N's publish time from meshfs log, in Unix seconds.
log_time()
{
	local iso
	iso=$(log_block "$1" <"$2" |
		grep -Eo '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?' |
		head -n 1)
	[ -n "$iso" ] && date -d "$iso" +%s
}

# log_has_rows N ROWS LOG: version N's block names ROWS as a number of its own (times removed).
log_has_rows()
{
	log_block "$1" <"$3" |
		sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(Z|[+-][0-9:]+)?//g' |
		grep -Eq "(^|[^0-9.])$2([^0-9.]|$)"
}

# to_epoch TEXT: Unix seconds from a number of seconds or an ISO 8601 time.
to_epoch()
{
	case $1 in
	'' | *[!0-9]*) date -d "$1" +%s 2>/dev/null ;;
	*) echo "$1" ;;
	esac
}

# near A B: two times within a second of each other.
near()
{
	[ -n "$1" ] && [ -n "$2" ] && [ $(($1 - $2)) -le 1 ] && [ $(($2 - $1)) -le 1 ]
}

# ---- the store ----

# s3 METHOD KEY [CURL_ARG...]: a signed request for an object of the shared mesh's bucket (KEY
# relative to the bucket, a query after it in sorted order); the body on stdout, fails on an
# answer other than 2xx. curl sends no payload hash of its own, so the unsigned one is given.
s3()
{
	local method=$1 key=$2
	shift 2
	curl -sS -f --netrc-file "$T/s3.netrc" --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X "$method" "$@" \
		"$AWS_ENDPOINT_URL/$MESH_BUCKET/$key"
}

# A shared mesh's blobs, fetched by store_blobs into a tree laid out as a local store is, so that
# blob_id and flip_byte work on them; flip_byte and blob_move write a change back.
BLOB_COPIES=$T/objects

# store_blobs: the blob files under MESH/store (fan-out directories, not tmp/); of a shared mesh,
# fresh copies of the objects of its store.
store_blobs()
{
	local key
	if [ -z "$SHARED" ]; then
		find "$MESH/store" -mindepth 2 -maxdepth 2 -type f \
			-path "$MESH/store/[0-9a-f][0-9a-f]/*" | sort
		return
	fi
	rm -rf -- "$BLOB_COPIES"
	mkdir -p -- "$BLOB_COPIES"
	s3 GET "?list-type=2&prefix=${MESH_PREFIX}%2Fblobs%2F" |
		grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/' |
		while read -r key; do
			mkdir -p -- "$BLOB_COPIES/$(basename "$(dirname "$key")")"
			s3 GET "$key" -o "$BLOB_COPIES/${key#"$MESH_PREFIX/blobs/"}" &&
				echo "$BLOB_COPIES/${key#"$MESH_PREFIX/blobs/"}"
		done | sort
}

# blob_key FILE: the object a copy that store_blobs made stands for, or nothing.
blob_key()
{
	case $1 in
	"$BLOB_COPIES"/*) echo "$MESH_PREFIX/blobs/${1#"$BLOB_COPIES/"}" ;;
	esac
}

# blob_move FROM TO: mv, where a copy that store_blobs made stands for its object: moved away, the
# object is deleted; moved back, it is written again.
blob_move()
{
	local key
	key=$(blob_key "$1")
	[ -z "$key" ] || s3 DELETE "$key" >/dev/null || return 1
	mv -- "$1" "$2" || return 1
	key=$(blob_key "$2")
	[ -z "$key" ] || blob_put "$2" "$key"
}

# blob_put FILE KEY: a changed blob written over its object, as damage in the store would be; the
# blocks this host's cache holds of it are dropped (as an eviction would), so that the next read
# here meets the store's bytes.
blob_put()
{
	local id
	id=$(blob_id "$1")
	s3 PUT "$2" -T "$1" >/dev/null || return 1
	rm -f -- "$MESH_HOST/blocks/${id:0:2}/$id".*
}

# blob_file HASH: the blob of that content hash (user.meshfs.hash less its "ALGO:"): its file in
# MESH/store, or a fresh copy of a shared mesh's object.
blob_file()
{
	local name=${1:0:2}/${1:2}
	if [ -z "$SHARED" ]; then
		echo "$MESH/store/$name"
		return
	fi
	mkdir -p -- "$BLOB_COPIES/${1:0:2}"
	s3 GET "$MESH_PREFIX/blobs/$name" -o "$BLOB_COPIES/$name" && echo "$BLOB_COPIES/$name"
}

# blob_id FILE: the id of a blob file, its fan-out directory's name then its own.
blob_id()
{
	echo "$(basename "$(dirname "$1")")$(basename "$1")"
}

# mesh_at_rest: a directory holding every byte the mesh keeps at rest, for a search: the mesh
# directory; of a shared mesh, a copy of its database (pg_dump, with bytea values decoded), of
# the objects of its store and of this host's files (cache, staging, log).
mesh_at_rest()
{
	if [ -z "$SHARED" ]; then
		echo "$MESH"
		return
	fi
	local at=$T/at-rest
	rm -rf -- "$at"
	mkdir -p -- "$at/objects" || return 1
	/usr/lib/postgresql/15/bin/pg_dump --no-owner "$MESH" >"$at/catalog.sql" || return 1
	python3 -c 'import re, sys
data = open(sys.argv[1], "rb").read()
for h in re.findall(rb"\\\\x((?:[0-9a-f]{2})+)", data):
    sys.stdout.buffer.write(bytes.fromhex(h.decode()) + b"\n")' "$at/catalog.sql" \
		>"$at/catalog-bytea" || return 1
	store_blobs >/dev/null && cp -a -- "$BLOB_COPIES/." "$at/objects/" &&
		cp -a -- "$MESH_HOST" "$at/host" && echo "$at"
}

# first_chunk_offset SEGMENT: where the first sealed chunk of a segment with PII starts, after
# the first row group's masked bytes: its first byte is the sealing's format, 1, the first such
# byte past the 24 of the file header (the masked CSV text before it has none).
first_chunk_offset()
{
	local at
	at=$(tail -c +25 -- "$1" | LC_ALL=C grep -obaP -m 1 '\x01' | head -n 1 | cut -d: -f1)
	[ -n "$at" ] && echo $((24 + at))
}

# flip_byte FILE OFFSET: inverts the lowest bit of one byte in place (works on read-only files for
# root only, so the mode is lifted and put back); in a copy that store_blobs made, in its object.
flip_byte()
{
	local mode byte key
	mode=$(stat -c %a "$1")
	chmod u+w "$1"
	byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf '%b' "\\x$(printf '%02x' $((byte ^ 1)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
	chmod "$mode" "$1"
	key=$(blob_key "$1")
	[ -z "$key" ] || blob_put "$1" "$key"
}

# ---- mounts ----

# fuse_usable: why FUSE cannot be used here, or nothing.
fuse_unusable()
{
	if [ ! -c /dev/fuse ]; then
		echo "/dev/fuse is missing"
	elif [ ! -r /dev/fuse ] || [ ! -w /dev/fuse ]; then
		echo "/dev/fuse is not readable and writable by $ME"
	elif ! command -v fusermount3 >/dev/null; then
		echo "fusermount3 is missing"
	elif ! command -v mountpoint >/dev/null; then
		echo "mountpoint is missing"
	fi
}

# daemon_pids MNT: processes of $MESHFS serving MNT (its command line names MNT).
daemon_pids()
{
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' '\n' 2>/dev/null <"$p/cmdline" | head -n 1 | grep -qxF -- "$MESHFS" &&
			tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -qxF -- "$1"; then
			basename "$p"
		fi
	done
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for()
{
	local tries=$(($1 * 10))
	shift
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# is_mounted DIR: from the mount table, which also lists a mount whose daemon died (there,
# mountpoint(1) fails to stat the directory and says it is not a mount point).
is_mounted()
{
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

not_mounted()
{
	! is_mounted "$1"
}

pids_gone()
{
	local p
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}

# track_mount MNT: unmounted (and its daemons stopped) by the exit trap if still there.
track_mount()
{
	MOUNTS+=("$1")
}

# track_daemon PID...
track_daemon()
{
	DAEMONS+=("$@")
}

# ---- Unix users, made by a test and removed at exit ----

# Users and groups a test made (useradd, groupadd) and processes run as them: removed or stopped
# first thing at exit, before the mounts (the daemons run as root).
MADE_USERS=()
MADE_GROUPS=()
USER_PIDS=()

# shellcheck disable=SC2317 # called by cleanup
remove_users()
{
	local p u g
	for p in "${USER_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for u in "${MADE_USERS[@]}"; do
		userdel "$u" 2>/dev/null
		getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null
	done
	for g in "${MADE_GROUPS[@]}"; do
		groupdel "$g" 2>/dev/null
	done
}

# as USER COMMAND...: runs COMMAND as USER, with USER's primary and supplementary groups.
as()
{
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
}

# run_as USER COMMAND...: run (time limit, $T/out, $T/err, $RC) as USER.
run_as()
{
	local u=$1
	shift
	run setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"
}

cleanup()
{
	local status=$? m p left=
	trap - EXIT
	remove_users
	for m in "${MOUNTS[@]}"; do
		if is_mounted "$m"; then
			fusermount3 -u -- "$m" 2>/dev/null || fusermount3 -u -z -- "$m" 2>/dev/null
		fi
		is_mounted "$m" && left="$left $m"
	done
	for p in "${DAEMONS[@]}"; do
		wait_for 5 pids_gone "$p" || kill "$p" 2>/dev/null
	done
	if [ -n "$left" ]; then
		echo "not ok - left mounted at exit:$left"
		status=1
	fi
	rm -rf --one-file-system -- "$T"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- a shared mesh ----

# With MESHFS_TEST_SHARED=1 the mesh is a shared one, all of it new: MESH is the URL of a
# database made for it (through the superuser's socket, the role's password added to the password
# file), its store a prefix of its own in one bucket ($MESHFS_STORE, for init_mesh and
# examples/create-mesh.sh), its key $T/keys/master.key and this host's files in $T/host
# ($MESHFS_KEY and $MESHFS_CACHE_DIR, which every command and mount read).
if [ "${MESHFS_TEST_SHARED:-}" = 1 ]; then
	if [ -z "${MESHFS_PG_URL:-}" ] || [ -z "${MESHFS_PG_SOCKET_DIR:-}" ] ||
		[ -z "${AWS_ENDPOINT_URL:-}" ]; then
		bail_out "a shared mesh needs tests/servers/with_pg.sh and with_swift.sh around the test"
	fi
	SHARED=1
	MESH_DB=$(echo "${TEST_NAME}_$$" | tr -c 'a-z0-9_\n' _)
	psql -X -q -h "$MESHFS_PG_SOCKET_DIR" -p "$PGPORT" -U postgres -d postgres \
		-c "CREATE DATABASE $MESH_DB OWNER $PGUSER" >"$T/out" 2>&1 ||
		bail_out "CREATE DATABASE $MESH_DB" "$(cat "$T/out")"
	echo "127.0.0.1:$PGPORT:$MESH_DB:$PGUSER:$(head -n 1 "$PGPASSFILE" | cut -d: -f5)" \
		>>"$PGPASSFILE"
	MESH=${MESHFS_PG_URL%/*}/$MESH_DB
	MESH_BUCKET=meshfs-itest
	MESH_PREFIX=$TEST_NAME-$$
	# Named as a local mesh's is, so that messages naming it read the same.
	mkdir -m 0755 "$T/keys"
	MESH_KEY=$T/keys/master.key
	MESH_HOST=$T/host
	# The keys' "account:user" login is taken whole from a netrc file, not from --user.
	(umask 077 && echo "machine 127.0.0.1 login $AWS_ACCESS_KEY_ID password $AWS_SECRET_ACCESS_KEY" \
		>"$T/s3.netrc")
	export MESHFS_STORE=s3://$MESH_BUCKET/$MESH_PREFIX MESHFS_KEY=$MESH_KEY \
		MESHFS_CACHE_DIR=$MESH_HOST
fi
