#!/usr/bin/env bash
# The TypeScript generated-client check behind `make client-check`: generate
# types from ../../openapi.yaml with openapi-typescript, type-check smoke.ts
# against them (tsc --strict), compile it, and run it with openapi-fetch
# against a real server (bin/onlinemeetings, memory store, dev issuer, a free
# port on 127.0.0.1). Needs Node.js >= 20 and npm; the server binary must be
# built (`make build`; ONLINEMEETINGS_BIN overrides its path).
set -euo pipefail
cd "$(dirname "$0")"
name=client-check
. ../server.sh

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

start_server
token=$(mint)

step "run the generated client (dist/smoke.js)"
BASE_URL=$url TOKEN=$token node dist/smoke.js || fail "the TypeScript client smoke test failed"
