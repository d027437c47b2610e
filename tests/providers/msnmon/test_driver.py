"""Starting the monitor provider: callouts re-installed from the registration, control on."""

from __future__ import annotations

import pytest

from providers.msnmon import PROVIDER
from providers.msnmon._callouts import CalloutRegistry
from providers.msnmon._control import enable_request
from providers.msnmon._driver import MonitorDriver, NotRegisteredError
from tracer import ControlError


def test_start_without_registration_is_refused(tmp_path):
    """The provider does not start before addcallouts, and says what to run."""
    with pytest.raises(NotRegisteredError, match="wfptrace monitor addcallouts"):
        MonitorDriver(CalloutRegistry(tmp_path))


def test_callouts_are_reinstalled_at_every_start_until_deleted(tmp_path):
    """A registration persists across provider restarts; after delcallouts starting fails."""
    registry = CalloutRegistry(tmp_path)
    registry.add(9)
    for _ in range(2):
        with MonitorDriver(CalloutRegistry(tmp_path)) as driver:
            assert driver.callouts == ("flow_established", "stream")
            assert driver.registration.queue_num == 9
    registry.delete()
    with pytest.raises(NotRegisteredError):
        MonitorDriver(CalloutRegistry(tmp_path))


def test_control_handler_lives_as_long_as_the_driver(tmp_path):
    """Monitoring starts disabled, is enabled by request, and requests fail after close."""
    CalloutRegistry(tmp_path).add()
    with MonitorDriver(CalloutRegistry(tmp_path)) as driver:
        assert not driver.monitor.enabled
        PROVIDER.control(enable_request())
        assert driver.monitor.enabled
    assert not driver.monitor.enabled
    with pytest.raises(ControlError):
        PROVIDER.control(enable_request())
