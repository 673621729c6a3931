"""The dashboard's fleet pages, for admins: hypervisors with their usage against capacity,
compute services (enable, disable with a reason, force down and back), host aggregates.

Through a signed-in browser (CSRF enforced), on the real database: the pages show the figures
the admin APIs show, their changes go through the hosts services (so the API and the
scheduler see them), members and readers are refused on every page and post, and malformed
input is a 400 or 404 page.
"""

import json
import re
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.hosts.models import Aggregate, AggregateHost, Service
from apps.hosts.services import create_aggregate
from apps.scheduler.services import dry_run, select_destinations
from tests.conftest import Caller
from tests.dashboard.conftest import Browser
from tests.scheduler.helpers import create_host, create_server, make_spec

pytestmark = pytest.mark.django_db

V = {"HTTP_OPENSTACK_API_VERSION": "compute 2.53"}
CHART = re.compile(
    r'<script id="(hypervisor-chart-\d+|fleet-chart)" type="application/json">(.*?)</script>'
)


def charts(html: str) -> dict[str, dict]:
    return {key: json.loads(body) for key, body in CHART.findall(html)}


def compact(html: str) -> str:
    return re.sub(r"\s+", " ", html)


@pytest.fixture
def admin_browser(make_caller: Callable[..., Caller], browser_for) -> tuple[Caller, Browser]:
    caller = make_caller("admin")
    return caller, browser_for(caller)


@pytest.fixture
def fleet() -> dict[str, str]:
    """hv-a (8 vCPUs at ratio 4, 16 GB, 100 GB) holding one server's allocation (3 vCPUs,
    4 GB, 10 GB, claimed by the scheduler), and hv-b, down and disabled."""
    create_host("hv-a", vcpus=8, memory_mb=16384, disk_gb=100, cpu_ratio=4.0)
    create_host("hv-b", vcpus=2, memory_mb=2048, disk_gb=20, up=False, disabled=True)
    server_uuid = str(uuid.uuid4())
    spec = make_spec(vcpus=3, memory_mb=4096, root_gb=10, instance_uuids=[server_uuid])
    [selection] = select_destinations(spec)
    assert selection.host == "hv-a"
    create_server(host="hv-a", uuid=server_uuid, name="web-1")
    return {s.host: str(s.uuid) for s in Service.objects.all()}


# --- hypervisors --------------------------------------------------------------------------------
def test_hypervisors_show_usage_against_capacity_as_the_api_counts_it(admin_browser, fleet):
    admin, browser = admin_browser
    # when
    page = browser.get("/hypervisors/")
    # then: the numbers as text and as chart data (used against placement's capacity)
    assert page.status_code == 200
    html = compact(page.content.decode())
    drawn = charts(html)
    by_host = {}
    for key, data in drawn.items():
        if key.startswith("hypervisor-chart-"):
            name = re.search(rf'id="{key}-name">([^<]+)<', html).group(1)
            by_host[name.strip()] = data
    assert by_host["hv-a"] == {
        "labels": ["vCPUs", "RAM", "Disk"],
        "percent": [9.4, 25.0, 10.0],  # 3 of 8 x 4.0, 4096 of 16384, 10 of 100
        "used": [3, 4096, 10],
        "capacity": [32, 16384, 100],
        "units": ["", "MB", "GB"],
    }
    assert by_host["hv-b"]["used"] == [0, 0, 0]
    assert "\N{MULTIPLICATION SIGN}4.0" in html  # hv-a's vCPU allocation ratio
    assert "32 <span" in html  # hv-a's vCPU capacity, as text
    assert ">1 running VM<" in html
    assert ">0 running VMs<" in html
    # the fleet's statistics: used against the nodes' totals
    assert drawn["fleet-chart"]["used"] == [3, 4096, 10]
    assert drawn["fleet-chart"]["capacity"] == [10, 18432, 120]
    # the same figures as os-hypervisors and its statistics
    detail = admin.client.get(
        "/compute/v2.1/os-hypervisors/detail", HTTP_OPENSTACK_API_VERSION="compute 2.87"
    ).json()["hypervisors"]
    api_a = next(h for h in detail if h["hypervisor_hostname"] == "hv-a.node")
    assert (api_a["vcpus_used"], api_a["memory_mb_used"], api_a["local_gb_used"]) == (3, 4096, 10)
    assert api_a["running_vms"] == 1
    stats = admin.client.get("/compute/v2.1/os-hypervisors/statistics").json()
    totals = stats["hypervisor_statistics"]
    assert [totals["vcpus_used"], totals["memory_mb_used"], totals["local_gb_used"]] == [
        3,
        4096,
        10,
    ]
    assert [totals["vcpus"], totals["memory_mb"], totals["local_gb"]] == [10, 18432, 120]
    assert (totals["count"], totals["running_vms"], totals["free_ram_mb"]) == (2, 1, 14336)
    # state and status, and the chart is drawn by a file, not an inline script
    assert 'status-up">up<' in html
    assert 'status-down">down<' in html
    assert 'status-disabled">disabled<' in html
    assert "dashboard/fleet.js" in html
    assert "vendor/chart.js/chart.umd.min.js" in html
    assert not re.search(r"<script(?![^>]*(src=|application/json))", html)


