"""Configuration: TOML file < environment < flags, validated before anything is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.inspect import InspectConfigError, load_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inspect.toml"
    path.write_text(text)
    return path


def test_file_values_are_read(tmp_path: Path) -> None:
    """remote_address and block_traffic come from the file; block_traffic stays re-readable."""
    path = _write(tmp_path, 'remote_address = "10.0.0.1"\nblock_traffic = true\n')
    cfg = load_config(path, env={})
    assert str(cfg.remote) == "10.0.0.1" and cfg.block_traffic
    assert cfg.block_path == path and cfg.decider == "static" and not cfg.fail_closed


def test_block_traffic_defaults_to_permit_and_accepts_dword_numbers(tmp_path: Path) -> None:
    """Absent = permit; like the registry DWORD, any non-zero number blocks."""
    assert not load_config(_write(tmp_path, 'remote_address = "::1"\n'), env={}).block_traffic
    path = _write(tmp_path, 'remote_address = "::1"\nblock_traffic = 2\n')
    assert load_config(path, env={}).block_traffic


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    """WFPTRACE_INSPECT_* beat the file; flags beat both; a fixed block is not re-read."""
    path = _write(tmp_path, 'remote_address = "10.0.0.1"\n')
    env = {"WFPTRACE_INSPECT_REMOTE": "10.0.0.2", "WFPTRACE_INSPECT_BLOCK": "yes"}
    cfg = load_config(path, env=env)
    assert str(cfg.remote) == "10.0.0.2" and cfg.block_traffic and cfg.block_path is None
    cfg = load_config(path, env=env, remote_address="10.0.0.3", block_traffic=False)
    assert str(cfg.remote) == "10.0.0.3" and not cfg.block_traffic


def test_config_file_can_come_from_the_environment(tmp_path: Path) -> None:
    """WFPTRACE_INSPECT_CONFIG names the file when no path is given."""
    path = _write(tmp_path, 'remote_address = "10.0.0.9"\n')
    assert str(load_config(env={"WFPTRACE_INSPECT_CONFIG": str(path)}).remote) == "10.0.0.9"


@pytest.mark.parametrize(("text", "message"), [
    ("block_traffic = true\n", "remote_address is missing"),
    ('remote_address = "10.0.0.300"\n', "not a literal"),
    ('remote_address = "10.0.0.1"\nblocktraffic = 1\n', "unknown keys blocktraffic"),
    ('remote_address = "10.0.0.1"\nblock_traffic = "maybe"\n', "block_traffic must be"),
    ('remote_address = "10.0.0.1"\ndecider = "oracle"\n', "decider must be"),
    ('remote_address = "10.0.0.1"\ndecider_timeout = 0\n', "decider_timeout"),
    ('remote_address = "10.0.0.1"\nprotocols = ["sctp"]\n', "protocols"),
    ('remote_address = "10.0.0.1"\nports = [0]\n', "ports"),
    ('remote_address = "10.0.0.1"\naddresses = ["10.1.0.1/16"]\n', "host bits"),
    ("remote_address = \n", "not valid TOML"),
])
def test_invalid_settings_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    """Each kind of bad configuration raises InspectConfigError with a pointed message."""
    with pytest.raises(InspectConfigError, match=message):
        load_config(_write(tmp_path, text), env={})


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A configuration path that does not exist is refused."""
    with pytest.raises(InspectConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_extensions_widen_the_match(tmp_path: Path) -> None:
    """Extra prefixes are inspected besides the remote address; others are not."""
    import ipaddress

    path = _write(tmp_path, 'remote_address = "10.0.0.1"\naddresses = ["10.9.0.0/16"]\n'
                            'protocols = ["tcp"]\nports = [443]\nreject = true\n')
    cfg = load_config(path, env={})
    assert cfg.matches(ipaddress.ip_address("10.9.3.4"))
    assert cfg.matches(ipaddress.ip_address("10.0.0.1"))
    assert not cfg.matches(ipaddress.ip_address("10.0.0.2"))
    assert cfg.protocols == ("tcp",) and cfg.ports == (443,) and cfg.reject


def test_sample_configuration_loads() -> None:
    """samples/inspect.toml is a valid configuration with the faithful defaults."""
    path = Path(__file__).resolve().parents[3] / "samples" / "inspect.toml"
    cfg = load_config(path, env={})
    assert str(cfg.remote) == "10.0.0.1" and not cfg.block_traffic and not cfg.reject
    assert cfg.decider == "static" and not cfg.extra and not cfg.ports


def test_overload_policy_accepts_only_while_the_static_decider_permits() -> None:
    """overload = auto accepts a full queue's packets only for a permitting static decider."""
    permit = load_config(env={}, remote_address="10.0.0.1")
    assert permit.overload_accepts(False) and not permit.overload_accepts(True)
    external = load_config(env={}, remote_address="10.0.0.1", decider="external")
    assert not external.overload_accepts(False)
    chosen = load_config(env={}, remote_address="10.0.0.1", overload="accept")
    assert chosen.overload_accepts(True)
    with pytest.raises(InspectConfigError, match="overload must be one of"):
        load_config(env={}, remote_address="10.0.0.1", overload="maybe")


def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    """A Latin-1 configuration file is refused with a message, not a traceback."""
    path = tmp_path / "c.toml"
    path.write_bytes('remote_address = "10.0.0.1"\n# caf\xe9\n'.encode("latin-1"))
    with pytest.raises(InspectConfigError, match="not UTF-8"):
        load_config(path, env={})
