#!/usr/bin/env bash
# Runs python/tests/test_stable_baselines.py (SBX, the JAX Stable-Baselines,
# trained on synthetic environments and judged on the real tasks) in a virtual
# environment of its own.
#
#   python/tests/run_stable_baselines.sh [pytest arguments...]
#
# SBX builds on Stable-Baselines3, which imports PyTorch in every module, and
# PyPI's only PyTorch for Linux x86-64 is its CUDA build, which will not import
# without NVIDIA's CUDA wheels: the venv holds 6.1 GB (torch 1.2 GB, CUDA
# 3.0 GB, triton 1.0 GB), installed in ~95 s from PyPI (measured; README,
# "Stable-Baselines"). With less than SGX_SB_MIN_GB (8) GB free under the
# venv's folder, or SGX_SKIP_SB=1, it prints why and skips (exit 0).
#
# Environment:
#   SGX_VENV_SB  the venv (default /tmp/venv-sb): created if missing, its
#                packages (re)installed only if they are not the pinned ones.
#   SGX_LIB      libsynthetic_gymnax.so to test (required).
#   PYTHON       the interpreter that creates the venv (default python3).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${SGX_VENV_SB:-/tmp/venv-sb}"
PYTHON="${PYTHON:-python3}"
PINNED=(jax==0.10.2 jaxlib==0.10.2 gymnasium==1.4.0 sbx-rl==0.28.0 stable-baselines3==2.9.2 torch==2.15.0
        tfp-nightly==0.26.0.dev20261027 flax==0.12.8 optax==0.2.8 numpy pytest)
PAPER=synthetic-gymnax==0.0.1  # the paper's checkpoints: Synthetic-Pendulum-v1's default

if [ -n "${SGX_SKIP_SB:-}" ]; then
    echo "skipped: SGX_SKIP_SB is set"
    exit 0
fi
[ -n "${SGX_LIB:-}" ] && [ -f "$SGX_LIB" ] || { echo "run_stable_baselines: set SGX_LIB to the library" >&2; exit 1; }

venv_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - <<'PY' 2>/dev/null
import importlib.metadata as m
assert m.version("sbx-rl") == "0.28.0" and m.version("stable_baselines3") == "2.9.2"
assert m.version("torch") == "2.15.0" and m.version("jax") == "0.10.2" and m.version("gymnasium") == "1.4.0"
assert m.version("synthetic-gymnax") == "0.0.1"
import pytest  # noqa: F401
PY
}

if ! venv_ok; then
    parent="$(dirname "$VENV")"
    mkdir -p "$parent"
    free_gb=$(df --output=avail -B1G "$parent" | tail -1 | tr -d ' ')
    if [ "$free_gb" -lt "${SGX_SB_MIN_GB:-8}" ]; then
        echo "skipped: Stable-Baselines needs PyTorch's CUDA wheels (6.1 GB); $parent has ${free_gb} GB free"
        exit 0
    fi
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    echo "run_stable_baselines: installing ${PINNED[*]} $PAPER into $VENV" >&2
    start=$(date +%s)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir "${PINNED[@]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps "$PAPER"
    echo "run_stable_baselines: installed in $(( $(date +%s) - start )) s, $(du -sh "$VENV" | cut -f1)" >&2
    venv_ok || { echo "run_stable_baselines: $VENV still lacks the pinned packages" >&2; exit 1; }
fi

export SGX_LIB
export PYTHONPATH="$REPO/python${PYTHONPATH:+:$PYTHONPATH}"
cd "$REPO"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider python/tests/test_stable_baselines.py "$@"
