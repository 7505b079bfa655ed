#!/usr/bin/env bash
# Installs the Debian packages meshfs needs to build, run and test, if any is missing (clang and
# its runtime libraries for the fuzz targets and their sanitizers, see scripts/fuzz.sh). With
# --test, also the servers the shared mesh's tests start: PostgreSQL 15 and Swift
# (tests/servers/deps.sh lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	pkg-config meson ninja-build gcc libc6-dev
	libfuse3-dev fuse3 libsqlite3-dev libpq-dev libsodium-dev libyaml-dev libpcre2-dev libarchive-dev
	libcmocka-dev libcurl4-openssl-dev libxml2-dev
	attr util-linux procps
	rsync nano vim-tiny xz-utils bzip2 zstd zip
	clang libclang-rt-dev
)
if [ "${1:-}" = --test ]; then
	mapfile -t -O ${#packages[@]} packages < <(tests/servers/deps.sh)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "meshfs: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "meshfs: need root (or sudo) to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
