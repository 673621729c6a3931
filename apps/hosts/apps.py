from django.apps import AppConfig


class HostsConfig(AppConfig):
    name = "apps.hosts"
    label = "hosts"

    def ready(self) -> None:
        from apps.hosts.metrics import QueueDepthCollector, ServiceCollector
        from computecloud.metrics_web import SCRAPE_TIME_COLLECTORS

        # /metrics reads the fleet's state when it is scraped (apps/hosts/metrics.py).
        SCRAPE_TIME_COLLECTORS[:] = [QueueDepthCollector(), ServiceCollector()]
