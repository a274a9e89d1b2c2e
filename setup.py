"""The Python module as a package pip installs, with Debian's pip, setuptools
and wheel and no network:

    pip install --no-build-isolation .        (in a venv, or --user)

It runs the normal CMake build for the extension (in build/, or
$IMRET_BUILD_DIR; configured first if it is not yet) and packages
python/imret/ with the extension built there. docs/python.md says why it is
not scikit-build-core."""
import glob
import os
import re
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(imret VERSION ([0-9.]+)", f.read()).group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.abspath(os.environ.get("IMRET_BUILD_DIR", os.path.join(ROOT, "build")))
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            subprocess.run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DIMRET_BUILD_TESTS=OFF",
                            "-DIMRET_BUILD_BENCH=OFF"], check=True)
        subprocess.run(["cmake", "--build", build, "--target", "_imret"], check=True)
        built = glob.glob(os.path.join(build, "python", "imret", "_imret*.so"))
        if not built:
            raise RuntimeError(f"{build}: the build made no imret/_imret*.so (is pybind11-dev installed?)")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(built[0], target)


setup(
    name="imret",
    version=version(),
    description="Content-based image retrieval in C++: metrics, search, t-SNE/UMAP, weights, embedding",
    packages=["imret"],
    package_dir={"imret": "python/imret"},
    package_data={"imret": ["*.pyi", "py.typed"]},
    ext_modules=[Extension("imret._imret", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": os.path.join("build", "python-wheel")}},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
