"""What each metadata path answers, for an instance with user data, a key and metadata."""

import json
from collections.abc import Callable

import pytest
from django.http import HttpResponse

from apps.servers.models import BlockDeviceMapping, Server
from apps.volumes.models import StoragePool, Volume, VolumeType
from tests.factories import ProjectFactory
from tests.metadata.conftest import KEY, USER_DATA, MetadataClient, fixed, text

ADDR = "10.0.0.5"
IMAGE = "6b0e37a2-2f6c-4f0e-9d5b-0e1a2b3c4d5e"


@pytest.fixture
def server(make_instance: Callable[..., Server]) -> Server:
    return make_instance(
        ProjectFactory(),
        name="web 1",
        hostname="web-1",
        addresses={
            "private": [
                {"addr": ADDR, "version": 4, "OS-EXT-IPS:type": "fixed"},
                {"addr": "172.24.4.10", "version": 4, "OS-EXT-IPS:type": "floating"},
            ]
        },
        metadata={"role": "web", "tier": "front"},
        user_data=USER_DATA,
        key_name="mykey",
        key_data=KEY,
        launch_index=2,
        image_ref=IMAGE,
    )


def get(metadata: MetadataClient, path: str) -> HttpResponse:
    return metadata.get(path, remote_addr=ADDR)


# --- OpenStack ---------------------------------------------------------------------------------


def test_openstack_lists_dated_versions_then_latest(
    metadata: MetadataClient, server: Server
) -> None:
    # when
    response = get(metadata, "/openstack")

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert text(response).split("\n") == [
        "2012-08-10",
        "2013-04-04",
        "2013-10-17",
        "2015-10-15",
        "2016-06-30",
        "2016-10-06",
        "2017-02-22",
        "2018-08-27",
        "latest",
    ]
    assert text(get(metadata, "/openstack/")) == text(response)


def test_latest_meta_data_json_describes_the_instance(
    metadata: MetadataClient, server: Server
) -> None:
    # when
    response = get(metadata, "/openstack/latest/meta_data.json")

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {
        "uuid": str(server.uuid),
        "name": "web 1",
        "hostname": "web-1",
        "launch_index": 2,
        "availability_zone": "nova",
        "project_id": server.project_id,
        "public_keys": {"mykey": KEY},
        "keys": [{"name": "mykey", "type": "ssh", "data": KEY}],
        "meta": {"role": "web", "tier": "front"},
        "devices": [],
    }


def test_latest_user_data_is_served_decoded(metadata: MetadataClient, server: Server) -> None:
    # when
    response = get(metadata, "/openstack/latest/user_data")

    # then
    assert response.status_code == 200
    assert response.content == USER_DATA


def test_latest_network_and_vendor_data(metadata: MetadataClient, server: Server) -> None:
    # when
    network = get(metadata, "/openstack/latest/network_data.json")
    vendor = get(metadata, "/openstack/latest/vendor_data.json")
    vendor2 = get(metadata, "/openstack/latest/vendor_data2.json")

    # then: no project networks yet, no vendor data providers
    assert json.loads(network.content) == {"links": [], "networks": [], "services": []}
    assert json.loads(vendor.content) == {}
    assert json.loads(vendor2.content) == {}
    assert {r["Content-Type"] for r in (network, vendor, vendor2)} == {"application/json"}


def test_version_listing_names_the_files_of_that_version(
    metadata: MetadataClient, server: Server
) -> None:
    # when
    listings = {
        version: text(get(metadata, f"/openstack/{version}")).split("\n")
        for version in ("2012-08-10", "2013-10-17", "2015-10-15", "2018-08-27", "latest")
    }

    # then
    base = ["meta_data.json", "user_data"]
    assert listings == {
        "2012-08-10": base,
        "2013-10-17": [*base, "vendor_data.json"],
        "2015-10-15": [*base, "vendor_data.json", "network_data.json"],
        "2018-08-27": [*base, "vendor_data.json", "network_data.json", "vendor_data2.json"],
        "latest": [*base, "vendor_data.json", "network_data.json", "vendor_data2.json"],
    }


