"""End to end in a real browser: the browsable API and the API documentation as a new user
meets them. Headless Chromium (Debian's, driven by Playwright) against the live server, with
every request to another origin refused, so a page that needed a CDN would show it here."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from apps.flavors.models import Flavor
from apps.identity.services import assign_roles
from tests.e2e.test_console_browser import chromium_page
from tests.factories import ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "secret-password"  # the factory's
WAIT_MS = 15_000


def same_origin_only(page: Page, base: str) -> list[str]:
    """Refuse every request that leaves `base`; returns the list of those refused."""
    origin = urlsplit(base).netloc
    refused: list[str] = []

    def handle(route: Route) -> None:
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return refused


def test_a_new_member_signs_in_from_a_refused_page_and_sees_the_flavors(live_server) -> None:
    # given: a member of a project, and a flavor
    project = ProjectFactory()
    member = UserFactory(default_project_id=project.pk)
    assign_roles(user=member, project=project, roles=["member"])
    Flavor.objects.create(flavorid="e2e", name="m1.browse", memory_mb=128, vcpus=1, root_gb=1)

    with chromium_page() as page:
        refused = same_origin_only(page, live_server.url)
        # when: not signed in, the flavors page is refused with the sign-in link
        response = page.goto(f"{live_server.url}/compute/v2.1/flavors")
        assert response is not None
        assert response.status == 401
        page.click("text=Log in")
        page.fill("#id_username", member.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        # then: back on the flavors page, signed in, with the flavor and no create form (a
        # member may not create flavors)
        expect(page.locator(".response-info")).to_contain_text("m1.browse", timeout=WAIT_MS)
        assert urlsplit(page.url).path == "/compute/v2.1/flavors"
        expect(page.locator("#post-generic-content-form")).to_have_count(0)
        expect(page.locator(".navbar")).to_contain_text(member.username)
        # and: a server page of nobody's is a 404 page, not an error
        missing = page.goto(f"{live_server.url}/compute/v2.1/servers/nope")
        assert missing is not None
        assert missing.status == 404
    assert refused == []


def test_api_docs_render_swagger_ui_without_leaving_the_site(live_server) -> None:
    with chromium_page() as page:
        refused = same_origin_only(page, live_server.url)
        # when
        page.goto(f"{live_server.url}/api/docs/")
        # then: Swagger UI ran and read the served document, request bodies included
        expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            "computecloud", timeout=WAIT_MS
        )
        expect(page.locator(".swagger-ui").first).to_contain_text("/compute/v2.1/flavors/")
        expect(page.locator(".swagger-ui").first).to_contain_text("ServerCreate")
    assert refused == []