def test_hypervisors_empty_state_and_pages_of_hosts(admin_browser) -> None:
    _, browser = admin_browser
    assert "No hypervisors yet" in browser.get("/hypervisors/").content.decode()
    for n in range(30):
        create_host(f"hv-{n:02d}")
    first = browser.get("/hypervisors/").content.decode()
    assert "Page 1 of 2" in first
    assert len(charts(first)) == 24 + 1  # a page of hosts, and the fleet
    second = browser.get("/hypervisors/", {"page": "2"}).content.decode()
    assert len(charts(second)) == 6 + 1
    assert "hv-29.node" in second
    # a page number that is no page shows a page, never an error
    for junk in ["999", "x", "-1", "9" * 50]:
        assert browser.get("/hypervisors/", {"page": junk}).status_code == 200


def test_a_page_of_hypervisors_costs_a_bounded_number_of_queries(admin_browser) -> None:
    _, browser = admin_browser
    create_host("hv-one")
    with CaptureQueriesContext(connection) as few:
        assert browser.get("/hypervisors/").status_code == 200
    for n in range(40):
        create_host(f"hv-many-{n:02d}")
    with CaptureQueriesContext(connection) as many:
        assert browser.get("/hypervisors/").status_code == 200
    assert len(many) == len(few)


# --- compute services ---------------------------------------------------------------------------
def test_services_list_state_status_zone_and_heartbeat(admin_browser, fleet) -> None:
    admin, browser = admin_browser
    Service.objects.filter(host="hv-b").update(disabled_reason="disk swap")
    create_aggregate(name="rack-1", availability_zone="az-1")
    AggregateHost.objects.create(aggregate=Aggregate.objects.get(name="rack-1"), host="hv-a")
    html = compact(browser.get("/compute-services/").content.decode())
    row_a = re.search(rf'<tr id="service-{fleet["hv-a"]}">(.*?)</tr>', html).group(1)
    row_b = re.search(rf'<tr id="service-{fleet["hv-b"]}">(.*?)</tr>', html).group(1)
    assert "nova-compute" in row_a
    assert "az-1" in row_a
    assert 'status-enabled">enabled<' in row_a
    assert 'status-up">up<' in row_a
    assert "0 minutes ago" in row_a  # the heartbeat create_host gave it
    assert "Disable…" in row_a
    assert "Force down" in row_a
    assert "nova" in row_b  # the default zone
    assert 'status-disabled">disabled<' in row_b
    assert "disk swap" in row_b
    assert 'status-down">down<' in row_b
    assert ">Enable<" in row_b
    # as os-services says
    listed = admin.client.get("/compute/v2.1/os-services", **V).json()["services"]
    by_host = {s["host"]: s for s in listed}
    assert (by_host["hv-a"]["zone"], by_host["hv-a"]["state"]) == ("az-1", "up")
    assert (by_host["hv-b"]["status"], by_host["hv-b"]["state"]) == ("disabled", "down")


