"""Every command README.md and docs/ show, run as written on the stack `scripts/run` starts.

The test runs `scripts/run` itself, in the checkout, with an operator's environment (PATH,
HOME and LANG; nothing of the test's): the set-up (a no-op when all is there), then honcho on
the Procfile with .env, so the API on 127.0.0.1:8000, the conductor, this machine's compute
worker on qemu:///system (real QEMU guests), beat, the console proxy and the metadata service.
Ctrl-C (SIGINT to its process group) stops it at the end.

Each shell block of the documents (tests/docs.py) then runs in a new `bash -e -o pipefail` in
the checkout, like a reader's terminal after README's `. .venv/bin/activate`, in the order of
RUN: a failing line fails its block. The only change to a block is its <placeholders>, each
filled with what the reader reads off an earlier output (PLACEHOLDERS says where). Some blocks
have a further check of what the document says they show (EXPECT).

The documents' names (vm1, net1, public, r1, web, alice...) live in the cloud scripts/run
runs, that is, in .env's database: whatever carries them is deleted before the blocks run and
after, and the bridge br-ex that docs/networks.md adds is removed. Ports 8000, 6080 and 8775
must be free: no other scripts/run on the machine.

NOT_RUN says which blocks are not run here, why, and what runs them instead;
test_every_shell_block_is_run_here_or_excused keeps RUN and NOT_RUN covering every block, so
a command added to a document is run here or excused by name.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docs import Block, block, command_lines, inline_commands, shell_blocks
from tests.harness import ROOT, answers_tcp, stop_group, wait_until
from workers.network.agent import NetworkAgent
from workers.network.config import NetworkAgentConfig

PORTS = (8000, 6080, 8775)
OPERATOR_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BLOCK_TIMEOUT = 900  # a real guest's boot under emulation on busy cores, with the rest
ADMIN = ". var/admin-openrc.sh && "

# The blocks run here, in this order (each as tests/docs.py knows it: document, last command).
RUN: list[tuple[str, str]] = [
    ("README.md", "make help"),
    ("docs/operations.md", "openstack compute service list"),
    ("README.md", "openstack console log show vm1"),
    ("docs/operations.md", "openstack server show <server>"),
    ("docs/networks.md", "ip link set br-ex up"),
    ("docs/networks.md", "ping -c 3 -w 60 198.51.100.11"),
    ("docs/network-agent.md", "conntrack -L"),
    ("docs/identity.md", "openstack user set --password 'new-pw' alice"),
    (
        "docs/identity.md",
        "openstack application credential create --role reader --description CI ci",
    ),
    ("docs/identity.md", "openstack server list"),
    ("docs/identity.md", "openstack project set --disable web"),
    ("docs/scheduler.md", "--hosts 1000 --requests 2000 --concurrency 16"),
    ("docs/operations.md", "openstack compute service set --enable <host> nova-compute"),
    ("docs/operations.md", "openstack server delete <server>"),  # vm1's end
]

NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "scripts/test"): (
        "`scripts/run` is what this test starts; `scripts/test` is the command CI runs this "
        "test with (.ci/run)"
    ),
    ("docs/network-agent.md", "bridge fdb show dev ccvx-<id8>"): (
        "needs two hosts joined by VXLAN: a single host has no vxlan device; "
        "tests/workers/network/test_vxlan.py checks the devices and their forwarding entries"
    ),
    ("docs/operations.md", "install -m 0644 ca.pem /etc/computecloud/redis-ca.pem"): (
        "the control plane's TLS set-up for other machines; tests/multihost/"
        "test_remote_compute.py runs it with its own directory, address and port"
    ),
    ("docs/operations.md", "-h 192.0.2.10 -p 6379 ping"): (
        "from a hypervisor to the control plane's address; tests/multihost/"
        "test_remote_compute.py runs it from its network namespace, with its address and port"
    ),
    (
        "docs/operations.md",
        ".venv/bin/honcho -f Procfile start web conductor beat consoleproxy metadata",
    ): ("the control plane of a multi-host layout; tests/test_procfile.py starts these lines"),
    (
        "docs/operations.md",
        ".venv/bin/honcho -f Procfile -e /etc/computecloud/compute.env start compute",
    ): (
        "a hypervisor's worker on another machine; tests/multihost/test_remote_compute.py "
        "runs a worker so configured in its own network namespace (started by the test's "
        "harness, not by this line)"
    ),
    ("docs/tempest.md", "tools/tempest/cloud.sh reset"): (
        "Tempest's own cloud and its runs, about 7 minutes each: docs/tempest.md records "
        "their results, from runs made as written"
    ),
    ("docs/tempest.md", "tools/tempest/cloud.sh stop"): "as the other Tempest block",
}

# Commands in the text (`...` spans) that are not a command of a block (nor the start of one),
# and why; a span naming a file of the checkout alone (`scripts/setup.sh`) is a name too.
PROCESS = "a process's command, as the Procfile starts it: tests/test_procfile.py runs each line"
BY_SET_UP = "scripts/setup.sh runs it (README's `scripts/run` and `scripts/test`)"
AGENT = "what the network agent runs itself: tests/workers/network/ run it on the real kernel"
NAMED = "names a command, as the sentence around it says; tests/identity/test_commands.py runs it"
VXLAN = NOT_RUN[("docs/network-agent.md", "bridge fdb show dev ccvx-<id8>")]
INLINE_NOT_BLOCKS: dict[str, str] = {
    'scripts/test -m "not vm"': "the test suite itself, which CI runs (scripts/test)",
    "gunicorn computecloud.wsgi": PROCESS,
    "celery -A computecloud worker -Q conductor,scheduler": PROCESS,
    "celery -A computecloud beat": PROCESS,
    "celery -A workers.compute.app worker -Q compute.<host>": PROCESS,
    "manage.py consoleproxy": PROCESS,
    "manage.py metadata_server": PROCESS,
    "scripts/as-user computecloud .venv/bin/celery -A computecloud worker -Q conductor,scheduler "
    "-n conductor2@%h --pool threads --concurrency 8 --loglevel INFO": (
        "the Procfile's conductor line under another name, a process that runs until stopped: "
        "tests/test_procfile.py runs that line"
    ),
    "npm ci": BY_SET_UP,
    "manage.py bootstrap": BY_SET_UP + "; tests/identity/test_bootstrap_openrc.py runs it",
    "manage.py identity_*": NAMED,
    "manage.py identity_project": NAMED,
    "manage.py identity_project delete": NAMED,
    "manage.py check": "Django's system check, named; tests/scheduler/test_checks.py runs it",
    "bridge fdb append 00:00:00:00:00:00 dev <p>vx-<id8> dst <vtep>": AGENT,
    "nft -f": AGENT,
    "ip -d link show ccvx-<id8>": VXLAN,
    "redis-cli": "names the program; the runbook's 'Is everything up?' block runs it",
    "redis-cli ping": "the runbook's 'Is everything up?' block runs it with the password",
    "promtool check rules": (
        "Prometheus's tool, which the set-up does not install; docs/operations.md says the rules "
        "were checked with it by hand"
    ),
    "grep req-…": "a pattern, not a command: tests/test_metrics.py follows one request id "
    "through the logs of the API, the conductor and a compute worker",
    "scripts/as-user computecloud .venv/bin/python manage.py ...": "a pattern for any command",
    "tools/tempest/run.sh --regex 'tempest\\.api\\.compute\\.servers\\.test_server_actions'": (
        NOT_RUN[("docs/tempest.md", "tools/tempest/cloud.sh reset")]
    ),
}

# Commands in the text that run as they stand, after the admin's openrc.
INLINE_RUN = ["openstack network list --limit 1"]

# What some blocks must show besides succeeding.
EXPECT: dict[tuple[str, str], list[str]] = {
    ("docs/operations.md", "openstack compute service list"): [
        r"conductor@\S+: OK\s+pong",
        r"compute@\S+: OK\s+pong",
        r"^PONG$",
        r"\| nova-compute \| \S+\s+\| nova \| enabled \| up ",
    ],
    ("README.md", "make help"): [r"^  test-fast "],
    ("docs/operations.md", "openstack server show <server>"): [
        r"\| req-[0-9a-f-]{36} \| [0-9a-f-]{36} \| create ",
        r"compute_build_and_run_instance",
        r"status\s+\| ACTIVE ",
    ],
    ("README.md", "openstack console log show vm1"): [
        r"addresses \| net1=10\.10\.0\.\d+",
        r"tinyos eth0: 10\.10\.0\.\d+/24 router 10\.10\.0\.1",
    ],
    ("docs/networks.md", "ping -c 3 -w 60 198.51.100.11"): [
        r"floating_ip_address \| 198\.51\.100\.11 ",  # the address the next command names
        r"3 packets transmitted, 3 received",
    ],
    ("docs/network-agent.md", "conntrack -L"): [
        r"alias cc-agent network [0-9a-f-]{36}",
        r"DHCPACK\(ccns-[0-9a-f]{8}\) 10\.10\.0\.\d+ \S+ vm1",
        r"169\.254\.169\.254:80 ",
        r"table ip ccnat",
    ],
    (
        "docs/identity.md",
        "openstack application credential create --role reader --description CI ci",
    ): [
        r"\| Roles\s+\| reader ",
    ],
    ("docs/scheduler.md", "--hosts 1000 --requests 2000 --concurrency 16"): [
        r"claimed\s+2000",
        r"over-committed\s+0 ",
    ],
}

# Blocks whose last command a reader runs again until it shows what EXPECT says (the guest
# prints its lease a few seconds after the server is ACTIVE).
AGAIN_UNTIL_SHOWN = {("README.md", "openstack console log show vm1")}


@dataclass
class Reader:
    """A reader at a terminal in the checkout: each block in a new shell."""

    home: Path
    outputs: dict[tuple[str, str], str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        venv = ROOT / ".venv"
        return {
            "PATH": f"{venv}/bin:{OPERATOR_PATH}",
            "VIRTUAL_ENV": str(venv),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
        }

    def run(self, script: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=ROOT,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
        if check:
            assert result.returncode == 0, (
                f"exit {result.returncode}:\n{script}\n--- stdout\n{result.stdout[-4000:]}"
                f"\n--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    def value(self, script: str) -> str:
        return self.run(script).stdout.strip()


def table_field(output: str, name: str) -> str:
    """A field of the openstack CLI's table output (`| ID | 9a3e... |`)."""
    match = re.search(rf"^\| {re.escape(name)}\s+\| (\S+)", output, re.MULTILINE)
    assert match, f"no {name} in:\n{output}"
    return match.group(1)


