#!/usr/bin/env bash
# The Autobahn TestSuite (fuzzingclient) against a fresh cmd/ripple on
# /ws/echo: builds the server, starts it on a free loopback port with
# -max-message-size 16777216, runs every case (or $AUTOBAHN_CASES), stops
# the server, prints the results by case group and exits 1 unless every
# case is OK or INFORMATIONAL.
#
#   make autobahn AUTOBAHN=/path/to/autobahn-testsuite
#
# AUTOBAHN is a checkout of the suite's Python 3 port
# (github.com/ricardo-valero/autobahn-testsuite). Its Python dependencies
# come from pip (`pip install ./autobahn-testsuite`) or, on Debian, apt
# (python3-twisted python3-autobahn python3-jinja2); the first of $PYTHON,
# python3 and /usr/bin/python3 that imports twisted and autobahn runs it.
# AUTOBAHN_CASES is a comma-separated list of case ids or patterns
# ("6.4.*,13.3.1"); the default is every case. The full run takes about
# 45 minutes on 2 cores, most of it in groups 9 and 13.
#
# Reports (the suite's index.html and one page per case) and the server
# log are written to autobahn/out/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out="$here/out"
suite=${AUTOBAHN:-}
cases=${AUTOBAHN_CASES:-*}

if [[ -z $suite || ! -d $suite/autobahntestsuite/autobahntestsuite ]]; then
	cat >&2 <<EOF
autobahn: set AUTOBAHN to a checkout of the Autobahn TestSuite's Python 3 port:
  git clone https://github.com/ricardo-valero/autobahn-testsuite
  make autobahn AUTOBAHN=\$PWD/autobahn-testsuite
EOF
	exit 2
fi

python=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import twisted, autobahn' 2>/dev/null; then
		python=$p
		break
	fi
done
if [[ -z $python ]]; then
	echo "autobahn: no Python 3 with twisted and autobahn; install the suite's dependencies (see autobahn/run.sh)" >&2
	exit 2
fi

rm -rf "$out"
mkdir -p "$out"
bin="$out/ripple"
(cd "$root" && go build -o "$bin" ./cmd/ripple)

server=""
wstest=""
cleanup() {
	for pid in $wstest $server; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

"$bin" -addr 127.0.0.1:0 -max-message-size 16777216 >"$out/server.log" 2>&1 &
server=$!
url=""
for _ in $(seq 1 150); do # up to 15 s
	url=$(grep -o 'url=http://[^ ]*' "$out/server.log" | head -n 1 | cut -d= -f2 || true)
	[[ -n $url ]] && break
	if ! kill -0 "$server" 2>/dev/null; then
		break
	fi
	sleep 0.1
done
if [[ -z $url ]]; then
	echo "autobahn: cmd/ripple did not start; its log:" >&2
	cat "$out/server.log" >&2
	exit 1
fi
url=${url%/}
ws="ws://${url#http://}/ws/echo"
echo "autobahn: ripple is serving $ws (pid $server); running cases $cases with $python"

"$python" - "$ws" "$cases" "$out" >"$out/spec.json" <<'EOF'
import json, sys
ws, cases, out = sys.argv[1:]
json.dump({
    "options": {"failByDrop": False},
    "outdir": out + "/report",
    "servers": [{"agent": "ripple", "url": ws}],
    "cases": [c.strip() for c in cases.split(",") if c.strip()],
    "exclude-cases": [],
    "exclude-agent-cases": {},
}, sys.stdout, indent=1)
EOF

(cd "$out" && exec env PYTHONPATH="$suite/autobahntestsuite${PYTHONPATH:+:$PYTHONPATH}" \
	"$python" -m autobahntestsuite.wstest -m fuzzingclient -s "$out/spec.json") >"$out/wstest.log" 2>&1 &
wstest=$!

# The suite writes index.json once every case has run, then a page per
# case, then exits. Some versions of its dependencies make it fail on a
# case page and hang instead: once index.json is whole it gets a minute
# to finish before it is stopped.
index="$out/report/index.json"
written=""
while kill -0 "$wstest" 2>/dev/null; do
	if [[ -z $written ]] && "$python" -c 'import json, sys; json.load(open(sys.argv[1]))' "$index" 2>/dev/null; then
		written=$SECONDS
	fi
	if [[ -n $written ]] && ((SECONDS - written > 60)); then
		echo "autobahn: the suite did not exit after writing its results; stopped it (see $out/wstest.log)" >&2
		kill -TERM "$wstest" 2>/dev/null || true
		break
	fi
	sleep 1
done
wait "$wstest" 2>/dev/null || true
wstest=""
kill -TERM "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
server=""

if [[ ! -f $index ]]; then
	echo "autobahn: no results; the suite's log:" >&2
	tail -n 30 "$out/wstest.log" >&2
	exit 1
fi
"$python" - "$index" <<'EOF'
import collections, json, sys

results = json.load(open(sys.argv[1]))["ripple"]
kinds = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
groups = [("1-7 and 10", lambda g: g <= 7 or g == 10), ("9 (large messages)", lambda g: g == 9),
          ("12 (permessage-deflate)", lambda g: g == 12), ("13 (deflate parameters)", lambda g: g == 13)]
key = lambda case: [int(x) for x in case.split(".")]
table = collections.defaultdict(collections.Counter)
for case, r in results.items():
    name = next((n for n, f in groups if f(key(case)[0])), "other")
    table[name][r["behavior"]] += 1
    table["all"][r["behavior"]] += 1
print("| groups | " + " / ".join(kinds) + " |")
print("|---|---|")
for name in [n for n, _ in groups] + ["other", "all"]:
    if table[name]:
        print("| %s | %s |" % (name, " / ".join(str(table[name][k]) for k in kinds)))
bad = sorted((c for c, r in results.items() if r["behavior"] not in ("OK", "INFORMATIONAL")), key=key)
for c in bad:
    print("%s: %s (close: %s)" % (c, results[c]["behavior"], results[c]["behaviorClose"]))
others = set(table["all"]) - set(kinds)
sys.exit(1 if bad or others else 0)
EOF
