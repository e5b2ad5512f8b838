#!/usr/bin/env bash
# Tollgate side by side with the direct upstream and nginx (and, with --with, the peers) in ONE
# interleaved run of the benchmark harness (bench/harness, vendored), gateway pinned to core 0. Usage:
#   bench/run.sh [--with direct,nginx,py-aiohttp,litellm,portkey] [gwbench options, e.g. --duration 10]
# Results: /tmp/gwbench-*/table.md and results.json (see bench/harness/README.md).
# TOLLGATE_BENCH_HARNESS points at another copy of the harness; TOLLGATE_PYTHON at another interpreter.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${TOLLGATE_BENCH_HARNESS:-$HERE/harness}"
PY="${TOLLGATE_PYTHON:-$ROOT/.venv/bin/python}"
KEY="tg_0123456789ab_benchmark-key-not-a-secret-0000"
DB="$(mktemp -d)/bench.db"
exec bash "$HARNESS/run_gateway_bench.sh" "$@" \
  --name tollgate \
  --start "env TOLLGATE_BENCH_KEY=$KEY $PY -m tollgate serve --role gateway --config $HERE/gateway.yaml --db sqlite:///$DB --port 18787 --log-level warning" \
  --url http://127.0.0.1:18787/bench/v1/chat/completions --header "X-API-Key: $KEY" --start-timeout 60
