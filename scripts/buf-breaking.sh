#!/usr/bin/env bash
# buf breaking of the working tree's proto/ against the last commit on main
# (FILE rules, see buf.yaml). The third-party module is git-ignored, so the
# base is rebuilt as an image from main's proto/ plus today's third_party/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

base=main
if ! git rev-parse --verify -q "$base^{commit}" >/dev/null; then
  echo "buf breaking: no branch $base yet; nothing to compare" >&2
  exit 0
fi
if ! git cat-file -e "$base:proto" 2>/dev/null; then
  echo "buf breaking: $base has no proto/ yet; nothing to compare" >&2
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$base" proto buf.yaml | tar -x -C "$tmp"
mkdir -p "$tmp/third_party"
cp -r third_party/proto "$tmp/third_party/proto"
buf build "$tmp" -o "$tmp/base.binpb"
buf breaking --against "$tmp/base.binpb"
echo "buf breaking: no breaking change against $base ($(git rev-parse --short "$base"))"