CREDENTIAL = (
    "docs/identity.md",
    "openstack application credential create --role reader --description CI ci",
)

# Where each placeholder's value comes from, as the reader would find it.
PLACEHOLDERS: dict[str, Callable[[Reader], str]] = {
    "<id8>": lambda r: r.value(ADMIN + "openstack network show net1 -f value -c id")[:8],
    "<rid8>": lambda r: r.value(ADMIN + "openstack router show r1 -f value -c id")[:8],
    "<server>": lambda r: "vm1",  # README's
    "<request-id>": lambda r: r.value(
        ADMIN + "openstack server event list vm1 -f value -c 'Request ID' -c Action"
        " | awk '$2 == \"create\" {print $1}'"
    ),
    "<host>": lambda r: r.value(ADMIN + "openstack compute service list -f value -c Host"),
    "<ID>": lambda r: table_field(r.outputs[CREDENTIAL], "ID"),
    "<Secret>": lambda r: table_field(r.outputs[CREDENTIAL], "Secret"),
}

# What the blocks make, removed through the API before and after (errors ignored: each line
# deletes what may or may not be there). A user's application credentials go with the user.
CLEAN_UP = """
. var/admin-openrc.sh
openstack server delete --wait vm1
for fip in $(openstack floating ip list --network public -f value -c ID); do
  openstack floating ip delete "$fip"; done
openstack router remove subnet r1 subnet1
openstack router unset --external-gateway r1
openstack router delete r1
openstack subnet delete public-v4
openstack network delete public
ip link del br-ex
openstack subnet delete subnet1
openstack network delete net1
for rule in $(openstack security group rule list default --protocol icmp -f value -c ID); do
  openstack security group rule delete "$rule"; done
openstack user delete alice
openstack project delete web
"""


