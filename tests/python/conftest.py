"""The Python module's tests: import imret from the build tree (CTest sets
PYTHONPATH=build/python)."""
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)
