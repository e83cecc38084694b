#!/usr/bin/env bash
# `make run`: the three processes on the operator contract's defaults, data
# under data/, the demo events loaded once. Ctrl-C stops all three.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p data

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping…"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  exit 0
}
trap stop INT TERM EXIT

bin/events -demo -reflection -log-format text & pids+=($!)
bin/registrations -reflection -log-format text & pids+=($!)
bin/gateway -log-format text & pids+=($!)

for _ in $(seq 50); do
  curl -fsS -o /dev/null http://127.0.0.1:8080/healthz 2>/dev/null && break
  sleep 0.2
done

cat <<MSG

Convene is running:
  HTTP/JSON gateway      http://127.0.0.1:8080/v1/events
  OpenAPI document       http://127.0.0.1:8080/openapi.json
  health                 http://127.0.0.1:8080/healthz
  EventService (gRPC)    127.0.0.1:9091
  RegistrationService    127.0.0.1:9092
Data is in data/. Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
