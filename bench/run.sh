#!/usr/bin/env bash
# Tollgate side by side with the direct upstream and nginx (and, with --with, the peers) in ONE
# interleaved run of the benchmark harness (bench/harness, vendored), gateway pinned to core 0. Usage:
#   bench/run.sh [--with direct,nginx,py-aiohttp,litellm,portkey] [--gw-port P] [--compiled] [gwbench options, e.g. --duration 10]
# --compiled adds a second target, tollgate-mypyc: the same source with the hot path compiled by
# mypyc (scripts/compile --into a temp dir; needs `scripts/bootstrap test` and a C compiler), on port P+1.
# Results: /tmp/gwbench-*/table.md and results.json (see bench/harness/README.md).
# TOLLGATE_BENCH_HARNESS points at another copy of the harness; TOLLGATE_PYTHON at another interpreter.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${TOLLGATE_BENCH_HARNESS:-$HERE/harness}"
PY="${TOLLGATE_PYTHON:-$ROOT/.venv/bin/python}"
KEY="tg_0123456789ab_benchmark-key-not-a-secret-0000"
WORK="$(mktemp -d)"
# The gateway's upstream is the harness's mock: follow --mock-port (default 18000); --gw-port picks
# the gateway's own port (default 18787) when another benchmark holds it.
MOCK_PORT=18000
GW_PORT=18787
COMPILED=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --mock-port) MOCK_PORT="$2"; args+=("$1" "$2"); shift 2 ;;
    --gw-port) GW_PORT="$2"; shift 2 ;;
    --compiled) COMPILED=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
sed "s|http://127.0.0.1:18000|http://127.0.0.1:$MOCK_PORT|" "$HERE/gateway.yaml" > "$WORK/gateway.yaml"
serve="-m tollgate serve --role gateway --config $WORK/gateway.yaml --log-level warning"
targets=(--name tollgate
  --start "env TOLLGATE_BENCH_KEY=$KEY $PY $serve --db sqlite:///$WORK/bench.db --port $GW_PORT --admin-port $((GW_PORT + 1000))"
  --url "http://127.0.0.1:$GW_PORT/bench/v1/chat/completions" --header "X-API-Key: $KEY" --start-timeout 60)
if [ "$COMPILED" = 1 ]; then
  "$ROOT/scripts/compile" --into "$WORK/compiled" >&2
  port=$((GW_PORT + 1))
  targets+=(--name tollgate-mypyc
    --start "env TOLLGATE_BENCH_KEY=$KEY PYTHONPATH=$WORK/compiled $PY $serve --db sqlite:///$WORK/bench-mypyc.db --port $port --admin-port $((port + 1000))"
    --url "http://127.0.0.1:$port/bench/v1/chat/completions" --header "X-API-Key: $KEY" --start-timeout 60)
fi
exec bash "$HARNESS/run_gateway_bench.sh" "${args[@]}" "${targets[@]}"
