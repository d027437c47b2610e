"""Rule rendering: what is queued, what is not, bypass and fail-closed."""

from __future__ import annotations

from providers.inspect import load_config
from providers.inspect._rules import REJECT_MARK, render_rules
from providers.netfilter import Tag

TAG = Tag("inspect", 42, 4242)


def _rules(**settings: object) -> list:
    return render_rules(load_config(env={}, **settings), TAG)


def test_each_chain_queues_new_flows_and_transport_separately() -> None:
    """OUTPUT matches the destination, INPUT the source; NEW goes to q, the rest to q+1."""
    lines = _rules(remote_address="10.0.0.1", queue=100)
    out = [" ".join(r.args) for r in lines if r.chain == "OUTPUT"]
    inp = [" ".join(r.args) for r in lines if r.chain == "INPUT"]
    assert all(a.startswith("-d 10.0.0.1/32") for a in out)
    assert all(a.startswith("-s 10.0.0.1/32") for a in inp)
    assert all("--queue-num 100" in a for a in out if "--ctstate NEW" in a)
    assert all("--queue-num 101" in a for a in out if "--ctstate NEW" not in a)
    assert all(TAG.comment() in a and "--queue-bypass" in a for a in out + inp)
    assert {r.family for r in lines} == {4}


def test_only_non_error_icmp_types_are_matched() -> None:
    """Echo and timestamp types are queued; destination-unreachable (3) never is."""
    args = [" ".join(r.args) for r in _rules(remote_address="10.0.0.1")]
    types = {a.split("--icmp-type ")[1].split()[0] for a in args if "--icmp-type" in a}
    assert types == {"8", "0", "13", "14"}
    args6 = [" ".join(r.args) for r in _rules(remote_address="2001:db8::1")]
    types6 = {a.split("--icmpv6-type ")[1].split()[0] for a in args6 if "--icmpv6-type" in a}
    assert types6 == {"128", "129"}


def test_fail_closed_rules_do_not_bypass() -> None:
    """With fail_closed an orphaned queue drops instead of accepting."""
    assert not any("--queue-bypass" in r.args for r in _rules(remote_address="10.0.0.1",
                                                                fail_closed=True))


def test_extensions_add_prefixes_ports_and_reject_rules() -> None:
    """Prefixes of both families, remote-port conditions and mark-matched REJECT rules."""
    lines = _rules(remote_address="10.0.0.1", addresses=["2001:db8::/64"], protocols=["tcp"],
                   ports=[443], reject=True)
    args = [" ".join(r.args) for r in lines]
    assert {r.family for r in lines} == {4, 6}
    assert any("-d 2001:db8::/64" in a for a in args)
    assert all("--dports 443" in a for a, r in zip(args, lines, strict=True)
               if r.chain == "OUTPUT" and "NFQUEUE" in a)
    rejects = [r for r in lines if "REJECT" in r.args]
    assert rejects and all(hex(REJECT_MARK) in r.args and r.table == "filter" for r in rejects)
    mangle = [" ".join(r.args) for r in lines if r.table == "mangle" and r.chain == "OUTPUT"
              and r.family == 4]
    assert "--socket-exists" in mangle[0] and mangle[0].endswith("ACCEPT"), \
        "REJECT's own RST to the peer (no socket) passes OUTPUT before the queue rules"
    assert hex(REJECT_MARK) in mangle[1] and mangle[1].endswith("ACCEPT"), \
        "a packet marked for REJECT walks past the queue rules to filter's REJECT"
    assert all("NFQUEUE" in a for a in mangle[2:])


def test_queue_rules_are_in_mangle_and_filter_gets_only_reject() -> None:
    """No rule of ours in filter can accept: only mark-matched REJECTs go there."""
    for reject in (False, True):
        lines = _rules(remote_address="10.0.0.1", reject=reject)
        assert all(r.table == "mangle" for r in lines if "NFQUEUE" in r.args)
        assert all(r.args[-3] == "REJECT" for r in lines if r.table == "filter")
        assert bool([r for r in lines if r.table == "filter"]) == reject
