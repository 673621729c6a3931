"""computecloud: an OpenStack-Compute-compatible fabric controller.

The control-plane Celery app is `computecloud.celery.app` (``celery -A computecloud``); it is
not imported here, so that the compute workers can use `computecloud.queues` without Django.
"""
