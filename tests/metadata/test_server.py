"""``manage.py metadata_server``: the real listener, over HTTP, against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.servers.models import Server
from tests.factories import ProjectFactory
from tests.harness import ROOT, database_url, free_port, wait_until
from tests.metadata.conftest import USER_DATA, fixed


@dataclass
class MetadataServer:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        # S310: the URL is the listener's own http:// address.
        request = urllib.request.Request(self.url + path, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


@pytest.fixture(scope="module")
def metadata_server(
    django_db_setup: None, django_db_blocker: pytest.FixtureRequest, tmp_path_factory
) -> Iterator[MetadataServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("metadata") / "metadata_server.log"
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        url = database_url()
    env = {**os.environ, "DATABASE_URL": url, "DB_CONN_MAX_AGE": "0", "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "metadata_server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = MetadataServer(process=process, url=f"http://127.0.0.1:{port}", log=log)

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"metadata_server exited: {log.read_text(errors='replace')}")
        try:
            return server.get("/")[0] == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=60, what="metadata_server to answer")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_listener_identifies_a_guest_by_its_source_address(
    metadata_server: MetadataServer, make_instance: Callable[..., Server]
) -> None:
    # given: the guest's fixed IP is the loopback address the test connects from
    server = make_instance(ProjectFactory(), addresses=fixed("127.0.0.1"), user_data=USER_DATA)

    # when
    index = metadata_server.get("/")
    status, body = metadata_server.get("/openstack/latest/meta_data.json")
    user_data = metadata_server.get("/latest/user-data")
    hostname = metadata_server.get("/latest/meta-data/hostname", {"Host": "169.254.169.254"})

    # then
    assert index[0] == 200
    assert index[1].decode().endswith("2009-04-04\nlatest")
    assert status == 200
    assert json.loads(body)["uuid"] == str(server.uuid)
    assert user_data == (200, USER_DATA)
    assert hostname == (200, server.hostname.encode())


@pytest.mark.django_db(transaction=True)
def test_listener_answers_404_to_an_address_of_no_instance(
    metadata_server: MetadataServer, make_instance: Callable[..., Server]
) -> None:
    # given
    make_instance(ProjectFactory(), addresses=fixed("10.0.0.5"))

    # when
    status, body = metadata_server.get("/openstack/latest/meta_data.json")

    # then
    assert status == 404
    assert body == b"404 Not Found\n\nThe resource could not be found.\n"
