#!/usr/bin/env bash
# Builds the example mesh of Larkspur Outfitters (see README.md) with the meshfs CLI:
#
#   create-mesh.sh MESH [ROWS]
#
# MESH is a directory that must not exist or be empty, or a shared mesh's PostgreSQL URL (its
# database holding no mesh yet; the store is $MESHFS_STORE, the new master key $MESHFS_KEY).
# ROWS (default 2000) is the size of each generated table.
# The binaries are $MESHFS and $MESHFS_EXAMPLE_GEN, else meshfs and meshfs-example-gen in PATH.
#
# The story is back-dated with MESHFS_NOW: the mesh is set up 30 days ago, a few products get
# two or three versions a day apart, two were last published long enough ago to be stale, and
# two are defined but never published, so that catalog.csv shows fresh, stale and never.
#
# Generated tables hold (fictional) personal data. They go straight from the generator into
# `meshfs publish ... -` through a pipe and are never written to disk in plain text.
set -euo pipefail

prog=${0##*/}

die() {
	echo "$prog: $*" >&2
	exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ "$1" = --help ] || [ "$1" = -h ]; then
	echo "usage: $prog MESH [ROWS]" >&2
	exit 2
fi
mesh=$1
rows=${2:-2000}
case $rows in
'' | *[!0-9]*) die "ROWS must be a whole number, not '$rows'" ;;
esac
[ "$rows" -ge 1 ] || die "ROWS must be at least 1"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
meshfs=${MESHFS:-meshfs}
gen=${MESHFS_EXAMPLE_GEN:-meshfs-example-gen}
command -v "$meshfs" >/dev/null || die "meshfs not found: set MESHFS or add it to PATH"
command -v "$gen" >/dev/null ||
	die "meshfs-example-gen not found: set MESHFS_EXAMPLE_GEN or add it to PATH"
for f in teams.txt domains.txt contracts; do
	[ -e "$here/$f" ] || die "$here/$f is missing"
done

# What the script is doing, for the message if it fails.
step="starting"
on_exit() {
	local rc=$?

	[ "$rc" -eq 0 ] || echo "$prog: failed while $step (exit $rc)" >&2
}
trap on_exit EXIT

me=$(id -un)
now=$(date +%s)
day=86400
export MESHFS_MESH=$mesh

# Runs meshfs with the clock set $1 seconds in the past. Its report goes away (the progress
# lines below say what happens); its errors do not.
at() {
	local ago=$1
	shift
	MESHFS_NOW=$((now - ago)) "$meshfs" "$@" >/dev/null
}

# How each product is published: DOMAIN/PRODUCT ROUNDS AGE. Each round publishes every table
# once (a new version per table), one day after the previous round; the last round happens AGE
# hours ago. Products not listed get one round, now.
plan='
orders/orders             3   0
payments/transactions     2   0
customers/customers       2   0
inventory/stock_levels    2   0
analytics/daily_revenue   3   0
finance/fx_rates          1  72
hr/departments            1 240
pricing/competitor_prices 0   0
analytics/customer_ltv    0   0
'

plan_of() {
	local line
	line=$(printf '%s\n' "$plan" | awk -v p="$1" '$1 == p { print $2, $3 }')
	echo "${line:-1 0}"
}

# Lists lines of a data file without comments and blank lines.
entries() {
	grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$1"
}

step="creating the mesh in $mesh"
echo "==> $step"
case $mesh in
postgres://* | postgresql://*)
	[ -n "${MESHFS_STORE:-}" ] || die "a shared mesh needs MESHFS_STORE (s3://BUCKET/PREFIX)"
	at $((30 * day)) init -m "$mesh" --store "$MESHFS_STORE"
	;;
*) at $((30 * day)) init -m "$mesh" ;;
esac

echo "==> teams"
while read -r team users; do
	members=$users
	case " $users " in
	*" $me "*) ;;
	*) members="$users $me" ;;
	esac
	step="creating team $team"
	# shellcheck disable=SC2086 # members is a list of names
	at $((30 * day)) team create "$team" $members
	echo "    $team: $members"
done < <(entries "$here/teams.txt")

echo "==> domains"
while read -r domain team description; do
	step="creating domain $domain"
	at $((30 * day)) domain create "$domain" --owner "$team" --description "$description"
	echo "    $domain (owner $team)"
done < <(entries "$here/domains.txt")

contracts=("$here"/contracts/*/*.yaml)
echo "==> products (${#contracts[@]} contracts)"
for f in "${contracts[@]}"; do
	d=$(basename "$(dirname "$f")")
	p=$(basename "$f" .yaml)
	step="creating product $d/$p"
	at $((30 * day)) product create "$d/$p" --contract "$f"
	echo "    $d/$p"
done

echo "==> publishing ($rows rows a table)"
versions=0
for f in "${contracts[@]}"; do
	d=$(basename "$(dirname "$f")")
	p=$(basename "$f" .yaml)
	read -r rounds age <<<"$(plan_of "$d/$p")"
	if [ "$rounds" -eq 0 ]; then
		echo "    $d/$p: left unpublished"
		continue
	fi
	step="reading the tables of $f"
	tables=$("$gen" --tables "$f")
	for ((r = 1; r <= rounds; r++)); do
		ago=$((age * 3600 + (rounds - r) * day))
		# later rounds grow a little, as real tables do
		n=$((rows + rows * (r - 1) / 10))
		for t in $tables; do
			step="publishing $d/$p/$t (round $r)"
			"$gen" "$f" "$t" "$n" "$r" | at "$ago" publish "$d/$p/$t" -
			versions=$((versions + 1))
			echo "    $d/$p/$t: round $r, $n rows"
		done
	done
done

echo "==> done: ${#contracts[@]} products, $versions versions in $mesh"
echo "    mount it with: $meshfs mount -m $mesh MOUNTPOINT"
