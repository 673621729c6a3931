"""Fixtures of the network agent's tests: a real kernel, each test with its own prefix (so its
own names), state directory and address ranges, everything removed at the end even on
failure."""

import hashlib
import hmac
import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workers.network.kit import UDHCPC_SCRIPT, Lab
from workers.network.agent import NetworkAgent
from workers.network.config import NetworkAgentConfig

SECRET = "metadata-test-secret"


@pytest.fixture
def udhcpc_script(tmp_path: Path) -> Path:
    script = tmp_path / "udhcpc.script"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    return script


class MetadataService:
    """Plays the metadata service: records each request's path and headers, answers 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service.requests.append({"path": self.path, "headers": dict(self.headers)})
                body = f"metadata for {self.headers.get('X-Instance-ID')}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def signature(instance_id: str) -> str:
        return hmac.new(SECRET.encode(), instance_id.encode(), hashlib.sha256).hexdigest()

    def shutdown(self) -> None:
        self.server.shutdown()

    def server_close(self) -> None:
        self.server.server_close()


@pytest.fixture
def lab_factory() -> Iterator[Callable[..., tuple[Lab, NetworkAgent]]]:
    """make(prefix, **config) -> (lab, agent). Prefixes are per test: nothing else uses them."""
    made: list[tuple[Lab, Path]] = []

    def make(prefix: str, **config: Any) -> tuple[Lab, NetworkAgent]:
        state_dir = Path(f"/run/{prefix}-network-test")
        lab = Lab(prefix, config.get("host_netns"))
        made.append((lab, state_dir))
        lab.cleanup(state_dir)  # leftovers of an interrupted run
        settings = {"tunnel_ip": "127.0.0.1", "metadata_shared_secret": SECRET, **config}
        agent = NetworkAgent(NetworkAgentConfig(prefix=prefix, state_dir=state_dir, **settings))
        return lab, agent

    yield make
    for lab, state_dir in reversed(made):
        lab.cleanup(state_dir)


@pytest.fixture
def metadata_service() -> Iterator[MetadataService]:
    service = MetadataService()
    yield service
    service.shutdown()
    service.server_close()
