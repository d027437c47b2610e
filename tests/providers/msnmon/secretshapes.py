"""A capture holding every shape of MSNP secret, for the redaction tests.

Real TCP conversations (raw IPv4, handshake, FIN) written as a classic pcap: logins of
MSNP2 (MD5), MSNP8 (TWN), MSNP15 (SSO), MSNP18 and MSNP21 (SSO with a machine GUID,
SHA A), switchboard cookies in XFR, RNG, USR and ANS, the Passport cookie of the
profile message, message bodies, and an HTTP-gateway exchange with ``Authorization``,
``Cookie`` and ``Set-Cookie``. :data:`SECRETS` are the values no sink may show by
default; :data:`SAME` pairs the values that must get equal tokens.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from providers.packets import LINKTYPE_RAW, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, PcapWriter

SALT = "1013928519.693957190"
MD5_PROOF = "9a8f7e6d5c4b3a29181716151413f00d"
TWN_CHALLENGE = ("lc=1033,id=507,tw=40,fs=1,ru=http%3A%2F%2Fmessenger%2Emsn%2Ecom,"
                 "ct=1062764229,kpp=1,kv=5,ver=2.1.0173.1,tpf=43f8a4c8ed940c04e3740be46c4d1619")
TWN_TICKET = "t=53*1hAu8ADuD3TEwdXoOMi08sD*2!cMrntTwVMTjoB3p6stWTqzbkKZPVQzA5N$$&p=MBbz!j"
SSO_NONCE = "8CLhG/xfgYZ7TyRQ/jIAWyDmd/w4R4GF2yKLS6tYrnjzi4cFag/Nr+hxsfg5zNWU"
SSO_TICKET = "t=EwCoARAnAAAUcGfDjFEC0p8kDlpYsGNvDdnQFNOAADwsg4&p="
SSO_BLOB = "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAAAAAAAAAAAA+nYzGsecretblob=="
MSNP21_TICKET = "t=EwDoAW+jAAAUVwo8hn21ticketsecret"
MSNP21_BLOB = "HAAAAAEAAAAD21blobsecretAAAAAAAAA=="
SHA_TICKET = "shaCircleTicketSecret0123=="
GUID = "{F26D1F07-95E2-403C-BC18-D4BFED493428}"
SB_COOKIE = "17262740.1050826919.32308"
RNG_COOKIE = "849102291.520491113"
MSPAUTH = "7Pw5ZtGPXU2mspauthsecret$$"
BODY = "my very secret message"
HTTP_AUTH = "Basic c2VjcmV0OnBhc3N3b3Jk"
HTTP_COOKIE = "MSPAuth=cookiesecret123; MSPProf=profsecret"
HTTP_SET_COOKIE = "MSPProf=setcookiesecret456; path=/"
HTTP_TICKET = "t=httpticketsecret&p=httppsecret"

#: Every value that no sink may show unless asked to.
SECRETS = (SALT, MD5_PROOF, TWN_CHALLENGE, TWN_TICKET, SSO_NONCE, SSO_TICKET, SSO_BLOB,
           MSNP21_TICKET, MSNP21_BLOB, SHA_TICKET, SB_COOKIE, RNG_COOKIE, MSPAUTH, BODY,
           "cookiesecret123", "setcookiesecret456", HTTP_AUTH.split()[1], HTTP_TICKET)
#: Values kept in clear: they identify, they do not authenticate.
PUBLIC = ("MBI_KEY_OLD", GUID, "alice@example.com", "dave@example.com")


def _cmd(line: str, payload: bytes | None = None) -> bytes:
    if payload is None:
        return line.encode() + b"\r\n"
    return f"{line} {len(payload)}\r\n".encode() + payload


def _msg(body: str) -> bytes:
    return (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            b"X-MMS-IM-Format: FN=Arial; EF=; CO=0; CS=0; PF=0\r\n\r\n" + body.encode())


_PROFILE = (f"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsprofile; charset=UTF-8\r\n"
            f"LoginTime: 1062764229\r\nEmailEnabled: 1\r\nMSPAuth: {MSPAUTH}\r\n"
            f"ClientIP: 10.0.0.2\r\nClientPort: 1025\r\n\r\n").encode()


def _http(start: str, headers: list[str], body: bytes) -> bytes:
    head = "\r\n".join([start, *headers, f"Content-Length: {len(body)}", "", ""])
    return head.encode() + body


#: (client port, server port, [(from_client, bytes), ...]) per connection.
CONVERSATIONS: list[tuple[int, int, list[tuple[bool, bytes]]]] = [
    (41001, 1863, [  # MSNP2: MD5
        (True, _cmd("VER 1 MSNP2 CVR0")), (False, _cmd("VER 1 MSNP2")),
        (True, _cmd("USR 2 MD5 I alice@example.com")), (False, _cmd(f"USR 2 MD5 S {SALT}")),
        (True, _cmd(f"USR 3 MD5 S {MD5_PROOF}")),
        (False, _cmd("USR 3 OK alice@example.com Alice")),
    ]),
    (41002, 1863, [  # MSNP8: TWN, the profile message, XFR SB and RNG cookies
        (True, _cmd("VER 1 MSNP8 CVR0")), (False, _cmd("VER 1 MSNP8 CVR0")),
        (True, _cmd("USR 2 TWN I bob@example.com")),
        (False, _cmd(f"USR 2 TWN S {TWN_CHALLENGE}")),
        (True, _cmd(f"USR 3 TWN S {TWN_TICKET}")),
        (False, _cmd("USR 3 OK bob@example.com Bob 1 0")),
        (False, _cmd("MSG Hotmail Hotmail", _PROFILE)),
        (True, _cmd("XFR 4 SB")),
        (False, _cmd(f"XFR 4 SB 10.0.0.9:1863 CKI {SB_COOKIE}")),
        (False, _cmd(f"RNG 11752013 10.0.0.8:1863 CKI {RNG_COOKIE} carol@example.com Carol")),
    ]),
    (41003, 1863, [  # MSNP15: SSO
        (True, _cmd("VER 1 MSNP15 CVR0")), (False, _cmd("VER 1 MSNP15")),
        (True, _cmd("USR 2 SSO I dave@example.com")),
        (False, _cmd(f"USR 2 SSO S MBI_KEY_OLD {SSO_NONCE}")),
        (True, _cmd(f"USR 3 SSO S {SSO_TICKET} {SSO_BLOB}")),
        (False, _cmd("USR 3 OK dave@example.com 1 0")),
    ]),
    (41004, 1863, [  # MSNP21 (and MSNP18's SHA A): SSO with the machine GUID
        (True, _cmd("VER 1 MSNP21 CVR0")), (False, _cmd("VER 1 MSNP21")),
        (True, _cmd("USR 2 SSO I erin@example.com")),
        (False, _cmd(f"USR 2 SSO S MBI_KEY_OLD {SSO_NONCE}")),
        (True, _cmd(f"USR 3 SSO S {MSNP21_TICKET} {MSNP21_BLOB} {GUID}")),
        (False, _cmd("USR 3 OK erin@example.com 1 0")),
        (True, _cmd(f"USR 4 SHA A {SHA_TICKET}")),
        (False, _cmd("USR 4 OK erin@example.com 1 0")),
    ]),
    (41005, 1863, [  # switchboard (MSNP16+ form): USR with the XFR's cookie, two messages
        (True, _cmd(f"USR 1 bob@example.com;{GUID} {SB_COOKIE}")),
        (False, _cmd("USR 1 OK bob@example.com Bob")),
        (True, _cmd("MSG 2 N", _msg(BODY))), (True, _cmd("MSG 3 N", _msg(BODY))),
    ]),
    (41006, 1863, [  # switchboard: ANS with the RNG's cookie
        (True, _cmd(f"ANS 1 carol@example.com {RNG_COOKIE} 11752013")),
        (False, _cmd("ANS 1 OK")),
    ]),
    (41007, 80, [  # HTTP gateway
        (True, _http("POST /gateway/gateway.dll?Action=open&Server=NS&IP=10.0.0.7 HTTP/1.1",
                     ["Content-Type: application/x-msn-messenger", f"Authorization: {HTTP_AUTH}",
                      f"Cookie: {HTTP_COOKIE}"], _cmd(f"USR 3 TWN S {HTTP_TICKET}"))),
        (False, _http("HTTP/1.1 200 OK",
                      ["X-MSN-Messenger: SessionID=1.2; GW-IP=10.0.0.7",
                       f"Set-Cookie: {HTTP_SET_COOKIE}",
                       "Content-Type: application/x-msn-messenger"],
                      _cmd("USR 3 OK frank@example.com Frank 1 0"))),
    ]),
]


class _Tcp:
    """One connection's raw IPv4/TCP frames (checksums left zero: the decoder ignores them)."""

    def __init__(self, client: tuple[str, int], server: tuple[str, int]) -> None:
        self.ends = {True: client, False: server}
        self.seq = {True: 1000, False: 5000}

    def frame(self, from_client: bool, flags: int, data: bytes = b"") -> bytes:
        (src, sport), (dst, dport) = self.ends[from_client], self.ends[not from_client]
        seq, ack = self.seq[from_client], self.seq[not from_client]
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(data), 0, 0x4000, 64, 6, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
        self.seq[from_client] = (seq + len(data) + (1 if flags & (TCP_SYN | TCP_FIN) else 0))
        return ip + tcp + data


def write_secret_capture(path: Path) -> Path:
    """Write the capture (every conversation whole, one after the other)."""
    ts = 1_700_000_000_000_000_000
    with open(path, "wb") as f:
        out = PcapWriter(f, LINKTYPE_RAW, nano=True)
        for cport, sport, turns in CONVERSATIONS:
            tcp = _Tcp(("10.0.0.2", cport), ("10.0.0.7", sport))
            frames = [tcp.frame(True, TCP_SYN), tcp.frame(False, TCP_SYN | TCP_ACK),
                      tcp.frame(True, TCP_ACK)]
            frames += [tcp.frame(c, TCP_PSH | TCP_ACK, data) for c, data in turns]
            frames += [tcp.frame(True, TCP_FIN | TCP_ACK), tcp.frame(False, TCP_FIN | TCP_ACK)]
            for frame in frames:
                ts += 1_000_000
                out.write(frame, ts)
    return path
