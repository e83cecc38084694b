#!/usr/bin/env bash
# buf breaking of the working tree's proto/ against the last commit on main
# (FILE rules, see buf.yaml). The third-party module is git-ignored, so the
# base is rebuilt as an image from main's proto/ plus today's third_party/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
buf=${BUF:-$root/bin/buf}

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
# Compare image to image: the workspace has two modules, which buf would
# otherwise compare one by one against a single image. The third-party files
# are the same on both sides, so only our contracts can differ.
"$buf" build "$tmp" -o "$tmp/base.binpb"
"$buf" build -o "$tmp/head.binpb"
"$buf" breaking "$tmp/head.binpb" --against "$tmp/base.binpb" --config buf.yaml
echo "buf breaking: no breaking change against $base ($(git rev-parse --short "$base"))"
