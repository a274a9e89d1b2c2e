"""`pip wheel --no-build-isolation .` with Debian's pip, setuptools and wheel,
offline: the wheel holds the package and the extension, and works from where
it is unpacked, outside the build tree."""
import os
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_wheel_installs_and_works(tmp_path):
    build = os.path.dirname(os.path.dirname(os.environ.get("PYTHONPATH", "build/python").split(":")[0] + "/"))
    env = dict(os.environ, IMRET_BUILD_DIR=build, PIP_NO_INDEX="1")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w",
                    str(tmp_path / "dist"), ROOT], check=True, env=env)
    (wheel,) = (tmp_path / "dist").glob("imret-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("imret/__init__.py", "imret/manifold.py", "imret/metrics.pyi", "imret/py.typed"):
        assert expected in names, names
    assert any(n.startswith("imret/_imret") and n.endswith(".so") for n in names), names
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", "import imret; print(imret.__file__); "
                          "print(imret.metrics.average_precision([1, 0, 1], [0.9, 0.5, 0.1]))"],
                         cwd=tmp_path, env=dict(clean, PYTHONPATH=str(tmp_path / "site")), capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0].startswith(str(tmp_path / "site"))
    assert abs(float(out[1]) - (1 + 2 / 3) / 2) < 1e-12
