"""os-instance_usage_audit_log: the audit is never run by our hosts, so each compute host is
reported as not run; the period is the month before the given time."""

import uuid
from datetime import UTC, datetime

import pytest

from apps.hosts.services import update_compute_node
from apps.servers.models import Server

pytestmark = pytest.mark.django_db

URL = "/compute/v2.1/os-instance_usage_audit_log"


def test_report_lists_every_compute_host_as_not_run(admin):
    for host in ("hv-1", "hv-2"):
        update_compute_node(host=host, facts={})
    # when
    report = admin.client.get(URL).json()["instance_usage_audit_logs"]
    # then
    assert report["hosts_not_run"] == ["hv-1", "hv-2"]
    assert (report["num_hosts"], report["num_hosts_not_run"], report["num_hosts_done"]) == (2, 2, 0)
    assert report["overall_status"] == "0 of 2 hosts done. 0 errors."
    assert report["log"] == {}


def test_report_before_a_time_covers_the_previous_month(admin, member):
    # given: one server that ran in October 2026, one launched in November
    for launched in (datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)):
        Server.objects.create(
            uuid=uuid.uuid4(),
            name="s",
            project_id=member.project.pk,
            user_id=member.user.pk,
            flavor_id="0",
            launched_at=launched,
        )
    # when
    report = admin.client.get(f"{URL}/2026-11-15 10:00:00").json()["instance_usage_audit_log"]
    # then
    assert report["period_beginning"] == "2026-10-01 00:00:00"
    assert report["period_ending"] == "2026-11-01 00:00:00"
    assert report["total_instances"] == 1


def test_january_audits_december(admin):
    report = admin.client.get(f"{URL}/2027-01-03 00:00:00").json()["instance_usage_audit_log"]
    assert report["period_beginning"] == "2026-12-01 00:00:00"


def test_invalid_time_is_400_and_members_are_refused(admin, member):
    assert admin.client.get(f"{URL}/invalid_time").status_code == 400
    assert member.client.get(URL).status_code == 403
    assert member.client.get(f"{URL}/2026-11-15 10:00:00").status_code == 403
