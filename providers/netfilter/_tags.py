"""Owner tags on firewall rules: who installed a rule, and is that process alive.

``wfptrace:<owner>:<pid>:<starttime>`` as an iptables comment, or
``wfptrace_<owner>_<pid>_<starttime>`` as an nft table name. The start time
(from /proc/<pid>/stat) tells a live owner from a recycled pid.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = ["TAG_PREFIX", "Tag"]

TAG_PREFIX = "wfptrace"
_TAG_RE = re.compile(r"wfptrace[:_]([A-Za-z0-9-]+)[:_](\d+)[:_](\d+)")


@dataclass(frozen=True, slots=True)
class Tag:
    """Owner tag of a rule: who installed it, and whether that process lives."""

    owner: str
    pid: int
    start: int

    @classmethod
    def mine(cls, owner: str) -> Tag:
        """The tag for rules installed by this process."""
        return cls(owner, os.getpid(), _start_time(os.getpid()) or 0)

    @classmethod
    def parse(cls, text: str) -> Tag | None:
        """Find a tag in a rule listing line or table name."""
        m = _TAG_RE.search(text)
        return cls(m.group(1), int(m.group(2)), int(m.group(3))) if m else None

    def comment(self) -> str:
        """iptables comment form."""
        return f"{TAG_PREFIX}:{self.owner}:{self.pid}:{self.start}"

    def table_name(self) -> str:
        """nft table name form."""
        return f"{TAG_PREFIX}_{self.owner}_{self.pid}_{self.start}"

    @property
    def alive(self) -> bool:
        """True while the owning process (same pid and start time) runs."""
        return _start_time(self.pid) == self.start


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat.rsplit(b")", 1)[1].split()[19])
