"""Build the private C++ extension ``redp._ext`` from ``csrc/``.

No ``-march=native``: the wheel must run on any x86-64. Hot loops get wide SIMD
through per-function ``target`` clones dispatched at run time (see csrc/simd.hpp).
"""
import glob
import sys

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

extra_compile_args = ["-O3", "-fvisibility=hidden"]
if sys.platform != "win32":
    extra_compile_args += ["-fno-math-errno", "-pthread"]

ext_modules = [
    Pybind11Extension(
        "redp._ext",
        sorted(glob.glob("csrc/*.cpp")),
        include_dirs=["csrc"],
        cxx_std=17,
        extra_compile_args=extra_compile_args,
        extra_link_args=["-pthread"] if sys.platform != "win32" else [],
    )
]

setup(ext_modules=ext_modules, cmdclass={"build_ext": build_ext})
