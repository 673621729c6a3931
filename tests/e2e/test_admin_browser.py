"""End to end in a real browser: the operator signs in to the admin, disables a compute
service with a reason, and the scheduler then skips that host; a member is refused at the
sign-in page. Headless Chromium (Debian's, driven by Playwright) against the live server.
Screenshots of each step, at a laptop's and a phone's width, are kept in the test's tmp
directory."""

import logging
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from apps.hosts.models import Service
from apps.identity.services import assign_roles
from apps.scheduler.services import dry_run
from apps.servers.models import Server
from tests.e2e.test_console_browser import chromium_page
from tests.factories import ProjectFactory, UserFactory
from tests.scheduler.helpers import create_host, make_spec

logger = logging.getLogger(__name__)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "secret-password"  # the factory's
WIDTHS = {"laptop": 1280, "phone": 390}
WAIT_MS = 15_000


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        path = tmp_path / f"admin-{name}-{label}.png"
        page.screenshot(path=path, full_page=True)
        logger.info("screenshot %s", path)
    page.set_viewport_size({"width": WIDTHS["laptop"], "height": 900})


def test_the_operator_disables_a_service_and_the_scheduler_skips_its_host(
    live_server, tmp_path: Path
) -> None:
    # given: two hosts, and a large server the scheduler would put on hv-big only
    create_host("hv-big", vcpus=32, memory_mb=65536, disk_gb=500)
    create_host("hv-small", vcpus=2, memory_mb=2048, disk_gb=20)
    large = make_spec(vcpus=16, memory_mb=32768, root_gb=100)
    assert dry_run(large).hosts == [{"host": "hv-big", "count": 1}]
    project = ProjectFactory()
    operator = UserFactory(is_superuser=True, is_staff=True, default_project_id=project.pk)
    assign_roles(user=operator, project=project, roles=["admin"])
    big = Service.objects.get(host="hv-big")
    Server.objects.create(
        name="web-1", project=project, user_id=operator.pk, flavor_id="1",
        flavor={"name": "m1.small"}, host="hv-small", reservation_id="r-1",
    )  # fmt: skip

    with chromium_page() as page:
        # when: signed in, the operator picks hv-big's service and disables it with a reason
        sign_in(page, live_server.url, operator.username)
        expect(page.locator("#site-name")).to_contain_text("computecloud", timeout=WAIT_MS)
        page.goto(f"{live_server.url}/admin/hosts/computenode/")
        expect(page.locator("#result_list")).to_contain_text("0 / 32", timeout=WAIT_MS)
        shoot(page, tmp_path, "nodes")
        page.goto(f"{live_server.url}/admin/hosts/service/")
        page.check(f"input[name=_selected_action][value='{big.pk}']")
        page.select_option("select[name=action]", "disable_services")
        page.click("button[name=index]")
        page.fill("#id_reason", "fan replacement")
        shoot(page, tmp_path, "disable-reason")
        page.click("input[value=Disable]")
        # then: the page says so, and the list shows the reason
        expect(page.locator(".messagelist")).to_contain_text(
            "Updated: computecloud-compute@hv-big.", timeout=WAIT_MS
        )
        expect(page.locator("#result_list")).to_contain_text("fan replacement")
        shoot(page, tmp_path, "services")
        # the other main pages, for the screenshots (the ORM is not called in here: the
        # browser's loop runs in this thread)
        page.goto(f"{live_server.url}/admin/servers/server/")
        expect(page.locator("#result_list")).to_contain_text("m1.small", timeout=WAIT_MS)
        shoot(page, tmp_path, "servers")
        page.goto(f"{live_server.url}/admin/quotas/projectquota/set/{project.pk}/")
        expect(page.locator("input[name=instances]")).to_be_visible(timeout=WAIT_MS)
        shoot(page, tmp_path, "set-quotas")

    # and the scheduler skips the host
    big.refresh_from_db()
    assert (big.disabled, big.disabled_reason) == (True, "fan replacement")
    assert dry_run(large).fits == 0
    assert dry_run(make_spec()).hosts == [{"host": "hv-small", "count": 1}]


def test_a_member_is_refused_at_the_sign_in_page(live_server, tmp_path: Path) -> None:
    project = ProjectFactory()
    member = UserFactory(is_staff=True, default_project_id=project.pk)
    assign_roles(user=member, project=project, roles=["member"])
    with chromium_page() as page:
        sign_in(page, live_server.url, member.username)
        expect(page.locator(".errornote")).to_contain_text(
            "Please enter the correct", timeout=WAIT_MS
        )
        shoot(page, tmp_path, "member-refused")
        page.goto(f"{live_server.url}/admin/hosts/service/")
        expect(page.locator("#id_username")).to_be_visible(timeout=WAIT_MS)  # back to sign-in
