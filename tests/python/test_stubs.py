"""The type stubs (python/imret/*.pyi) say what the module has: the same
functions, classes, methods and parameter names, in the same order."""
import ast
import inspect
import os
import re

import pytest

import imret

STUBS = os.path.dirname(imret.__file__)


def stub(name):
    with open(os.path.join(STUBS, name)) as f:
        return ast.parse(f.read())


def stub_params(node):
    return [a.arg for a in node.args.args if a.arg != "self"]


def runtime_params(obj):
    """Parameter names from pybind11's signature line (or Python's signature)."""
    doc = (obj.__doc__ or "").strip().split("\n")[0]
    match = re.match(r"\w+\((.*)\) ->", doc)
    if not match:
        return [p for p in inspect.signature(obj).parameters if p != "self"]
    names = [part.split(":")[0].strip() for part in re.split(r",\s*(?![^\[]*\])", match.group(1)) if part.strip()]
    return [n for n in names if n != "self"]


@pytest.mark.parametrize("module,stub_file", [("metrics", "metrics.pyi"), ("weights", "weights.pyi")])
def test_function_stubs_match_the_module(module, stub_file):
    functions = {n.name: n for n in stub(stub_file).body if isinstance(n, ast.FunctionDef)}
    runtime = getattr(imret, module)
    assert set(functions) == set(runtime.__all__)
    for name, node in functions.items():
        assert stub_params(node) == runtime_params(getattr(runtime, name)), name


@pytest.mark.parametrize("stub_file,cls", [("search.pyi", imret.search.Index), ("__init__.pyi", imret.Embedder)])
def test_class_stubs_match_the_classes(stub_file, cls):
    node = next(n for n in stub(stub_file).body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    members = {m.name: m for m in node.body if isinstance(m, ast.FunctionDef)}
    public = {n for n in dir(cls) if not n.startswith("_")} | {"__init__", "__len__"} & set(dir(cls))
    assert set(members) == public, set(members) ^ public
    for name, member in members.items():
        if isinstance(getattr(cls, name), property):
            continue
        assert stub_params(member) == runtime_params(getattr(cls, name)), name
