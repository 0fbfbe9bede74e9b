"""Ship images/ and topologies/ inside the package so `labsim` works from any directory."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "labsim" / "data"
        for name in ("images", "topologies"):
            dest = target / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(root / name, dest, symlinks=False)


setup(cmdclass={"build_py": BuildWithData})
