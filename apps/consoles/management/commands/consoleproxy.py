"""``manage.py consoleproxy``: run the noVNC console proxy (apps/consoles/proxy.py).

Every option defaults to its COMPUTECLOUD setting (computecloud/conf.py); an option given
here wins. Stops on SIGTERM or SIGINT.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.consoles.proxy import ProxyConfig, serve


class Command(BaseCommand):
    help = (
        "Run the console proxy: noVNC's page and files, and websockets to instances' VNC "
        "servers for valid console tokens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", help="listen address (CONSOLE_PROXY_HOST)")
        parser.add_argument("--port", type=int, help="listen TCP port (CONSOLE_PROXY_PORT)")
        parser.add_argument("--web", help="directory of noVNC's files (NOVNC_PATH)")
        parser.add_argument("--cert", help="TLS certificate, PEM (CONSOLE_PROXY_CERT)")
        parser.add_argument("--key", help="TLS private key, PEM (CONSOLE_PROXY_KEY)")
        parser.add_argument(
            "--ssl-only",
            action="store_true",
            default=None,
            help="refuse connections without TLS (CONSOLE_PROXY_SSL_ONLY)",
        )
        parser.add_argument(
            "--allowed-origin",
            action="append",
            default=[],
            metavar="HOST[:PORT]",
            help="also accept websockets from pages of this origin (repeatable; added to "
            "CONSOLE_ALLOWED_ORIGINS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = ProxyConfig.from_settings()
        for name in ("host", "port", "web", "cert", "key", "ssl_only"):
            if options[name] is not None:
                setattr(config, name, options[name])
        config.allowed_origins = [*config.allowed_origins, *options["allowed_origin"]]
        config.verbose = options["verbosity"] >= 2
        try:
            serve(config)
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
