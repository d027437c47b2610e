"""MSNP (MSN Messenger protocol) parsing: a pure, incremental stream parser and helpers.

Bytes of one direction of one TCP connection go in (split anywhere, possibly
starting mid-session), typed items come out::

    parser = MsnpStreamParser()
    for item in parser.feed(chunk):
        if isinstance(item, Command): ...       # verb, trid, args, payload_len, payload
        elif isinstance(item, ParseError): ...  # counted in parser.stats too

Around it: :func:`parse_msg` (MSG MIME content), :func:`sniff_msnp` (is this
MSNP?), :class:`AddressBook` (servers learned from XFR / RNG / invitations),
:class:`RoleTracker` and :func:`legacy_class` (observed role and the original
verb-table class), :class:`TransactionTracker` (TrID joins with latency) and
:func:`legacy_format` (the original driver's trace strings),
:class:`BufferBudget` (one memory bound shared by many parsers), :func:`redact_args` and
:class:`StreamRedactor` (where the secrets are: tickets, cookies, message bodies).
"""

from providers.msnp._addresses import AddressBook, LearnedAddress, split_host_port
from providers.msnp._budget import DEFAULT_BUDGET, BufferBudget
from providers.msnp._command import Command, HttpEnvelope, ParseError
from providers.msnp._legacy import LegacyTrace, legacy_format, legacy_trace
from providers.msnp._message import MsgContent, SlpMessage, parse_msg
from providers.msnp._parser import (
    DEFAULT_MAX_ERRORS,
    DEFAULT_MAX_LINE,
    DEFAULT_MAX_PAYLOAD,
    Item,
    MsnpStreamParser,
)
from providers.msnp._roles import (
    NOTIFICATION_VERBS,
    LegacyClass,
    Role,
    RoleTracker,
    legacy_class,
)
from providers.msnp._secrets import SECRET_VERBS, StreamRedactor, redact_args, secret_args
from providers.msnp._sniff import Sniff, sniff_msnp
from providers.msnp._stats import ParserStats
from providers.msnp._transactions import Transaction, TransactionStats, TransactionTracker

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_PAYLOAD",
    "NOTIFICATION_VERBS",
    "SECRET_VERBS",
    "AddressBook",
    "BufferBudget",
    "Command",
    "HttpEnvelope",
    "Item",
    "LearnedAddress",
    "LegacyClass",
    "LegacyTrace",
    "MsgContent",
    "MsnpStreamParser",
    "ParseError",
    "ParserStats",
    "Role",
    "RoleTracker",
    "SlpMessage",
    "Sniff",
    "StreamRedactor",
    "Transaction",
    "TransactionStats",
    "TransactionTracker",
    "legacy_class",
    "legacy_format",
    "legacy_trace",
    "parse_msg",
    "redact_args",
    "secret_args",
    "sniff_msnp",
    "split_host_port",
]
