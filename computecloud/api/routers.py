"""The router every API uses: OpenStack paths have no trailing slash, but accept one."""

from rest_framework.routers import SimpleRouter


class OpenStackRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__(trailing_slash="/?")
