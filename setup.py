"""Build hook: the optional C accelerators (pure Python wherever one cannot build)."""

from setuptools import Extension, setup

#: The providers' shared C headers.
_HEADERS = ["providers/_bytes.h", "providers/packets/_frame.h"]


def _provider(name: str) -> Extension:
    """An optional providers accelerator ``providers.<name>`` built from ``<name>.c``."""
    path = name.replace(".", "/")
    return Extension(f"providers.{name}", [f"providers/{path}.c"], optional=True,
                     include_dirs=["providers"], depends=_HEADERS,
                     extra_compile_args=["-O2", "-Wall"])


setup(ext_modules=[Extension("tracer._speedups", ["tracer/_speedups.c"], optional=True,
                             extra_compile_args=["-O2", "-Wall"]),
                   Extension("viewer._cscan", ["viewer/_cscan.c"], optional=True,
                             extra_compile_args=["-O2", "-Wall"]),
                   _provider("msnp._cparser"),
                   _provider("packets._cdecode"), _provider("packets._cstage")])