def test_dated_meta_data_has_the_fields_of_its_version(
    metadata: MetadataClient, server: Server
) -> None:
    # when
    folsom = json.loads(get(metadata, "/openstack/2012-08-10/meta_data.json").content)
    liberty = json.loads(get(metadata, "/openstack/2015-10-15/meta_data.json").content)
    rocky = json.loads(get(metadata, "/openstack/2018-08-27/meta_data.json").content)
    latest = json.loads(get(metadata, "/openstack/latest/meta_data.json").content)

    # then: project_id came with 2015-10-15, devices with 2016-06-30
    assert "project_id" not in folsom
    assert "devices" not in folsom
    assert liberty["project_id"] == server.project_id
    assert "devices" not in liberty
    assert rocky == latest
    assert folsom["uuid"] == str(server.uuid)
    assert folsom["public_keys"] == {"mykey": KEY}


@pytest.mark.parametrize(
    "path",
    [
        "/openstack/2012-08-10/network_data.json",
        "/openstack/2013-04-04/vendor_data.json",
        "/openstack/2016-06-30/vendor_data2.json",
        "/openstack/2011-01-01/meta_data.json",
        "/openstack/latest/password",
        "/openstack/latest/meta_data.json/uuid",
        "/openstack/latest/nothing",
        "/2009-04-04/meta-data/nothing",
        "/2009-04-04/meta-data/hostname/more",
        "/2006-01-01/meta-data/",
        "/latest/meta-data/public-keys/0/_name",
    ],
)
def test_paths_outside_the_tree_are_not_found(
    metadata: MetadataClient, server: Server, path: str
) -> None:
    # when
    response = get(metadata, path)

    # then
    assert response.status_code == 404


def test_instance_without_user_data_has_none_listed_or_served(
    metadata: MetadataClient, make_instance: Callable[..., Server]
) -> None:
    # given
    make_instance(ProjectFactory(), addresses=fixed(ADDR))

    # when
    listing = text(get(metadata, "/openstack/latest")).split("\n")
    user_data = get(metadata, "/openstack/latest/user_data")
    ec2_listing = text(get(metadata, "/latest")).split("\n")
    ec2_user_data = get(metadata, "/latest/user-data")

    # then
    assert "user_data" not in listing
    assert user_data.status_code == 404
    assert ec2_listing == ["meta-data/"]
    assert ec2_user_data.status_code == 404


# --- EC2 ---------------------------------------------------------------------------------------


def test_version_index_lists_ec2_versions_then_latest(metadata: MetadataClient) -> None:
    # when
    response = metadata.get("/")

    # then
    assert text(response).split("\n") == [
        "1.0",
        "2007-01-19",
        "2007-03-01",
        "2007-08-29",
        "2007-10-10",
        "2007-12-15",
        "2008-02-01",
        "2008-09-01",
        "2009-04-04",
        "latest",
    ]


def test_ec2_version_lists_meta_data_directory_and_user_data(
    metadata: MetadataClient, server: Server
) -> None:
    # when
    response = get(metadata, "/latest")

    # then
    assert text(response) == "meta-data/\nuser-data"
    assert text(get(metadata, "/latest/")) == "meta-data/\nuser-data"
    assert text(get(metadata, "/ec2/latest")) == "meta-data/\nuser-data"


def test_ec2_meta_data_lists_leaves_and_directories_sorted(
    metadata: MetadataClient, server: Server
) -> None:
    # when
    response = get(metadata, "/latest/meta-data/")

    # then
    assert text(response).split("\n") == [
        "ami-id",
        "ami-launch-index",
        "block-device-mapping/",
        "hostname",
        "instance-action",
        "instance-id",
        "instance-type",
        "local-hostname",
        "local-ipv4",
        "placement/",
        "public-hostname",
        "public-ipv4",
        "public-keys/",
        "reservation-id",
    ]


def test_ec2_meta_data_values(metadata: MetadataClient, server: Server) -> None:
    # when
    values = {
        leaf: text(get(metadata, f"/latest/meta-data/{leaf}"))
        for leaf in (
            "instance-id",
            "hostname",
            "local-hostname",
            "public-hostname",
            "ami-id",
            "ami-launch-index",
            "instance-type",
            "local-ipv4",
            "public-ipv4",
            "reservation-id",
            "instance-action",
            "placement/availability-zone",
            "block-device-mapping/root",
        )
    }

    # then
    assert values == {
        "instance-id": f"i-{server.pk:08x}",
        "hostname": "web-1",
        "local-hostname": "web-1",
        "public-hostname": "web-1",
        "ami-id": "ami-6b0e37a2",
        "ami-launch-index": "2",
        "instance-type": "m1.small",
        "local-ipv4": ADDR,
        "public-ipv4": "172.24.4.10",
        "reservation-id": server.reservation_id,
        "instance-action": "none",
        "placement/availability-zone": "nova",
        "block-device-mapping/root": "/dev/vda",
    }


