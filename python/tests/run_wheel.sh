#!/usr/bin/env bash
# Builds the wheel (python/build_wheel.sh) and tries it as a user without Swift
# would: installed into a fresh virtual environment, run from another folder
# with the toolchain hidden from PATH and from the loader.
#
#   python/tests/run_wheel.sh
#
# Checks, failing on the first that does not hold:
#   - the build leaves the checkout as it was (git status, and no
#     .build-python/, python/build/ or egg-info appear);
#   - auditwheel show calls it a manylinux wheel;
#   - pip installs it (with the [gymnasium] extra) into a fresh venv;
#   - with PATH free of Swift and LD_LIBRARY_PATH empty, nothing the
#     installed library needs resolves into the toolchain (ldd), and a process
#     that loaded it maps nothing from the toolchain (/proc/self/maps);
#   - make, reset and step (real, synthetic from the bundled checkpoint,
#     VectorEnvironment, Gymnasium), train PPO on Synthetic-CartPole-v1 and evaluate it
#     on CartPole-v1 (at least 475), and the command line (--help, evaluate).
# Prints the wheel's size and each phase's time.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SWIFT_DIR="$(dirname "$(readlink -f "$(command -v swift)")")"
TOOLCHAIN="$(cd "$SWIFT_DIR/../.." && pwd)"  # e.g. /opt/swift

state() {
    git -C "$REPO" status --porcelain --ignored=matching -- python .build-python 2>/dev/null \
        | grep -v "__pycache__" | sort || true
}
before="$(state)"

t0=$(date +%s)
bash "$REPO/python/build_wheel.sh" "$WORK/dist" > "$WORK/wheel_path" 2> "$WORK/build.log" \
    || { tail -40 "$WORK/build.log"; echo "run_wheel: the build failed"; exit 1; }
t1=$(date +%s)
WHEEL="$(tail -1 "$WORK/wheel_path")"
grep -A1 "consistent with the following platform tag" "$WORK/build.log" | tr -s ' \n' ' ' || true; echo
case "$(basename "$WHEEL")" in
    *manylinux*) ;;
    *) echo "run_wheel: $(basename "$WHEEL") is not a manylinux wheel"; exit 1 ;;
esac
after="$(state)"
if [ "$before" != "$after" ]; then
    echo "run_wheel: the build changed the checkout:"
    diff <(echo "$before") <(echo "$after") || true
    exit 1
fi
for leftover in .build-python python/build python/synthetic_gymnax_swift.egg-info python/synthetic_gymnax_swift/libsynthetic_gymnax.so; do
    if [ -e "$REPO/$leftover" ] && ! grep -q "$leftover" <<< "$before"; then
        echo "run_wheel: the build left $leftover"; exit 1
    fi
done
echo "wheel: $(basename "$WHEEL"), $(du -k "$WHEEL" | cut -f1) KiB, built in $((t1 - t0)) s; checkout unchanged"

"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL[gymnasium]" 2>&1 \
    | grep -v "as the 'root' user" || true
t2=$(date +%s)
echo "installed into a fresh venv in $((t2 - t1)) s"

# The user's world: no Swift on PATH, nothing extra for the loader, another folder.
CLEAN_PATH="$WORK/venv/bin:$(tr ':' '\n' <<< "$PATH" | grep -v "^$TOOLCHAIN" | paste -sd: -)"
run() { (cd "$WORK" && env -u LD_LIBRARY_PATH -u SGX_LIB -u PYTHONPATH PATH="$CLEAN_PATH" "$@"); }
run sh -c "! command -v swift" || { echo "run_wheel: swift is still on PATH"; exit 1; }
LIB="$(run python -c 'import synthetic_gymnax_swift._native as n; print(n.library_path())')"
case "$LIB" in "$WORK/venv/"*) ;; *) echo "run_wheel: the package loads $LIB, not its own"; exit 1 ;; esac
echo "the package loads $(basename "$LIB") on this CPU"
if run ldd "$LIB" | grep -q "$TOOLCHAIN\|not found"; then
    run ldd "$LIB"; echo "run_wheel: the installed library resolves into $TOOLCHAIN or misses a library"; exit 1
fi

run python - "$TOOLCHAIN" <<'PY'
import subprocess, sys
import numpy as np
import synthetic_gymnax_swift as sgs

toolchain = sys.argv[1]
key = np.array([0, 0], np.uint32)
env, params = sgs.make("CartPole-v1")
obs, state = env.reset(key, params)
assert abs(float(obs[0]) - 0.04476670175790787) < 1e-9, obs           # gymnax's reset, bit for bit
obs, state, reward, done, info = env.step(key, state, 1, params)
synth, sparams = sgs.make("Synthetic-CartPole-v1")                     # the bundled checkpoint (ours)
sobs, sstate = synth.reset(key, sparams)
assert sobs.shape == (4,) and np.all(np.isfinite(sobs))
envs = sgs.VectorEnvironment("Pendulum-v1", num_envs=8, seed=1)
envs.reset()
assert envs.step(np.zeros((8, 1), np.float32))[0].shape == (8, 3)

import gymnasium
g = gymnasium.make("synthetic_gymnax/Synthetic-CartPole-v1")
g.reset(seed=0)
assert g.step(0)[2:4] == (True, False)

import time
start = time.perf_counter()
policy = sgs.train("ppo", synth, seed=0)
seconds = time.perf_counter() - start
returns = sgs.evaluate(policy, "CartPole-v1", episodes=20, seed=0)
assert float(np.mean(returns)) >= 475, returns

with open("/proc/self/maps") as f:
    mapped = [line.split()[-1] for line in f if toolchain in line]
assert not mapped, mapped
print(f"smoke test: make, step, VectorEnvironment, Gymnasium; PPO on Synthetic-CartPole-v1 ({seconds:.2f} s) -> "
      f"{np.mean(returns):.1f} on CartPole-v1; nothing mapped from {toolchain}")
PY
run synthetic-gymnax-swift --help > "$WORK/help.txt"
grep -q "evaluate" "$WORK/help.txt" || { cat "$WORK/help.txt"; echo "run_wheel: --help lacks evaluate"; exit 1; }
run synthetic-gymnax-swift evaluate --env Synthetic-CartPole-v1 --algos ppo --runs 2 --episodes 5 \
    --json "$WORK/eval.json" > "$WORK/eval.txt"
run python -c "
import json, sys
r = json.load(open(sys.argv[1]))['ppo']
assert len(r['returns']) == 2 and r['iqm'] >= 475, r
print('command line: evaluate Synthetic-CartPole-v1 (bundled checkpoint and config), PPO IQM', r['iqm'])
" "$WORK/eval.json"
echo "wheel smoke test passed in $(($(date +%s) - t2)) s"
