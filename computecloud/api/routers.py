"""The router every API uses.

OpenStack paths have no trailing slash (one is accepted too), and a collection may be replaced
or emptied as a whole (``PUT``/``DELETE`` on ``/servers/{id}/tags`` or ``/metadata``): a
viewset that defines ``replace_all`` or ``delete_all`` gets those methods on its list route.
"""

from rest_framework.routers import Route, SimpleRouter


class OpenStackRouter(SimpleRouter):
    routes = [
        Route(
            url=r"^{prefix}{trailing_slash}$",
            mapping={
                "get": "list",
                "post": "create",
                "put": "replace_all",
                "delete": "delete_all",
            },
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        *SimpleRouter.routes[1:],
    ]

    def __init__(self) -> None:
        super().__init__()
        # SimpleRouter's argument is a flag; the attribute is the regex suffix itself.
        self.trailing_slash = "/?"
