"""The Supervisor reads behind the result cache and the host alerts, on a real supervisor."""

from __future__ import annotations

import pytest

from runtime import Supervisor
from runtime.http.view import SupervisorView
from tests.conftest import BUNDLED_PLUGINS

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_host_alerts_read_the_system_plugins_configured_thresholds() -> None:
    async with Supervisor([BUNDLED_PLUGINS / "system"], gate=False, wait_ready=False) as sup:
        view = SupervisorView(sup)
        configuration = view.plugin_configuration("system")
        assert configuration is not None
        # The configuration section itself, not the whole manifest it sits in.
        assert configuration["thresholds"] == {"cpu": 80, "memory": 85, "disk": 90}
        assert view.plugin_configuration("no-such-plugin") is None
        route = view.route("health_check")
        assert route is not None
        assert route.plugin == "system"
        assert route.revision == sup.plugin_of("health_check").digest  # type: ignore[union-attr]
        assert len(route.revision) == 64
