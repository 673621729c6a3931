"""The overview page: the project's quota usage, the same numbers the APIs' limits give."""

import json
import re
import uuid
from collections.abc import Callable

import pytest

from apps.identity.models import Project
from apps.quotas import services as quotas
from apps.servers.models import Server
from tests.conftest import Caller
from tests.dashboard.conftest import Browser
from tests.volumes.conftest import create_volume, make_pool, pool  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

METER = re.compile(
    r'data-quota="(?P<key>\w+)">\s*<span class="quota-used">(?P<used>\d+)</span> of\s*'
    r'<span class="quota-limit">(?P<limit>\w+)</span>'
)
QUOTA_DATA = re.compile(r'<script id="quota-data" type="application/json">(.*?)</script>', re.S)


def meters(html: str) -> dict[str, tuple[int, int]]:
    """The page's text numbers, by quota key: (used, limit), limit -1 for unlimited."""
    found = {}
    for match in METER.finditer(html):
        limit = match["limit"]
        found[match["key"]] = (int(match["used"]), -1 if limit == "unlimited" else int(limit))
    return found


def server_row(project: Project, *, vcpus: int, memory_mb: int) -> Server:
    return Server.objects.create(
        name=f"vm-{uuid.uuid4().hex[:6]}",
        project=project,
        user_id="someone",
        vcpus=vcpus,
        memory_mb=memory_mb,
        reservation_id=f"r-{uuid.uuid4().hex[:8]}",
    )


def test_the_numbers_are_the_limits_apis(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    pool: object,  # noqa: F811 - the fixture
) -> None:
    member = make_caller("member")
    project = member.project
    quotas.update_quotas(project=project, limits={"instances": 7, "cores": 9, "ram": 8192})
    quotas.update_volume_quotas(project=project, limits={"volumes": 4, "gigabytes": 30})
    server_row(project, vcpus=2, memory_mb=1024)
    server_row(project, vcpus=1, memory_mb=512)
    create_volume(member.client, size=3)
    # another project's use shows nowhere
    other = make_caller("member")
    server_row(other.project, vcpus=4, memory_mb=4096)

    html = browser_for(member).get("/").content.decode()
    shown = meters(html)

    absolute = member.client.get("/compute/v2.1/limits").json()["limits"]["absolute"]
    assert shown["instances"] == (absolute["totalInstancesUsed"], absolute["maxTotalInstances"])
    assert shown["cores"] == (absolute["totalCoresUsed"], absolute["maxTotalCores"])
    assert shown["ram"] == (absolute["totalRAMUsed"], absolute["maxTotalRAMSize"])
    assert shown["instances"] == (2, 7)
    assert shown["cores"] == (3, 9)
    assert shown["ram"] == (1536, 8192)

    volumes = member.client.get("/volume/v3/limits").json()["limits"]["absolute"]
    assert shown["volumes"] == (volumes["totalVolumesUsed"], volumes["maxTotalVolumes"]) == (1, 4)
    assert (
        shown["gigabytes"]
        == (
            volumes["totalGigabytesUsed"],
            volumes["maxTotalVolumeGigabytes"],
        )
        == (3, 30)
    )

    network = member.client.get(f"/network/v2.0/quotas/{project.pk}/details").json()["quota"]
    assert shown["floatingip"] == (
        network["floatingip"]["used"],
        network["floatingip"]["limit"],
    )

    # the charts get the same numbers, as data (json_script), not as a script
    data = {m["key"]: (m["used"], m["limit"]) for m in json.loads(QUOTA_DATA.search(html)[1])}
    assert data == shown
    assert "chart.umd.min.js" in html
    assert "dashboard/charts.js" in html
    assert "Launch your first server" not in html


def test_an_empty_project_has_zero_charts_and_a_launch_link(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    page = browser_for(member).get("/")
    assert page.status_code == 200
    html = page.content.decode()
    shown = meters(html)
    assert {key: used for key, (used, _) in shown.items()} == dict.fromkeys(shown, 0)
    assert {"instances", "cores", "ram", "volumes", "gigabytes"} <= set(shown)
    assert "Launch your first server" in html


def test_a_reader_sees_the_usage_but_no_launch(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    reader = make_caller("reader")
    html = browser_for(reader).get("/").content.decode()
    assert meters(html)["instances"] == (0, quotas.get_limits(reader.project.pk)["instances"])
    assert "Launch your first server" not in html
