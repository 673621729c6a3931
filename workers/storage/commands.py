"""Running the storage commands (qemu-img, lvm): one place for timeouts and error text.

Every command has a timeout (a stuck device cannot hang a worker for ever) and a failure
becomes a `StorageError` carrying the command's own message.
"""

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from workers.storage.exceptions import StorageError

logger = logging.getLogger(__name__)

# Writing a multi-GiB image on a busy host takes minutes.
DEFAULT_TIMEOUT_S = 3600
GiB = 1024**3


# qemu-img parses images whose contents guests wrote: it runs under an address-space and CPU
# bound (prlimit, util-linux; applied without a preexec_fn, the worker has threads).
QEMU_IMG_LIMITS = (4 * 1024**3, DEFAULT_TIMEOUT_S)
PRLIMIT = shutil.which("prlimit")


def run(*cmd: str, timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """Run `cmd` and return its standard output; StorageError if it fails or overruns."""
    argv = list(cmd)
    if cmd[0] == "qemu-img" and PRLIMIT is not None:
        address_space, cpu_seconds = QEMU_IMG_LIMITS
        argv = [PRLIMIT, f"--as={address_space}", f"--cpu={cpu_seconds}", *argv]
    try:
        done = subprocess.run(  # noqa: S603 -- fixed programs, arguments built here
            argv, check=True, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or exc.stdout or "").strip() or f"exit status {exc.returncode}"
        raise StorageError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''}: {reason}") from exc
    except (subprocess.TimeoutExpired, OSError) as exc:
        raise StorageError(f"{cmd[0]}: {exc}") from exc
    return done.stdout


def image_info(path: Path | str, *, fmt: str) -> dict[str, Any]:
    """``qemu-img info`` of an image in format `fmt` (never probed); ``-U`` because a
    volume may be attached to a running guest, which holds QEMU's lock on it."""
    out = run("qemu-img", "info", "--output=json", "-U", "-f", fmt, str(path), timeout=120)
    data: dict[str, Any] = json.loads(out)
    return data


def virtual_size(path: Path | str, *, fmt: str) -> int:
    return int(image_info(path, fmt=fmt)["virtual-size"])
