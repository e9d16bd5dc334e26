#!/usr/bin/env bash
# Runs every test of the project; the README's test command.
#
#   1. Swift tests (swift test, optimised): PRNG and environments against
#      JAX/gymnax fixtures, the C ABI's error handling, batching and
#      determinism, agents (gradients, learning), evolution strategies.
#   2. The C test program, compiled with cc against include/ and linked to
#      the release build of libsynthetic_gymnax.so.
#   3. The fixtures are generated again with real JAX and gymnax 0.0.9 (and
#      evosax 0.1.6 for the meta-learning one) and must equal the committed ones.
#   4. The Python package's tests (pytest python/tests): the gymnax drop-in
#      against gymnax 0.0.9, JAX transformations, the paper-checkpoint
#      converter, synthetic environments against the original synthetic-gymnax,
#      the Ray backend of meta-learning (ray 2.52.1, a cluster on 127.0.0.1),
#      the Gymnasium adapter (gymnasium 1.4.0: its env checker, its SAME_STEP
#      SyncVectorEnv as the reference of ours).
#      In virtual environments of their own: gymnax 1.x; Stable-Baselines
#      (SBX, with PyTorch's wheels: python/tests/run_stable_baselines.sh); the
#      wheel, built by python/build_wheel.sh and used without Swift
#      (python/tests/run_wheel.sh).
#   5. The checkpoint fuzzer (Tests/fuzz/fuzz_checkpoints.py, 60 s): mutated
#      checkpoints, each loaded in a child process, must be refused with an
#      error or loaded exactly as declared; a death by signal, a hang or a
#      silent acceptance fails. SGX_FUZZ_SECONDS sets its duration.
# The pinned Python references are installed with pip first (SGX_SKIP_PIP=1
# skips the install; checks whose references are missing are then skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

# MuJoCo's C library, for the locomotion environments (Debian's package).
if ! dpkg -s libmujoco-dev >/dev/null 2>&1; then
    echo "== installing libmujoco-dev"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmujoco-dev >/dev/null
fi

if [ -z "${SGX_SKIP_PIP:-}" ]; then
    echo "== installing the Python references (jax 0.10.2, gymnax 0.0.9, gymnasium 1.4.0, ray 2.52.1)"
    pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@" 2>&1 | grep -v "as the 'root' user" || true; }
    pip_install "jax==0.10.2" "jaxlib==0.10.2" "gymnax==0.0.9" "distrax==0.1.9" "gymnasium==1.4.0" pytest numpy
    # The original package, for its checkpoints and SynthEnv (its own dependencies are too old to resolve).
    pip_install --no-deps "synthetic-gymnax==0.0.1" "rejax==0.1.3"
    # evosax 0.1.6, the paper's evolution strategies, for the meta-learning fixture.
    pip_install --no-deps "evosax==0.1.6"
    # Ray, for the Ray backend of meta-learning (test_ray_backend.py: a cluster of three
    # nodes on 127.0.0.1); tqdm's bar and psutil's socket list are what those tests watch.
    pip_install "ray==2.52.1" tqdm psutil
fi

echo "== swift test (optimised, with testing enabled: the agents' tests train networks)"
log=$(mktemp)
test_flags=(-c release -Xswiftc -enable-testing --scratch-path .build-tests)
if ! { swift build "${test_flags[@]}" --build-tests && swift test "${test_flags[@]}" --skip-build; } > "$log" 2>&1; then
    grep -E "error|failed" "$log" | head -40
    tail -5 "$log"
    echo "swift test failed"
    exit 1
fi
grep -E "bit-exact" "$log" || true
grep -E "evosax parity" "$log" || true
grep -E "Test run with" "$log" || true
grep -E "Executed [0-9]+ tests" "$log" | tail -1

echo "== C ABI test program"
swift build -c release --product synthetic_gymnax
build_dir=$(swift build -c release --show-bin-path)
mkdir -p .build/c-tests
cc -std=c11 -Wall -Wextra -Werror -I include Tests/c/test_abi.c -L "$build_dir" -lsynthetic_gymnax \
   -Wl,-rpath,"$build_dir" -lpthread -lm -o .build/c-tests/test_abi
