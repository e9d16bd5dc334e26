#!/usr/bin/env bash
# The main job: train an agent on a synthetic environment and report its
# return on the real one.
#
#   bash examples/train_synthetic.sh [ENV] [ALGO] [extra sgx train options]
#
# ENV defaults to CartPole-v1 (the real environment; the agent trains on
# Synthetic-ENV), ALGO to ppo. The synthetic environment is the default of
# make("Synthetic-ENV") (python/synthetic_gymnax_swift/defaults.py): this
# project's meta-learned Checkpoints/ENV/checkpoint.safetensors where it meets
# the paper's table in every cell (CartPole-v1), the paper's elsewhere.
# CHECKPOINT=ours, CHECKPOINT=paper or CHECKPOINT=FILE overrides it. The
# paper's is installed (pip install synthetic-gymnax --no-deps) and converted
# without JAX. Set-up included: libmujoco-dev, the Swift library and CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
env_id=${1:-CartPole-v1}
algo=${2:-ppo}
shift $(( $# > 2 ? 2 : $# ))

# MuJoCo's header is needed to build (Debian's libmujoco-dev).
if ! dpkg -s libmujoco-dev >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmujoco-dev >/dev/null
fi
swift build -c release 2>&1 | grep -E "error|Build complete" || true
bin_path=$(swift build -c release --show-bin-path)
defaults=python/synthetic_gymnax_swift/defaults.py    # standard library only: no build or numpy needed
if [ -n "${CHECKPOINT:-}" ]; then
    choice=$CHECKPOINT    # ours | paper | a checkpoint file
else
    choice=$(python3 "$defaults" "$env_id")
    echo "default for Synthetic-$env_id: $choice ($(python3 "$defaults" --why "$env_id")); CHECKPOINT=ours|paper|FILE overrides it"
fi
checkpoint="Checkpoints/$env_id/checkpoint.safetensors"
if [ "$choice" = ours ]; then
    if [ ! -f "$checkpoint" ]; then
        echo "error: this project has no checkpoint of Synthetic-$env_id ($checkpoint); use CHECKPOINT=paper" >&2
        exit 2
    fi
elif [ "$choice" = paper ]; then
    python3 -m pip install --quiet --disable-pip-version-check numpy 2>&1 | grep -v "as the 'root' user" || true
    python3 -m pip install --quiet --disable-pip-version-check --no-deps "synthetic-gymnax==0.0.1" \
        2>&1 | grep -v "as the 'root' user" || true
    checkpoint=$(SGX_LIB="$bin_path/libsynthetic_gymnax.so" PYTHONPATH=python python3 -c "
from synthetic_gymnax_swift.checkpoints import paper_checkpoint
print(paper_checkpoint('$env_id'))")
else
    checkpoint=$choice
fi
echo "synthetic environment: $checkpoint"

"$bin_path/sgx" train --algo "$algo" --env "Synthetic-$env_id" \
    --checkpoint "$checkpoint" --eval-env "$env_id" "$@"
