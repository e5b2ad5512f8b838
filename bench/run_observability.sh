#!/usr/bin/env bash
# What metrics and the access log cost: the same gateway build with the traffic metrics and the access
# log off (TOLLGATE_METRICS=off, no TOLLGATE_ACCESS_LOG) and on (metrics on, JSON access log to a file),
# measured in ONE interleaved run of the harness, each gateway pinned to core 0. Both do the work
# in their usage writer child, which is part of the gateway's process tree the harness measures.
#   bench/run_observability.sh [gwbench options, e.g. --duration 10 --repeats 3]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${TOLLGATE_BENCH_HARNESS:-$HERE/harness}"
PY="${TOLLGATE_PYTHON:-$ROOT/.venv/bin/python}"
KEY="tg_0123456789ab_benchmark-key-not-a-secret-0000"
WORK="$(mktemp -d)"
MOCK_PORT=18200
sed "s|http://127.0.0.1:18000|http://127.0.0.1:$MOCK_PORT|" "$HERE/gateway.yaml" > "$WORK/gateway.yaml"
serve() { # port db env...
  local port="$1" db="$2"
  shift 2
  echo "env TOLLGATE_BENCH_KEY=$KEY $* $PY -m tollgate serve --role gateway --config $WORK/gateway.yaml --db sqlite:///$db --port $port --log-level warning"
}
exec bash "$HARNESS/run_gateway_bench.sh" --with none --mock-port "$MOCK_PORT" \
  --name observability-off --start "$(serve 18991 "$WORK/off.db" TOLLGATE_METRICS=off)" \
  --url http://127.0.0.1:18991/bench/v1/chat/completions --header "X-API-Key: $KEY" --start-timeout 60 \
  --name observability-on --start "$(serve 18992 "$WORK/on.db" TOLLGATE_ACCESS_LOG="$WORK/access.log" TOLLGATE_ACCESS_LOG_FORMAT=json)" \
  --url http://127.0.0.1:18992/bench/v1/chat/completions --header "X-API-Key: $KEY" --start-timeout 60 \
  "$@"
