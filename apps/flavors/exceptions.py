"""Flavor errors, each with its HTTP code and Nova's message."""

from computecloud.exceptions import Conflict, NotFound


class FlavorNotFound(NotFound):
    msg_fmt = "Flavor %(flavor_id)s could not be found."


class FlavorExists(Conflict):
    msg_fmt = "Flavor with %(what)s %(value)s already exists."
