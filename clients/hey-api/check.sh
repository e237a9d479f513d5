#!/usr/bin/env bash
# The second generated-client check: generate a TypeScript SDK with zod
# schemas from ../../openapi.yaml with @hey-api/openapi-ts (pinned here),
# type-check and compile smoke.ts with it (tsc --strict), and run it against a
# real server (bin/onlinemeetings, memory store, dev issuer, an access policy
# for the app-only token, a free port on 127.0.0.1). smoke.ts calls every
# operation of the spec and validates every body it gets against the
# generated schemas. Needs Node.js >= 20.19 and npm; the server binary must be
# built (`make build`; ONLINEMEETINGS_BIN overrides its path).
set -euo pipefail
cd "$(dirname "$0")"
name="hey-api client-check"
. ../server.sh

step "npm ci (pinned by package-lock.json)"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error

step "generate gen/ (SDK, types, zod schemas) from openapi.yaml"
rm -rf gen dist
./node_modules/.bin/openapi-ts -f openapi-ts.config.mjs --no-log-file --silent

# One tsc pass is the strict type check and the compile (noEmitOnError);
# the generated code is checked too (no skipLibCheck).
step "type-check (tsc --strict) and compile smoke.ts with the generated SDK"
./node_modules/.bin/tsc -p tsconfig.json

# A tenant, a user the app may act for, another user it may not, and the app
# (the token command's default app id).
uuid() { node -e 'console.log(require("crypto").randomUUID())'; }
tid=$(uuid); user=$(uuid); other=$(uuid)
appid=d3e1c0de-0000-4000-8000-00000000de01
printf '{"policies":[{"tenantId":"%s","appId":"%s","users":["%s"]}]}\n' "$tid" "$appid" "$user" >"$tmp/policy.json"

start_server --access-policy "$tmp/policy.json"

token=$(mint --tid "$tid" --oid "$user")
token_read=$(mint --tid "$tid" --oid "$user" --scopes OnlineMeetings.Read)
token_app=$(mint --tid "$tid" --roles OnlineMeetings.ReadWrite.All --app-id "$appid")

step "run the generated SDK against the server (dist/smoke.js)"
BASE_URL=$url USER_ID=$user OTHER_USER_ID=$other TOKEN=$token TOKEN_READ=$token_read TOKEN_APP=$token_app \
  node dist/smoke.js || fail "the hey-api client smoke test failed"
