"""Key pair errors, each with its HTTP code and Nova's message."""

from computecloud.exceptions import Conflict, NotFound


class KeypairNotFound(NotFound):
    msg_fmt = "Keypair %(name)s not found for user %(user_id)s"


class KeyPairExists(Conflict):
    msg_fmt = "Key pair '%(key_name)s' already exists."


class KeypairUserNotFound(NotFound):
    msg_fmt = "User %(user_id)s could not be found."
