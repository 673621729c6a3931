"""The router every API uses: OpenStack paths have no trailing slash, but accept one."""

from rest_framework.routers import SimpleRouter


class OpenStackRouter(SimpleRouter):
    def __init__(self) -> None:
        super().__init__()
        # SimpleRouter's argument is a flag; the attribute is the regex suffix itself.
        self.trailing_slash = "/?"
