#!/usr/bin/env bash
# Prepares what the GPU run (scripts/device/gpu_bench.sh) brings to a machine with no network and
# no Deno: .device/ with Deno compressed, the scripts bundled with their npm dependencies (no
# node_modules there), and Debian's Vulkan and EGL loader packages. Run here, once; .device/ is
# in .gitignore and travels with `carry` (64 MiB at most: about 40 MiB with xz).
#
#   bash scripts/device/prepare.sh [--fast]     # --fast: gzip -1 instead of xz (for the local test)
set -euo pipefail
cd "$(dirname "$0")/../.."
DEV=.device
mkdir -p "$DEV/gl"

DENO_BIN="$(command -v deno)"
DENO_BIN="$(readlink -f "$DENO_BIN")"
# The npm package's launcher is a script: its binary sits beside it.
[[ -f "$(dirname "$DENO_BIN")/deno" && "$DENO_BIN" != */deno ]] && DENO_BIN="$(dirname "$DENO_BIN")/deno"
echo "deno: $DENO_BIN ($(deno --version | head -n 1))"
if [[ "${1:-}" == "--fast" ]]; then
  gzip -1 -c "$DENO_BIN" > "$DEV/deno.gz"; rm -f "$DEV/deno.xz"
else
  xz -T0 -6 -c "$DENO_BIN" > "$DEV/deno.xz"; rm -f "$DEV/deno.gz"
fi

for s in scripts/bench.ts scripts/train.ts scripts/device/synthetic_cifar.ts; do
  out="$DEV/$(basename "$s" .ts).js"
  deno bundle -q --platform=deno -o "$out" "$s"
done

if ! ls "$DEV"/gl/libvulkan1_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update -q >/dev/null
  (cd "$DEV/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
fi
du -sh "$DEV" "$DEV"/*
