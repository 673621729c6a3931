"""The compute worker's Celery app: Django-free, database-free.

Run as ``celery -A workers.compute.app worker -Q compute.<host> --pool threads``. Its
configuration is its environment (`ComputeConfig`), its topology `computecloud.queues`.
This module owns the process: the Celery app, the hypervisor driver class (COMPUTE_DRIVER,
resolved on import, so that a worker with a bad setting refuses to start), the process's
`ComputeManager` (installed in `workers.compute.runtime`, where the tasks get it) and the
signals. The manager is given what it needs and imports none of this.
When the worker is ready it starts the host: the driver's init_host, a start-up report to
the conductor (which reconciles this host's instances), then a heartbeat thread and the
image cache's periodic clean-up thread.
"""

import logging
import threading
from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
    worker_ready,
    worker_shutdown,
)

from computecloud import broker, metrics, queues, request_ids
from computecloud.logs import make_single_line
from workers.compute import runtime
from workers.compute.config import ComputeConfig, load_driver_class
from workers.compute.manager import ComputeManager
from workers.network.agent import NetworkAgent
from workers.storage.agent import StorageAgent
from workers.storage.exceptions import StorageError

logger = logging.getLogger(__name__)

try:
    config = ComputeConfig.from_env()
    driver_class = load_driver_class(config.compute_driver)
    # The volume pool must work here (a directory QEMU reaches, or LVM with device-mapper
    # and its thin pool), else the worker says what is missing and does not start.
    storage = StorageAgent(config.storage)
    storage.check()
except (RuntimeError, ValueError, StorageError) as exc:
    # One line saying what is wrong instead of Celery's "Unable to load celery application"
    # with a traceback and a usage hint: the worker exits before it takes any task.
    raise SystemExit(f"compute worker refuses to start: {exc}") from exc

app = Celery("computecloud-compute")
app.conf.update(queues.COMMON_CONFIG)
app.conf.update(
    broker_url=config.broker_url,
    result_backend=config.broker_url,
    # Results only for the few calls someone waits on (console output).
    task_ignore_result=True,
    result_expires=300,
    # TLS for a rediss:// broker (computecloud/broker.py); nothing for redis://.
    **broker.celery_config(
        broker_url=config.broker_url, result_backend=config.broker_url, tls=config.redis_tls
    ),
)
# Before the tasks load: they ask workers.compute.runtime for the manager built here.
runtime.install(
    lambda: ComputeManager(
        config, driver_class(config), app, NetworkAgent(config.network), storage=storage
    )
)
app.autodiscover_tasks(["workers.compute"], force=True)

_stop = threading.Event()


@after_setup_logger.connect
@after_setup_task_logger.connect
def _single_line_logs(logger: logging.Logger, **_: Any) -> None:
    make_single_line(logger)
    request_ids.show_in(logger)


# While a task runs, its request id is in the context: its log lines and the messages it
# publishes carry it (computecloud/request_ids.py).
task_prerun.connect(request_ids.bind_task, weak=False, dispatch_uid="request-id-bind")
task_postrun.connect(request_ids.unbind_task, weak=False, dispatch_uid="request-id-unbind")
task_prerun.connect(metrics.task_started, weak=False, dispatch_uid="task-timer-start")
task_postrun.connect(metrics.task_finished, weak=False, dispatch_uid="task-timer-stop")


@worker_ready.connect
def _start_host(**kwargs: Any) -> None:
    metrics.serve_from_env()  # task durations on METRICS_PORT, if set (off by default)
    manager = runtime.get_manager()
    manager.init_host()
    for target, name in (
        (manager.heartbeat_loop, "heartbeat"),
        (manager.image_cache_loop, "image-cache"),
    ):
        threading.Thread(target=target, args=(_stop,), name=name, daemon=True).start()


@worker_shutdown.connect
def _stop_host(**kwargs: Any) -> None:
    _stop.set()
