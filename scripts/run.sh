#!/usr/bin/env bash
# `make run`: the three processes on the operator contract's defaults, data
# under data/, the demo events loaded once. Ctrl-C stops all three.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p data

# A development auth file, made once: an organizer token for you, a token for
# the registrations service. The services see only the hashes.
newtoken() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
if [[ ! -f data/auth.json ]]; then
  umask 077
  org=$(newtoken) svc=$(newtoken)
  printf '%s\n' "$org" >data/organizer.token
  printf '%s\n' "$svc" >data/service.token
  cat >data/auth.json <<JSON
{"tokens": [
  {"name": "secretariat", "role": "organizer", "sha256": "$(sha "$org")"},
  {"name": "registrations", "role": "service", "sha256": "$(sha "$svc")"}
]}
JSON
  umask 022
  echo "created data/auth.json with an organizer token in data/organizer.token"
fi

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

bin/events -demo -reflection -log-format text -auth-file data/auth.json & pids+=($!)
bin/registrations -reflection -log-format text -auth-file data/auth.json -service-token-file data/service.token & pids+=($!)
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
Data is in data/. Organizer calls need the token in data/organizer.token:
  curl -H "Authorization: Bearer \$(cat data/organizer.token)" http://127.0.0.1:8080/v1/events/EVENT/registrations
Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
