"""gunicorn settings every ``gunicorn computecloud.wsgi`` reads from the working directory
(command-line options, as in the Procfile, still win)."""

# Signed image URLs carry a bearer signature: the access log redacts it.
logger_class = "computecloud.gunicorn_logging.RedactingLogger"
# gunicorn's default access line, then the request id the response carries: `grep req-…` finds
# the request's line here as in every other process's log.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-openstack-request-id}o)s'
)

# --- metrics from every worker process --------------------------------------------------------
# prometheus_client's multiprocess mode: each worker writes its metrics into files in one
# directory, which /metrics adds up (computecloud/metrics_web.py). The directory is this
# master's own (a fresh temporary one, or PROMETHEUS_MULTIPROC_DIR emptied), set before the
# workers are forked so that they inherit it.
_made_metrics_dir: list[str] = []


def on_starting(server: object) -> None:
    import os
    import tempfile
    from pathlib import Path

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):  # an earlier run's counts
            stale.unlink()
    else:
        made = tempfile.mkdtemp(prefix="computecloud-metrics-")
        _made_metrics_dir.append(made)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = made


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    import shutil

    for made in _made_metrics_dir:
        shutil.rmtree(made, ignore_errors=True)
