#!/usr/bin/env bash
# Installs what TestModernClickHouse (sinks/clickhouse/modern_test.go) needs:
# node and npm from Debian, and chdb (a modern ClickHouse in process) from
# package-lock.json into scripts/chdb/node_modules. Idempotent: when the
# installed tree was made from this very lock file and chdb loads, it does
# nothing (well under a second).
#
# Usage: bash scripts/chdb/install.sh
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	sudo=()
	if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
	echo "chdb install: installing node and npm (Debian packages nodejs, npm)" >&2
	"${sudo[@]}" apt-get update -qq || true
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# The stamp is the lock file the tree was installed from; the install below
# replaces node_modules whole, so a matching stamp means a matching tree.
stamp="$dir/node_modules/.bounced-package-lock.json"
if cmp -s "$dir/package-lock.json" "$stamp" &&
	(cd "$dir" && node -e 'require("chdb").query("SELECT 1")' >/dev/null 2>&1); then
	exit 0
fi
# npm install --no-save, not npm ci: npm 11 writes a lock with only this
# platform's @chdb/lib-* package, and npm ci then refuses it for missing the
# other platforms' optional ones. With a lock present, npm install takes the
# locked versions and --no-save leaves the lock as it is.
rm -rf "$dir/node_modules"
npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error
cp "$dir/package-lock.json" "$stamp"
(cd "$dir" && node -e 'console.log("chdb install: ClickHouse " + require("chdb").query("SELECT version()", "TSVRaw").trim())')
