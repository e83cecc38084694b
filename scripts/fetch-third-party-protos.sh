#!/usr/bin/env bash
# Fetches the third-party .proto files that our contracts import into
# third_party/proto (git-ignored), from pinned package-registry versions:
#   - google/api and google/rpc   from npm google-proto-files (tarball sha256 checked)
#   - buf/validate                from the Go module github.com/bufbuild/protovalidate
#   - protoc-gen-openapiv2/options from the Go module github.com/grpc-ecosystem/grpc-gateway/v2
# Go modules are verified by the Go checksum database. Re-running is cheap: a stamp
# file records the pinned versions and the fetch is skipped when they match.
set -euo pipefail

GOOGLE_PROTO_FILES_VERSION=6.0.1
GOOGLE_PROTO_FILES_SHA256=711763f77ea15bbc7436aac53db013b421d2c7b86ae27f4013723970ce54a96e
PROTOVALIDATE_VERSION=v1.2.2
GRPC_GATEWAY_VERSION=v2.33.0

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/third_party/proto"
stamp="$dest/.versions"
want="google-proto-files@$GOOGLE_PROTO_FILES_VERSION protovalidate@$PROTOVALIDATE_VERSION grpc-gateway@$GRPC_GATEWAY_VERSION"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fetching third-party protos: $want" >&2
(cd "$tmp" && npm pack --silent "google-proto-files@$GOOGLE_PROTO_FILES_VERSION" >/dev/null)
tarball="$tmp/google-proto-files-$GOOGLE_PROTO_FILES_VERSION.tgz"
echo "$GOOGLE_PROTO_FILES_SHA256  $tarball" | sha256sum --check --quiet
tar -xzf "$tarball" -C "$tmp"

moddir() {
  GOWORK=off GOFLAGS=-mod=mod go mod download -json "$1" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}
pv=$(moddir "github.com/bufbuild/protovalidate@$PROTOVALIDATE_VERSION")
gw=$(moddir "github.com/grpc-ecosystem/grpc-gateway/v2@$GRPC_GATEWAY_VERSION")
[[ -d "$pv" && -d "$gw" ]] || { echo "go mod download failed" >&2; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/google/api" "$dest/google/rpc" "$dest/buf/validate" "$dest/protoc-gen-openapiv2/options"
for f in annotations http httpbody field_behavior field_info resource; do
  cp "$tmp/package/google/api/$f.proto" "$dest/google/api/"
done
for f in status error_details code; do
  cp "$tmp/package/google/rpc/$f.proto" "$dest/google/rpc/"
done
cp "$pv/proto/protovalidate/buf/validate/validate.proto" "$dest/buf/validate/"
cp "$gw/protoc-gen-openapiv2/options/"*.proto "$dest/protoc-gen-openapiv2/options/"
chmod -R u+w "$dest"
echo "$want" >"$stamp"
