"""The litestash-engine wheel: the binaries staged in scripts/ by build_wheel.sh become the
wheel's .data/scripts (pip installs them into the environment's bin/), the version comes from
the CMake project (LITESTASH_ENGINE_VERSION, set by build_wheel.sh).

Two things differ from a Python package: the scripts are ELF binaries, copied byte for byte
(distutils would try to read them as text to rewrite a #! line), and the wheel is tagged
py3-none-<this platform> (e.g. linux_x86_64): it runs with any Python 3 but only on a system
like the one it was built on. No manylinux tag: the binary links the build system's own
libsqlite3, libssl, libspdlog and libfmt, which no manylinux policy covers.
"""
import os
import shutil

from setuptools import setup
from distutils.command.build_scripts import build_scripts  # setuptools' own distutils
from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS_DIR = os.path.join(HERE, "scripts")


class CopyBinaries(build_scripts):
    """Copy the scripts unchanged, executable."""

    def run(self):
        self.mkpath(self.build_dir)
        for script in self.scripts:
            dest = os.path.join(self.build_dir, os.path.basename(script))
            shutil.copyfile(script, dest)
            os.chmod(dest, 0o755)


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: not pure (a native binary), but not tied to a Python ABI."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


version = os.environ.get("LITESTASH_ENGINE_VERSION")
if not version:
    raise SystemExit("setup.py: LITESTASH_ENGINE_VERSION is not set (use build_wheel.sh)")
scripts = sorted(os.path.join("scripts", name) for name in os.listdir(SCRIPTS_DIR))
if "scripts/litestash-engine" not in scripts:
    raise SystemExit("setup.py: scripts/litestash-engine missing (use build_wheel.sh)")

setup(version=version, scripts=scripts,
      cmdclass={"build_scripts": CopyBinaries, "bdist_wheel": PlatformWheel})
