"""Run every docstring example of the installed package (numpydoc examples must run)."""

import doctest
import importlib
import pkgutil

import pytest

import redp


def _modules():
    names = ["redp"]
    for info in pkgutil.walk_packages(redp.__path__, prefix="redp."):
        if info.name.startswith("redp._ext"):
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest failure(s) in {name}"
