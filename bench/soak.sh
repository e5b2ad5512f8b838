#!/usr/bin/env bash
# Resident memory over a long run: the gateway (auth + metering on) under steady load against the
# harness's fast mock, RSS of its process tree sampled every 10 s. Usage:
#   bench/soak.sh [SECONDS=300] [CONCURRENCY=16]
# Prints one line per sample and, at the end, the change from the first warm sample to the last.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
HARNESS="${TOLLGATE_BENCH_HARNESS:-$HERE/harness}"
PY="${TOLLGATE_PYTHON:-$ROOT/.venv/bin/python}"
DURATION="${1:-300}"; CONC="${2:-16}"
KEY="tg_0123456789ab_benchmark-key-not-a-secret-0000"
WORK="$(mktemp -d)"
command -v wrk >/dev/null || bash "$HARNESS/setup.sh" core
taskset -c 1 /opt/bench-venv/bin/python "$HARNESS/mock_llm.py" --port 18000 > "$WORK/mock.log" 2>&1 &
MOCK=$!
TOLLGATE_BENCH_KEY=$KEY taskset -c 0 "$PY" -m tollgate serve --role gateway --config "$HERE/gateway.yaml" \
  --db "sqlite:///$WORK/soak.db" --port 18787 --log-level warning > "$WORK/gateway.log" 2>&1 &
GW=$!
trap 'kill $GW $MOCK 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18787/ && break; sleep 0.2; done
rss() { local t=0; for p in $GW $(pgrep -P $GW); do t=$((t + $(awk '/VmRSS/ {print $2}' /proc/$p/status))); done; echo $t; }
cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"mock-gpt","messages":[{"role":"user","content":"hello"}],"max_tokens":128}'
wrk.headers["Content-Type"] = "application/json"
LUA
taskset -c 1 wrk -t1 -c"$CONC" -d"${DURATION}s" -s "$WORK/post.lua" -H "X-API-Key: $KEY" \
  http://127.0.0.1:18787/bench/v1/chat/completions > "$WORK/wrk.out" &
WRK=$!
sleep 10; first=$(rss); echo "t=10s rss=${first} kB (first warm sample)"
t=10
while kill -0 $WRK 2>/dev/null; do
  sleep 10; t=$((t + 10)); kill -0 $WRK 2>/dev/null || break
  echo "t=${t}s rss=$(rss) kB"
done
last=$(rss)
grep -E "requests in|Requests/sec" "$WORK/wrk.out"
echo "rss first=${first} kB last=${last} kB change=$(( (last - first) * 100 / first ))%"