def clean_up(reader: Reader) -> None:
    reader.run("set +e\n" + CLEAN_UP, check=False)


@pytest.fixture(scope="module")
def reader() -> Iterator[Reader]:
    """`scripts/run` running, and a reader at another terminal."""
    busy = [port for port in PORTS if answers_tcp(port)]
    if busy:
        pytest.fail(f"ports {busy} are taken: stop the scripts/run on this machine first")
    work = Path(tempfile.mkdtemp(prefix="cc-docs-"))
    (work / "home").mkdir()
    at_terminal = Reader(home=work / "home")
    log = work / "scripts-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")],
            cwd=ROOT,
            env={"PATH": OPERATOR_PATH, "HOME": str(work / "home"), "LANG": "C.UTF-8"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def every_process_answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"scripts/run exited:\n{log.read_text(errors='replace')[-6000:]}")
        if not answers_tcp(8000):
            return False
        ping = at_terminal.run("celery -A computecloud inspect ping", check=False).stdout
        return "conductor@" in ping and "compute@" in ping

    try:
        wait_until(every_process_answers, timeout=600, interval=2, what="scripts/run's processes")
        clean_up(at_terminal)
        yield at_terminal
    finally:
        try:
            clean_up(at_terminal)
        finally:
            stop_group(process, signal.SIGINT)  # Ctrl-C, as README says
            # The stack's agent had the default names; anything its deletes left goes too.
            NetworkAgent(NetworkAgentConfig()).apply({"networks": [], "ports": [], "routers": []})
            subprocess.run(["rm", "-rf", str(work)], check=False)


