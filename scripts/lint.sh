#!/usr/bin/env bash
# The linter (tools/lint/eslint.config.mjs, via eslint.config.mjs) and the formatter check (prettier, .prettierrc.json).
# Their packages install under tools/lint/ from their own lockfile, the first time and whenever that lockfile
# changes. With arguments, ESLint runs on them alone; without, ESLint and `prettier --check` run on the repository.
# `npm run format` rewrites what the check would refuse.
set -euo pipefail
cd "$(dirname "$0")/.."
L=tools/lint
if [ ! -x "$L/node_modules/.bin/prettier" ] || [ "$L/package-lock.json" -nt "$L/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$L" --no-audit --no-fund --loglevel=error >/dev/null
fi
if [ "${1:-}" = "--write" ]; then
  exec "$L/node_modules/.bin/prettier" --write --log-level warn .
fi
if [ $# -gt 0 ]; then
  exec "$L/node_modules/.bin/eslint" "$@"
fi
"$L/node_modules/.bin/eslint" .
"$L/node_modules/.bin/prettier" --check --log-level warn .
