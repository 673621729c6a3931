"""What /metrics reads of the fleet when it is scraped (registered in `HostsConfig.ready`):
each service up or down, by the heartbeat rule the API and the scheduler use, and the messages
waiting in each Celery queue (the conductor's, the scheduler's, each known compute host's)."""

import logging
from collections.abc import Iterator
from functools import cache

import redis
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from apps.hosts.choices import COMPUTE_BINARY
from apps.hosts.models import Service
from computecloud import broker
from computecloud.queues import CONDUCTOR_QUEUE, SCHEDULER_QUEUE, compute_queue

logger = logging.getLogger(__name__)

# kombu's Redis transport keeps a queue's messages of priority p > 0 in "<queue>\x06\x16<p>".
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


@cache
def _redis(url: str) -> redis.Redis:
    options = broker.ssl_options(url, settings.REDIS_TLS) or {}
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, **options)


class QueueDepthCollector(Collector):
    """``computecloud_queue_depth{queue}``: messages waiting in each queue (the conductor's,
    the scheduler's, each known compute host's), read from Redis at scrape time."""

    def collect(self) -> Iterator[Metric]:
        hosts = Service.objects.filter(binary=COMPUTE_BINARY).values_list("host", flat=True)
        queues = [CONDUCTOR_QUEUE, SCHEDULER_QUEUE, *(compute_queue(h) for h in hosts)]
        reachable = GaugeMetricFamily(
            "computecloud_broker_up", "Whether the web process could read the broker (Redis)"
        )
        depth = GaugeMetricFamily(
            "computecloud_queue_depth", "Messages waiting in each Celery queue", labels=["queue"]
        )
        try:
            pipe = _redis(settings.CELERY_BROKER_URL).pipeline(transaction=False)
            for queue in queues:
                for suffix in _PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        except redis.RedisError as exc:
            logger.warning("metrics: the broker could not be read: %s", exc)
            reachable.add_metric([], 0)
            yield reachable
            return
        reachable.add_metric([], 1)
        yield reachable
        step = len(_PRIORITY_SUFFIXES)
        for index, queue in enumerate(queues):
            depth.add_metric([queue], sum(lengths[index * step : (index + 1) * step]))
        yield depth


class ServiceCollector(Collector):
    """``computecloud_service_up{binary,host,disabled}``: 1 while the service's last heartbeat
    is within SERVICE_DOWN_TIME (the rule the API and the scheduler use), else 0."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "computecloud_service_up",
            "Whether each service (conductor, compute host, ...) sends heartbeats in time",
            labels=["binary", "host", "disabled"],
        )
        for service in Service.objects.all():
            disabled = "true" if service.disabled else "false"
            up.add_metric([service.binary, service.host, disabled], 1 if service.is_up else 0)
        yield up
