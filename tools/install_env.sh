#!/usr/bin/env bash
# Builds the virtual environment with the pinned stack of requirements/stack.txt
# and installs sparse_backbones into it in editable mode. Idempotent: a second
# run only checks what is there. mmcv is built from its sdist once per
# (torch version, Python ABI, CPU/CUDA) and kept in a wheel cache outside the
# checkout, so a new clone on the same machine does not rebuild it.
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
CACHE_DIR=${SPARSE_BACKBONES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sparse_backbones}
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0

log() { printf '[install] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

has() {  # has PACKAGE VERSION: the venv has exactly this version installed
  [ "$("$PY" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null)" = "$2" ]
}

"${PIP[@]}" install -q -r requirements/build.txt

if ! has torch "$TORCH_VERSION" || ! has torchvision "$TORCHVISION_VERSION"; then
  log "installing torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION"
  "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

"${PIP[@]}" install -q "mmengine==0.10.7" -r requirements/host_deps.txt -r requirements/tests.txt

# mmcv: reuse our own cached wheel or build it from the sdist. Never from pip's
# wheel cache, which may hold one built against another torch.
if ! has mmcv "$MMCV_VERSION" || ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
  ABI=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  if "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
      || [ "${FORCE_CUDA:-0}" = 1 ]; then
    OPS=cuda
  else
    OPS=cpu
  fi
  WHEEL_DIR="$CACHE_DIR/wheels/mmcv-${MMCV_VERSION}_torch-${TORCH_VERSION}_${ABI}_${OPS}"
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION ($OPS ops) from source: about 12 minutes on 2 cores"
    BUILD_DIR=$(mktemp -d)
    trap 'rm -rf "$BUILD_DIR"' EXIT
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-cache-dir \
      -d "$BUILD_DIR" "mmcv==$MMCV_VERSION"
    tar -xzf "$BUILD_DIR"/mmcv-*.tar.gz -C "$BUILD_DIR"
    SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
    # torch >= 2.13 headers require C++20; mmcv 2.1.0 asks for C++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    mkdir -p "$WHEEL_DIR.partial"
    MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" wheel -q --no-build-isolation --no-deps \
      --no-cache-dir -w "$WHEEL_DIR.partial" "$SRC"
    rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.partial" "$WHEEL_DIR"
  fi
  log "installing mmcv from $WHEEL_DIR"
  "${PIP[@]}" install -q --no-deps --no-cache-dir --force-reinstall "$WHEEL_DIR"/mmcv-*.whl
fi

for spec in mmpretrain==1.2.0 mmdet==3.3.0 mmsegmentation==1.2.2; do
  has "${spec%%==*}" "${spec##*==}" || "${PIP[@]}" install -q --no-deps "$spec"
done

"${PIP[@]}" install -q --no-deps --no-build-isolation -e .

"$PY" - <<'PY'
import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models  # noqa: F401
import torch
print(f'[install] ok: torch {torch.__version__}, mmcv ops importable')
PY
