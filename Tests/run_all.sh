#!/usr/bin/env bash
# Runs every test of the project; the README's test command.
#
#   1. Swift tests (swift test): PRNG and environments against JAX/gymnax
#      fixtures, the C ABI's error handling, batching and determinism.
#   2. The C test program, compiled with cc against include/ and linked to
#      the release build of libsynthetic_gymnax.so.
#   3. When jax and gymnax 0.0.9 are importable: the fixtures are generated
#      again with real JAX and must equal the committed ones.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== swift test"
swift test 2>&1 | tee /tmp/sgx-swift-test.log | grep -E "bit-exact|error|failed|Executed .* tests" || true
grep -q "with 0 failures" /tmp/sgx-swift-test.log || { echo "swift test failed"; exit 1; }

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
        cmp -s "$f" "$tmp/$(basename "$f")" || { echo "fixture $(basename "$f") differs from real JAX output"; exit 1; }
    done
    echo "fixtures equal a fresh generation with jax $(python3 -c 'import jax; print(jax.__version__)')"
    rm -rf "$tmp"
else
    echo "skipped: jax and gymnax==0.0.9 not importable (CI installs them)"
fi
echo "all tests passed"
