"""What the real capture ppa_suspectemployeechat_msnms.pcap (a 2006 MSN switchboard
session) holds: its 25 commands in capture order, and the texts of its messages."""

from __future__ import annotations

BRIAN, THOMAS = "tesla_brian@hotmail.com", "tesla_thomas@hotmail.com"

COMMANDS = [  # (sent by the client, verb, trid, args, payload_len)
    (True, "USR", 93, (BRIAN, "1835953129.20013021.2623242"), 0),
    (False, "USR", 93, ("OK", BRIAN, "Brian"), 0),
    (True, "CAL", 94, (THOMAS,), 0),
    (False, "CAL", 94, ("RINGING", "1835953129"), 0),
    (False, "JOI", None, (THOMAS, "Thomas", "1616756780"), 0),
    (True, "MSG", 95, ("U", "96"), 96),
    (True, "MSG", 96, ("N", "132"), 132),
    (False, "MSG", None, (THOMAS, "Thomas", "97"), 97),
    (False, "MSG", None, (THOMAS, "Thomas", "141"), 141),
    (True, "MSG", 97, ("U", "96"), 96),
    (True, "MSG", 98, ("U", "96"), 96),
    (True, "MSG", 99, ("N", "178"), 178),
    (False, "MSG", None, (THOMAS, "Thomas", "97"), 97),
    (False, "MSG", None, (THOMAS, "Thomas", "156"), 156),
    (True, "MSG", 100, ("U", "96"), 96),
    (True, "MSG", 101, ("U", "96"), 96),
    (True, "MSG", 102, ("U", "96"), 96),
    (True, "MSG", 103, ("N", "142"), 142),
    (False, "MSG", None, (THOMAS, "Thomas", "97"), 97),
    (False, "MSG", None, (THOMAS, "Thomas", "97"), 97),
    (False, "MSG", None, (THOMAS, "Thomas", "97"), 97),
    (False, "MSG", None, (THOMAS, "Thomas", "182"), 182),
    (True, "MSG", 104, ("U", "96"), 96),
    (True, "MSG", 105, ("U", "96"), 96),
    (True, "MSG", 106, ("N", "140"), 140),
]

TEXTS = [
    "Hey Brian",
    "Hey man, whats up?",
    "Not much, did you hear about the new IT guy they hired?",
    "ohh yea, i hear he is a real jerk",
    "I've heard the same",
    "maybe we should try hacking into a server to mess with him?",
    "sounds good to me",
]
