"""`manage.py bootstrap` as an operator runs it, and the openrc files it writes, used as written.

The command runs as its own process against the test database, with its state directory a
temporary one; each openrc it writes is then sourced by bash (`. admin-openrc.sh && openstack
token issue`) with nothing else of ours in the environment, and the real openstack CLI gets a
token from the live server with it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from apps.identity.models import User
from tests.clients.cli import CLI_TIMEOUT, OPENSTACK
from tests.harness import ROOT, database_url

pytestmark = [pytest.mark.slow, pytest.mark.clients, pytest.mark.django_db(transaction=True)]

# An operator's password with every character a shell treats specially inside quotes or out.
AWKWARD_PASSWORD = 'it\'s a $HOME `pwd` "pass" \\ word;!'


def bootstrap(state_dir: Path, public_url: str, **passwords: str) -> str:
    """`manage.py bootstrap` in a process of its own; its standard output."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "REDIS_URL": settings.REDIS_URL,
        "STATE_DIR": str(state_dir),
        "PUBLIC_URL": public_url,
        # Set, even empty, so that .env's values (read with overwrite=False) do not apply.
        "COMPUTE_HOST": "",
        **passwords,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "bootstrap"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def token_issue_with(openrc: Path, home: Path) -> dict[str, Any]:
    """`. <openrc> && openstack token issue -f json` in bash, with only PATH and HOME besides."""
    script = f'. "$1" && "{OPENSTACK}" token issue -f json'
    result = subprocess.run(
        ["bash", "-c", script, "bash", str(openrc)],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{openrc.name}: {result.stderr}"
    return json.loads(result.stdout)


def generated_password(output: str, user: str) -> str:
    prefix = f"generated password for {user} (shown once): "
    lines = [line for line in output.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, output
    return lines[0].removeprefix(prefix)


def test_bootstrap_openrc_files_issue_tokens_as_written(live_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    home = tmp_path / "home"
    home.mkdir()

    # given: bootstrap with the operator's own admin password and a generated demo one
    output = bootstrap(state, live_server.url, ADMIN_PASSWORD=AWKWARD_PASSWORD, DEMO_PASSWORD="")
    demo_password = generated_password(output, "demo")
    admin_rc, demo_rc = state / "admin-openrc.sh", state / "demo-openrc.sh"

    # then: each file is private to its owner and names the live server's identity endpoint
    for openrc in (admin_rc, demo_rc):
        assert openrc.stat().st_mode & 0o777 == 0o600
        assert f"OS_AUTH_URL={live_server.url}/identity\n" in openrc.read_text()
    assert User.objects.get(username="admin").check_password(AWKWARD_PASSWORD)
    assert User.objects.get(username="demo").check_password(demo_password)

    # then: sourced as written, each gets its user a token scoped to its project
    for openrc, user, project in ((admin_rc, "admin", "admin"), (demo_rc, "demo", "demo")):
        token = token_issue_with(openrc, home)
        assert token["user_id"] == str(User.objects.get(username=user).pk)
        assert token["project_id"] == str(
            User.objects.get(username=user).default_project.pk  # type: ignore[union-attr]
        ), project


def test_bootstrap_again_rewrites_openrc_with_the_new_password_and_the_region(
    live_server: Any, tmp_path: Path, settings: Any
) -> None:
    # given: a cloud whose region is not the default one
    settings.COMPUTECLOUD = {**settings.COMPUTECLOUD, "REGION": "RegionTwo"}
    state = tmp_path / "state"
    state.mkdir()
    # given: a first bootstrap, then a second with another generated demo password
    passwords = {"REGION": "RegionTwo", "DEMO_PASSWORD": ""}
    bootstrap(state, live_server.url, ADMIN_PASSWORD="first-admin", **passwords)
    second = bootstrap(state, live_server.url, ADMIN_PASSWORD="second-admin", **passwords)

    # then: the files written last work, with the passwords the second run set, in the region
    assert "OS_REGION_NAME=RegionTwo\n" in (state / "admin-openrc.sh").read_text()
    assert "OS_PASSWORD" in (state / "demo-openrc.sh").read_text()
    token = token_issue_with(state / "demo-openrc.sh", tmp_path)
    assert token["user_id"] == str(User.objects.get(username="demo").pk)
    assert User.objects.get(username="demo").check_password(generated_password(second, "demo"))
    token = token_issue_with(state / "admin-openrc.sh", tmp_path)
    assert token["user_id"] == str(User.objects.get(username="admin").pk)
