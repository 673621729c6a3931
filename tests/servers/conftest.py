from tests.cloud import cloud, cloud_processes  # noqa: F401 - fixtures
