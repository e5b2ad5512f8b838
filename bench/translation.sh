#!/usr/bin/env bash
# A translated route against the pass-through route in ONE interleaved run of the harness (bench/harness):
# two Tollgate processes from bench/translation.yaml, each pinned to core 0, one measured on /bench
# (pass-through), the other on /bench-tr (OpenAI client API translated to a Mistral backend).
# Usage: bench/translation.sh [gwbench options, e.g. --duration 10 --scenarios nonstream_c8,stream_c16]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${TOLLGATE_BENCH_HARNESS:-$HERE/harness}"
PY="${TOLLGATE_PYTHON:-$ROOT/.venv/bin/python}"
KEY="tg_0123456789ab_benchmark-key-not-a-secret-0000"
KEY_TR="tg_ba9876543210_benchmark-key-not-a-secret-1111"
ENV="env TOLLGATE_BENCH_KEY=$KEY TOLLGATE_BENCH_TR_KEY=$KEY_TR"
serve() { echo "$ENV $PY -m tollgate serve --role gateway --config $HERE/translation.yaml --db sqlite:///$(mktemp -d)/bench.db --port $1 --admin-port $(($1 + 1000)) --log-level warning"; }
exec bash "$HARNESS/run_gateway_bench.sh" --with none --mock-port 18300 "$@" \
  --name pass-through --start "$(serve 18787)" \
  --url http://127.0.0.1:18787/bench/v1/chat/completions --header "X-API-Key: $KEY" --start-timeout 60 \
  --name translated --start "$(serve 18788)" \
  --url http://127.0.0.1:18788/bench-tr/v1/chat/completions --header "X-API-Key: $KEY_TR" --start-timeout 60
