"""Run the simulator's servers and the scripted clients together on loopback."""

from __future__ import annotations

from samples.msnsim._client import Transcript
from samples.msnsim._scenario import ACCOUNTS, run_scenario
from samples.msnsim._server import MsnServer, ServerAddresses

__all__ = ["run_session"]


async def run_session(
    port_base: int,
    host: str = "127.0.0.1",
    dialect: str = "MSNP8",
    advertise: ServerAddresses | None = None,
) -> Transcript:
    """Start the three server roles at port_base..port_base+2, play the session, stop.

    With ``advertise`` (e.g. a proxy in front of the servers) the clients are
    sent there, by the first connection and by every XFR and RNG.
    """
    server = MsnServer(ServerAddresses.from_base(host, port_base), ACCOUNTS, advertise)
    await server.start()
    try:
        return await run_scenario(server.addresses, dialect)
    finally:
        await server.close()