.build/c-tests/test_abi

echo "== fixtures against real JAX and gymnax"
if python3 -c "import jax, gymnax" 2>/dev/null; then
    tmp=$(mktemp -d)
    python3 Tests/fixtures/generate.py "$tmp" > /dev/null 2>&1
    for f in Tests/SyntheticGymnaxTests/Fixtures/*.json; do
        [ "$(basename "$f")" = evosax.json ] && continue  # checked below
        cmp -s "$f" "$tmp/$(basename "$f")" || { echo "fixture $(basename "$f") differs from real JAX output"; exit 1; }
    done
    echo "fixtures equal a fresh generation with jax $(python3 -c 'import jax; print(jax.__version__)')"
    rm -rf "$tmp"
else
    echo "skipped: jax and gymnax==0.0.9 not importable"
fi
echo "== meta-learning fixture against real evosax 0.1.6"
if python3 -c "import jax, optax, yaml, evosax" 2>/dev/null; then
    tmp=$(mktemp -d)
    python3 Tests/fixtures/generate_evosax.py "$tmp" > /dev/null 2>&1
    cmp -s Tests/SyntheticGymnaxTests/Fixtures/evosax.json "$tmp/evosax.json" \
        || { echo "fixture evosax.json differs from real evosax output"; exit 1; }
    echo "evosax.json equals a fresh generation with evosax $(python3 -c 'import importlib.metadata as m; print(m.version("evosax"))')"
    rm -rf "$tmp"
else
    echo "skipped: evosax==0.1.6 (or jax, optax, pyyaml) not importable"
fi
echo "== Python package (pytest)"
(cd python && SGX_LIB="$build_dir/libsynthetic_gymnax.so" python3 -m pytest -q -p no:cacheprovider tests)

echo "== checkpoint fuzzer: mutated checkpoints are refused or loaded as declared, never kill the process"
python3 Tests/fuzz/fuzz_checkpoints.py --seconds "${SGX_FUZZ_SECONDS:-60}" --quiet \
    --lib "$build_dir/libsynthetic_gymnax.so"

echo "== gymnax 1.x convention, in a virtual environment of its own"
SGX_LIB="$build_dir/libsynthetic_gymnax.so" bash python/tests/run_gymnax1.sh

echo "== Stable-Baselines (SBX) on the synthetic environments, judged on the real tasks, in a venv of its own"
# PyTorch's CUDA wheels (6.1 GB, ~95 s from PyPI the first time on a machine):
# Stable-Baselines3 imports torch everywhere, and SBX builds on it. Skipped,
# saying why, with SGX_SKIP_SB=1 or without 8 GB of free disk.
SGX_LIB="$build_dir/libsynthetic_gymnax.so" bash python/tests/run_stable_baselines.sh -q

echo "== the wheel: built without touching the checkout, manylinux, installed and used without Swift"
if [ -z "${SGX_SKIP_WHEEL:-}" ]; then
    bash python/tests/run_wheel.sh
else
    echo "skipped: SGX_SKIP_WHEEL is set"
fi

echo "== pip install ./python into a fresh virtual environment, used from another directory"
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check ./python 2>&1 | grep -v "as the 'root' user" || true
(cd "$venv" && "$venv/bin/python" - <<'PY'
import numpy as np
import synthetic_gymnax_swift as sgs
assert sgs._native.library_path().parent.name == "synthetic_gymnax_swift", sgs._native.library_path()
env, params = sgs.make("CartPole-v1")
obs, state = env.reset(np.array([0, 0], np.uint32), params)
assert abs(float(obs[0]) - 0.04476670175790787) < 1e-9, obs
envs = sgs.VectorEnvironment("Pendulum-v1", num_envs=8, seed=1)
obs, _ = envs.reset()
obs, reward, terminated, truncated, info = envs.step(np.zeros((8, 1), np.float32))
print("installed package works without jax:", obs.shape, reward.dtype, sgs._native.library_path())
PY
)
rm -rf "$(dirname "$venv")"

echo "all tests passed"
