"""Builds the Swift library in release mode and bundles it in the package.

`pip install ./python` (from the repository root) runs `swift build -c
release` on the repository's Package.swift and copies
libsynthetic_gymnax.so next to the Python modules, with the meta-learned
environments of Checkpoints/ (checkpoint and config), so the installed
package works from any directory and in a fresh virtual environment.

With SGX_PREBUILT_LIB=/path/to/libsynthetic_gymnax.so the library is taken
as built (python/build_wheel.sh builds it portable, with the Swift runtime
linked in), and with SGX_PREBUILT_LIB_V3 its x86-64-v3 build beside it;
Swift is not needed. The package holds no Python extension
(the library is loaded with ctypes), so its wheel is tagged py3-none-<platform>:
one wheel for every Python 3.
"""

import os
import pathlib
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
LIB = "libsynthetic_gymnax.so"


class BuildWithSwift(build_py):
    def run(self):
        super().run()
        target = pathlib.Path(self.build_lib) / "synthetic_gymnax_swift"
        target.mkdir(parents=True, exist_ok=True)
        prebuilt = os.environ.get("SGX_PREBUILT_LIB")
        if prebuilt:
            shutil.copy2(prebuilt, target / LIB)
            # The x86-64-v3 build beside the baseline one (_native.library_path picks).
            if os.environ.get("SGX_PREBUILT_LIB_V3"):
                shutil.copy2(os.environ["SGX_PREBUILT_LIB_V3"], target / "libsynthetic_gymnax_x86_64_v3.so")
        else:
            self._build_library(target)
        self._copy_checkpoints(target)

    def _build_library(self, target):
        if not (REPO / "Package.swift").exists():
            raise RuntimeError(f"{REPO}/Package.swift not found: build from a checkout of the repository")
        swift = shutil.which("swift")
        if swift is None:
            raise RuntimeError("the Swift toolchain (swift) is needed to build libsynthetic_gymnax")
        # A build folder of its own, so that pip never races a developer's .build.
        scratch = REPO / ".build-python"
        subprocess.run([swift, "build", "-c", "release", "--product", "synthetic_gymnax",
                        "--scratch-path", str(scratch)], cwd=REPO, check=True)
        bin_path = subprocess.run([swift, "build", "-c", "release", "--scratch-path", str(scratch),
                                   "--show-bin-path"], cwd=REPO, check=True, capture_output=True,
                                  text=True).stdout.strip()
        shutil.copy2(os.path.join(bin_path, LIB), target / LIB)

    @staticmethod
    def _copy_checkpoints(target):
        # This project's meta-learned environments: make("Synthetic-<id>") uses them by default.
        for folder in sorted((REPO / "Checkpoints").glob("*")):
            files = [folder / n for n in ("checkpoint.safetensors", "config.yaml") if (folder / n).is_file()]
            if files:
                (target / "Checkpoints" / folder.name).mkdir(parents=True, exist_ok=True)
                for f in files:
                    shutil.copy2(f, target / "Checkpoints" / folder.name / f.name)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: mark it platform-specific."""

    def has_ext_modules(self):
        return True


cmdclass = {"build_py": BuildWithSwift}
try:
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:  # setuptools < 70.1
        from wheel.bdist_wheel import bdist_wheel

    class PlatformWheel(bdist_wheel):
        """py3-none-<platform>: the native library is loaded with ctypes, so
        the wheel fits every Python 3 on its platform (auditwheel then names
        the manylinux platform)."""

        def get_tag(self):
            return ("py3", "none", super().get_tag()[2])

    cmdclass["bdist_wheel"] = PlatformWheel
except ImportError:  # no bdist_wheel: a plain install, no wheel to tag
    pass

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
