"""Control requests (the IOCTL analog): enable with settings of the right shape, disable."""

from __future__ import annotations

import pytest

from providers.msnmon import PROVIDER, PROVIDER_NAME, MsnMonitor
from providers.msnmon._control import MonitorControl, disable_request, enable_request
from providers.packets import Pipeline
from tracer import ControlError, Hub, ProviderEnable, SessionConfig

from .streams import Conversation


@pytest.fixture
def control():
    """A monitor (disabled) whose control handler sits on the provider, in a hub."""
    monitor = MsnMonitor(enabled=False)
    ctl = MonitorControl(monitor)
    hub = Hub(load_installed=False)
    hub.register(PROVIDER)
    PROVIDER.on_control(ctl.handle)
    yield hub, ctl
    PROVIDER.on_control(None)
    hub.close()
    hub.unregister(PROVIDER)


def test_enable_request_turns_monitoring_on(control):
    """A well-formed enable request through the hub enables the monitor."""
    hub, ctl = control
    reply = hub.control(PROVIDER_NAME, enable_request(0))
    assert reply == {"monitoring": True, "capture_bodies": False, "capture_secrets": False}
    assert ctl.monitor.enabled and not ctl.monitor.capture_bodies
    assert not ctl.monitor.capture_secrets


def test_capture_bodies_flag(control):
    """Flag bit 0 turns on body capture."""
    hub, ctl = control
    hub.control(PROVIDER_NAME, enable_request(1))
    assert ctl.monitor.capture_bodies


def test_capture_secrets_flag_and_the_state_event_says_so(control):
    """Flag bit 1 turns on secret capture alone; the MonitorState event says whether
    secrets are captured or redacted, with the redaction key id."""
    hub, ctl = control
    hub.start_session(SessionConfig("state", [ProviderEnable(PROVIDER_NAME)], realtime=True,
                                    flush_interval=0.05))
    sub = hub.subscribe("state")
    assert hub.control(PROVIDER_NAME, enable_request(2))["capture_secrets"] is True
    assert ctl.monitor.capture_secrets and not ctl.monitor.capture_bodies
    hub.control(PROVIDER_NAME, enable_request(0))
    assert not ctl.monitor.capture_secrets
    hub.stop_session("state")
    details = [e.fields["detail"] for e in sub.drain() if e.name == "MonitorState"]
    key = ctl.monitor.redactor.key_id
    assert details == [f"flags 0x2; SECRETS CAPTURED (key {key})",
                       f"flags 0x0; secrets redacted (key {key})"]


def test_disable_request_turns_monitoring_off(control):
    """A disable request stops monitoring: later packets are only counted."""
    hub, ctl = control
    hub.control(PROVIDER_NAME, enable_request(0))
    assert hub.control(PROVIDER_NAME, disable_request())["monitoring"] is False
    conv = Conversation(("10.0.0.1", 40000), ("10.0.0.2", 1863))
    pipe = Pipeline([ctl.monitor])
    for pkt in conv.handshake():
        pipe.packet(pkt)
    assert ctl.monitor.stats.packets_disabled == 3


@pytest.mark.parametrize("request_, why", [
    ({"op": "enable", "mode": "monitor_traffic"}, "missing flags"),
    ({"op": "enable", "flags": 0}, "missing mode"),
    ({"op": "enable", "mode": "block_traffic", "flags": 0}, "mode must be"),
    ({"op": "enable", "mode": "monitor_traffic", "flags": "0"}, "32-bit"),
    ({"op": "enable", "mode": "monitor_traffic", "flags": True}, "32-bit"),
    ({"op": "enable", "mode": "monitor_traffic", "flags": -1}, "32-bit"),
    ({"op": "enable", "mode": "monitor_traffic", "flags": 1 << 32}, "32-bit"),
    ({"op": "enable", "mode": "monitor_traffic", "flags": 6}, "unknown flag bits 0x4"),
    ({"op": "enable", "mode": "monitor_traffic", "flags": 0, "x": 1}, "unexpected x"),
    ({"op": "disable", "flags": 0}, "unexpected flags"),
    ({"op": "reset"}, "unknown operation 'reset'"),
    ({}, "unknown operation None"),
])
def test_malformed_or_unknown_requests_are_refused(control, request_, why):
    """Anything but the two well-formed requests is refused with a clear error."""
    hub, ctl = control
    with pytest.raises(ControlError, match="invalid parameter") as info:
        hub.control(PROVIDER_NAME, request_)
    assert why in str(info.value)
    assert not ctl.monitor.enabled and ctl.refused == 1


def test_a_request_that_is_not_an_object_is_refused(control):
    """A control request must be a JSON object."""
    hub, _ = control
    with pytest.raises(ControlError):
        hub.control(PROVIDER_NAME, ["enable"])  # type: ignore[arg-type]
