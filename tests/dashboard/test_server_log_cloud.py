"""The server page's log tab against a running cloud (tests/cloud.py: the conductor and two
compute workers on libvirt's test:///default): the dashboard asks the server's host for its
console output, as the API's os-getConsoleOutput does, and shows its last lines.

The test:///default guests print nothing, so the test writes the guest's console log where
the host's driver reads it (its instance directory's console.log), as QEMU would.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apps.servers.models import Server
from tests.cloud import Cloud, cloud, cloud_processes  # noqa: F401 - fixtures
from tests.conftest import Caller
from tests.dashboard.conftest import Browser

pytestmark = pytest.mark.django_db(transaction=True)

SERVERS = "/compute/v2.1/servers"
V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def test_the_log_tab_shows_the_last_lines_the_host_reads(
    cloud: Cloud,  # noqa: F811
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
) -> None:
    # given: a member's server, ACTIVE on a real compute worker, whose guest printed 300 lines
    member = make_caller("member")
    body = {
        "server": {"name": "logs", "imageRef": cloud.image_id, "flavorRef": "0", "networks": "none"}
    }
    created = member.client.post(SERVERS, body, format="json", **V)
    assert created.status_code == 202, created.content
    server_id = created.json()["server"]["id"]
    cloud.wait_for_server(member.client, server_id, {"ACTIVE"})
    host = Server.objects.get(uuid=server_id).host
    log = cloud.processes.workdir / host / "instances" / server_id / "console.log"
    log.write_text("".join(f"boot line {n}\n" for n in range(1, 301)))
    browser = browser_for(member)

    # when: the log tab's follower asks for the last 50 lines
    response = browser.get(f"/servers/{server_id}/log/?lines=50")

    # then: lines 251 to 300, in a followed block, and nothing about the host
    assert response.status_code == 200
    text = response.content.decode()
    assert '<pre class="console-log mb-0" data-follow>' in text
    assert "boot line 251\n" in text
    assert "boot line 300" in text
    assert "boot line 250\n" not in text
    assert host not in text
