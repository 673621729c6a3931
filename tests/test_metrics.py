"""Metrics and request ids, as an operator uses them.

First the web's /metrics in this process: who may read it (an attacker may not), request
latency by route, hosts up and down, queue depth, claim conflicts. Then a whole cloud: the API
as gunicorn (its worker processes add up through PROMETHEUS_MULTIPROC_DIR), the conductor and
a compute worker on test:///default, each with its own metrics port: a real build moves the
build, scheduler and task metrics, and one request id is found in the log lines of all three
processes. Values are compared before and after, never to a time.
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.conf import settings
from django.db import transaction
from django.urls import resolve
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.hosts.models import Service
from apps.identity.services import assign_roles, ensure_project
from apps.identity.tokens import issue_token
from apps.images.services import ensure_image_from_file
from apps.placement import claims
from apps.placement.models import ResourceProvider
from computecloud.messages import to_compute, to_conductor
from computecloud.queues import compute_queue
from computecloud.request_ids import (
    HEADER,
    bind_task,
    new_request_id,
    request_id_var,
    unbind_task,
)
from computecloud.tasking import enqueue_on_commit
from tests.cloud import forget_hosts, tiny_qcow2
from tests.conftest import Caller
from tests.factories import UserFactory
from tests.harness import CloudProcesses, free_port, purge_broker, wait_until
from tests.scheduler.helpers import create_host

TOKEN = "metrics-" + uuid.uuid4().hex
C = {"OpenStack-API-Version": "compute 2.96"}


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 if none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def labels_of(text: str, name: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def scrape(client: APIClient | None = None, **headers: str) -> str:
    response = (client or APIClient()).get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


# --- who may read /metrics --------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_served_to_an_allowed_address_reached_directly() -> None:
    # given: the default, loopback only; the test client comes from 127.0.0.1
    # then
    text = scrape()
    assert "computecloud_api_request_duration_seconds" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"REMOTE_ADDR": "203.0.113.7"},  # from outside the allowed networks
        {"HTTP_X_FORWARDED_FOR": "203.0.113.7"},  # through a proxy on the allowed address
        {"REMOTE_ADDR": "203.0.113.7", "HTTP_AUTHORIZATION": "Bearer wrong"},
        {"REMOTE_ADDR": "203.0.113.7", "HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"REMOTE_ADDR": "203.0.113.7", "HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"},
        {"REMOTE_ADDR": "not an address"},
    ],
)
def test_metrics_are_refused_to_anyone_else(settings: Any, headers: dict[str, str]) -> None:
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "METRICS_TOKEN": TOKEN}
    # when
    response = APIClient().get("/metrics", **headers)
    # then
    assert response.status_code == 403
    assert b"computecloud_" not in response.content


@pytest.mark.django_db
def test_a_tenant_token_does_not_open_the_metrics(settings: Any, member: Caller) -> None:
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "METRICS_ALLOWED_NETWORKS": []}
    # when: a member of a project, with a valid identity token, from anywhere
    response = member.client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {member.token}")
    # then
    assert response.status_code == 403
    assert member.client.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_the_bearer_token_opens_the_metrics_from_anywhere(settings: Any) -> None:
    settings.COMPUTECLOUD = {
        **settings.COMPUTECLOUD,
        "METRICS_ALLOWED_NETWORKS": [],
        "METRICS_TOKEN": TOKEN,
    }
    # then
    text = scrape(REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert "computecloud_api_request_duration_seconds" in text
    # and no token configured: an empty bearer opens nothing
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "METRICS_TOKEN": ""}
    response = APIClient().get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


@pytest.mark.django_db
def test_metrics_only_answer_get() -> None:
    client = APIClient(enforce_csrf_checks=True)
    for method in (client.post, client.put, client.delete):
        assert method("/metrics").status_code in (403, 405)


# --- what the web records and reads -----------------------------------------------------------


@pytest.mark.django_db
def test_request_latency_is_labelled_by_route_never_by_path(member: Caller) -> None:
    name = "computecloud_api_request_duration_seconds_count"
    servers_route = resolve(f"/compute/v2.1/servers/{uuid.uuid4()}").route
    flavors_route = resolve("/compute/v2.1/flavors").route
    before = scrape()
    unknown = [str(uuid.uuid4()) for _ in range(3)]
    # when: three servers nobody has, a list, and a path nothing serves
    for server_id in unknown:
        assert member.client.get(f"/compute/v2.1/servers/{server_id}").status_code == 404
    assert member.client.get("/compute/v2.1/flavors").status_code == 200
    APIClient().get(f"/no-such-page-{unknown[0]}")
    after = scrape()
    # then: one series per route and status class, whatever the ids
    get_server = {"method": "GET", "route": servers_route, "status": "4xx"}
    assert value(after, name, **get_server) - value(before, name, **get_server) == 3
    list_flavors = {"method": "GET", "route": flavors_route, "status": "2xx"}
    assert value(after, name, **list_flavors) - value(before, name, **list_flavors) == 1
    unmatched = {"route": "unmatched", "status": "4xx"}
    assert value(after, name, **unmatched) - value(before, name, **unmatched) >= 1
    assert not any(server_id in after for server_id in unknown)


@pytest.mark.django_db
def test_hosts_up_and_down_follow_the_heartbeat_rule() -> None:
    # given: one host beating, one silent for longer than SERVICE_DOWN_TIME, one disabled
    create_host("metrics-up")
    create_host("metrics-down", up=False)
    create_host("metrics-off", disabled=True)
    # when
    text = scrape()
    # then
    name = "computecloud_service_up"
    assert value(text, name, host="metrics-up", disabled="false") == 1
    assert value(text, name, host="metrics-down", disabled="false") == 0
    assert value(text, name, host="metrics-off", disabled="true") == 1
    # and a heartbeat brings the silent one back
    Service.objects.filter(host="metrics-down").update(last_seen_up=timezone.now())
    assert value(scrape(), name, host="metrics-down") == 1
    Service.objects.filter(host="metrics-up").update(
        last_seen_up=timezone.now() - timedelta(days=1)
    )
    assert value(scrape(), name, host="metrics-up") == 0


@pytest.mark.django_db
def test_queue_depth_counts_the_messages_waiting_for_a_host(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given: a host whose worker is not running
    host = f"metrics-q-{uuid.uuid4().hex[:6]}"
    create_host(host)
    queue = compute_queue(host)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        assert value(scrape(), "computecloud_queue_depth", queue=queue) == 0
        # when: the conductor sends it two messages
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            for _ in range(2):
                to_compute.destroy_orphan(enqueue_on_commit, host, server_uuid=str(uuid.uuid4()))
        # then
        text = scrape()
        assert value(text, "computecloud_queue_depth", queue=queue) == 2
        assert value(text, "computecloud_broker_up") == 1
        assert {"queue": "conductor"} in labels_of(text, "computecloud_queue_depth")
    finally:
        broker.delete(queue)


@pytest.mark.django_db
def test_a_claim_that_no_longer_fits_is_counted_as_a_conflict() -> None:
    create_host("metrics-claim", vcpus=2)
    provider_id = ResourceProvider.objects.get(name="metrics-claim").pk
    request = claims.ClaimRequest(
        provider_id=provider_id, consumer_uuid=str(uuid.uuid4()), resources={"VCPU": 3}
    )
    before = value(scrape(), "computecloud_placement_claim_conflicts_total")
    # when
    with pytest.raises(claims.ClaimConflict), transaction.atomic():
        claims.claim([request], project_id="p", user_id="u")
    # then
    assert value(scrape(), "computecloud_placement_claim_conflicts_total") - before == 1


# --- a whole cloud: gunicorn, the conductor, a compute worker ---------------------------------


class ObservedCloud:
    def __init__(self, processes: CloudProcesses, host: str, ports: dict[str, int]) -> None:
        self.processes = processes
        self.host = host
        self.ports = ports

    @property
    def api(self) -> str:
        return self.processes.public_url

    def scrape(self, process: str, token: str | None = TOKEN) -> requests.Response:
        url = (
            f"{self.api}/metrics"
            if process == "api"
            else f"http://127.0.0.1:{self.ports[process]}/metrics"
        )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(url, headers=headers, timeout=10)

    def metrics(self, process: str) -> str:
        response = self.scrape(process)
        assert response.status_code == 200, response.text[:300]
        return response.text

    def log_lines(self, worker: str, needle: str) -> list[str]:
        text = self.processes.workers[worker].log.read_text(errors="replace")
        return [line for line in text.splitlines() if needle in line]


@pytest.fixture(scope="module")
def observed(django_db_setup: None, django_db_blocker: Any) -> Iterator[ObservedCloud]:
    """The API as gunicorn, the conductor and one compute host, each serving metrics only to
    the bearer token (no address is allowed)."""
    purge_broker()
    workdir = Path(tempfile.mkdtemp(prefix="cc-metrics-", dir="/var/lib/computecloud"))
    workdir.chmod(0o755)
    port = free_port()
    ports = {"conductor": free_port(), "compute": free_port()}
    guarded = {"METRICS_TOKEN": TOKEN, "METRICS_ALLOWED_NETWORKS": "192.0.2.0/24"}
    processes = CloudProcesses(public_url=f"http://127.0.0.1:{port}", workdir=workdir)
    try:
        with django_db_blocker.unblock():
            processes.start_api(
                port,
                extra_args=["--access-logfile", "-"],
                extra_env={**guarded, "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus")},
            )
            processes.start_conductor(
                extra_env={**guarded, "METRICS_PORT": str(ports["conductor"])}
            )
            host = processes.start_compute(
                extra_env={**guarded, "METRICS_PORT": str(ports["compute"])}
            )
            processes.wait_hosts_ready([host])
        wait_until(
            lambda: requests.get(f"{processes.public_url}/compute/", timeout=5).ok,
            timeout=60,
            what="the API process",
        )
        yield ObservedCloud(processes, host, ports)
    finally:
        hosts = list(processes.hosts)
        processes.stop_all()  # removes workdir, unless CC_KEEP_WORKER_LOGS is set
        with django_db_blocker.unblock():
            forget_hosts(hosts)


def build_server(cloud: ObservedCloud, tmp_path: Path) -> tuple[str, str]:
    """Create a server through the API process and wait for ACTIVE: (server id, request id)."""
    from apps.flavors.services import ensure_standard_flavors

    # The module's host outlives each test's database flush: its rows come back with its next
    # report, so a build waits for them rather than finding no host.
    cloud.processes.wait_hosts_ready([cloud.host])
    ensure_standard_flavors()
    project = ensure_project(name=f"metrics-{uuid.uuid4().hex[:6]}")
    user = UserFactory()
    assign_roles(user=user, project=project, roles=["member"])
    token = issue_token(user=user, project=project, methods=["password"]).token
    image = ensure_image_from_file(
        name="tiny", path=tiny_qcow2(tmp_path), owner=project, visibility="private", properties={}
    )
    headers = {"X-Auth-Token": token, **C}
    body = {
        "server": {
            "name": "observed",
            "imageRef": str(image.id),
            "flavorRef": "0",
            "networks": "none",
        }
    }
    response = requests.post(
        f"{cloud.api}/compute/v2.1/servers", json=body, headers=headers, timeout=30
    )
    assert response.status_code == 202, response.text[:600]
    server_id = response.json()["server"]["id"]

    def status() -> str | None:
        cloud.processes.check_alive()
        got = requests.get(
            f"{cloud.api}/compute/v2.1/servers/{server_id}", headers=headers, timeout=30
        )
        server = got.json()["server"]
        return server["status"] if server["status"] in ("ACTIVE", "ERROR") else None

    assert wait_until(status, timeout=90, what=f"{server_id} ACTIVE") == "ACTIVE"
    return server_id, response.headers["X-Openstack-Request-Id"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_build_moves_every_process_metrics(observed: ObservedCloud, tmp_path: Path) -> None:
    conductor_before = observed.metrics("conductor")
    compute_before = observed.metrics("compute")
    api_before = observed.metrics("api")
    # when
    build_server(observed, tmp_path)
    conductor = wait_until(
        lambda: (
            text
            if value(text := observed.metrics("conductor"), "computecloud_builds_total")
            > value(conductor_before, "computecloud_builds_total")
            else None
        ),
        timeout=30,
        what="the build counted",
    )
    compute = observed.metrics("compute")
    api = observed.metrics("api")

    # then: the conductor counted the build, timed POST→ACTIVE and the scheduling decision
    def moved(after: str, before: str, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(conductor, conductor_before, "computecloud_builds_total", outcome="active") == 1
    assert moved(conductor, conductor_before, "computecloud_builds_total", outcome="error") == 0
    assert moved(conductor, conductor_before, "computecloud_build_duration_seconds_count") == 1
    assert moved(conductor, conductor_before, "computecloud_build_duration_seconds_sum") > 0
    decisions = "computecloud_scheduler_decision_seconds_count"
    assert moved(conductor, conductor_before, decisions, outcome="selected") == 1
    tasks = "computecloud_task_duration_seconds_count"
    assert (
        moved(
            conductor,
            conductor_before,
            tasks,
            task="conductor.schedule_and_build_servers",
            state="SUCCESS",
        )
        == 1
    )
    # the compute worker timed its build task
    assert moved(compute, compute_before, tasks, task=to_compute.BUILD_SERVER, state="SUCCESS") == 1
    # the API's gunicorn workers add up: the POST is there, and the fleet read at scrape time
    create_route = resolve("/compute/v2.1/servers").route
    post = {"method": "POST", "route": create_route, "status": "2xx"}
    assert moved(api, api_before, "computecloud_api_request_duration_seconds_count", **post) == 1
    assert value(api, "computecloud_service_up", host=observed.host) == 1
    assert value(api, "computecloud_queue_depth", queue=compute_queue(observed.host)) == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_process_refuses_metrics_without_the_token(observed: ObservedCloud) -> None:
    for process in ("api", "conductor", "compute"):
        for token in (None, "wrong", ""):
            response = observed.scrape(process, token=token)
            assert response.status_code == 403, process
            assert "computecloud_" not in response.text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_request_id_tells_the_build_in_all_three_processes(
    observed: ObservedCloud, tmp_path: Path
) -> None:
    # when
    server_id, request_id = build_server(observed, tmp_path)
    assert re.fullmatch(r"req-[0-9a-f-]{36}", request_id)
    compute = f"compute-{observed.host}"

    def told() -> dict[str, list[str]] | None:
        lines = {w: observed.log_lines(w, request_id) for w in ("api", "conductor", compute)}
        # the conductor's last word: the host's report made the server ACTIVE
        done = any("is ACTIVE" in line for line in lines["conductor"])
        return lines if done and all(lines.values()) else None

    lines = wait_until(told, timeout=30, what=f"{request_id} in every log")
    # then: each process tells its part of the one build, under the one id
    assert any(f"server {server_id}" in line and "accepted" in line for line in lines["api"])
    assert any("POST /compute/v2.1/servers" in line for line in lines["api"])  # access log
    assert any("scheduled on" in line and server_id in line for line in lines["conductor"])
    assert any(f"[instance {server_id}]" in line for line in lines[compute])
    # and no other request's id is on those lines
    for worker_lines in lines.values():
        for line in worker_lines:
            assert set(re.findall(r"req-[0-9a-f-]{36}", line)) == {request_id}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_message_without_a_request_id_argument_carries_it_in_its_header(
    observed: ObservedCloud,
) -> None:
    """The network sync has no request_id argument (it answers a change, not a server's
    request): the header alone takes the id from the publisher to the conductor, and on to the
    compute host the conductor sends the new state to."""
    request_id = new_request_id()
    compute = f"compute-{observed.host}"
    # when: published as the API publishes, while serving request `request_id`
    token = request_id_var.set(request_id)
    try:
        to_conductor.sync_host_networks(enqueue_on_commit, hosts=[observed.host])
    finally:
        request_id_var.reset(token)

    # then
    def told() -> bool:
        conductor = observed.log_lines("conductor", request_id)
        host = observed.log_lines(compute, request_id)
        return any(to_conductor.SYNC_HOST_NETWORKS in line for line in conductor) and any(
            f"networks of {observed.host} synced" in line for line in host
        )

    wait_until(told, timeout=30, what=f"{request_id} in the conductor's and the host's logs")


@pytest.mark.parametrize(
    "forged",
    ["req-1\n2026-12-05 ERROR apps.hosts host compute-3 down", "req-" + "x" * 36, 42],
)
def test_a_task_logs_only_a_well_formed_request_id(forged: Any) -> None:
    """A message's header is whatever its publisher wrote: a malformed id (a line break that
    would forge a log line) is not put in the log context; a well-formed one is, until the
    task ends."""
    from apps.conductor.tasks import sync_host_networks as task

    good = new_request_id()
    for header, expected in ((forged, "-"), (good, good)):
        task.push_request(**{HEADER: header})
        try:
            bind_task(task_id="t-1", task=task, kwargs={"hosts": []})
            assert request_id_var.get() == expected
            unbind_task(task_id="t-1")
            assert request_id_var.get() == "-"
        finally:
            task.pop_request()
    # the argument wins over the header
    task.push_request(**{HEADER: new_request_id()})
    try:
        bind_task(task_id="t-2", task=task, kwargs={"request_id": good})
        assert request_id_var.get() == good
        unbind_task(task_id="t-2")
    finally:
        task.pop_request()