def test_disabling_with_a_reason_through_the_page_makes_the_scheduler_skip_the_host(
    admin_browser, fleet
) -> None:
    admin, browser = admin_browser
    Service.objects.filter(host="hv-b").update(disabled=False, last_seen_up=None)
    create_host("hv-c", vcpus=4, memory_mb=4096, disk_gb=40)
    big = make_spec(vcpus=5, memory_mb=512, root_gb=1)  # only hv-a has 5 vCPUs free
    assert dry_run(big).hosts == [{"host": "hv-a", "count": 1}]
    # when: the operator opens the disable page of hv-a and gives the reason
    disable_page = f"/compute-services/{fleet['hv-a']}/disable/"
    form = browser.get(disable_page).content.decode()
    assert 'name="reason"' in form
    assert "data-confirm=" in form
    done = browser.submit(disable_page, {"reason": "fan replacement"}, page=disable_page)
    # then
    assert done.status_code == 302
    assert done["Location"] == "/compute-services/"
    listed = compact(browser.get("/compute-services/").content.decode())
    row = re.search(rf'<tr id="service-{fleet["hv-a"]}">(.*?)</tr>', listed).group(1)
    assert 'status-disabled">disabled<' in row
    assert "fan replacement" in row
    assert "disabled." in listed  # the message
    service = Service.objects.get(host="hv-a")
    assert (service.disabled, service.disabled_reason) == (True, "fan replacement")
    api = admin.client.get("/compute/v2.1/os-services", {"host": "hv-a"}, **V).json()
    assert api["services"][0]["disabled_reason"] == "fan replacement"
    skipped = dry_run(big)
    assert skipped.fits == 0
    assert "hv-a" in json.dumps(skipped.explanation)

    # and enabling it again brings it back
    assert (
        browser.submit(
            f"/compute-services/{fleet['hv-a']}/enable/", {}, page="/compute-services/"
        ).status_code
        == 302
    )
    service.refresh_from_db()
    assert (service.disabled, service.disabled_reason) == (False, "")
    assert dry_run(big).fits == 1


def test_force_down_and_clear_through_the_page(admin_browser, fleet) -> None:
    _, browser = admin_browser
    forced = browser.submit(
        f"/compute-services/{fleet['hv-a']}/force-down/", {}, page="/compute-services/"
    )
    assert forced.status_code == 302
    html = compact(browser.get("/compute-services/").content.decode())
    row = re.search(rf'<tr id="service-{fleet["hv-a"]}">(.*?)</tr>', html).group(1)
    assert "forced down" in row
    assert 'status-down">down<' in row
    assert "Clear forced down" in row
    assert dry_run(make_spec(vcpus=5)).fits == 0
    cleared = browser.submit(
        f"/compute-services/{fleet['hv-a']}/clear-forced-down/", {}, page="/compute-services/"
    )
    assert cleared.status_code == 302
    service = Service.objects.get(host="hv-a")
    assert not service.forced_down
    assert service.is_up


