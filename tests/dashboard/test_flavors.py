"""The flavors page: the API's list for the caller, and the admins' create and delete."""

from collections.abc import Callable

import pytest

from apps.flavors import services
from apps.flavors.models import Flavor
from tests.conftest import Caller
from tests.dashboard.conftest import Browser

pytestmark = pytest.mark.django_db

NEW = {
    "name": "web.small",
    "flavorid": "web-1",
    "vcpus": "2",
    "ram": "1024",
    "disk": "10",
    "ephemeral": "0",
    "swap": "0",
    "is_public": "on",
}


@pytest.fixture
def flavors(db: None) -> dict[str, Flavor]:
    """A public flavor, one private to a project and one private to nobody in particular."""
    public = services.create_flavor(name="pub", flavorid="p1", memory_mb=512, vcpus=1, root_gb=1)
    shared = services.create_flavor(
        name="shared-private", flavorid="s1", memory_mb=768, vcpus=3, root_gb=5, is_public=False
    )
    hidden = services.create_flavor(
        name="hidden-private", flavorid="h1", memory_mb=256, vcpus=1, root_gb=1, is_public=False
    )
    return {"public": public, "shared": shared, "hidden": hidden}


def test_a_member_sees_what_the_api_lists_and_no_admin_buttons(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    flavors: dict[str, Flavor],
) -> None:
    member = make_caller("member")
    services.add_access(flavor=flavors["shared"], project_id=member.project.pk)
    page = browser_for(member).get("/flavors/")
    assert page.status_code == 200
    html = page.content.decode()
    api = member.client.get("/compute/v2.1/flavors/detail?is_public=none").json()["flavors"]
    assert {f["name"] for f in api} == {"pub", "shared-private"}
    for flavor in api:
        assert f'<td class="mono">{flavor["id"]}</td>' in html
    assert "hidden-private" not in html
    # the numbers of a row: vCPUs, RAM, disk, ephemeral, swap
    assert '<td class="num">3</td>\n        <td class="num">768</td>' in html
    assert "Create flavor" not in html
    assert "/delete/" not in html


def test_a_member_posting_anyway_gets_403_and_nothing_changes(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    flavors: dict[str, Flavor],
) -> None:
    browser = browser_for(make_caller("member"))
    created = browser.submit("/flavors/new/", NEW, page="/flavors/")
    assert created.status_code == 403
    deleted = browser.submit("/flavors/p1/delete/", {}, page="/flavors/")
    assert deleted.status_code == 403
    assert not Flavor.objects.filter(name="web.small").exists()
    assert Flavor.objects.filter(flavorid="p1").exists()


def test_an_admin_creates_and_deletes_with_confirmation(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    flavors: dict[str, Flavor],
) -> None:
    admin = make_caller("admin")
    browser = browser_for(admin)
    html = browser.get("/flavors/").content.decode()
    assert "hidden-private" in html  # an admin sees every flavor
    assert 'data-confirm="Delete flavor pub?' in html

    created = browser.submit("/flavors/new/", {**NEW, "is_public": ""}, page="/flavors/")
    assert created.status_code == 302
    flavor = Flavor.objects.get(flavorid="web-1")
    assert (flavor.vcpus, flavor.memory_mb, flavor.root_gb, flavor.is_public) == (
        2,
        1024,
        10,
        False,
    )
    # the API shows it as created
    shown = admin.client.get("/compute/v2.1/flavors/web-1").json()["flavor"]
    assert shown["name"] == "web.small"
    assert "Flavor web.small created." in browser.get("/flavors/").content.decode()

    deleted = browser.submit("/flavors/web-1/delete/", {}, page="/flavors/")
    assert deleted.status_code == 302
    assert not Flavor.objects.filter(flavorid="web-1").exists()
    again = browser.submit("/flavors/web-1/delete/", {}, page="/flavors/")
    assert again.status_code == 404


def test_the_apis_messages_show_at_the_fields(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    flavors: dict[str, Flavor],
) -> None:
    browser = browser_for(make_caller("admin"))
    bad = browser.submit(
        "/flavors/new/", {**NEW, "vcpus": "0", "ram": "lots", "name": " "}, page="/flavors/"
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'id="flavor-vcpus-error">Ensure this value is greater than or equal to 1.' in html
    assert 'id="flavor-ram-error">A valid integer is required.' in html
    assert 'id="flavor-name-error">' in html
    huge = browser.submit("/flavors/new/", {**NEW, "ram": "9" * 40}, page="/flavors/")
    assert huge.status_code == 400
    taken = browser.submit("/flavors/new/", {**NEW, "name": "pub"}, page="/flavors/")
    assert taken.status_code == 409
    assert 'id="flavor-name-error">Flavor with name pub already exists.' in taken.content.decode()


def test_deleting_an_unknown_flavor_is_a_404(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    flavors: dict[str, Flavor],
) -> None:
    browser = browser_for(make_caller("admin"))
    unknown = browser.submit("/flavors/nope/delete/", {}, page="/flavors/")
    assert unknown.status_code == 404


def test_csrf_is_required(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    flavors: dict[str, Flavor],
) -> None:
    browser = browser_for(make_caller("admin"))
    assert browser.post("/flavors/new/", NEW).status_code == 403
    assert browser.post("/flavors/p1/delete/", {}).status_code == 403
    assert not Flavor.objects.filter(name="web.small").exists()
    assert Flavor.objects.filter(flavorid="p1").exists()
    assert browser.get("/flavors/p1/delete/").status_code == 405
