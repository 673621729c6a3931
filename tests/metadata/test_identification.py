"""Who the metadata service answers: the calling instance, and nobody else."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpResponse
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.models import Project
from apps.metadata.services import sign_instance_id
from apps.servers.models import Server
from tests.factories import ProjectFactory
from tests.metadata.conftest import SECRET, MetadataClient, fixed, text

META = "/openstack/latest/meta_data.json"


def uuid_of(response: HttpResponse) -> str:
    return json.loads(response.content)["uuid"]


# --- by source address --------------------------------------------------------------------------


def test_source_address_identifies_the_instance_with_that_fixed_ip(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given
    project = ProjectFactory()
    mine = make_instance(project, addresses=fixed("10.0.0.5"))
    make_instance(project, addresses=fixed("10.0.0.6"))

    # when
    response = metadata.get(META, remote_addr="10.0.0.5")

    # then
    assert response.status_code == 200
    assert uuid_of(response) == str(mine.uuid)


def test_each_instance_gets_only_its_own_data(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given
    first = make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"), user_data=b"first")
    second = make_instance(ProjectFactory(), addresses=fixed("10.0.0.6"), user_data=b"second")

    # when
    answers = {
        addr: (
            uuid_of(metadata.get(META, remote_addr=addr)),
            metadata.get("/latest/user-data", remote_addr=addr).content,
        )
        for addr in ("10.0.0.5", "10.0.0.6")
    }

    # then
    assert answers == {
        "10.0.0.5": (str(first.uuid), b"first"),
        "10.0.0.6": (str(second.uuid), b"second"),
    }


def test_untyped_and_ipv6_fixed_addresses_identify_too(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given
    project = ProjectFactory()
    untyped = make_instance(project, addresses={"net": [{"addr": "10.0.0.7", "version": 4}]})
    v6 = make_instance(project, addresses=fixed("fd00::7"))

    # when
    by_untyped = metadata.get(META, remote_addr="10.0.0.7")
    by_v6 = metadata.get(META, remote_addr="fd00:0:0::7")

    # then
    assert uuid_of(by_untyped) == str(untyped.uuid)
    assert uuid_of(by_v6) == str(v6.uuid)


def test_ipv4_mapped_source_address_of_a_dual_stack_listener_counts_as_ipv4(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given
    server = make_instance(ProjectFactory(), addresses=fixed("10.0.0.8"))

    # when
    response = metadata.get(META, remote_addr="::ffff:10.0.0.8")

    # then
    assert uuid_of(response) == str(server.uuid)


@pytest.mark.parametrize(
    "remote_addr", ["10.0.0.9", "172.24.4.10", "not-an-address", 'fe80::1%x" || "a" == "a']
)
def test_unknown_or_floating_source_address_is_not_found(
    metadata: MetadataClient, make_instance: Callable[..., Server], remote_addr: str
) -> None:
    # given: 172.24.4.10 is the instance's floating IP, not a fixed one; the last is an
    # address whose zone tries to widen the lookup
    make_instance(
        ProjectFactory(),
        addresses={
            "private": [
                {"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed"},
                {"addr": "172.24.4.10", "version": 4, "OS-EXT-IPS:type": "floating"},
            ]
        },
    )

    # when
    response = metadata.get(META, remote_addr=remote_addr)

    # then
    assert response.status_code == 404
    assert text(response) == "404 Not Found\n\nThe resource could not be found.\n"


def test_address_shared_by_two_instances_identifies_neither(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given: overlapping project networks
    make_instance(ProjectFactory(), addresses=fixed("10.0.0.5", "net-a"))
    make_instance(ProjectFactory(), addresses=fixed("10.0.0.5", "net-b"))

    # when
    response = metadata.get(META, remote_addr="10.0.0.5")

    # then
    assert response.status_code == 404


def test_deleted_instance_is_not_found_by_address(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given
    server = make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"))
    Server.with_deleted.filter(pk=server.pk).update(deleted=True)

    # when
    response = metadata.get(META, remote_addr="10.0.0.5")

    # then
    assert response.status_code == 404


# --- X-Forwarded-For ----------------------------------------------------------------------------


def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given: a guest at 10.0.0.6 claims to be 10.0.0.5
    make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"))
    attacker = make_instance(ProjectFactory(), addresses=fixed("10.0.0.6"))

    # when
    response = metadata.get(META, remote_addr="10.0.0.6", headers={"X-Forwarded-For": "10.0.0.5"})

    # then
    assert uuid_of(response) == str(attacker.uuid)


def test_trusted_proxy_forwards_the_last_address_of_x_forwarded_for(
    metadata: MetadataClient, make_instance: Callable[..., Server], settings: SettingsWrapper
) -> None:
    # given: the proxy appends the guest's address to whatever the guest sent
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "METADATA_TRUSTED_PROXIES": ["192.0.2.0/28"]}
    victim = make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"))
    caller = make_instance(ProjectFactory(), addresses=fixed("10.0.0.6"))

    # when
    honest = metadata.get(META, remote_addr="192.0.2.3", headers={"X-Forwarded-For": "10.0.0.5"})
    forged = metadata.get(
        META, remote_addr="192.0.2.3", headers={"X-Forwarded-For": "10.0.0.5, 10.0.0.6"}
    )

    # then
    assert uuid_of(honest) == str(victim.uuid)
    assert uuid_of(forged) == str(caller.uuid)


# --- by signed headers from a proxy -------------------------------------------------------------


def test_signed_instance_id_identifies_the_instance_whatever_the_source_address(
    metadata: MetadataClient, make_instance: Callable[..., Server], shared_secret: str
) -> None:
    # given: no addresses at all (the proxy knows the instance)
    server = make_instance(ProjectFactory())

    # when
    response = metadata.get_signed(META, server)

    # then
    assert response.status_code == 200
    assert uuid_of(response) == str(server.uuid)


@pytest.mark.parametrize(
    "signature",
    [None, "", "0" * 64, sign_instance_id("the id", secret=SECRET)],
    ids=["missing", "empty", "wrong", "another-instance"],
)
def test_missing_or_bad_signature_is_forbidden(
    metadata: MetadataClient,
    make_instance: Callable[..., Server],
    shared_secret: str,
    signature: str | None,
) -> None:
    # given
    server = make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"))
    headers = {"X-Instance-ID": str(server.uuid), "X-Tenant-ID": server.project_id}
    if signature is not None:
        headers["X-Instance-ID-Signature"] = signature

    # when: even from the instance's own address
    response = metadata.get(META, remote_addr="10.0.0.5", headers=headers)

    # then
    assert response.status_code == 403
    assert "Invalid proxy request signature." in text(response)


def test_signed_headers_are_refused_when_no_shared_secret_is_configured(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given: signed with the empty key, which anyone can compute
    server = make_instance(ProjectFactory())
    instance_id = str(server.uuid)
    headers = {
        "X-Instance-ID": instance_id,
        "X-Tenant-ID": server.project_id,
        "X-Instance-ID-Signature": sign_instance_id(instance_id, secret=""),
    }

    # when
    response = metadata.get(META, headers=headers)

    # then
    assert response.status_code == 403


def test_wrong_tenant_is_not_found(
    metadata: MetadataClient, make_instance: Callable[..., Server], shared_secret: str
) -> None:
    # given
    server = make_instance(ProjectFactory())
    instance_id = str(server.uuid)
    headers = {
        "X-Instance-ID": instance_id,
        "X-Tenant-ID": ProjectFactory.create().pk,
        "X-Instance-ID-Signature": sign_instance_id(instance_id, secret=SECRET),
    }

    # when
    response = metadata.get(META, headers=headers)

    # then
    assert response.status_code == 404


def test_missing_tenant_is_a_bad_request(
    metadata: MetadataClient, make_instance: Callable[..., Server], shared_secret: str
) -> None:
    # given
    server = make_instance(ProjectFactory())
    instance_id = str(server.uuid)
    headers = {
        "X-Instance-ID": instance_id,
        "X-Instance-ID-Signature": sign_instance_id(instance_id, secret=SECRET),
    }

    # when
    response = metadata.get(META, headers=headers)

    # then
    assert response.status_code == 400
    assert "X-Tenant-ID header is missing from request." in text(response)


@pytest.mark.parametrize("instance_id", ["3f1e5b5e-0000-4000-8000-000000000000", "not-a-uuid"])
def test_signed_unknown_instance_is_not_found(
    metadata: MetadataClient, shared_secret: str, instance_id: str
) -> None:
    # given
    project: Project = ProjectFactory.create()
    headers = {
        "X-Instance-ID": instance_id,
        "X-Tenant-ID": project.pk,
        "X-Instance-ID-Signature": sign_instance_id(instance_id, secret=SECRET),
    }

    # when
    response = metadata.get(META, headers=headers)

    # then
    assert response.status_code == 404


def test_signed_deleted_instance_is_not_found(
    metadata: MetadataClient, make_instance: Callable[..., Server], shared_secret: str
) -> None:
    # given
    server = make_instance(ProjectFactory())
    Server.with_deleted.filter(pk=server.pk).update(deleted=True)

    # when
    response = metadata.get_signed(META, server)

    # then
    assert response.status_code == 404


def test_version_index_needs_no_identification(metadata: MetadataClient) -> None:
    # when: from an address no instance has
    response = metadata.get("/", remote_addr="203.0.113.9")

    # then
    assert response.status_code == 200
    assert text(response).splitlines()[-2:] == ["2009-04-04", "latest"]


def test_listings_need_identification(metadata: MetadataClient) -> None:
    # when
    responses = [
        metadata.get(path, remote_addr="203.0.113.9")
        for path in ("/openstack", "/latest", "/latest/meta-data/")
    ]

    # then
    assert [r.status_code for r in responses] == [404, 404, 404]


def test_a_request_costs_four_queries(
    metadata: MetadataClient,
    make_instance: Callable[..., Server],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    # given
    make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"), metadata={"a": "b"})

    # when / then: the instance by its address, its metadata items, its ports (the VIFs of
    # network_data.json, from the network service), its volumes (block device mappings)
    with django_assert_num_queries(4):
        response = metadata.get(META, remote_addr="10.0.0.5")
    assert response.status_code == 200
