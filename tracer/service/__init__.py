"""The trace hub service: sessions, providers and consumers in separate processes.

``wfptrace hub`` (or :func:`serve`) runs the hub on a Unix socket. Other processes
use it through the same API as the embedded hub::

    from tracer.service import attach_provider, connect

    link = attach_provider(PROVIDER)            # in the provider's process
    with connect() as hub:                      # in a controller or consumer
        hub.start_session(SessionConfig("s1", [ProviderEnable("my-app")], realtime=True))
        for event in hub.subscribe("s1"):
            print(event.message)

Roles are given to groups (``wfptrace hub --readers G --controllers G --providers G``,
``--group G`` for all three): readers list and read events, controllers also start,
stop and control, providers register names that are not reserved (the built-in
providers' are root's). Root and the hub's owner hold every role; everyone else is
refused with :class:`AccessDeniedError` naming the role needed, and the refusal is
traced (``AccessDenied`` on ``wfptrace-hub``).
"""

from ._errors import AccessDeniedError, HubUnavailableError, ProtocolError
from ._link import LinkStats, ProviderLink, attach_provider
from ._paths import default_socket_path
from ._remote import RemoteHub, connect
from ._serve import serve
from ._server import HubServer
from ._wire import MAX_FRAME, VERSION

__all__ = [
    "MAX_FRAME",
    "VERSION",
    "AccessDeniedError",
    "HubServer",
    "HubUnavailableError",
    "LinkStats",
    "ProtocolError",
    "ProviderLink",
    "RemoteHub",
    "attach_provider",
    "connect",
    "default_socket_path",
    "serve",
]
