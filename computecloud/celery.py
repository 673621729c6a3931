"""The control plane's Celery app: conductor and scheduler workers, and beat.

Compute workers use `workers.compute.app` instead (no Django, no database credentials);
both take their topology from `computecloud.queues`.
"""

import os

from celery import Celery

from computecloud import queues

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "computecloud.settings")

app = Celery("computecloud")
app.conf.update(queues.COMMON_CONFIG)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["apps.conductor", "apps.scheduler", "apps.consoles", "apps.identity"])
