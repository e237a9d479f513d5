#!/usr/bin/env bash
# The TypeScript generated-client check behind `make client-check`: generate
# types from ../../openapi.yaml with openapi-typescript, type-check smoke.ts
# against them (tsc --strict), compile it, and run it with openapi-fetch
# against a real server (bin/onlinemeetings, memory store, dev issuer, a free
# port on 127.0.0.1). Needs Node.js >= 20 and npm; the server binary must be
# built (`make build`; ONLINEMEETINGS_BIN overrides its path).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
bin=${ONLINEMEETINGS_BIN:-$root/bin/onlinemeetings}
[ -x "$bin" ] || { echo "client-check: $bin not found: run make build" >&2; exit 1; }
command -v node >/dev/null || { echo "client-check: node not found (Node.js >= 20 is needed)" >&2; exit 1; }

step() { echo "== client-check: $*"; }

step "npm ci (pinned by package-lock.json)"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error

step "generate gen/schema.d.ts from openapi.yaml"
rm -rf gen dist
./node_modules/.bin/openapi-typescript ../../openapi.yaml -o gen/schema.d.ts

# One tsc pass is the strict type check and the compile: tsconfig.json has
# strict and noEmitOnError, so dist/ is only written when everything checks
# (`npm run typecheck` is the same check without output). gen/schema.d.ts is
# checked as well (no skipLibCheck).
step "type-check (tsc --strict) and compile smoke.ts"
./node_modules/.bin/tsc --strict -p tsconfig.json

tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "client-check: $*" >&2
  echo "--- server log (last 40 lines)" >&2
  tail -n 40 "$tmp/server.log" >&2 || true
  exit 1
}

port=$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
url="http://127.0.0.1:$port"
step "start $bin serve on $url (memory store, dev issuer)"
"$bin" serve --store memory: --data-dir "$tmp" --addr "127.0.0.1:$port" --public-url "$url" >"$tmp/server.log" 2>&1 &
pid=$!

ready=
for _ in $(seq 100); do # up to about 10 s
  kill -0 "$pid" 2>/dev/null || fail "the server exited before it was ready"
  if node -e 'fetch(process.argv[1]).then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$url/readyz"; then
    ready=1
    break
  fi
  sleep 0.1
done
[ -n "$ready" ] || fail "/readyz did not answer 200 within 10 s"

token=$("$bin" token --data-dir "$tmp" --public-url "$url") || fail "could not mint a token"

step "run the generated client (dist/smoke.js)"
BASE_URL=$url TOKEN=$token node dist/smoke.js || fail "the TypeScript client smoke test failed"
