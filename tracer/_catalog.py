"""Known providers: manifests published by installed packages (entry points).

A session may name a provider that is not registered yet (its process has not
started): the hub accepts it if its manifest is known, so keyword names can be
checked, and enables it the moment it registers.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from ._manifest import Manifest
from ._provider import Provider

__all__ = ["ENTRY_POINT_GROUP", "installed_providers"]

ENTRY_POINT_GROUP = "wfptrace.providers"
_log = logging.getLogger(__name__)


def installed_providers() -> dict[str, Provider]:
    """Providers that installed packages publish through the entry-point group."""
    out: dict[str, Provider] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not break the CLI
            _log.warning("cannot load provider %s: %s", ep.name, exc)
            continue
        if isinstance(obj, Provider):
            out[obj.name] = obj
    return out


def manifest_of(provider: Provider) -> Manifest:
    """The parsed manifest of a provider object."""
    return Manifest.from_json(provider.manifest())