def test_every_shell_block_is_run_here_or_excused() -> None:
    keys = [b.key for b in shell_blocks()]
    assert len(keys) == len(set(keys)), "two blocks of a document end with the same command"
    assert not set(RUN) & set(NOT_RUN)
    assert set(keys) == set(RUN) | set(NOT_RUN), (
        f"not run nor excused: {sorted(set(keys) - set(RUN) - set(NOT_RUN))}; "
        f"gone from the documents: {sorted(set(RUN) | set(NOT_RUN) - set(keys))}"
    )
    for key in RUN:
        unknown = block(*key).placeholders() - set(PLACEHOLDERS)
        assert not unknown, f"{key}: no way to fill {unknown}"


def test_every_command_in_the_text_is_in_a_block_or_excused() -> None:
    shown = {line for b in shell_blocks() for line in command_lines(b)}

    def accounted(span: str) -> bool:
        return (
            span in INLINE_NOT_BLOCKS
            or span in INLINE_RUN
            or any(line == span or line.startswith(span + " ") for line in shown)
            or (" " not in span and (ROOT / span).exists())
        )

    spans = inline_commands()
    assert [f"{s.doc}:{s.line}: {s.text}" for s in spans if not accounted(s.text)] == []
    gone = (set(INLINE_NOT_BLOCKS) | set(INLINE_RUN)) - {s.text for s in spans}
    assert not gone, f"no longer in the documents: {gone}"


def run_block(reader: Reader, shown: Block) -> str:
    values = {p: PLACEHOLDERS[p](reader) for p in sorted(shown.placeholders())}
    output = reader.run(shown.filled(values))
    text = output.stdout + output.stderr
    patterns = [re.compile(p, re.MULTILINE) for p in EXPECT.get(shown.key, [])]

    def missing() -> list[str]:
        return [p.pattern for p in patterns if not p.search(text)]

    def shows_everything() -> bool:
        nonlocal text
        if not missing():
            return True
        # Its last command again, in a shell set up as the block sets it up (a reader waiting
        # for the guest to print its lease).
        setup = [line for line in shown.text.splitlines() if line.startswith((". ", "export "))]
        again = reader.run("\n".join([*setup, shown.key[1]]))
        text += again.stdout + again.stderr
        return False

    if shown.key in AGAIN_UNTIL_SHOWN:
        with contextlib.suppress(TimeoutError):
            wait_until(shows_everything, timeout=300, interval=3, what=str(shown.key))
    assert not missing(), f"{shown.doc}:{shown.line} did not show {missing()}:\n{text[-4000:]}"
    return text


@pytest.mark.vm
@pytest.mark.slow
@pytest.mark.clients
def test_the_documented_commands_work_as_written(reader: Reader) -> None:
    for key in RUN:
        shown = block(*key)
        reader.outputs[key] = run_block(reader, shown)

    for span in INLINE_RUN:
        reader.run(ADMIN + span)

    # The credential stops working with its project disabled, as docs/identity.md says.
    ci = block("docs/identity.md", "openstack server list")
    values = {p: PLACEHOLDERS[p](reader) for p in ci.placeholders()}
    refused = reader.run(ci.filled(values), check=False)
    assert refused.returncode != 0, refused.stdout
