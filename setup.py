"""Build hook: the optional C renderer ``tracer._speedups`` (pure Python if it cannot build)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tracer._speedups", ["tracer/_speedups.c"], optional=True,
                             extra_compile_args=["-O2", "-Wall"])])
