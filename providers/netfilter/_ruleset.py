"""A tagged set of iptables rules in any tables, added and removed atomically per family.

For rules :class:`QueueRule` cannot express (marks, CONNMARK, NFLOG, REJECT):
each :class:`RuleLine` is a table, a chain and its match/target arguments; the
owner's tag is added as a comment, so ``sweep_stale`` removes the rules of a
dead owner. Rules go to the top of their chains, in the order given, with one
``iptables-restore --noflush`` per family (``ip6tables`` for family 6). This
kernel's nftables has no ``queue`` statement, so native nftables is served
through ``iptables-nft``. A table that only holding our rules created (an empty
``mangle`` or ``filter`` of iptables-nft) is deleted again on removal.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from ._backends import Backend, Runner, detect_backend
from ._errors import RuleError
from ._tags import Tag

__all__ = ["RuleLine", "RuleSet"]

_BASE_CHAINS = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
                "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")}


@dataclass(frozen=True, slots=True)
class RuleLine:
    """One rule: family (4 or 6), table, chain and the match/target arguments."""

    family: int
    chain: str
    args: tuple[str, ...]
    table: str = "filter"


def _binary(backend: Backend, family: int, tool: str) -> str:
    flavour = "legacy" if backend is Backend.IPTABLES_LEGACY else "nft"
    exe = f"{'ip6tables' if family == 6 else 'iptables'}-{flavour}-{tool}"
    if shutil.which(exe) is None:
        raise RuleError(f"{exe} is not installed")
    return exe


def _quote(args: Sequence[str]) -> str:
    return " ".join(f'"{a}"' if " " in a or ":" in a else a for a in args)


def _nft_tables(run: Runner) -> set[str] | None:
    """``family name`` of every nft table here (None without the nft tool)."""
    if shutil.which("nft") is None:
        return None
    res = run(["nft", "list", "tables"], check=False)
    if res.returncode != 0:
        return None
    return {" ".join(line.split()[1:3]) for line in res.stdout.splitlines()
            if line.startswith("table ")}


class RuleSet:
    """Rules of ``owner`` (see :class:`RuleLine`); :meth:`install`, :meth:`remove`.

    The lines carry ``tag.comment()`` already (the caller renders them for ``tag``).
    Rules go into the network namespace of the thread that creates the object, and
    are removed from there even if the thread has moved since.
    """

    def __init__(self, owner: str, lines: Sequence[RuleLine], tag: Tag,
                 backend: Backend | None = None) -> None:
        self.owner = owner
        self.tag = tag
        self._run = Runner()
        try:
            found = backend or detect_backend(self._run)
        except BaseException:
            self._run.close()
            raise
        self.backend = Backend.IPTABLES_NFT if found is Backend.NFTABLES else found
        self.lines = tuple(lines)
        self.installed = False
        self._tables_before: set[str] | None = None

    def _by_family(self) -> dict[int, list[RuleLine]]:
        fams: dict[int, list[RuleLine]] = {}
        for line in self.lines:
            fams.setdefault(line.family, []).append(line)
        return fams

    def _restore(self, family: int, body: dict[str, list[str]]) -> None:
        exe = _binary(self.backend, family, "restore")
        text = "".join(f"*{table}\n" + "".join(f"{r}\n" for r in rules) + "COMMIT\n"
                       for table, rules in body.items())
        res = self._run([exe, "-w", "--noflush"], text, check=False)
        if res.returncode != 0:
            raise RuleError(f"{exe}: {res.stderr.strip() or res.returncode}")

    def install(self) -> None:
        """Insert every rule at the top of its chain, in order; all or nothing."""
        if self.installed:
            return
        if self.backend is Backend.IPTABLES_NFT:
            self._tables_before = _nft_tables(self._run)
        done: list[int] = []
        try:
            for fam, lines in self._by_family().items():
                pos: dict[tuple[str, str], int] = {}
                body: dict[str, list[str]] = {}
                for line in lines:
                    key = (line.table, line.chain)
                    pos[key] = pos.get(key, 0) + 1
                    body.setdefault(line.table, []).append(
                        f"-I {line.chain} {pos[key]} {_quote(line.args)}")
                self._restore(fam, body)
                done.append(fam)
        except BaseException:
            self._remove(done)
            self._drop_made_tables()
            raise
        self.installed = True

    def _remove(self, families: Sequence[int]) -> None:
        errors = []
        by_fam = self._by_family()
        for fam in families:
            body: dict[str, list[str]] = {}
            for line in by_fam[fam]:
                body.setdefault(line.table, []).append(f"-D {line.chain} {_quote(line.args)}")
            try:
                self._restore(fam, body)
            except RuleError as exc:
                errors.append(str(exc))
        if errors:
            raise RuleError("; ".join(errors))

    def counters(self, target: str) -> int:
        """Packets that met our rules whose target is ``target`` (``-save -c`` counters)."""
        total = 0
        for fam in self._by_family():
            exe = _binary(self.backend, fam, "save")
            for table in {line.table for line in self.lines}:
                res = self._run([exe, "-c", "-t", table], check=False)
                if res.returncode != 0:
                    raise RuleError(f"{exe}: {res.stderr.strip() or res.returncode}")
                for text in res.stdout.splitlines():
                    if (text.startswith("[") and self.tag.comment() in text
                            and f"-j {target}" in text):
                        total += int(text[1:text.index(":")])
        return total

    def remove(self) -> None:
        """Remove every rule of ours, and tables only they made; no-op when not installed."""
        if self.installed:
            self.installed = False
            self._remove(list(self._by_family()))
            self._drop_made_tables()

    def close(self) -> None:
        """Remove the rules and release the namespace handle."""
        try:
            self.remove()
        finally:
            self._run.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._run.close()

    def _drop_made_tables(self) -> None:
        before = self._tables_before
        if before is None:
            return
        for fam in self._by_family():
            for table in sorted({line.table for line in self.lines}):
                name = f"{'ip' if fam == 4 else 'ip6'} {table}"
                if name not in before:
                    self._drop_if_empty(fam, table, name)

    def _drop_if_empty(self, family: int, table: str, name: str) -> None:
        """Delete a table iptables-nft made for us if it holds no rule and no chain of
        its own now (the base chains only)."""
        res = self._run([_binary(self.backend, family, "save"), "-t", table], check=False)
        lines = res.stdout.splitlines()
        if res.returncode != 0 or any(line.startswith("-A") for line in lines):
            return
        base = _BASE_CHAINS.get(table, ())
        if any(line.startswith(":") and line.split()[0][1:] not in base for line in lines):
            return
        self._run(["nft", "delete", "table", *name.split()], check=False)
