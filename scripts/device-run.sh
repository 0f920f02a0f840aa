#!/usr/bin/env bash
# Runs bench/device.bench.ts on a machine without Node.js (a GPU machine reached through a tool that
# copies the working tree and runs one command), from what `npm run pack:device` put in .device/
# (carry .device and .gl along with the tree):
#
#   bash scripts/device-run.sh                     # the full profile (under 8 minutes on a real GPU)
#   bash scripts/device-run.sh --profile tiny      # any bench option passes through
#   OUT=/some/dir bash scripts/device-run.sh       # where the JSON and Markdown reports go
#
# Steps: the Vulkan loader from .gl/*.deb when the system has none; the NVIDIA Vulkan driver file
# when the loader would not find it by itself; Node, Dawn and the bundle unpacked to $DEVICE_WORK
# (default /tmp/seedmask-device); then the bench, and the report printed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PACK="$ROOT/.device"
WORK="${DEVICE_WORK:-/tmp/seedmask-device}"
OUT="${OUT:-$ROOT/bench/results}"

if [ ! -f "$PACK/bench-device.mjs" ] || [ ! -f "$PACK/node.xz" ] || [ ! -f "$PACK/dawn.node.xz" ]; then
  echo "device-run: .device/ is missing or incomplete: run 'npm run pack:device' on a machine with Node, and carry .device" >&2
  exit 2
fi

# The Vulkan loader. A bare machine may lack libvulkan.so.1; the .deb in .gl/ brings it (root
# unpacks it into /, anyone else into $WORK/gl with LD_LIBRARY_PATH pointing there).
# (grep without -q: with pipefail, -q's early exit would fail ldconfig with SIGPIPE.)
if ! ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1' >/dev/null; then
  shopt -s nullglob
  debs=(.gl/*.deb)
  shopt -u nullglob
  if [ ${#debs[@]} -eq 0 ]; then
    echo "device-run: no Vulkan loader (libvulkan.so.1) here and no .gl/*.deb to unpack; Dawn will find no adapter." >&2
    echo "  fix: on a machine with apt, 'npm run pack:device' downloads it into .gl/; carry .gl" >&2
  elif [ "$(id -u)" = 0 ]; then
    for f in "${debs[@]}"; do dpkg -x "$f" /; done
    ldconfig
    echo "device-run: Vulkan loader unpacked from ${debs[*]}"
  else
    mkdir -p "$WORK/gl"
    for f in "${debs[@]}"; do dpkg -x "$f" "$WORK/gl"; done
    export LD_LIBRARY_PATH="$WORK/gl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "device-run: Vulkan loader unpacked into $WORK/gl (not root)"
  fi
fi

# NVIDIA's container runtime puts its Vulkan ICD file where the loader does not look.
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$NVIDIA_ICD" ]; then
  export VK_DRIVER_FILES="$NVIDIA_ICD"
  echo "device-run: VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi

# xz where installed, else Python's lzma (the GPU machine has python3).
unxz_to() {
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$1" >"$2.partial"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"), 1 << 20)' "$1" "$2.partial"
  fi
  mv "$2.partial" "$2"
}

# Unpack (again only when the pack is newer than what is there).
DAWN_DIR="$WORK/node_modules/webgpu/dist/linux-x64"
mkdir -p "$DAWN_DIR"
if [ ! -x "$WORK/node" ] || [ "$PACK/node.xz" -nt "$WORK/node" ]; then
  unxz_to "$PACK/node.xz" "$WORK/node"
  chmod +x "$WORK/node"
fi
if [ ! -f "$DAWN_DIR/dawn.node" ] || [ "$PACK/dawn.node.xz" -nt "$DAWN_DIR/dawn.node" ]; then
  unxz_to "$PACK/dawn.node.xz" "$DAWN_DIR/dawn.node"
fi
cp "$PACK/webgpu/index.js" "$PACK/webgpu/package.json" "$WORK/node_modules/webgpu/"
cp "$PACK/bench-device.mjs" "$WORK/bench-device.mjs"

missing="$(ldd "$WORK/node" "$DAWN_DIR/dawn.node" 2>/dev/null | grep 'not found' || true)"
if [ -n "$missing" ]; then
  echo "device-run: shared libraries missing for node or dawn.node:" >&2
  echo "$missing" >&2
  exit 2
fi
echo "device-run: node $("$WORK/node" --version), $(command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | sed -n 1p || echo 'no nvidia-smi')"

mkdir -p "$OUT"
stamp="$OUT/.device-run-start"
touch "$stamp"
status=0
# SEEDMASK_ROOT: the bundle lives in $WORK, the vocabulary and the Python peers in the repository.
SEEDMASK_ROOT="$ROOT" "$WORK/node" "$WORK/bench-device.mjs" --out "$OUT" "$@" || status=$?

report="$(find "$OUT" -maxdepth 1 -name 'device-*.md' -newer "$stamp" | sort | tail -1)"
rm -f "$stamp"
if [ -n "$report" ]; then
  echo
  echo "===== $report ====="
  cat "$report"
else
  echo "device-run: the bench wrote no report (exit status $status)" >&2
fi
exit "$status"
