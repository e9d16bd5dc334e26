#!/usr/bin/env bash
# Runs python/tests/test_gymnax1.py (and test_gymnax_routing.py) under gymnax 1.x, in a virtual environment
# of its own (gymnax 0.0.9, which the other tests use, may be installed
# system-wide; the venv does not see it).
#
#   python/tests/run_gymnax1.sh [pytest arguments...]
#
# Environment:
#   SGX_VENV_G1  the venv (default /tmp/venv-g1): created if missing, and its
#                packages (re)installed only if they are not the pinned ones.
#   SGX_LIB      libsynthetic_gymnax.so to test; if unset, the library is
#                built (swift build -c release, incremental) into
#                .build-gymnax1/ at the repository root.
#   PYTHON       the interpreter that creates the venv (default python3).
#
# The package is the repository's python/ (PYTHONPATH; tests/conftest.py puts
# it first on sys.path too), not an installed copy. Idempotent; exits with
# pytest's status.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${SGX_VENV_G1:-/tmp/venv-g1}"
PYTHON="${PYTHON:-python3}"

# gymnax 1.0.1 imports six (gymnax/utils/load_mnist.py) without declaring it.
# synthetic-gymnax only provides the paper checkpoints (its dependencies,
# brax among them, are not needed: --no-deps).
PINNED=(jax==0.10.2 gymnax==1.0.1 numpy pytest six)
PAPER=synthetic-gymnax==0.0.1

venv_ok() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - <<'EOF' 2>/dev/null
import importlib.metadata as m
assert m.version("jax") == "0.10.2" and m.version("gymnax") == "1.0.1"
assert m.version("synthetic-gymnax") == "0.0.1"
import numpy, pytest, six  # noqa: F401
EOF
}

if ! venv_ok; then
    if [ ! -x "$VENV/bin/python" ]; then
        echo "run_gymnax1: creating $VENV" >&2
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    echo "run_gymnax1: installing ${PINNED[*]} $PAPER into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINNED[@]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$PAPER"
    venv_ok || { echo "run_gymnax1: $VENV still lacks the pinned packages" >&2; exit 1; }
fi

if [ -z "${SGX_LIB:-}" ]; then
    SCRATCH="$REPO/.build-gymnax1"
    (cd "$REPO" && swift build -c release --product synthetic_gymnax --scratch-path "$SCRATCH" >&2)
    SGX_LIB="$(cd "$REPO" && swift build -c release --scratch-path "$SCRATCH" --show-bin-path)/libsynthetic_gymnax.so"
fi
[ -f "$SGX_LIB" ] || { echo "run_gymnax1: no library at $SGX_LIB" >&2; exit 1; }
export SGX_LIB
export PYTHONPATH="$REPO/python${PYTHONPATH:+:$PYTHONPATH}"

cd "$REPO"
exec "$VENV/bin/python" -m pytest -p no:cacheprovider python/tests/test_gymnax1.py python/tests/test_gymnax_routing.py "$@"
