"""gunicorn's logger with signed URLs redacted from the access log (see
computecloud/redaction.py); named by gunicorn.conf.py."""

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from computecloud.redaction import redact_signatures


class RedactingLogger(Logger):
    """Access log atoms (request line, query string, headers, environ) without signatures."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact_signatures(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }
