#!/usr/bin/env bash
# The linter (tools/lint/eslint.config.mjs, via eslint.config.mjs). Its packages install under tools/lint/ from
# their own lockfile, the first time and whenever that lockfile changes; then ESLint runs with the arguments given
# (by default on the whole repository).
set -euo pipefail
cd "$(dirname "$0")/.."
L=tools/lint
if [ ! -x "$L/node_modules/.bin/eslint" ] || [ "$L/package-lock.json" -nt "$L/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$L" --no-audit --no-fund --loglevel=error >/dev/null
fi
[ $# -gt 0 ] || set -- .
exec "$L/node_modules/.bin/eslint" "$@"
