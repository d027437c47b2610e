"""Command line of the MSNP simulator.

    python -m samples.msnsim server  --port-base N [--host H]
    python -m samples.msnsim client  --port-base N [--host H] [--dialect D] [--transcript F]
    python -m samples.msnsim session --port-base N [--host H] [--dialect D] [--transcript F]

The server roles listen on N (dispatch), N+1 (notification), N+2 (switchboard).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from samples.msnsim._scenario import ACCOUNTS, run_scenario
from samples.msnsim._server import MsnServer, ServerAddresses
from samples.msnsim._session import run_session

DIALECTS = ("MSNP8", "MSNP15")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m samples.msnsim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("server", "client", "session"):
        p = sub.add_parser(mode)
        p.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
        p.add_argument("--port-base", type=int, required=True, help="dispatch port; +1 NS, +2 SB")
        if mode != "server":
            p.add_argument("--dialect", choices=DIALECTS, default="MSNP8")
            p.add_argument("--transcript", type=Path, help="write the JSON transcript here")
    return parser


async def _serve(addresses: ServerAddresses) -> None:
    server = MsnServer(addresses, ACCOUNTS)
    await server.start()
    print(
        f"msnsim: dispatch {addresses.dispatch}, notification {addresses.notification}, "
        f"switchboard {addresses.switchboard} on {addresses.host}",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> int:
    """Run one mode; exit status 0 on success."""
    args = _parser().parse_args(argv)
    addresses = ServerAddresses.from_base(args.host, args.port_base)
    try:
        if args.mode == "server":
            asyncio.run(_serve(addresses))
            return 0
        if args.mode == "client":
            transcript = asyncio.run(run_scenario(addresses, args.dialect))
        else:
            transcript = asyncio.run(run_session(args.port_base, args.host, args.dialect))
    except KeyboardInterrupt:
        return 130
    except (OSError, TimeoutError) as error:
        print(f"msnsim: {error}", file=sys.stderr)
        return 1
    if args.transcript:
        transcript.save(args.transcript)
    print(
        f"msnsim: {len(transcript.commands)} commands on {len(transcript.connections)} connections",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
