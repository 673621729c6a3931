"""Server errors, each with Nova's status code and message."""

from computecloud.exceptions import Conflict, InvalidInput, NotFound


class ServerNotFound(NotFound):
    msg_fmt = "Instance %(uuid)s could not be found."


class ServerLocked(Conflict):
    msg_fmt = "Instance %(uuid)s is locked"


class ServerGroupNotFound(NotFound):
    msg_fmt = "Instance group %(group_uuid)s could not be found."


class UnsupportedRequest(InvalidInput):
    msg_fmt = "%(reason)s"
