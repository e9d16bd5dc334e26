"""Builds the Swift library in release mode and bundles it in the package.

`pip install ./python` (from the repository root) runs `swift build -c
release` on the repository's Package.swift and copies
libsynthetic_gymnax.so next to the Python modules, with the meta-learned
environments of Checkpoints/ (checkpoint and config), so the installed
package works from any directory and in a fresh virtual environment.
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
        target = pathlib.Path(self.build_lib) / "synthetic_gymnax_swift"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(bin_path, LIB), target / LIB)
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


setup(cmdclass={"build_py": BuildWithSwift}, distclass=BinaryDistribution)