# --- aggregates ---------------------------------------------------------------------------------
def test_aggregates_create_add_and_remove_hosts_and_delete(admin_browser, fleet) -> None:
    admin, browser = admin_browser
    assert "No aggregates yet" in browser.get("/aggregates/").content.decode()
    # create, with an availability zone
    created = browser.submit(
        "/aggregates/", {"name": "rack-1", "availability_zone": "az-1"}, page="/aggregates/"
    )
    assert created.status_code == 302
    aggregate = Aggregate.objects.get(name="rack-1")
    # add a host
    added = browser.submit(
        f"/aggregates/{aggregate.pk}/add-host/", {"host": "hv-a"}, page="/aggregates/"
    )
    assert added.status_code == 302
    html = compact(browser.get("/aggregates/").content.decode())
    card = re.search(rf'id="aggregate-{aggregate.pk}"(.*?)</section>', html).group(1)
    assert "zone az-1" in card
    assert '<span class="mono me-auto">hv-a</span>' in card
    assert "availability_zone</dt>" in card
    assert '<option value="hv-b">' in card  # the host it can still take
    assert '<option value="hv-a">' not in card
    api = admin.client.get(f"/compute/v2.1/os-aggregates/{aggregate.pk}").json()["aggregate"]
    assert (api["hosts"], api["availability_zone"]) == (["hv-a"], "az-1")
    # a delete is refused while it has hosts: said on its card
    refused = browser.submit(f"/aggregates/{aggregate.pk}/delete/", {}, page="/aggregates/")
    assert refused.status_code == 400
    assert "still has hosts" in refused.content.decode()
    assert Aggregate.objects.filter(pk=aggregate.pk).exists()
    # remove the host, then delete
    removed = browser.submit(
        f"/aggregates/{aggregate.pk}/remove-host/", {"host": "hv-a"}, page="/aggregates/"
    )
    assert removed.status_code == 302
    assert not AggregateHost.objects.filter(aggregate=aggregate).exists()
    deleted = browser.submit(f"/aggregates/{aggregate.pk}/delete/", {}, page="/aggregates/")
    assert deleted.status_code == 302
    assert not Aggregate.objects.filter(pk=aggregate.pk).exists()


def test_aggregate_refusals_are_shown_where_they_happen(admin_browser, fleet) -> None:
    _, browser = admin_browser
    aggregate = create_aggregate(name="rack-1", availability_zone="az-1")
    create_aggregate(name="rack-2", availability_zone="az-2")
    # a taken name: at the name field, with the conflict's status
    taken = browser.submit("/aggregates/", {"name": "rack-1"}, page="/aggregates/")
    assert taken.status_code == 409
    html = taken.content.decode()
    assert "is-invalid" in html
    assert "Aggregate rack-1 already exists." in html
    # a host in another zone's aggregate: on the second card
    browser.submit(f"/aggregates/{aggregate.pk}/add-host/", {"host": "hv-a"}, page="/aggregates/")
    other = Aggregate.objects.get(name="rack-2")
    clash = browser.submit(
        f"/aggregates/{other.pk}/add-host/", {"host": "hv-a"}, page="/aggregates/"
    )
    assert clash.status_code == 409
    card = re.search(
        rf'id="aggregate-{other.pk}"(.*?)</section>', compact(clash.content.decode())
    ).group(1)
    assert "already in availability zone az-1" in card
    assert not AggregateHost.objects.filter(aggregate=other).exists()


# --- who gets in, and malformed input -----------------------------------------------------------
@pytest.mark.parametrize("role", ["member", "reader"])
def test_members_and_readers_are_refused_on_every_page_and_post(
    role, make_caller, browser_for, fleet
) -> None:
    browser = browser_for(make_caller(role))
    aggregate = create_aggregate(name="rack-1", availability_zone=None)
    home = browser.get("/").content.decode()
    assert "/hypervisors/" not in home  # no Fleet menu
    service = fleet["hv-a"]
    for path in [
        "/hypervisors/",
        "/compute-services/",
        "/aggregates/",
        f"/compute-services/{service}/disable/",
    ]:
        refused = browser.get(path)
        assert refused.status_code == 403, path
        assert "Not allowed" in refused.content.decode()
        assert "hv-a" not in refused.content.decode()
    posts = [
        (f"/compute-services/{service}/disable/", {"reason": "mine now"}),
        (f"/compute-services/{service}/force-down/", {}),
        (f"/compute-services/{fleet['hv-b']}/enable/", {}),
        (f"/compute-services/{uuid.uuid4()}/enable/", {}),  # 403 before any lookup
        ("/aggregates/", {"name": "mine"}),
        (f"/aggregates/{aggregate.pk}/add-host/", {"host": "hv-a"}),
        (f"/aggregates/{aggregate.pk}/delete/", {}),
    ]
    for path, data in posts:
        response = browser.submit(path, data, page="/")
        assert response.status_code == 403, path
    # nothing changed
    a, b = Service.objects.get(host="hv-a"), Service.objects.get(host="hv-b")
    assert (a.disabled, a.forced_down, b.disabled) == (False, False, True)
    assert list(Aggregate.objects.values_list("name", flat=True)) == ["rack-1"]
    assert not AggregateHost.objects.exists()


