#!/usr/bin/env bash
# Fuzzes meshfs with libFuzzer: builds the targets of fuzz/ with clang in build-fuzz/, then runs
# each for a while. A target's working corpus, fuzz/corpus-TARGET/ (not committed), grows from
# the seeds in fuzz/corpus/TARGET/ and the regressions in fuzz/regressions/TARGET/, which are
# only read.
#
#   scripts/fuzz.sh [-t SECONDS] [TARGET...]     SECONDS per target (default 60); all targets
#
# A crash, leak, sanitizer report or hang stops the run with exit 1 and the input saved under
# build-fuzz/artifacts/TARGET/: replay it with build-fuzz/fuzz/fuzz-TARGET FILE, and once the
# bug is fixed, keep it as fuzz/regressions/TARGET/NAME.
set -euo pipefail
cd "$(dirname "$0")/.."

usage()
{
	echo "usage: scripts/fuzz.sh [-t SECONDS] [TARGET...]" >&2
	exit 2
}

seconds=60
while getopts t:h opt; do
	case $opt in
	t) seconds=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $seconds =~ ^[0-9]+$ ]] || usage

command -v clang >/dev/null || {
	echo "fuzz.sh: clang is not installed (scripts/deps.sh installs it)" >&2
	exit 1
}
[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false >/dev/null
# Only the fuzz targets: the rest of the tree is built and tested elsewhere.
mapfile -t binaries < <(ninja -C build-fuzz -t targets all | sed -n 's|^\(fuzz/fuzz-[a-z0-9_]*\): .*|\1|p')
[ ${#binaries[@]} -gt 0 ] || {
	echo "fuzz.sh: build-fuzz has no fuzz targets" >&2
	exit 1
}
out=$(ninja -C build-fuzz "${binaries[@]}" 2>&1) || {
	echo "$out" >&2
	exit 1
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for b in "${binaries[@]}"; do
		targets+=("${b#fuzz/fuzz-}")
	done
fi

# Targets that need a store make one in a temporary directory: in memory where there is some,
# and in one directory removed at the end, so that a run that crashed leaves nothing either.
tmp=${TMPDIR:-}
if [ -z "$tmp" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	tmp=/dev/shm
fi
TMPDIR=$(mktemp -d "${tmp:-/tmp}/meshfs-fuzz.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

for t in "${targets[@]}"; do
	bin=build-fuzz/fuzz/fuzz-$t
	[ -x "$bin" ] || {
		echo "fuzz.sh: no target '$t'" >&2
		exit 2
	}
	artifacts=build-fuzz/artifacts/$t
	mkdir -p "fuzz/corpus-$t" "$artifacts"
	args=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$artifacts/")
	[ -f "fuzz/$t.dict" ] && args+=(-dict="fuzz/$t.dict")
	dirs=("fuzz/corpus-$t" "fuzz/corpus/$t")
	[ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
	log=$artifacts/last.log
	if ! "$bin" "${args[@]}" "${dirs[@]}" >"$log" 2>&1; then
		tail -n 60 "$log" >&2
		echo "fuzz.sh: $t failed: the input is in $artifacts/, the whole log in $log" >&2
		exit 1
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
	echo "fuzz $t: ${runs:-0} runs in ${seconds}s (${rate:-0}/s), ${cov:-cov: ?}," \
		"$(find "fuzz/corpus-$t" -type f | wc -l) inputs in fuzz/corpus-$t"
done
