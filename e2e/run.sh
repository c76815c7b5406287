#!/usr/bin/env bash
# Browser tests: builds cmd/ripple, starts it on a free loopback port, runs
# e2e/chat.test.mjs (the chat demo page) and e2e/phoenix.test.mjs (phoenix.js
# from node_modules on the Phoenix endpoint, WebSocket and long-poll
# fallback) in headless Chromium against it, one after the other, stops the
# server and exits with the tests' status.
#
# Needs Debian's chromium (/usr/bin/chromium, or $CHROMIUM) and the npm
# packages of e2e/ (installed here with `npm ci` when missing). Without
# chromium the test is skipped with a loud message and exit status 0.
# Screenshots, the server log and page errors are written to e2e/out/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/out"
chromium=${CHROMIUM:-/usr/bin/chromium}

if [[ ! -x $chromium ]]; then
	cat >&2 <<EOF
################################################################
##  SKIPPING the browser test: no Chromium at $chromium
##  Install it with: apt-get update && apt-get install -y chromium
################################################################
EOF
	exit 0
fi
if ! command -v node >/dev/null; then
	echo "e2e: node is required to run the browser test" >&2
	exit 1
fi
if [[ ! -d $here/node_modules/playwright-core || ! -d $here/node_modules/phoenix ]]; then
	npm ci --prefix "$here" --no-audit --no-fund
fi

rm -rf "$out"
mkdir -p "$out"
bin="$out/ripple"
(cd "$root" && go build -o "$bin" ./cmd/ripple)

# free_port prints a loopback TCP port that was free a moment ago.
free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# The server's pid lives in a file: the test restarts the server (same
# address) and writes the new pid there.
pidfile="$out/server.pid"
pid=""
stop_server() {
	[[ -f $pidfile ]] && pid=$(cat "$pidfile")
	rm -f "$pidfile"
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	pid=""
}
trap stop_server EXIT

# Start the server; retry with another port if one was taken in between.
url=""
for attempt in 1 2 3; do
	port=$(free_port)
	"$bin" -addr "127.0.0.1:$port" >"$out/server.log" 2>&1 &
	pid=$!
	echo "$pid" >"$pidfile"
	for _ in $(seq 1 150); do # up to 15 s
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
			"http://127.0.0.1:$port/" 2>/dev/null; then
			url="http://127.0.0.1:$port"
			break
		fi
		sleep 0.1
	done
	[[ -n $url ]] && break
	echo "e2e: server did not come up on port $port (attempt $attempt); its log:" >&2
	tail -n 20 "$out/server.log" >&2 || true
	stop_server
done
if [[ -z $url ]]; then
	echo "e2e: could not start cmd/ripple" >&2
	exit 1
fi
echo "e2e: ripple is serving $url (pid $pid)"

status=0
RIPPLE_URL="$url" RIPPLE_BIN="$bin" RIPPLE_PID_FILE="$pidfile" RIPPLE_RESTART_LOG="$out/server-restarted.log" \
	CHROMIUM="$chromium" node --test --test-concurrency=1 --test-reporter=spec "$here/chat.test.mjs" "$here/phoenix.test.mjs" || status=$?
stop_server
if [[ $status -ne 0 ]]; then
	echo "e2e: FAILED (status $status); server log tail:" >&2
	tail -n 30 "$out"/server*.log >&2 || true
fi
echo "e2e: screenshots in $out"
exit "$status"
