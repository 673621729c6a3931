"""The control plane's Celery app: conductor and scheduler workers, and beat.

Compute workers use `workers.compute.app` instead (no Django, no database credentials);
both take their topology from `computecloud.queues`.
"""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger, task_postrun, task_prerun

from computecloud import queues
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


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(sender: Any = None, **_: Any) -> None:
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return  # run in the caller's thread (and maybe its transaction): not ours to touch
    from django.db import close_old_connections

    close_old_connections()
