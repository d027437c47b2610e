"""MSNP simulator: dispatch / notification / switchboard servers and a scripted client.

Generates realistic MSN Messenger sessions on loopback, with a JSON transcript
of exactly what the clients sent and received (ground truth for tests), the
bundled sample captures (:mod:`samples.msnsim.make_capture`) and large
synthetic captures for benchmarks (:func:`write_synthetic_capture`).
"""

from samples.msnsim._client import Connection, Transcript
from samples.msnsim._scenario import ACCOUNTS, LONG_TEXT, run_scenario
from samples.msnsim._server import MsnServer, ServerAddresses
from samples.msnsim._session import run_session
from samples.msnsim._synthetic import SyntheticStats, write_synthetic_capture

__all__ = [
    "ACCOUNTS",
    "LONG_TEXT",
    "Connection",
    "MsnServer",
    "ServerAddresses",
    "SyntheticStats",
    "Transcript",
    "run_scenario",
    "run_session",
    "write_synthetic_capture",
]
