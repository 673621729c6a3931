"""The real clients against a live server: python-openstackclient's ``openstack image ...``
and openstacksdk's image proxy, authenticating through the identity API and finding the image
service through the catalog (``.../image``, discovered, then ``/v2``)."""

import uuid
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.images.models import Image
from tests.clients.cli import OpenStackEnv
from tests.images.conftest import md5, qemu_img_create, sha512

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def image_state_dir(settings: SettingsWrapper, tmp_path: Path) -> Path:
    """Image data of the live server goes under this test's own directory."""
    settings.STATE_DIR = tmp_path / "state"
    return settings.STATE_DIR / "images"


def test_openstack_cli_image_lifecycle(openstack_env: OpenStackEnv, tmp_path: Path) -> None:
    run = openstack_env.openstack
    text = openstack_env.openstack_text
    # given
    disk = qemu_img_create(tmp_path / "cli.qcow2", size="64M")
    name = f"cli-{uuid.uuid4().hex[:6]}"
    # when: create with data
    created = run(
        "image", "create", "--file", str(disk), "--disk-format", "qcow2",
        "--container-format", "bare", "--property", "hw_disk_bus=virtio", name,
    )  # fmt: skip
    # then
    assert created["status"] == "active"
    assert created["name"] == name
    record = Image.objects.get(pk=created["id"])
    assert record.checksum == md5(disk.read_bytes())
    assert record.os_hash_value == sha512(disk.read_bytes())
    assert record.virtual_size == 64 * 1024 * 1024
    assert record.properties["hw_disk_bus"] == "virtio"
    assert record.owner_id == openstack_env.project.pk

    listed = run("image", "list")
    assert [(i["ID"], i["Name"], i["Status"]) for i in listed] == [(created["id"], name, "active")]

    shown = run("image", "show", name)
    assert shown["id"] == created["id"]
    assert shown["disk_format"] == "qcow2"
    assert shown["checksum"] == md5(disk.read_bytes())

    out = tmp_path / "saved.qcow2"
    text("image", "save", "--file", str(out), name)
    assert out.read_bytes() == disk.read_bytes()

    text("image", "set", "--property", "os_distro=tinyos", "--name", f"{name}-2", name)
    changed = run("image", "show", f"{name}-2")
    assert changed["properties"]["os_distro"] == "tinyos"
    assert changed["properties"]["hw_disk_bus"] == "virtio"

    text("image", "delete", f"{name}-2")
    assert not Image.objects.filter(pk=created["id"]).exists()
    assert run("image", "list") == []


# openstacksdk 4.22 warns about its own internals (InfluxDB defaults, _compute_attributes)
# with PendingDeprecationWarnings of its own class on every call.
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_openstacksdk_image_lifecycle(openstack_env: OpenStackEnv, tmp_path: Path) -> None:
    # given
    disk = qemu_img_create(tmp_path / "sdk.qcow2", size="32M")
    conn = openstack_env.connection()
    name = f"sdk-{uuid.uuid4().hex[:6]}"
    # when: the SDK computes digests and states them as owner properties, then uploads
    image = conn.image.create_image(
        name,
        filename=str(disk),
        disk_format="qcow2",
        container_format="bare",
        validate_checksum=True,
        hw_qemu_guest_agent="yes",
    )
    fetched = conn.image.get_image(image.id)
    # then
    assert fetched.status == "active"
    assert fetched.checksum == md5(disk.read_bytes())
    assert fetched.hash_algo == "sha512"
    assert fetched.hash_value == sha512(disk.read_bytes())
    assert fetched.hw_qemu_guest_agent == "yes"
    stated = Image.objects.get(pk=image.id).properties
    assert stated["owner_specified.openstack.md5"] == md5(disk.read_bytes())
    assert [i.id for i in conn.image.images()] == [image.id]
    assert conn.image.find_image(name).id == image.id

    out = tmp_path / "downloaded.qcow2"
    conn.image.download_image(image, output=str(out))
    assert out.read_bytes() == disk.read_bytes()

    updated = conn.image.update_image(
        image, name=f"{name}-renamed", os_distro="tinyos", purpose="ci"
    )
    assert updated.name == f"{name}-renamed"
    refetched = conn.image.get_image(image.id)
    assert refetched.os_distro == "tinyos"
    assert refetched.properties["purpose"] == "ci"

    conn.image.delete_image(image, ignore_missing=False)
    assert conn.image.find_image(image.id) is None
