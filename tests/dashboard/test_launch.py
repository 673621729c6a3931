"""The launch form: servers created through the API's serializer and create service, and
refused in the API's words at the field they are about.

No conductor runs: create_servers writes the servers and enqueues their build on commit.
"""

import html
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from apps.identity.context import RequestContext
from apps.networks import networks as network_services
from apps.quotas.services import update_quotas
from apps.servers.groups import create_server_group
from apps.servers.models import Server, ServerGroupMember
from tests.conftest import Caller
from tests.dashboard.conftest import Browser

pytestmark = pytest.mark.django_db

LAUNCH = "/servers/launch/"


def form(image_id: str, **changes: Any) -> dict[str, Any]:
    data = {
        "name": "web",
        "flavor": "0",
        "image": image_id,
        "key_name": "",
        "user_data": "",
        "min_count": "1",
        "max_count": "1",
        "availability_zone": "",
        "server_group": "",
    }
    data.update(changes)
    return data


def field_error(page: str, field: str) -> str:
    """The error shown next to `field`: its input is-invalid and described by the message."""
    match = re.search(rf'<div class="invalid-feedback" id="{field}-error">([^<]*)</div>', page)
    assert match, f"no error at {field}"
    tags = re.findall(rf'<(?:input|select|textarea)[^>]*name="{field}"[^>]*>', page)
    assert all(f'aria-describedby="{field}-error"' in tag for tag in tags)
    if field == "networks":  # a group of check boxes (none when the project has no network)
        assert 'class="launch-networks is-invalid"' in page
    else:
        assert len(tags) == 1
        assert "is-invalid" in tags[0]
    return html.unescape(match.group(1))


@pytest.fixture
def member(make_caller: Callable[..., Caller]) -> Caller:
    return make_caller("member")


@pytest.fixture
def browser(member: Caller, browser_for: Callable[[Caller], Browser]) -> Browser:
    return browser_for(member)


def test_the_form_offers_the_callers_flavors_images_and_networks(
    member: Caller, browser: Browser, image_id: str
) -> None:
    network = network_services.create_network(project_id=member.project.pk, name="lan-one")
    page = browser.get(LAUNCH)
    text = page.content.decode()
    assert page.status_code == 200
    assert '<option value="0">m1.nano (1 vCPU, 128 MiB, 1 GiB)</option>' in text
    assert f'<option value="{image_id}">tiny</option>' in text
    assert f'value="{network.pk}"' in text
    assert "lan-one" in text
    assert 'name="csrfmiddlewaretoken"' in text


def test_a_launch_creates_the_server_and_opens_its_page(
    member: Caller, browser: Browser, image_id: str
) -> None:
    # when
    response = browser.submit(LAUNCH, form(image_id, user_data="#!/bin/sh\necho hi\n"), page=LAUNCH)
    # then: one server of the member's project, built from what was typed
    assert response.status_code == 302
    server = Server.objects.get(project=member.project)
    assert response["Location"] == f"/servers/{server.uuid}/"
    assert server.name == "web"
    assert server.flavor_id == "0"
    assert server.image_ref == image_id
    assert server.user_id == member.user.pk
    # user data reaches the server as the API keeps it (base64 of what was typed)
    assert server.user_data == "IyEvYmluL3NoCmVjaG8gaGkK"
    assert server.actions.filter(action="create").exists()
    assert "Server web is being built." in browser.get("/servers/").content.decode()


def test_several_servers_at_once_return_to_the_list(
    member: Caller, browser: Browser, image_id: str
) -> None:
    response = browser.submit(LAUNCH, form(image_id, min_count="2", max_count="3"), page=LAUNCH)
    assert response.status_code == 302
    assert response["Location"] == "/servers/"
    names = sorted(Server.objects.filter(project=member.project).values_list("name", flat=True))
    assert names == ["web-1", "web-2", "web-3"]


def test_a_launch_on_a_chosen_network(member: Caller, browser: Browser, image_id: str) -> None:
    network = network_services.create_network(project_id=member.project.pk, name="lan")
    network_services.create_subnet(
        project_id=member.project.pk, network=network, cidr="10.9.0.0/24"
    )
    data = form(image_id, networks=[str(network.pk)])
    response = browser.submit(LAUNCH, data, page=LAUNCH)
    assert response.status_code == 302, response.content.decode()[:2000]
    server = Server.objects.get(project=member.project)
    assert [nic["network_id"] for nic in server.requested_networks] == [str(network.pk)]


def test_a_launch_into_a_server_group_is_its_member(
    member: Caller, browser: Browser, image_id: str
) -> None:
    context = RequestContext(
        user_id=member.user.pk, project_id=member.project.pk, roles=frozenset({"member"})
    )
    group = create_server_group(context=context, name="spread", policy="anti-affinity")
    assert f'<option value="{group.uuid}">spread</option>' in browser.get(LAUNCH).content.decode()
    response = browser.submit(LAUNCH, form(image_id, server_group=str(group.uuid)), page=LAUNCH)
    assert response.status_code == 302
    server = Server.objects.get(project=member.project)
    assert server.scheduler_hints == {"group": str(group.uuid)}
    assert ServerGroupMember.objects.filter(group=group, server=server).exists()