def test_posts_need_the_csrf_token(admin_browser, fleet) -> None:
    _, browser = admin_browser
    aggregate = create_aggregate(name="rack-1", availability_zone=None)
    for path, data in [
        (f"/compute-services/{fleet['hv-a']}/disable/", {"reason": "x"}),
        (f"/compute-services/{fleet['hv-a']}/force-down/", {}),
        ("/aggregates/", {"name": "new"}),
        (f"/aggregates/{aggregate.pk}/delete/", {}),
    ]:
        assert browser.post(path, data).status_code == 403, path
    service = Service.objects.get(host="hv-a")
    assert (service.disabled, service.forced_down) == (False, False)
    assert list(Aggregate.objects.values_list("name", flat=True)) == ["rack-1"]


def test_malformed_input_is_a_400_or_404_page(admin_browser, fleet) -> None:
    _, browser = admin_browser
    aggregate = create_aggregate(name="rack-1", availability_zone=None)
    service = fleet["hv-a"]
    # unknown or malformed service ids, unknown changes
    for path in [
        f"/compute-services/{uuid.uuid4()}/enable/",
        "/compute-services/not-a-uuid/force-down/",
        f"/compute-services/{service}/reboot/",
        "/aggregates/999999/delete/",
        "/aggregates/abc/add-host/",
        f"/aggregates/{aggregate.pk}/rename/",
    ]:
        response = browser.submit(path, {"host": "hv-a"}, page="/aggregates/")
        assert response.status_code == 404, path
        assert "Not found" in response.content.decode()
    assert browser.get(f"/compute-services/{uuid.uuid4()}/disable/").status_code == 404
    assert browser.get("/compute-services/%00/disable/").status_code == 404
    # a reason longer than the column: refused at the field, nothing changed
    disable_page = f"/compute-services/{service}/disable/"
    for reason in ["x" * 256, "y" * 100_000]:
        refused = browser.submit(disable_page, {"reason": reason}, page=disable_page)
        assert refused.status_code == 400
        assert "is-invalid" in refused.content.decode()
        assert "at most 255 characters" in refused.content.decode()
    assert not Service.objects.get(host="hv-a").disabled
    # bad aggregate names and zones
    for data in [
        {"name": ""},
        {"name": "   "},
        {"name": "n" * 256},
        {"name": "nul\x00here"},
        {"name": "ok", "availability_zone": "z" * 256},
        {},
    ]:
        refused = browser.submit("/aggregates/", data, page="/aggregates/")
        assert refused.status_code == 400, data
        assert "is-invalid" in refused.content.decode()
    assert list(Aggregate.objects.values_list("name", flat=True)) == ["rack-1"]
    # a host that is no compute host, or no host at all
    for data, status in [({"host": "nowhere"}, 404), ({"host": ""}, 400), ({}, 400)]:
        refused = browser.submit(f"/aggregates/{aggregate.pk}/add-host/", data, page="/aggregates/")
        assert refused.status_code == status, data
    refused = browser.submit(
        f"/aggregates/{aggregate.pk}/remove-host/", {"host": "hv-b"}, page="/aggregates/"
    )
    assert refused.status_code == 404
    assert "Cannot remove host hv-b" in refused.content.decode()
    # the wrong method
    assert browser.get(f"/compute-services/{service}/force-down/").status_code == 405
    assert browser.get(f"/aggregates/{aggregate.pk}/delete/").status_code == 405
    assert browser.submit("/hypervisors/", {}, page="/aggregates/").status_code == 405


