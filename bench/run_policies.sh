#!/usr/bin/env bash
# Policy overhead: the same gateway build serving the bare route, a proxy without policies, a proxy with a token limit and one
# regex guardrail on the request, and one with the guardrail on the answer too (bench/policies.yaml),
# measured in ONE interleaved run of the harness (bench/harness), each gateway pinned to core 0. With REDIS_URL
# set, one more group counts the limit in that Redis.
#   bench/run_policies.sh [gwbench options, e.g. --duration 10 --repeats 3]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${TOLLGATE_BENCH_HARNESS:-$HERE/harness}"
PY="${TOLLGATE_PYTHON:-$ROOT/.venv/bin/python}"
KEY="tg_0123456789ab_benchmark-key-not-a-secret-0000"
PKEY="tg_0123456789ac_benchmark-key-not-a-secret-0001"
BKEY="tg_0123456789ad_benchmark-key-not-a-secret-0002"
XKEY="tg_0123456789ae_benchmark-key-not-a-secret-0003"
ENVS="TOLLGATE_BENCH_KEY=$KEY TOLLGATE_BENCH_POLICY_KEY=$PKEY TOLLGATE_BENCH_BOTH_KEY=$BKEY TOLLGATE_BENCH_PLAIN_KEY=$XKEY"
serve() { # port db
  echo "env $ENVS ${3:-} $PY -m tollgate serve --role gateway --config $HERE/policies.yaml --db sqlite:///$2 --port $1 --log-level warning"
}
groups=(
  --name bare --start "$(serve 18887 "$(mktemp -d)/a.db")" --url http://127.0.0.1:18887/bench/v1/chat/completions
  --header "X-API-Key: $KEY" --start-timeout 60
  --name bare-proxy --start "$(serve 18891 "$(mktemp -d)/x.db")" --url http://127.0.0.1:18891/plain/v1/chat/completions
  --header "X-API-Key: $XKEY" --start-timeout 60
  --name policies --start "$(serve 18888 "$(mktemp -d)/b.db")" --url http://127.0.0.1:18888/policy/v1/chat/completions
  --header "X-API-Key: $PKEY" --start-timeout 60
  --name policies-both --start "$(serve 18890 "$(mktemp -d)/d.db")" --url http://127.0.0.1:18890/policy-both/v1/chat/completions
  --header "X-API-Key: $BKEY" --start-timeout 60
)
if [ -n "${REDIS_URL:-}" ]; then
  groups+=(--name policies-redis --start "$(serve 18889 "$(mktemp -d)/c.db" "TOLLGATE_REDIS_URL=$REDIS_URL TOLLGATE_REDIS_PREFIX=bench$$:")"
    --url http://127.0.0.1:18889/policy/v1/chat/completions --header "X-API-Key: $PKEY" --start-timeout 60)
fi
exec bash "$HARNESS/run_gateway_bench.sh" --with none "${groups[@]}" --mock-port 18100 "$@"
