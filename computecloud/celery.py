"""The control plane's Celery app: conductor and scheduler workers, and beat.

Compute workers use `workers.compute.app` instead (no Django, no database credentials);
both take their topology from `computecloud.queues`.
"""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
    worker_ready,
)

from computecloud import metrics, queues, request_ids
from computecloud.logs import make_single_line

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "computecloud.settings")

app = Celery("computecloud")
app.conf.update(queues.COMMON_CONFIG)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["apps.conductor", "apps.placement", "apps.consoles", "apps.identity"])

# Celery's Django fix-up closes every database connection before and after each task unless
# this is set: a new PostgreSQL session, authentication included, for every task. With it set
# out of reach, workers keep their connections as Django does between requests instead
# (CONN_MAX_AGE, health checks, a connection left broken by an error is replaced).
app.conf.CELERY_DB_REUSE_MAX = 2**62


@after_setup_logger.connect
@after_setup_task_logger.connect
def _single_line_logs(logger: logging.Logger, **_: Any) -> None:
    make_single_line(logger)


# While a task runs, its request id is in the context: its log lines and the messages it
# publishes carry it (computecloud/request_ids.py).
task_prerun.connect(request_ids.bind_task, weak=False, dispatch_uid="request-id-bind")
task_postrun.connect(request_ids.unbind_task, weak=False, dispatch_uid="request-id-unbind")
task_prerun.connect(metrics.task_started, weak=False, dispatch_uid="task-timer-start")
task_postrun.connect(metrics.task_finished, weak=False, dispatch_uid="task-timer-stop")


@worker_ready.connect
def _serve_metrics(**_: Any) -> None:
    """The conductor's metrics on its own port (METRICS_PORT; off by default)."""
    metrics.serve_from_env()


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(sender: Any = None, **_: Any) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run in the caller's thread (and maybe its transaction): not ours to touch
    from django.db import close_old_connections

    close_old_connections()
