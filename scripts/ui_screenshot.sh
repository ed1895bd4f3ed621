#!/usr/bin/env bash
# Save a screenshot of the Dagster UI's asset graph (headless Chromium), for the README.
#
#   scripts/ui_screenshot.sh [OUTPUT.png] [PAGE]
#
# Starts `dagster dev` on a free port against $CREDIT_DATA_DIR (default ./data), waits until
# the code is loaded, photographs PAGE (default: the global asset lineage), and stops the
# server. Needs Chromium (`apt-get install chromium`; $CHROMIUM to use another binary).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
output="$(realpath -m "${1:-$here/docs/asset_graph.png}")"
page="${2:-asset-groups}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
data_dir="${CREDIT_DATA_DIR:-$here/data}"
bin="$here/.venv/bin"

[ -x "$chromium" ] || { echo "no Chromium at $chromium: apt-get install chromium, or set CHROMIUM" >&2; exit 2; }
[ -x "$bin/dagster" ] || { echo "no $bin/dagster: run make setup first" >&2; exit 2; }

port="$("$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$data_dir/dagster_home" "$(dirname "$output")"
cp "$here/assets/dagster.yaml" "$data_dir/dagster_home/dagster.yaml"
log="$(mktemp)"
cd "$here"
# Job control on: the server gets its own process group and, unlike a plain background job
# of a script, does not ignore Ctrl-C, which is how dagster dev wants to be stopped.
set -m
CREDIT_DATA_DIR="$data_dir" DAGSTER_HOME="$data_dir/dagster_home" PATH="$bin:$PATH" \
    "$bin/dagster" dev -w workspace.yaml -h 127.0.0.1 -p "$port" >"$log" 2>&1 &
server=$!
stop_server() {
    kill -INT -- "-$server" 2>/dev/null || return 0
    for _ in $(seq 1 30); do kill -0 "$server" 2>/dev/null || break; sleep 1; done
    kill -KILL -- "-$server" 2>/dev/null || true
    rm -f "$log"
}
trap stop_server EXIT

echo "waiting for dagster dev on port $port ..."
query='{"query":"{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name } } } }"}'
for attempt in $(seq 1 120); do
    if curl -sf -H 'Content-Type: application/json' -d "$query" "http://127.0.0.1:$port/graphql" | grep -q '"nodes":\[{'; then
        break
    fi
    [ "$attempt" -lt 120 ] || { echo "dagster dev did not load the code in 4 minutes; its log:" >&2; cat "$log" >&2; exit 1; }
    sleep 2
done

# Mark Dagster's first-visit "join the community" dialog as seen, or it covers the graph.
curl -sf -H 'Content-Type: application/json' -d '{"query":"mutation { setNuxSeen }"}' \
    "http://127.0.0.1:$port/graphql" >/dev/null

"$chromium" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1600,1000 \
    --virtual-time-budget=20000 --screenshot="$output" "http://127.0.0.1:$port/$page" 2>/dev/null
echo "saved $output"
