"""``manage.py metadata_server``: run the metadata service (gunicorn, threaded workers).

Listens on METADATA_HOST:METADATA_PORT (127.0.0.1:8775, Nova's metadata API port) unless
``--host``/``--port`` say otherwise; guests reach it at http://169.254.169.254/ through
whatever forwards that address here (a proxy that signs X-Instance-ID, or NAT that keeps the
guest's source address). Stops on SIGTERM or SIGINT.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from gunicorn.app.base import BaseApplication

from apps.metadata.handler import MetadataHandler
from computecloud.conf import cc_settings


class _Gunicorn(BaseApplication):
    """gunicorn serving one WSGI application object with settings given here."""

    def __init__(self, application: MetadataHandler, options: dict[str, Any]) -> None:
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            # Settings this gunicorn does not know (older releases) are left out.
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> MetadataHandler:
        return self.application


class Command(BaseCommand):
    help = "Run the metadata service: Nova's OpenStack and EC2 metadata, for the calling instance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", help="listen address (METADATA_HOST)")
        parser.add_argument("--port", type=int, help="listen TCP port (METADATA_PORT)")
        parser.add_argument("--workers", type=int, default=2, help="worker processes")
        parser.add_argument("--threads", type=int, default=4, help="threads per worker")

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"] or cc_settings.METADATA_HOST
        port = options["port"] if options["port"] is not None else cc_settings.METADATA_PORT
        # An IPv6 address is bracketed in a bind string.
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        _Gunicorn(
            MetadataHandler(),
            {
                "bind": [bind],
                "workers": options["workers"],
                "worker_class": "gthread",
                "threads": options["threads"],
                "accesslog": "-",
                "loglevel": "debug" if options["verbosity"] >= 2 else "info",
                "proc_name": "computecloud-metadata",
                # gunicorn 25+'s control socket has one default path per user, which the web
                # process's gunicorn uses too; this one needs none.
                "control_socket_disable": True,
            },
        ).run()
