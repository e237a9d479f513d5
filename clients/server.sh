# Sourced by the generated-client checks (clients/*/check.sh): what they
# share to run a real server for a smoke test. The sourcing script sets name
# (for messages) and runs under `set -euo pipefail` in its own directory.
#
# start_server [serve flags...] starts bin/onlinemeetings (ONLINEMEETINGS_BIN
# overrides it) with the memory store and the dev issuer on a free port of
# 127.0.0.1, with its data dir in $tmp, waits until /readyz answers 200 and
# sets bin, tmp, url and pid; the server is stopped and $tmp removed when the
# script exits. mint [token flags...] prints a dev token for that server.
# fail MESSAGE exits with the message and the server log's last lines.

root=$(cd ../.. && pwd)
bin=${ONLINEMEETINGS_BIN:-$root/bin/onlinemeetings}
[ -x "$bin" ] || { echo "$name: $bin not found: run make build" >&2; exit 1; }
command -v node >/dev/null || { echo "$name: node not found (Node.js >= 20.19 is needed)" >&2; exit 1; }

step() { echo "== $name: $*"; }

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
  echo "$name: $*" >&2
  if [ -f "$tmp/server.log" ]; then
    echo "--- server log (last 40 lines)" >&2
    tail -n 40 "$tmp/server.log" >&2 || true
  fi
  exit 1
}

start_server() {
  local port
  port=$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
  url="http://127.0.0.1:$port"
  step "start $bin serve on $url (memory store, dev issuer${*:+, $*})"
  "$bin" serve --store memory: --data-dir "$tmp" --addr "127.0.0.1:$port" --public-url "$url" "$@" >"$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do # up to about 10 s
    kill -0 "$pid" 2>/dev/null || fail "the server exited before it was ready"
    if node -e 'fetch(process.argv[1]).then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$url/readyz"; then
      return 0
    fi
    sleep 0.1
  done
  fail "/readyz did not answer 200 within 10 s"
}

mint() {
  "$bin" token --data-dir "$tmp" --public-url "$url" "$@" || fail "could not mint a token ($*)"
}