def test_a_blank_name_is_the_apis_error_at_the_name_and_keeps_what_was_typed(
    member: Caller, browser: Browser, image_id: str
) -> None:
    response = browser.submit(
        LAUNCH, form(image_id, name="   ", user_data="my script", max_count="1"), page=LAUNCH
    )
    text = response.content.decode()
    assert response.status_code == 400
    assert field_error(text, "name") == "name must not be blank."
    assert f'<option value="{image_id}" selected>tiny</option>' in text
    assert ">\nmy script</textarea>" in text
    assert not Server.objects.filter(project=member.project).exists()


def test_a_name_with_a_control_character_is_refused_in_the_apis_words(
    browser: Browser, image_id: str
) -> None:
    response = browser.submit(LAUNCH, form(image_id, name="evil\x1bname"), page=LAUNCH)
    assert response.status_code == 400
    assert field_error(response.content.decode(), "name") == (
        "Names may not contain control characters."
    )


def test_an_unknown_image_is_refused_at_the_image(browser: Browser, image_id: str) -> None:
    response = browser.submit(LAUNCH, form(str(uuid.uuid4())), page=LAUNCH)
    assert response.status_code == 400
    assert field_error(response.content.decode(), "image") == "Can not find requested image"


def test_an_unknown_flavor_is_refused_at_the_flavor(browser: Browser, image_id: str) -> None:
    response = browser.submit(LAUNCH, form(image_id, flavor="nope"), page=LAUNCH)
    assert response.status_code == 400
    assert field_error(response.content.decode(), "flavor") == "Flavor nope could not be found."


def test_an_unknown_key_pair_is_refused_at_the_key(browser: Browser, image_id: str) -> None:
    response = browser.submit(LAUNCH, form(image_id, key_name="nobodys"), page=LAUNCH)
    assert response.status_code == 400
    assert field_error(response.content.decode(), "key_name") == "Invalid key_name provided."


def test_over_quota_is_an_error_above_the_form(
    member: Caller, browser: Browser, image_id: str
) -> None:
    update_quotas(project=member.project, limits={"instances": 1})
    response = browser.submit(LAUNCH, form(image_id, min_count="2", max_count="2"), page=LAUNCH)
    text = response.content.decode()
    assert response.status_code == 403  # the API's status for an exceeded quota
    alert = re.search(r'<div class="alert alert-danger" role="alert">\s*<div>([^<]*)</div>', text)
    assert alert, text
    assert "Quota exceeded for instances" in alert.group(1)
    assert not Server.objects.filter(project=member.project).exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"min_count": "abc"}, "min_count", "A valid integer is required."),
        ({"min_count": "0"}, "min_count", "Ensure this value is greater than or equal to 1."),
        ({"min_count": "3", "max_count": "2"}, "max_count", "min_count must be <= max_count"),
        ({"server_group": "not-a-uuid"}, "server_group", "Must be a valid UUID."),
        ({"server_group": str(uuid.UUID(int=7))}, "server_group", "could not be found"),
        ({"availability_zone": "atlantis"}, "availability_zone", "not available: atlantis"),
        ({"networks": ["not-a-uuid"]}, "networks", "network uuid is not in proper format"),
        ({"networks": [str(uuid.UUID(int=9))]}, "networks", "could not be found"),
        ({"user_data": "x" * 60_000}, "user_data", "user_data is longer than 65535 bytes."),
        ({"name": "n" * 256}, "name", "Ensure this field has no more than 255 characters."),
    ],
)
def test_malformed_input_is_a_field_error_never_a_500(
    member: Caller,
    browser: Browser,
    image_id: str,
    changes: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = browser.submit(LAUNCH, form(image_id, **changes), page=LAUNCH)
    assert response.status_code == 400
    assert message in field_error(response.content.decode(), field)
    assert not Server.objects.filter(project=member.project).exists()


def test_a_huge_count_is_refused_by_the_quota(
    member: Caller, browser: Browser, image_id: str
) -> None:
    huge = "9" * 40
    response = browser.submit(LAUNCH, form(image_id, min_count=huge, max_count=huge), page=LAUNCH)
    assert response.status_code == 403
    assert "Quota exceeded for" in response.content.decode()
    assert not Server.objects.filter(project=member.project).exists()


def test_a_reader_is_refused_the_form_and_the_launch(
    member: Caller,
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    image_id: str,
) -> None:
    browser = browser_for(make_caller("reader", project=member.project))
    assert browser.get(LAUNCH).status_code == 403
    assert browser.submit(LAUNCH, form(image_id), page="/servers/").status_code == 403
    assert not Server.objects.filter(project=member.project).exists()


def test_a_launch_needs_the_csrf_token(member: Caller, browser: Browser, image_id: str) -> None:
    assert browser.post(LAUNCH, form(image_id)).status_code == 403
    assert not Server.objects.filter(project=member.project).exists()


def test_a_body_over_the_upload_limit_is_a_400_never_a_500(
    member: Caller, browser: Browser, image_id: str
) -> None:
    token = browser.csrf_from(LAUNCH)
    data = {**form(image_id, user_data="x" * 3_000_000), "csrfmiddlewaretoken": token}
    response = browser.post(LAUNCH, data)
    assert response.status_code == 400
    assert not Server.objects.filter(project=member.project).exists()