# --- in a real browser --------------------------------------------------------------------------
CANVAS_INK = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { ink++; } }
  return ink;
}"""


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_chromium_the_charts_draw_and_the_operator_disables_a_host(
    live_server, make_caller: Callable[..., Caller], tmp_path
) -> None:
    from playwright.sync_api import expect

    from tests.e2e.test_console_browser import chromium_page

    # given: two hosts, a server's allocation on hv-a, an operator whose project is set
    create_host("hv-a", vcpus=8, memory_mb=16384, disk_gb=100, cpu_ratio=4.0)
    create_host("hv-b", vcpus=2, memory_mb=2048, disk_gb=20)
    server_uuid = str(uuid.uuid4())
    select_destinations(
        make_spec(vcpus=3, memory_mb=4096, root_gb=10, instance_uuids=[server_uuid])
    )
    big = make_spec(vcpus=5, memory_mb=512, root_gb=1)
    assert dry_run(big).hosts == [{"host": "hv-a", "count": 1}]
    operator = make_caller("admin")
    operator.user.default_project_id = operator.project.pk
    operator.user.save(update_fields=["default_project_id"])
    hv_a = str(Service.objects.get(host="hv-a").uuid)
    problems: list[str] = []

    def shoot(page, name: str) -> None:
        for label, width in {"laptop": 1280, "phone": 390}.items():
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(200)
            page.screenshot(path=tmp_path / f"fleet-{name}-{label}.png", full_page=True)
            # nothing wider than the screen: tables scroll inside their .table-wrap
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, label)
        page.set_viewport_size({"width": 1280, "height": 900})

    with chromium_page() as page:
        # script errors and CSP refusals; failed loads by their URL (the favicon: none)
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm question
        page.goto(f"{live_server.url}/login/")
        page.fill("#id_username", operator.user.username)
        page.fill("#id_password", "secret-password")
        page.click("button[type=submit]")
        # when: the hypervisors page opens, Chart.js draws every chart (the CSP allows it)
        page.goto(f"{live_server.url}/hypervisors/")
        expect(page.locator("canvas[data-usage-chart]")).to_have_count(3)
        page.wait_for_function(
            "Array.from(document.querySelectorAll('canvas[data-usage-chart]'))"
            ".every(c => window.Chart && window.Chart.getChart(c))"
        )
        for canvas in page.locator("canvas[data-usage-chart]").all():
            assert canvas.evaluate(CANVAS_INK) > 0
        shoot(page, "hypervisors")
        # and the operator disables hv-a with a reason, through the menu and the form
        page.goto(f"{live_server.url}/compute-services/")
        shoot(page, "services")
        page.locator(f"#service-{hv_a} a", has_text="Disable").click()
        page.fill("#id_reason", "fan replacement")
        shoot(page, "disable")
        page.click("button[type=submit]:has-text('Disable')")
        row = page.locator(f"#service-{hv_a}")
        expect(row).to_contain_text("fan replacement", timeout=15_000)
        expect(row).to_contain_text("disabled")
        page.goto(f"{live_server.url}/aggregates/")
        page.fill("#id_name", "rack-1")
        page.click("button[type=submit]:has-text('Create')")
        expect(page.locator(".aggregate")).to_contain_text("rack-1", timeout=15_000)
        shoot(page, "aggregates")

    # then: the scheduler skips the host; no script failed, nothing broke the CSP
    assert dry_run(big).fits == 0
    assert Service.objects.get(host="hv-a").disabled_reason == "fan replacement"
    assert problems == []
