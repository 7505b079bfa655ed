#!/usr/bin/env bash
# deps.sh: the Debian packages that pg.sh, swift.sh and check.sh need, one a line, for an
# installer to read (apt-get install --no-install-recommends is enough).
set -euo pipefail
printf '%s\n' \
	postgresql-15 postgresql-client-15 \
	swift swift-proxy swift-account swift-container swift-object python3-swift \
	memcached \
	python3 util-linux coreutils curl
