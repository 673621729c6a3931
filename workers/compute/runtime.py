"""The worker process's one `ComputeManager`, for the tasks.

app.py, which owns the Celery app, the configuration and the driver choice, installs how to
build it; the tasks ask for it with `get_manager`. A module of its own so that neither the
tasks nor the manager import app.py (which loads the tasks: that was an import loop).
"""

import threading
from collections.abc import Callable

from workers.compute.manager import ComputeManager

_factory: Callable[[], ComputeManager] | None = None
_manager: ComputeManager | None = None
_lock = threading.Lock()


def install(factory: Callable[[], ComputeManager]) -> None:
    """How this process builds its manager (app.py, on import)."""
    global _factory
    _factory = factory


def get_manager() -> ComputeManager:
    """The process's manager (one driver connection per worker process), built on first use."""
    global _manager
    with _lock:
        if _manager is None:
            if _factory is None:
                raise RuntimeError("no compute manager installed: run workers.compute.app")
            _manager = _factory()
        return _manager
