"""The daemons the agent starts (dnsmasq, metadata proxies): are they running, as asked?

A daemon is known by its pid file and checked against /proc/<pid>/cmdline, so a stale pid
file (after a reboot, or a reused pid) is never mistaken for a live daemon of ours.
"""

import os
import signal
import time
from pathlib import Path

STOP_DEADLINE = 10.0


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def cmdline(pid: int) -> list[str] | None:
    """The process's arguments; None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The state follows the parenthesised command name, which may hold spaces.
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return raw.decode(errors="replace").split("\0")[:-1] if raw else None


def running(pid_file: Path, argv: list[str]) -> int | None:
    """The pid of the daemon started with exactly `argv` (the program may be given by a
    path), if it runs."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    actual = cmdline(pid)
    if not actual or actual[1:] != argv[1:]:
        return None
    return pid if os.path.basename(actual[0]) == os.path.basename(argv[0]) else None


def ours(pid_file: Path) -> int | None:
    """The pid in `pid_file` when that process names the pid file in its arguments (whatever
    else they say): the daemon we started, perhaps with an older configuration."""
    pid = read_pid(pid_file)
    if pid is None:
        return None
    actual = cmdline(pid)
    if actual and any(str(pid_file) in arg for arg in actual):
        return pid
    return None


def stop(pid_file: Path) -> bool:
    """Stops our daemon of `pid_file` (TERM, then KILL at the deadline); True if one ran."""
    pid = ours(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_DEADLINE
    while cmdline(pid) is not None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_DEADLINE
        time.sleep(0.02)
    pid_file.unlink(missing_ok=True)
    return True
