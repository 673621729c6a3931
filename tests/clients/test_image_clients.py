"""The real clients against a live server: python-openstackclient's ``openstack image ...``
and openstacksdk's image proxy, authenticating through the identity API and finding the image
service through the catalog (``.../image``, discovered, then ``/v2``)."""

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openstack
import pytest
from django.urls import Resolver404, resolve
from pytest_django.fixtures import Settings as SettingsWrapper

from apps.identity.services import assign_roles, ensure_project, ensure_user
from apps.images.models import Image
from tests.images.conftest import md5, qemu_img_create, sha512

pytestmark = [pytest.mark.clients, pytest.mark.django_db(transaction=True)]

OPENSTACK = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "openstack"
CLI_TIMEOUT = 180  # seconds; one command authenticates, discovers and runs


@dataclass
class ImageClientEnv:
    """A user with the member role on its own project, and how to reach the live server."""

    auth_url: str
    username: str
    password: str
    project_name: str
    project_id: str
    env: dict[str, str]
    run: Callable[..., Any]


@pytest.fixture
def image_client_env(live_server: Any, settings: SettingsWrapper, tmp_path: Path) -> ImageClientEnv:
    settings.PUBLIC_URL = live_server.url
    settings.STATE_DIR = tmp_path / "state"
    for root in ("/identity", "/image"):
        try:
            resolve(root)
        except Resolver404:
            settings.ROOT_URLCONF = "tests.images.client_urls"
    suffix = uuid.uuid4().hex[:8]
    project = ensure_project(name=f"img-clients-{suffix}")
    password = f"pw-{uuid.uuid4().hex}"
    user = ensure_user(username=f"img-user-{suffix}", password=password, default_project=project)
    assign_roles(user=user, project=project, roles=["member"])
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # no clouds.yaml or cache from the machine
        "OS_AUTH_URL": f"{live_server.url}/identity",
        "OS_USERNAME": user.username,
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": project.name,
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
        "OS_REGION_NAME": "RegionOne",
        "OS_INTERFACE": "public",
    }

    def run(*args: str, json_output: bool = True) -> Any:
        command = [str(OPENSTACK), *args] + (["-f", "json"] if json_output else [])
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
        )
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stderr}"
        return json.loads(result.stdout) if json_output else result.stdout

    return ImageClientEnv(
        auth_url=env["OS_AUTH_URL"],
        username=user.username,
        password=password,
        project_name=project.name,
        project_id=project.pk,
        env=env,
        run=run,
    )


def test_openstack_cli_image_lifecycle(image_client_env: ImageClientEnv, tmp_path: Path) -> None:
    run = image_client_env.run
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
    assert record.owner_id == image_client_env.project_id

    listed = run("image", "list")
    assert [(i["ID"], i["Name"], i["Status"]) for i in listed] == [(created["id"], name, "active")]

    shown = run("image", "show", name)
    assert shown["id"] == created["id"]
    assert shown["disk_format"] == "qcow2"
    assert shown["checksum"] == md5(disk.read_bytes())

    out = tmp_path / "saved.qcow2"
    run("image", "save", "--file", str(out), name, json_output=False)
    assert out.read_bytes() == disk.read_bytes()

    run("image", "set", "--property", "os_distro=tinyos", "--name", f"{name}-2", name,
        json_output=False)  # fmt: skip
    changed = run("image", "show", f"{name}-2")
    assert changed["properties"]["os_distro"] == "tinyos"
    assert changed["properties"]["hw_disk_bus"] == "virtio"

    run("image", "delete", f"{name}-2", json_output=False)
    assert not Image.objects.filter(pk=created["id"]).exists()
    assert run("image", "list") == []


# openstacksdk 4.22 warns about its own internals (InfluxDB defaults, _compute_attributes)
# with PendingDeprecationWarnings of its own class on every call.
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_openstacksdk_image_lifecycle(image_client_env: ImageClientEnv, tmp_path: Path) -> None:
    # given
    disk = qemu_img_create(tmp_path / "sdk.qcow2", size="32M")
    conn = openstack.connect(
        auth_url=image_client_env.auth_url,
        username=image_client_env.username,
        password=image_client_env.password,
        project_name=image_client_env.project_name,
        user_domain_name="Default",
        project_domain_name="Default",
        region_name="RegionOne",
        load_yaml_config=False,
        load_envvars=False,
    )
    name = f"sdk-{uuid.uuid4().hex[:6]}"
    try:
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
    finally:
        conn.close()


def test_openstack_cli_is_on_this_machine() -> None:
    assert OPENSTACK.exists() or shutil.which("openstack")
