#!/usr/bin/env bash
# Cache hits against the pass-through route in ONE interleaved run of the harness (bench/harness): two Tollgate
# processes from bench/cache.yaml, each pinned to core 0, one measured on /bench (every request goes
# upstream), the other on /bench-cache (a `response-cache`: after the first request, hits only).
# Usage: bench/cache.sh [gwbench options, e.g. --duration 5 --scenarios nonstream_c8,stream_c16]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${TOLLGATE_BENCH_HARNESS:-$HERE/harness}"
PY="${TOLLGATE_PYTHON:-$ROOT/.venv/bin/python}"
KEY="tg_0123456789ab_benchmark-key-not-a-secret-0000"
KEY_C="tg_ca0123456789_benchmark-key-not-a-secret-2222"
ENV="env TOLLGATE_BENCH_KEY=$KEY TOLLGATE_BENCH_CACHE_KEY=$KEY_C"
serve() { echo "$ENV $PY -m tollgate serve --role gateway --config $HERE/cache.yaml --db sqlite:///$(mktemp -d)/bench.db --port $1 --admin-port $(($1 + 1000)) --log-level warning"; }
exec bash "$HARNESS/run_gateway_bench.sh" --with none --mock-port 18300 "$@" \
  --name pass-through --start "$(serve 18797)" \
  --url http://127.0.0.1:18797/bench/v1/chat/completions --header "X-API-Key: $KEY" --start-timeout 60 \
  --name cache-hit --start "$(serve 18798)" \
  --url http://127.0.0.1:18798/bench-cache/v1/chat/completions --header "X-API-Key: $KEY_C" --start-timeout 60
