"""The key pairs page: the user's own key pairs, import, generate (downloaded once), delete."""

import html as htmlmod
from collections.abc import Callable
from typing import Any

import pytest

from apps.keypairs.crypto import generate_ssh_key_pair
from apps.keypairs.models import KeyPair
from apps.keypairs.services import import_key_pair
from tests.conftest import Caller
from tests.dashboard.conftest import Browser

pytestmark = pytest.mark.django_db

API = "/compute/v2.1/os-keypairs"


def public_key() -> str:
    return generate_ssh_key_pair()[1]


def api_message(caller: Caller, body: dict[str, str], version: str = "2.92") -> str:
    """The API's 400 message for the same create body."""
    response = caller.client.post(
        API, {"keypair": body}, format="json", HTTP_OPENSTACK_API_VERSION=f"compute {version}"
    )
    assert response.status_code == 400, response.content
    return response.json()["badRequest"]["message"]


def test_import_lists_the_key_pair_as_the_api_does(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    imported = browser.submit(
        "/key-pairs/import/", {"name": "laptop", "public_key": public_key()}, page="/key-pairs/"
    )
    assert imported.status_code == 302
    shown = member.client.get(f"{API}/laptop").json()["keypair"]
    page = browser.get("/key-pairs/").content.decode()
    assert "Key pair laptop imported." in page
    assert f'<td class="mono">{shown["fingerprint"]}</td>' in page
    assert 'data-confirm="Delete key pair laptop?' in page


def test_a_bad_key_shows_the_apis_message_at_the_field(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    body = {"name": "broken", "public_key": "ssh-rsa not-base64!"}
    refused = browser.submit("/key-pairs/import/", body, page="/key-pairs/")
    assert refused.status_code == 400
    html = refused.content.decode()
    message = api_message(member, body)
    assert message.startswith("Keypair data is invalid")
    assert f'id="import-public_key-error">{htmlmod.escape(message)}</div>' in html
    assert 'class="form-control mono is-invalid" id="import-public_key"' in html
    assert "ssh-rsa not-base64!" in html  # what was typed stays in the field
    # a name the API refuses, at the name field, in the API's words
    named = browser.submit(
        "/key-pairs/import/", {"name": "a/b", "public_key": public_key()}, page="/key-pairs/"
    )
    assert named.status_code == 400
    words = "Keypair names may contain only letters, digits, spaces, '_', '-', '@' and '.'."
    assert f'id="import-name-error">{htmlmod.escape(words)}</div>' in named.content.decode()
    # oversized: the API's bound, a 400
    huge = browser.submit(
        "/key-pairs/import/", {"name": "huge", "public_key": "x" * 20000}, page="/key-pairs/"
    )
    assert huge.status_code == 400
    assert 'id="import-public_key-error">Ensure this field has no more than 16384' in (
        huge.content.decode()
    )
    assert not KeyPair.objects.filter(user=member.user).exists()


def test_a_taken_name_is_a_409_at_the_name(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    import_key_pair(
        user_id=member.user.pk, project_id=member.project.pk, name="taken", public_key=public_key()
    )
    browser = browser_for(member)
    again = browser.submit(
        "/key-pairs/import/", {"name": "taken", "public_key": public_key()}, page="/key-pairs/"
    )
    assert again.status_code == 409
    assert "Key pair &#x27;taken&#x27; already exists." in again.content.decode()


def test_generate_downloads_the_private_key_once_and_keeps_it_nowhere(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    browser = browser_for(member)
    download = browser.submit("/key-pairs/new/", {"name": "made here"}, page="/key-pairs/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="made here.pem"'
    assert download["Content-Type"] == "application/x-pem-file"
    assert download["Cache-Control"] == "private, no-store"
    private_key = download.content.decode()
    assert private_key.startswith("-----BEGIN")
    stored = KeyPair.objects.get(user=member.user, name="made here")
    assert stored.public_key.startswith("ssh-")
    secret = private_key.splitlines()[1]
    assert all(secret not in str(value) for value in vars(stored).values())
    assert secret not in browser.get("/key-pairs/").content.decode()
    # the API sees the same key pair
    assert member.client.get(f"{API}/made%20here").json()["keypair"]["public_key"] == (
        stored.public_key
    )
    bad = browser.submit("/key-pairs/new/", {"name": ""}, page="/key-pairs/")
    assert bad.status_code == 400
    assert 'id="generate-name-error">' in bad.content.decode()


def test_another_users_key_pair_is_404_like_an_unknown_one(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    # another user, even in the same project
    other = make_caller("member", project=member.project)
    import_key_pair(
        user_id=other.user.pk, project_id=other.project.pk, name="theirs", public_key=public_key()
    )
    browser = browser_for(member)
    assert "theirs" not in browser.get("/key-pairs/").content.decode()
    for name in ("theirs", "nobody-has-this"):
        refused = browser.submit(f"/key-pairs/{name}/delete/", {}, page="/key-pairs/")
        assert refused.status_code == 404
    assert KeyPair.objects.filter(user=other.user, name="theirs").exists()


def test_the_owner_deletes(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    import_key_pair(
        user_id=member.user.pk,
        project_id=member.project.pk,
        name="old key",
        public_key=public_key(),
    )
    browser = browser_for(member)
    assert 'action="/key-pairs/old%20key/delete/"' in browser.get("/key-pairs/").content.decode()
    deleted = browser.submit("/key-pairs/old%20key/delete/", {}, page="/key-pairs/")
    assert deleted.status_code == 302
    assert not KeyPair.objects.filter(user=member.user).exists()
    assert member.client.get(f"{API}/old%20key").status_code == 404


def test_a_reader_may_do_what_the_api_lets_them_with_their_own_key_pairs(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    """Key pairs are the user's, not the project's: the policy (admin or the owning user)
    lets a reader manage their own, in the API and so here."""
    reader = make_caller("reader")
    via_api = reader.client.post(
        API, {"keypair": {"name": "api-made", "public_key": public_key()}}, format="json"
    )
    assert via_api.status_code == 200
    browser = browser_for(reader)
    page = browser.get("/key-pairs/").content.decode()
    assert "Import key pair" in page
    imported = browser.submit(
        "/key-pairs/import/", {"name": "page-made", "public_key": public_key()}, page="/key-pairs/"
    )
    assert imported.status_code == 302
    assert set(KeyPair.objects.filter(user=reader.user).values_list("name", flat=True)) == {
        "api-made",
        "page-made",
    }


def test_csrf_is_required(
    make_caller: Callable[..., Caller], browser_for: Callable[[Caller], Browser]
) -> None:
    member = make_caller("member")
    import_key_pair(
        user_id=member.user.pk, project_id=member.project.pk, name="kept", public_key=public_key()
    )
    browser = browser_for(member)
    assert (
        browser.post("/key-pairs/import/", {"name": "x", "public_key": public_key()}).status_code
        == 403
    )
    assert browser.post("/key-pairs/new/", {"name": "y"}).status_code == 403
    assert browser.post("/key-pairs/kept/delete/").status_code == 403
    assert list(KeyPair.objects.filter(user=member.user).values_list("name", flat=True)) == ["kept"]
    assert browser.get("/key-pairs/kept/delete/").status_code == 405


def test_over_the_quota_the_apis_refusal_is_on_the_form(
    make_caller: Callable[..., Caller],
    browser_for: Callable[[Caller], Browser],
    settings: Any,
) -> None:
    current = getattr(settings, "COMPUTECLOUD", {})
    settings.COMPUTECLOUD = {
        **current,
        "QUOTA_DEFAULTS": {**current.get("QUOTA_DEFAULTS", {}), "key_pairs": 1},
    }
    member = make_caller("member")
    browser = browser_for(member)
    first = browser.submit("/key-pairs/new/", {"name": "one"}, page="/key-pairs/")
    assert first.status_code == 200
    over = browser.submit("/key-pairs/new/", {"name": "two"}, page="/key-pairs/")
    assert over.status_code == 403
    assert '<div class="alert alert-danger" role="alert">Quota exceeded, too many key pairs.' in (
        over.content.decode()
    )
    assert list(KeyPair.objects.filter(user=member.user).values_list("name", flat=True)) == ["one"]
