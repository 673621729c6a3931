"""The real clients against a live server: identity, key pairs, quotas and limits.

python-openstackclient (``.venv/bin/openstack`` with an openrc's variables) and openstacksdk
authenticate through ``/identity`` (discovery, then a password token with the catalog), and
find compute through the catalog. Nothing of ours is bypassed.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from openstack import exceptions
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.services import set_user_enabled
from apps.keypairs.models import KeyPair
from apps.quotas import services as quotas
from apps.servers.models import Server
from tests.clients.cli import OpenStackCLIError, OpenStackEnv
from tests.keypairs.keys import SshKey, make_ssh_key

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]

# openstacksdk 4.22 warns about its own internals on every call.
sdk_warnings = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")


@pytest.fixture
def ssh_key(tmp_path: Path) -> Callable[..., SshKey]:
    return partial(make_ssh_key, tmp_path)


def _as_dict(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return {row[key]: row[value] for row in rows}


def _get(env: OpenStackEnv, path: str, token: str) -> requests.Response:
    return requests.get(
        env["OS_AUTH_URL"].removesuffix("/identity") + path,
        headers={"X-Auth-Token": token, "Accept": "application/json"},
        timeout=30,
    )


def _assert_refused(response: requests.Response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Keystone uri="http://')
    # Identity answers Keystone's {"error": ...}; compute answers through the shared handler.
    (fault,) = response.json().values()
    assert fault["code"] == 401


# --- python-openstackclient --------------------------------------------------------------------


def test_cli_token_issue_and_revoke(openstack_env: OpenStackEnv) -> None:
    # when
    token = openstack_env.openstack("token", "issue")

    # then
    assert token["project_id"] == openstack_env.project.pk
    assert token["user_id"] == openstack_env.user.pk
    expires = datetime.strptime(token["expires"], "%Y-%m-%dT%H:%M:%S%z")
    assert 3500 < (expires - datetime.now(UTC)).total_seconds() <= 3600
    assert _get(openstack_env, "/compute/v2.1/os-keypairs", token["id"]).status_code == 200

    # when
    openstack_env.openstack_text("token", "revoke", token["id"])

    # then
    _assert_refused(_get(openstack_env, "/compute/v2.1/os-keypairs", token["id"]))
    _assert_refused(_get(openstack_env, "/compute/v2.1/limits", token["id"]))


def test_cli_keypair_create_from_a_public_key_and_list(
    openstack_env: OpenStackEnv, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    key = ssh_key("ed25519")

    # when
    created = openstack_env.openstack("keypair", "create", "--public-key", str(key.path), "k1")
    listed = openstack_env.openstack("keypair", "list")
    shown = openstack_env.openstack("keypair", "show", "k1")

    # then
    assert created["name"] == "k1"
    assert created["fingerprint"] == key.md5_fingerprint
    assert created["user_id"] == openstack_env.user.pk
    assert listed == [{"Name": "k1", "Fingerprint": key.md5_fingerprint, "Type": "ssh"}]
    assert shown["fingerprint"] == key.md5_fingerprint
    assert shown["user_id"] == openstack_env.user.pk
    assert openstack_env.openstack_text("keypair", "show", "--public-key", "k1").strip() == (
        key.public_key.strip()
    )
    assert KeyPair.objects.get(user=openstack_env.user, name="k1").fingerprint == (
        key.md5_fingerprint
    )

    # when
    openstack_env.openstack_text("keypair", "delete", "k1")

    # then
    assert openstack_env.openstack("keypair", "list") == []


def test_cli_rejects_a_malformed_public_key_with_the_reason(
    openstack_env: OpenStackEnv, tmp_path: Path
) -> None:
    # given
    bad = tmp_path / "bad.pub"
    bad.write_text("ssh-rsa this-is-not-a-key\n")

    # when
    with pytest.raises(OpenStackCLIError) as refused:
        openstack_env.openstack("keypair", "create", "--public-key", str(bad), "bad")

    # then
    assert "400" in refused.value.stderr
    assert "Keypair data is invalid: failed to generate fingerprint" in refused.value.stderr
    assert "not an OpenSSH public key" in refused.value.stderr


def test_cli_quota_show_for_own_project_by_default_and_by_name(
    openstack_env: OpenStackEnv,
) -> None:
    # given
    quotas.update_quotas(project=openstack_env.project, limits={"instances": 7, "cores": 9})

    # when
    default = _as_dict(openstack_env.openstack("quota", "show"), "Resource", "Limit")
    by_name = _as_dict(
        openstack_env.openstack("quota", "show", openstack_env.project.name), "Resource", "Limit"
    )

    # then
    for shown in (default, by_name):
        assert shown["instances"] == 7
        assert shown["cores"] == 9
        assert shown["ram"] == 51200
        assert shown["key-pairs"] == 100


def test_cli_limits_show_absolute(openstack_env: OpenStackEnv) -> None:
    # given: a server row (set-up only) and a lower instance quota
    quotas.update_quotas(project=openstack_env.project, limits={"instances": 4})
    Server.objects.create(
        name="counted",
        project=openstack_env.project,
        user_id=openstack_env.user.pk,
        vcpus=2,
        memory_mb=1024,
        reservation_id="r-counted",
    )

    # when
    limits = _as_dict(openstack_env.openstack("limits", "show", "--absolute"), "Name", "Value")

    # then
    assert limits["max_total_instances"] == 4
    assert limits["max_total_cores"] == 20
    assert limits["max_total_ram_size"] == 51200
    assert limits["max_total_keypairs"] == 100
    assert limits["total_instances_used"] == 1
    assert limits["total_cores_used"] == 2
    assert limits["total_ram_used"] == 1024


def test_cli_server_list(openstack_env: OpenStackEnv) -> None:
    # when
    servers = openstack_env.openstack("server", "list")

    # then
    assert servers == []


def test_cli_admin_sets_quotas_and_a_reader_cannot(
    make_openstack_env: Callable[..., OpenStackEnv],
) -> None:
    # given
    admin = make_openstack_env(role="admin")
    reader = make_openstack_env(role="reader")
    target = reader.project.pk

    # when
    admin.openstack_text("quota", "set", "--instances", "3", "--cores", "6", target)
    seen_by_reader = _as_dict(reader.openstack("quota", "show"), "Resource", "Limit")
    with pytest.raises(OpenStackCLIError) as refused:
        reader.openstack_text("quota", "set", "--instances", "50", target)

    # then
    assert (seen_by_reader["instances"], seen_by_reader["cores"]) == (3, 6)
    assert "Policy doesn't allow os_compute_api:os-quota-sets:update" in refused.value.stderr
    assert quotas.get_limits(target)["instances"] == 3


def test_cli_another_projects_keypairs_and_quotas_are_invisible(
    make_openstack_env: Callable[..., OpenStackEnv], ssh_key: Callable[..., SshKey]
) -> None:
    # given
    alice = make_openstack_env()
    bob = make_openstack_env()
    alice.openstack("keypair", "create", "--public-key", str(ssh_key().path), "alices-key")

    # when
    bobs_list = bob.openstack("keypair", "list")
    with pytest.raises(OpenStackCLIError) as show:
        bob.openstack("keypair", "show", "alices-key")
    with pytest.raises(OpenStackCLIError) as quota:
        bob.openstack("quota", "show", alice.project.pk)

    # then: the key pair is not found; alice's project is not even resolvable for bob
    assert bobs_list == []
    assert "No Keypair found for alices-key" in show.value.stderr
    assert alice.project.pk in quota.value.stderr
    assert "instances" not in quota.value.stderr


def test_cli_failed_passwords_are_throttled(
    settings: SettingsWrapper, openstack_env: OpenStackEnv
) -> None:
    # given
    settings.COMPUTECLOUD = {**getattr(settings, "COMPUTECLOUD", {}), "AUTH_FAILURES_ALLOWED": 2}
    wrong = OpenStackEnv(
        {**openstack_env, "OS_PASSWORD": "wrong"},
        user=openstack_env.user,
        project=openstack_env.project,
        home=openstack_env.home,
    )

    # when
    failures = [wrong.openstack_result("token", "issue") for _ in range(2)]
    throttled = openstack_env.openstack_result("token", "issue")

    # then
    for failure in failures:
        assert failure.returncode != 0
        assert "The request you have made requires authentication. (HTTP 401)" in failure.stderr
    assert throttled.returncode != 0
    assert "HTTP 429" in throttled.stderr
    assert "Too many failed authentication attempts" in throttled.stderr


def test_cli_disabled_user_cannot_authenticate(openstack_env: OpenStackEnv) -> None:
    # given
    token = openstack_env.openstack("token", "issue")["id"]

    # when
    set_user_enabled(user=openstack_env.user, enabled=False)
    result = openstack_env.openstack_result("token", "issue")

    # then
    assert result.returncode != 0
    assert "HTTP 401" in result.stderr
    _assert_refused(_get(openstack_env, "/compute/v2.1/os-keypairs", token))


def test_expired_token_is_refused_with_www_authenticate(
    settings: SettingsWrapper, openstack_env: OpenStackEnv
) -> None:
    # given: tokens that live two seconds
    settings.COMPUTECLOUD = {**getattr(settings, "COMPUTECLOUD", {}), "TOKEN_TTL": 2}
    token = openstack_env.openstack("token", "issue")["id"]

    # when: polled until it expires (with a deadline)
    deadline = time.monotonic() + 30
    response = _get(openstack_env, "/compute/v2.1/os-keypairs", token)
    while response.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        response = _get(openstack_env, "/compute/v2.1/os-keypairs", token)

    # then
    _assert_refused(response)


# --- openstacksdk ------------------------------------------------------------------------------


@sdk_warnings
def test_sdk_token_keypairs_quotas_and_limits(
    openstack_env: OpenStackEnv, ssh_key: Callable[..., SshKey]
) -> None:
    # given
    conn = openstack_env.connection()
    key = ssh_key("rsa")
    quotas.update_quotas(project=openstack_env.project, limits={"key_pairs": 5})

    # when: identity
    token = conn.auth_token
    project_id = conn.current_project_id

    project = conn.identity.get_project(project_id)
    found = conn.identity.find_project(openstack_env.project.name, ignore_missing=False)
    me = conn.identity.get_user(openstack_env.user.pk)

    # then
    assert token
    assert project_id == openstack_env.project.pk
    assert (project.name, found.id) == (openstack_env.project.name, project_id)
    assert me.name == openstack_env.user.username
    assert _get(openstack_env, "/identity/v3/auth/projects", token).status_code == 200

    # when: key pairs
    created = conn.compute.create_keypair(name="sdk-key", public_key=key.public_key)
    listed = list(conn.compute.keypairs())
    fetched = conn.compute.get_keypair("sdk-key")

    # then
    assert created.fingerprint == key.md5_fingerprint
    assert [k.name for k in listed] == ["sdk-key"]
    assert fetched.fingerprint == key.md5_fingerprint
    assert fetched.type == "ssh"

    # when: quotas and limits
    quota_set = conn.compute.get_quota_set(project_id)
    detailed = conn.compute.get_quota_set(project_id, usage=True)
    cloud_quotas = conn.get_compute_quotas(project_id)
    limits = conn.compute.get_limits()

    # then
    assert quota_set.key_pairs == 5
    assert quota_set.instances == 10
    assert detailed.usage["instances"] == 0
    assert cloud_quotas.key_pairs == 5
    assert limits.absolute.keypairs == 5
    assert limits.absolute.instances == 10
    assert limits.absolute.instances_used == 0

    # when
    conn.compute.delete_keypair("sdk-key", ignore_missing=False)

    # then
    assert list(conn.compute.keypairs()) == []


@sdk_warnings
@pytest.mark.parametrize("openstack_env", ["admin"], indirect=True)
def test_sdk_admin_sets_another_projects_quota(
    openstack_env: OpenStackEnv, make_openstack_env: Callable[..., OpenStackEnv]
) -> None:
    # given
    member = make_openstack_env()
    conn = openstack_env.connection()

    # when
    conn.compute.update_quota_set(member.project.pk, instances=2, ram=4096)

    # then
    seen = member.connection().compute.get_quota_set(member.project.pk)
    assert (seen.instances, seen.ram) == (2, 4096)


@sdk_warnings
def test_sdk_member_cannot_read_another_projects_quota(
    make_openstack_env: Callable[..., OpenStackEnv],
) -> None:
    # given
    alice = make_openstack_env()
    bob = make_openstack_env()

    # then
    with pytest.raises(exceptions.ForbiddenException):
        bob.connection().compute.get_quota_set(alice.project.pk)
