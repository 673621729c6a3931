"""os-keypairs over HTTP: Nova's shapes and status codes per microversion, ownership, quota."""

from collections.abc import Callable
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from apps.keypairs.models import KeyPair
from apps.quotas import services as quotas
from tests.conftest import Caller
from tests.keypairs.keys import Certificate, SshKey

pytestmark = pytest.mark.django_db

URL = "/compute/v2.1/os-keypairs"


def version(v: str) -> dict[str, str]:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {v}"}


def create(client: APIClient, microversion: str = "2.10", **keypair: Any) -> Any:
    return client.post(URL, {"keypair": keypair}, format="json", **version(microversion))


def test_import_at_2_1_answers_200_without_type(
    member: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    key = ssh_key()

    # when
    response = create(member.client, "2.1", name="mine", public_key=key.public_key)

    # then
    assert response.status_code == 200
    assert response.json()["keypair"] == {
        "name": "mine",
        "public_key": key.public_key,
        "fingerprint": key.md5_fingerprint,
        "user_id": member.user.pk,
    }


def test_import_from_2_2_answers_201_with_type(
    member: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    key = ssh_key("rsa")

    # when
    response = create(member.client, "2.2", name="mine", public_key=key.public_key)

    # then
    assert response.status_code == 201
    body = response.json()["keypair"]
    assert body["type"] == "ssh"
    assert body["fingerprint"] == key.md5_fingerprint
    assert "private_key" not in body


def test_x509_certificate_imports_with_its_sha1_fingerprint(
    member: Caller, certificate: Certificate
) -> None:
    # when
    response = create(member.client, "2.2", name="cert", public_key=certificate.pem, type="x509")

    # then
    assert response.status_code == 201
    assert response.json()["keypair"]["fingerprint"] == certificate.sha1_fingerprint
    assert response.json()["keypair"]["type"] == "x509"


def test_without_a_public_key_before_2_92_a_key_pair_is_generated_once(member: Caller) -> None:
    # when
    response = create(member.client, "2.10", name="generated")

    # then
    assert response.status_code == 201
    body = response.json()["keypair"]
    assert body["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert body["public_key"].startswith("ssh-rsa ")
    stored = KeyPair.objects.get(user=member.user, name="generated")
    assert stored.fingerprint == body["fingerprint"]
    shown = member.client.get(f"{URL}/generated", **version("2.10")).json()["keypair"]
    assert "private_key" not in shown


def test_from_2_92_a_public_key_is_required(member: Caller) -> None:
    # when
    response = create(member.client, "2.92", name="generated")

    # then
    assert response.status_code == 400
    assert "public_key" in response.json()["badRequest"]["message"]


def test_malformed_public_key_is_a_400_naming_the_problem(member: Caller) -> None:
    # when
    response = create(member.client, "2.10", name="bad", public_key="ssh-rsa not-base64!")

    # then
    assert response.status_code == 400
    message = response.json()["badRequest"]["message"]
    assert message.startswith("Keypair data is invalid: failed to generate fingerprint")
    assert "not an OpenSSH public key" in message
    assert not KeyPair.objects.filter(name="bad").exists()


@pytest.mark.parametrize(
    ("microversion", "name", "status"),
    [
        ("2.10", "ok name_with-dashes 1", 201),
        ("2.10", "dotted.name", 400),
        ("2.10", "at@sign", 400),
        ("2.92", "dotted.name@host", 201),
        ("2.92", "slash/", 400),
        ("2.10", " leading", 400),
        ("2.10", "", 400),
        ("2.10", "x" * 256, 400),
    ],
)
def test_names_follow_novas_pattern_for_the_microversion(
    member: Caller, ssh_key: Callable[..., SshKey], microversion: str, name: str, status: int
) -> None:
    # when
    response = create(member.client, microversion, name=name, public_key=ssh_key().public_key)

    # then
    assert response.status_code == status


def test_unknown_body_keys_are_400(member: Caller, ssh_key: Callable[..., SshKey]) -> None:
    # when
    typed_too_early = create(
        member.client, "2.1", name="k", public_key=ssh_key().public_key, type="ssh"
    )
    unknown = create(member.client, "2.10", name="k", public_key=ssh_key().public_key, colour="red")

    # then
    assert typed_too_early.status_code == 400
    assert unknown.status_code == 400


def test_duplicate_name_is_409(member: Caller, ssh_key: Callable[..., SshKey]) -> None:
    # given
    create(member.client, name="dup", public_key=ssh_key().public_key)

    # when
    response = create(member.client, name="dup", public_key=ssh_key().public_key)

    # then
    assert response.status_code == 409
    assert response.json()["conflictingRequest"]["message"] == "Key pair 'dup' already exists."


def test_same_name_for_another_user_is_fine(
    make_caller: Callable[..., Caller], member: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    other = make_caller("member", project=member.project)
    create(member.client, name="same", public_key=ssh_key().public_key)

    # when
    response = create(other.client, name="same", public_key=ssh_key().public_key)

    # then
    assert response.status_code == 201


def test_list_shapes_per_microversion(member: Caller, ssh_key: Callable[..., SshKey]) -> None:
    # given
    key = ssh_key()
    create(member.client, name="k1", public_key=key.public_key)

    # when
    old = member.client.get(URL).json()
    new = member.client.get(URL, **version("2.2")).json()

    # then
    assert old == {
        "keypairs": [
            {
                "keypair": {
                    "name": "k1",
                    "public_key": key.public_key,
                    "fingerprint": key.md5_fingerprint,
                }
            }
        ]
    }
    assert new["keypairs"][0]["keypair"]["type"] == "ssh"


def test_paging_with_limit_and_marker_from_2_35(
    member: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    key = ssh_key().public_key
    for name in ("c", "a", "d", "b"):
        create(member.client, name=name, public_key=key)

    # when
    first = member.client.get(f"{URL}?limit=2", **version("2.35")).json()
    second = member.client.get(f"{URL}?limit=2&marker=b", **version("2.35")).json()
    last = member.client.get(f"{URL}?limit=2&marker=d", **version("2.35")).json()
    unknown = member.client.get(f"{URL}?marker=zz", **version("2.35"))

    # then
    assert [k["keypair"]["name"] for k in first["keypairs"]] == ["a", "b"]
    assert first["keypairs_links"][0]["rel"] == "next"
    assert "marker=b" in first["keypairs_links"][0]["href"]
    assert [k["keypair"]["name"] for k in second["keypairs"]] == ["c", "d"]
    assert last == {"keypairs": []}
    assert unknown.status_code == 400
    assert unknown.json()["badRequest"]["message"] == "Marker zz could not be found."


def test_show_has_novas_detail_fields(member: Caller, ssh_key: Callable[..., SshKey]) -> None:
    # given
    key = ssh_key()
    create(member.client, name="k1", public_key=key.public_key)

    # when
    response = member.client.get(f"{URL}/k1", **version("2.2"))

    # then
    assert response.status_code == 200
    body = response.json()["keypair"]
    assert set(body) == {
        "name",
        "public_key",
        "fingerprint",
        "user_id",
        "created_at",
        "deleted",
        "deleted_at",
        "updated_at",
        "id",
        "type",
    }
    assert body["deleted"] is False
    assert body["deleted_at"] is None
    assert body["user_id"] == member.user.pk


def test_names_with_spaces_and_dots_are_addressable(
    member: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    create(member.client, "2.92", name="my key.v2", public_key=ssh_key().public_key)

    # when
    shown = member.client.get(f"{URL}/my%20key.v2", **version("2.92"))
    deleted = member.client.delete(f"{URL}/my%20key.v2", **version("2.92"))

    # then
    assert shown.status_code == 200
    assert deleted.status_code == 204


@pytest.mark.parametrize(("microversion", "status"), [("2.1", 202), ("2.2", 204)])
def test_delete_status_per_microversion(
    member: Caller, ssh_key: Callable[..., SshKey], microversion: str, status: int
) -> None:
    # given
    create(member.client, name="gone", public_key=ssh_key().public_key)

    # when
    response = member.client.delete(f"{URL}/gone", **version(microversion))

    # then
    assert response.status_code == status
    assert member.client.get(f"{URL}/gone").status_code == 404


def test_another_users_key_pairs_are_invisible(
    make_caller: Callable[..., Caller], member: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given: someone in another project, and someone in the same project
    stranger = make_caller("member")
    colleague = make_caller("member", project=member.project)
    create(member.client, name="private", public_key=ssh_key().public_key)

    # then
    for other in (stranger, colleague):
        assert other.client.get(URL).json() == {"keypairs": []}
        show = other.client.get(f"{URL}/private")
        assert show.status_code == 404
        assert show.json()["itemNotFound"]["message"] == (
            f"Keypair private not found for user {other.user.pk}"
        )
        assert other.client.delete(f"{URL}/private").status_code == 404
    assert KeyPair.objects.filter(name="private").exists()


def test_naming_another_user_is_admin_only(
    member: Caller, admin: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    create(member.client, name="theirs", public_key=ssh_key().public_key)
    query = f"?user_id={member.user.pk}"

    # when
    snooping = admin.client.get(f"{URL}{query}", **version("2.10"))
    as_member = create(
        admin.client,
        "2.10",
        name="for-member",
        public_key=ssh_key().public_key,
        user_id=member.user.pk,
    )
    refused = member.client.get(f"{URL}?user_id={admin.user.pk}", **version("2.10"))
    refused_create = create(
        member.client,
        "2.10",
        name="for-admin",
        public_key=ssh_key().public_key,
        user_id=admin.user.pk,
    )

    # then
    assert [k["keypair"]["name"] for k in snooping.json()["keypairs"]] == ["theirs"]
    assert as_member.status_code == 201
    assert as_member.json()["keypair"]["user_id"] == member.user.pk
    assert refused.status_code == 403
    assert refused_create.status_code == 403
    assert admin.client.delete(f"{URL}/theirs{query}", **version("2.10")).status_code == 204


def test_user_id_is_ignored_before_2_10(member: Caller, admin: Caller) -> None:
    # when
    response = member.client.get(f"{URL}?user_id={admin.user.pk}", **version("2.9"))

    # then
    assert response.status_code == 200


def test_key_pair_quota_is_enforced_per_user(
    member: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    quotas.update_quotas(project=member.project, limits={"key_pairs": 2})
    key = ssh_key().public_key
    for name in ("k1", "k2"):
        assert create(member.client, name=name, public_key=key).status_code == 201

    # when
    response = create(member.client, name="k3", public_key=key)

    # then
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == "Quota exceeded, too many key pairs."


def test_reader_may_create_own_key_pairs_as_in_nova(
    reader: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # when
    response = create(reader.client, name="readers-key", public_key=ssh_key().public_key)

    # then: Nova's rule is "admin or owner", whatever the role
    assert response.status_code == 201


def test_policy_override_makes_key_pair_writes_member_only(
    settings: SettingsWrapper, reader: Caller, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    settings.COMPUTECLOUD = {
        **getattr(settings, "COMPUTECLOUD", {}),
        "POLICY_OVERRIDES": {
            "os_compute_api:os-keypairs:create": "project_member_or_admin",
            "os_compute_api:os-keypairs:delete": "project_member_or_admin",
        },
    }

    # when
    listed = reader.client.get(URL)
    created = create(reader.client, name="nope", public_key=ssh_key().public_key)
    deleted = reader.client.delete(f"{URL}/anything")

    # then
    assert listed.status_code == 200
    assert created.status_code == 403
    assert deleted.status_code == 403


def test_query_parameters_are_checked_from_2_75(member: Caller) -> None:
    # then
    assert member.client.get(f"{URL}?foo=1", **version("2.74")).status_code == 200
    assert member.client.get(f"{URL}?foo=1", **version("2.75")).status_code == 400
