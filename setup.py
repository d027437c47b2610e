"""Build hook: the optional C accelerators (pure Python wherever one cannot build)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tracer._speedups", ["tracer/_speedups.c"], optional=True,
                             extra_compile_args=["-O2", "-Wall"]),
                   Extension("providers.msnp._cparser", ["providers/msnp/_cparser.c"],
                             optional=True, extra_compile_args=["-O2", "-Wall"]),
                   Extension("providers.msnmon._cexpress", ["providers/msnmon/_cexpress.c"],
                             optional=True, extra_compile_args=["-O2", "-Wall"]),
                   Extension("providers.packets._cdecode", ["providers/packets/_cdecode.c"],
                             optional=True, extra_compile_args=["-O2", "-Wall"])])
