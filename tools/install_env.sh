#!/usr/bin/env bash
# Builds a virtual environment with one dependency stack and installs
# sparse_backbones into it in editable mode. Idempotent: a second run only
# checks what is there.
#   STACK=onedl (default): the maintained fork, requirements/stack-onedl.txt
#   STACK=openmmlab: the original releases, requirements/stack-openmmlab.txt
# The two never share an environment: both install the same import names
# (mmengine, mmcv, mmdet, ...) under different distribution names, so one
# would overwrite the other's files unseen. mmcv is built from its sdist once
# per (stack, mmcv version, torch version, Python ABI, CPU/CUDA) and kept in
# a wheel cache outside the checkout, so a new clone does not rebuild it.
set -euo pipefail

STACK=${STACK:-onedl}
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
CACHE_DIR=${SPARSE_BACKBONES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sparse_backbones}
STACK_FILE=requirements/stack-$STACK.txt

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] error: %s\n' "$*" >&2; exit 1; }

[ -f "$STACK_FILE" ] || die "unknown STACK=$STACK: no $STACK_FILE (choose onedl or openmmlab)"

# pins: "name==version" lines of the stack file, in install order.
mapfile -t PINS < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$STACK_FILE" | grep '==')
version_of() {  # version_of DIST: the pinned version of a distribution
  local pin
  for pin in "${PINS[@]}"; do
    [ "${pin%%==*}" = "$1" ] && { echo "${pin##*==}"; return; }
  done
  die "$STACK_FILE pins no $1"
}
dist_named() {  # dist_named SUFFIX: the pinned distribution ending in SUFFIX (mmcv -> onedl-mmcv)
  local pin
  for pin in "${PINS[@]}"; do
    case "${pin%%==*}" in mmcv|mmengine) [ "${pin%%==*}" = "$1" ] && { echo "$1"; return; } ;;
                         *-"$1") echo "${pin%%==*}"; return ;; esac
  done
  die "$STACK_FILE pins no distribution of $1"
}
TORCH_VERSION=$(version_of torch)
TORCHVISION_VERSION=$(version_of torchvision)
MMENGINE_DIST=$(dist_named mmengine)
MMCV_DIST=$(dist_named mmcv)
MMCV_VERSION=$(version_of "$MMCV_DIST")

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PYTHON for STACK=$STACK"
  "$PYTHON" -m venv "$VENV"
  echo "$STACK" > "$VENV/sparse_backbones-stack"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# Refuse to mix stacks in one environment.
if [ -f "$VENV/sparse_backbones-stack" ]; then
  HELD=$(cat "$VENV/sparse_backbones-stack")
else
  HELD=$("$PY" -c "import importlib.metadata as m
try: m.version('onedl-mmengine'); print('onedl')
except m.PackageNotFoundError:
    try: m.version('mmengine'); print('openmmlab')
    except m.PackageNotFoundError: print('')" 2>/dev/null || true)
  [ -n "$HELD" ] && echo "$HELD" > "$VENV/sparse_backbones-stack"
fi
if [ -n "${HELD:-}" ] && [ "$HELD" != "$STACK" ]; then
  die "$VENV holds STACK=$HELD; STACK=$STACK needs its own environment (the stacks share import names). Use VENV=<another folder>, e.g. make install STACK=$STACK VENV=.venv-$STACK"
fi
echo "$STACK" > "$VENV/sparse_backbones-stack"

has() {  # has DIST VERSION: the venv has exactly this version installed
  [ "$("$PY" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null)" = "$2" ]
}

"${PIP[@]}" install -q -r requirements/build.txt

if ! has torch "$TORCH_VERSION" || ! has torchvision "$TORCHVISION_VERSION"; then
  log "installing torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION"
  "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

EXTRA_DEPS=()
[ -f "requirements/host_deps-$STACK.txt" ] && EXTRA_DEPS=(-r "requirements/host_deps-$STACK.txt")
# mmengine with its own dependencies, resolved together with the pins.
"${PIP[@]}" install -q "$MMENGINE_DIST==$(version_of "$MMENGINE_DIST")" \
  -r requirements/host_deps.txt "${EXTRA_DEPS[@]}" -r requirements/tests.txt

# mmcv: reuse our own cached wheel or build it from the sdist. Never from pip's
# wheel cache, which may hold one built against another torch.
if ! has "$MMCV_DIST" "$MMCV_VERSION" || ! "$PY" -c 'import mmcv.ops' 2>/dev/null; then
  ABI=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  if "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
      || [ "${FORCE_CUDA:-0}" = 1 ]; then
    OPS=cuda
  else
    OPS=cpu
  fi
  WHEEL_DIR="$CACHE_DIR/wheels/$MMCV_DIST-${MMCV_VERSION}_torch-${TORCH_VERSION}_${ABI}_${OPS}"
  if ! ls "$WHEEL_DIR"/*.whl >/dev/null 2>&1; then
    log "building $MMCV_DIST $MMCV_VERSION ($OPS ops) from source: 12-15 minutes on 2 cores"
    BUILD_DIR=$(mktemp -d)
    trap 'rm -rf "$BUILD_DIR"' EXIT
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-cache-dir \
      -d "$BUILD_DIR" "$MMCV_DIST==$MMCV_VERSION"
    tar -xzf "$BUILD_DIR"/*.tar.gz -C "$BUILD_DIR"
    SRC=$(dirname "$(ls "$BUILD_DIR"/*/setup.py | head -1)")
    # torch >= 2.13 headers require C++20; both mmcv sdists ask for C++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    mkdir -p "$WHEEL_DIR.partial"
    MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" wheel -q --no-build-isolation --no-deps \
      --no-cache-dir -w "$WHEEL_DIR.partial" "$SRC"
    rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.partial" "$WHEEL_DIR"
  fi
  log "installing $MMCV_DIST from $WHEEL_DIR"
  "${PIP[@]}" install -q --no-deps --no-cache-dir --force-reinstall "$WHEEL_DIR"/*.whl
fi

# The hosts: everything pinned after mmcv, pure Python, without their
# dependencies (pip must never re-resolve torch or mmcv).
for pin in "${PINS[@]}"; do
  case "${pin%%==*}" in torch|torchvision|"$MMENGINE_DIST"|"$MMCV_DIST") continue ;; esac
  has "${pin%%==*}" "${pin##*==}" || "${PIP[@]}" install -q --no-deps "$pin"
done

"${PIP[@]}" install -q --no-deps --no-build-isolation -e .

STACK="$STACK" "$PY" - <<'PY'
import os
import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models  # noqa: F401
if os.environ['STACK'] == 'onedl':
    import mmrotate.models  # noqa: F401
import torch
print(f'[install] ok: STACK={os.environ["STACK"]}, torch {torch.__version__}, '
      f'mmcv {mmcv.__version__} ops importable')
PY
