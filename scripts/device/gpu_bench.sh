#!/usr/bin/env bash
# The GPU run, one command long (issue: performance, round 2): on a machine with a GPU, CUDA and
# PyTorch but no Deno and no network, with .device/ from scripts/device/prepare.sh carried along:
#   1. Deno unpacked, Debian's Vulkan/EGL loaders unpacked where the machine lacks them;
#   2. `bench --backend webgpu` for cifar10-bench and cifar10-official, the PyTorch peer on CUDA
#      (fp32, eager) interleaved in the same run;
#   3. 200 training steps of the cifar10 preset on synthetic CIFAR-format data, on WebGPU.
# Everything it measures goes to OUT (JSON lines, logs). Locally (the software adapter, the
# peer on the CPU) with QUICK=1 it runs the same steps at a test's size.
#
#   bash scripts/device/gpu_bench.sh OUT [--local]
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${1:?usage: gpu_bench.sh OUT [--local]}"
LOCAL="${2:-}"
mkdir -p "$OUT"
LOG="$OUT/gpu_bench.log"
exec > >(tee -a "$LOG") 2>&1
DEV=.device
echo "== $(date -u +%FT%TZ) $(uname -m) $(nproc) cores"

if ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in "$DEV"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
# NVIDIA's Vulkan and EGL driver manifests where the container keeps them.
[[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]] &&
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
    __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv

DENO=/tmp/drl-deno
if [[ ! -x "$DENO" ]]; then
  if [[ -f "$DEV/deno.xz" ]]; then xz -dc "$DEV/deno.xz" > "$DENO"; else gzip -dc "$DEV/deno.gz" > "$DENO"; fi
  chmod +x "$DENO"
fi
"$DENO" --version | head -n 1
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" DENO_NO_UPDATE_CHECK=1
RUN=("$DENO" run -A --unstable-webgpu)

PEER_DEVICE=cuda
[[ "$LOCAL" == "--local" ]] && PEER_DEVICE=cpu
# The Python with PyTorch: $PYTHON, else the first of python3 and /usr/bin/python3 that has it.
PY="${PYTHON:-}"
for p in python3 /usr/bin/python3; do
  [[ -z "$PY" ]] && "$p" -c "import torch" 2>/dev/null && PY="$(command -v "$p")"
done
PEER=(--peer bench/peer_torch.py --peer-device "$PEER_DEVICE" --python "$PY")
[[ -n "$PY" ]] || { echo "no PyTorch here: the peer is skipped"; PEER=(); }
if [[ -n "${QUICK:-}" ]]; then
  # The same steps at a test's size: a small net instead of the official 35M parameters.
  PRESETS=(cifar10-bench); REPS=(--reps 2 --mcmc-steps 2 --pairs 1); STEPS=2
  BATCH=(--batch=8 --K=2 --ch=16 --net.numResBlocks=1 --net.chMult=1,2)
else
  PRESETS=(cifar10-bench cifar10-official); REPS=(--reps 10 --pairs 3); STEPS=200; BATCH=()
fi

status=0
for p in "${PRESETS[@]}"; do
  echo "== bench $p on webgpu, peer on $PEER_DEVICE"
  "${RUN[@]}" "$DEV/bench.js" --preset "$p" --backend webgpu "${REPS[@]}" "${PEER[@]}" \
    --json --no-record > "$OUT/bench_$p.jsonl" || status=1
  cat "$OUT/bench_$p.jsonl"
done

echo "== $STEPS training steps of cifar10 on synthetic CIFAR-format data, webgpu"
"${RUN[@]}" "$DEV/synthetic_cifar.js" /tmp/drl-cifar --per-batch 1000 || status=1
"${RUN[@]}" "$DEV/train.js" cifar10 --backend webgpu --data=/tmp/drl-cifar --iterations=$STEPS \
  --log-every=10 --checkpoint-every=$STEPS --sample-every=0 --samples=8 "${BATCH[@]}" \
  --results /tmp/drl-results > "$OUT/train_cifar10.log" 2>&1 || status=1
tail -n 5 "$OUT/train_cifar10.log"
echo "== done, status $status"
exit $status
