#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration, fuzz replays); then
# the same tests again built with AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
# in build-asan/, where any report fails the run; then, when clang is installed, a short fuzzing
# run of every fuzz target (MESHFS_FUZZ_SECONDS each, default 5; 0 skips it).
# Arguments go to both `meson test` runs, e.g. `scripts/test.sh --suite unit`.
#
# The plain run goes on while the sanitizer build, its run and the fuzzing take their turns
# beside it: most of the plain run waits (on servers stopped on purpose, on timeouts, on
# publishes of other hosts) rather than computes, and the two runs share nothing but the
# machine. Their outputs are printed one after the other, the plain run's as it goes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
scripts/build.sh
# The sanitizer build and run, then the fuzzing: in a subshell, so that its exports and a failure
# stay there.
side()
(
	# ---- the same tests under the sanitizers ----
	# With clang, whose runtime writes UBSan's reports to log_path too (gcc's only to stderr).
	if [ ! -f build-asan/build.ninja ]; then
		sanitize_cc=gcc
		command -v clang >/dev/null && sanitize_cc=clang
		CC=$sanitize_cc meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
			>/dev/null
	fi
	ninja -C build-asan
	logs=$(pwd)/build-asan/sanitizer-logs
	rm -rf "$logs"
	mkdir -p "$logs"
	# A FUSE reply is checked by ASan after the write(2) to /dev/fuse has returned; by then the kernel
	# has copied it, the reader may have closed the file and the release freed the buffer. Reports
	# from inside fuse_reply_buf are that race, not a use after free of meshfs.
	printf 'interceptor_via_fun:fuse_reply_buf\n' >build-asan/asan.supp
	# LeakSanitizer cannot run everywhere (under ptrace, some sandboxes): find out on a small program.
	leaks=1
	if ! probe=$(ASAN_OPTIONS=detect_leaks=1 build-asan/fuzz/fuzz-replay-seal fuzz/corpus/seal 2>&1) &&
		grep -q 'LeakSanitizer has encountered a fatal error' <<<"$probe"; then
		echo "test.sh: LeakSanitizer does not work here; leaks are not checked" >&2
		leaks=0
	fi
	# A report aborts the process and is written to a file in $logs, and any such file fails the run:
	# that catches reports in processes whose failure a test expects (a command that must exit
	# non-zero) or does not see (the mount daemon).
	export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=$leaks:log_path=$logs/asan"
	supp=$(pwd)/build-asan/asan.supp
	export ASAN_OPTIONS="$ASAN_OPTIONS:suppressions=$supp"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:log_path=$logs/ubsan"
	status=0
	# The long fault-injection trials (suite slow) ran above; under the sanitizers they would double
	# the time of the whole command for little: every code path they take is taken by other tests.
	meson test -C build-asan --print-errorlogs --no-suite slow "$@" || status=$?
	if [ -n "$(ls -A "$logs")" ]; then
		for f in "$logs"/*; do
			echo "==== $f" >&2
			cat "$f" >&2
		done
		echo "test.sh: sanitizer reports above" >&2
		status=1
	fi
	unset ASAN_OPTIONS UBSAN_OPTIONS
	[ "$status" -eq 0 ] || return "$status"

	# ---- a short fuzzing run ----
	seconds=${MESHFS_FUZZ_SECONDS:-5}
	if [ "$seconds" -eq 0 ]; then
		echo "test.sh: MESHFS_FUZZ_SECONDS=0: no fuzzing"
	elif ! command -v clang >/dev/null; then
		echo "test.sh: clang is not installed: no fuzzing"
	else
		scripts/fuzz.sh -t "$seconds" || return 1
	fi
)

side_log=$(mktemp "${TMPDIR:-/tmp}/meshfs-test.XXXXXX")
trap 'rm -f -- "$side_log"' EXIT
side "$@" >"$side_log" 2>&1 &
side_pid=$!
plain=0
meson test -C build --print-errorlogs "$@" || plain=$?
side=0
wait "$side_pid" || side=$?
echo "==== the sanitizer run and the fuzzing"
cat "$side_log"

# ---- one closing line for both runs ----
count() { cat build/meson-logs/testlog.json build-asan/meson-logs/testlog.json 2>/dev/null |
	grep -a -c "\"result\": \"$1\"" || true; }
echo "tests: $(count OK) passed, $(( $(count FAIL) + $(count TIMEOUT) )) failed, $(count SKIP) skipped"
[ "$plain" -eq 0 ] && [ "$side" -eq 0 ]
