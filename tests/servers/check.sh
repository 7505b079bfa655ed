#!/usr/bin/env bash
# check.sh: starts pg.sh and swift.sh into a scratch directory and proves each does what the tests
# will lean on: psql over TCP with the password file, and the S3 calls a segment store makes
# (buckets, whole and ranged reads, multipart uploads, listings, deletes, refused credentials),
# signed with curl's AWS Signature Version 4. One line per check, then "N passed, N failed"; exits
# non-zero if any failed. Both servers are stopped and the scratch directory removed on any exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# Until the shared mesh's tests need them, the test command does not install these servers: where
# they are missing the check is skipped, saying which (77 is meson's skip).
# shellcheck source=tests/servers/lib.sh
. "$here/lib.sh"
# shellcheck disable=SC2046 # one package a word
mapfile -t absent < <(missing $("$here/deps.sh"))
if [ ${#absent[@]} -gt 0 ]; then
	echo "skip: not installed: ${absent[*]} (install them with apt-get to run this check)"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/meshfs-servers.XXXXXX")
# The servers run as their own users and must reach their directories inside.
chmod 0755 "$work"
cleanup()
{
	"$here/swift.sh" stop "$work/swift" || true
	"$here/pg.sh" stop "$work/pg" || true
	rm -rf "$work"
}
trap cleanup EXIT
# Killed (Ctrl-C, a test runner's timeout), still stop the servers: bash runs the EXIT trap on exit.
trap 'exit 1' INT TERM HUP

passed=0
failed=0
# check NAME COMMAND...: one line saying whether COMMAND succeeded.
check()
{
	local name=$1
	shift
	if "$@" >"$work/check.out" 2>&1; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "FAIL - $name"
		sed 's/^/#   /' "$work/check.out" | head -n 20
		failed=$((failed + 1))
	fi
}

# start NAME: NAME.sh start, timed, its settings exported here.
start()
{
	local t0 ms
	t0=$(date +%s%N)
	"$here/$1.sh" start "$work/$1" >/dev/null 2>"$work/$1.start.log" || {
		cat "$work/$1.start.log" >&2
		echo "check.sh: $1.sh start failed" >&2
		exit 1
	}
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# $1.sh start: $ms ms"
	set -a
	# shellcheck disable=SC1090 # written by start
	. "$work/$1/env"
	set +a
}

start pg
start swift

# ---- PostgreSQL ----

sql_roundtrip()
{
	local got
	got=$(psql -X -q -At -v ON_ERROR_STOP=1 "$MESHFS_PG_URL" \
		-c "CREATE TABLE segments (id int PRIMARY KEY, name text NOT NULL)" \
		-c "INSERT INTO segments VALUES (1, 'alpha'), (2, 'beta')" \
		-c "SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM segments")
	[ "$got" = "1=alpha,2=beta" ] || {
		echo "read back: $got"
		return 1
	}
}
check "psql with the URL and the password file creates and reads a table" sql_roundtrip

# The password file is what lets the URL in: without it, no password and no connection.
no_password_refused()
{
	! PGPASSFILE=/dev/null psql -X -w -At "$MESHFS_PG_URL" -c "SELECT 1"
}
check "psql without the password file is refused" no_password_refused

check "psql over the unix socket reaches the test database" \
	psql -X -At -h "$MESHFS_PG_SOCKET_DIR" -c "SELECT count(*) FROM segments"

# ---- S3 ----

# A tempauth access key is "account:user", and curl's --user cuts at the first colon: the keys go
# in netrc files, whose login is taken whole.
netrc()
{
	(umask 077 && echo "machine 127.0.0.1 login $2 password $3" >"$work/$1.netrc")
}
netrc tester "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
netrc wrong "$AWS_ACCESS_KEY_ID" "not-$AWS_SECRET_ACCESS_KEY"
netrc unknown "nobody:$RANDOM" "$AWS_SECRET_ACCESS_KEY"
netrc other "$MESHFS_S3_OTHER_ACCESS_KEY_ID" "$MESHFS_S3_OTHER_SECRET_ACCESS_KEY"

# s3 WHO METHOD PATH BODY_FILE [CURL_ARGS...]: a signed request as WHO (a netrc above). The
# status goes to $work/status, the body to $work/body, the headers to $work/headers. curl 7.88
# sends no x-amz-content-sha256 of its own, so the payload's hash is given, and signs the query
# string as written: a key without a value is written "key=", and keys in sorted order.
s3()
{
	local who=$1 method=$2 path=$3 body=$4 hash upload=()
	shift 4
	hash=$(sha256sum <"${body:-/dev/null}")
	hash=${hash%% *}
	[ -z "$body" ] || upload=(-T "$body")
	curl -sS --netrc-file "$work/$who.netrc" --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		-H "x-amz-content-sha256: $hash" -X "$method" "${upload[@]}" "$@" \
		-o "$work/body" -D "$work/headers" -w '%{http_code}' "$AWS_ENDPOINT_URL$path" \
		>"$work/status"
}

# expect STATUS [BODY_PATTERN]: the last response had STATUS and a body matching the ERE.
expect()
{
	local status
	status=$(cat "$work/status")
	if [ "$status" != "$1" ] || { [ -n "${2:-}" ] && ! grep -Eq "$2" "$work/body"; }; then
		echo "status $status, wanted $1${2:+ and a body matching $2}"
		head -c 2000 "$work/body"
		return 1
	fi
}

# request WHO METHOD PATH BODY_FILE STATUS [BODY_PATTERN [CURL_ARGS...]]: s3, then expect. An
# empty BODY_FILE sends no body, an empty BODY_PATTERN matches any.
request()
{
	local who=$1 method=$2 path=$3 body=$4 status=$5 pattern=${6:-}
	shift $(($# < 6 ? $# : 6))
	s3 "$who" "$method" "$path" "$body" "$@" && expect "$status" "$pattern"
}

bucket=meshfs-check
head -c 100000 /dev/urandom >"$work/object"

check "PUT /$bucket creates the bucket" request tester PUT "/$bucket" "" 200
check "PUT an object" request tester PUT "/$bucket/seg/one" "$work/object" 200

got_back()
{
	request tester GET "/$bucket/seg/one" "" 200 && cmp "$work/object" "$work/body"
}
check "GET returns it byte for byte" got_back

ranged()
{
	request tester GET "/$bucket/seg/one" "" 206 "" -H "Range: bytes=5-9" &&
		cmp <(tail -c +6 "$work/object" | head -c 5) "$work/body"
}
check "GET with Range: bytes=5-9 is a 206 of exactly those 5 bytes" ranged

# multipart KEY PART_FILE...: a whole multipart upload of KEY from those parts; the uploaded
# parts' list is left in $work/complete.xml and the upload id in $work/upload_id.
multipart_parts()
{
	local key=$1 id n=0 etag
	shift
	request tester POST "/$bucket/$key?uploads=" "" 200 "<UploadId>" || return 1
	id=$(sed -n 's:.*<UploadId>\([^<]*\)</UploadId>.*:\1:p' "$work/body")
	echo "$id" >"$work/upload_id"
	echo "<CompleteMultipartUpload>" >"$work/complete.xml"
	for part in "$@"; do
		n=$((n + 1))
		request tester PUT "/$bucket/$key?partNumber=$n&uploadId=$id" "$part" 200 || return 1
		etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\([^[:space:]]*\).*/\1/p' "$work/headers")
		echo "<Part><PartNumber>$n</PartNumber><ETag>$etag</ETag></Part>" >>"$work/complete.xml"
	done
	echo "</CompleteMultipartUpload>" >>"$work/complete.xml"
}

# S3's rule, kept by Swift's s3api (min_segment_size): every part but the last at least 5 MiB.
head -c $((5 * 1024 * 1024)) /dev/urandom >"$work/part1"
head -c $((5 * 1024 * 1024 + 12345)) /dev/urandom >"$work/part2"
multipart()
{
	multipart_parts seg/big "$work/part1" "$work/part2" &&
		request tester POST "/$bucket/seg/big?uploadId=$(cat "$work/upload_id")" \
			"$work/complete.xml" 200 "<CompleteMultipartUploadResult" &&
		request tester GET "/$bucket/seg/big" "" 200 &&
		cmp <(cat "$work/part1" "$work/part2") "$work/body"
}
check "multipart upload of 2 parts of 5 MiB and more, completed, reads back whole" multipart

head -c 1000 /dev/urandom >"$work/small"
too_small()
{
	multipart_parts seg/small "$work/small" "$work/small" &&
		request tester POST "/$bucket/seg/small?uploadId=$(cat "$work/upload_id")" \
			"$work/complete.xml" 400 "<Code>EntityTooSmall</Code>" &&
		request tester DELETE "/$bucket/seg/small?uploadId=$(cat "$work/upload_id")" "" 204
}
check "multipart upload with a first part under 5 MiB is refused (EntityTooSmall), then aborted" \
	too_small

listed()
{
	request tester GET "/$bucket?list-type=2&prefix=seg%2F" "" 200 \
		"<KeyCount>2</KeyCount>.*<Key>seg/big</Key>.*<Key>seg/one</Key>"
}
check "ListObjectsV2 lists both objects" listed

check "a wrong secret is refused: 403 SignatureDoesNotMatch" \
	request wrong GET "/$bucket/seg/one" "" 403 "<Code>SignatureDoesNotMatch</Code>"
check "an unknown access key is refused: 403" \
	request unknown GET "/$bucket/seg/one" "" 403 "<Code>(InvalidAccessKeyId|SignatureDoesNotMatch)</Code>"
check "the second user, correctly signed, may not read the first's bucket: 403 AccessDenied" \
	request other GET "/$bucket/seg/one" "" 403 "<Code>AccessDenied</Code>"

deleted()
{
	request tester DELETE "/$bucket/seg/one" "" 204 &&
		request tester DELETE "/$bucket/seg/big" "" 204 &&
		request tester GET "/$bucket/seg/one" "" 404 "<Code>NoSuchKey</Code>" &&
		request tester DELETE "/$bucket" "" 204
}
check "DELETE the objects (then 404 NoSuchKey) and the bucket" deleted

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