def test_ec2_public_keys_list_index_equals_name_then_openssh_key(
    metadata: MetadataClient, server: Server
) -> None:
    # when
    keys = text(get(metadata, "/latest/meta-data/public-keys/"))
    key0 = text(get(metadata, "/latest/meta-data/public-keys/0/"))
    openssh = text(get(metadata, "/latest/meta-data/public-keys/0/openssh-key"))

    # then
    assert keys == "0=mykey"
    assert key0 == "openssh-key"
    assert openssh == KEY


def test_ec2_placement_is_a_directory(metadata: MetadataClient, server: Server) -> None:
    # when
    response = get(metadata, "/2009-04-04/meta-data/placement")

    # then
    assert text(response) == "availability-zone"


def test_ec2_user_data_is_served_decoded(metadata: MetadataClient, server: Server) -> None:
    # when
    latest = get(metadata, "/latest/user-data")
    dated = get(metadata, "/2009-04-04/user-data")

    # then
    assert latest.content == USER_DATA
    assert dated.content == USER_DATA


def test_older_ec2_versions_have_fewer_fields(metadata: MetadataClient, server: Server) -> None:
    # when
    oldest = text(get(metadata, "/1.0/meta-data")).split("\n")

    # then
    assert oldest == [
        "ami-id",
        "ami-launch-index",
        "hostname",
        "instance-id",
        "local-ipv4",
        "public-keys/",
        "reservation-id",
    ]


def test_instance_without_addresses_or_key_lists_neither(
    metadata: MetadataClient, make_instance: Callable[..., Server], shared_secret: str
) -> None:
    # given: identified by the proxy, no addresses known
    server = make_instance(ProjectFactory())

    # when
    listing = text(metadata.get_signed("/latest/meta-data/", server)).split("\n")

    # then
    assert "local-ipv4" not in listing
    assert "public-keys/" not in listing
    assert "public-ipv4" not in listing


def test_only_get_and_head_are_allowed(metadata: MetadataClient, server: Server) -> None:
    # when
    request = metadata.factory.post(
        "/openstack/latest/password", REMOTE_ADDR=ADDR, data="x", content_type="text/plain"
    )
    response = metadata.handler.get_response(request)
    head = metadata.handler.get_response(
        metadata.factory.head("/openstack/latest/meta_data.json", REMOTE_ADDR=ADDR)
    )

    # then
    assert response.status_code == 405
    assert head.status_code == 200


def test_responses_carry_a_request_id(metadata: MetadataClient, server: Server) -> None:
    # when
    response = get(metadata, "/latest/meta-data/hostname")

    # then
    assert response["X-Openstack-Request-Id"].startswith("req-")


def test_the_servers_volumes_are_its_block_device_mappings(
    metadata: MetadataClient, server: Server
) -> None:
    # given: a volume attached as vdb with a tag, another as vdc without one
    pool = StoragePool.objects.create(host="compute-1", backend="file")
    tagged, plain = (
        Volume.objects.create(
            project=server.project,
            user_id="u-1",
            size=1,
            status="in-use",
            volume_type=VolumeType.default(),
            pool=pool,
        )
        for _ in range(2)
    )
    BlockDeviceMapping.objects.create(
        server=server, volume_id=tagged.pk, device_name="/dev/vdb", tag="data", attached=True
    )
    BlockDeviceMapping.objects.create(
        server=server, volume_id=plain.pk, device_name="/dev/vdc", attached=True
    )

    # when
    meta = json.loads(get(metadata, "/openstack/latest/meta_data.json").content)
    mapping = text(get(metadata, "/latest/meta-data/block-device-mapping/")).split("\n")
    ebs1 = text(get(metadata, "/latest/meta-data/block-device-mapping/ebs1"))

    # then
    assert meta["devices"] == [
        {
            "type": "disk",
            "bus": "virtio",
            "serial": str(tagged.pk),
            "path": "/dev/vdb",
            "tags": ["data"],
        }
    ]
    assert mapping == ["ami", "ebs0", "ebs1", "root"]
    assert ebs1 == "/dev/vdc"
