"""Request bodies of the console APIs, as Nova's JSON schemas (remote_consoles.py) define them."""

from rest_framework import serializers

from apps.consoles import choices
from computecloud.api.serializers import StrictSerializer


class _RemoteConsoleV26(StrictSerializer):
    protocol = serializers.ChoiceField(choices=choices.PROTOCOLS_V26)
    type = serializers.ChoiceField(choices=choices.TYPES_V26)


class RemoteConsoleBodyV26(StrictSerializer):
    """POST /servers/{id}/remote-consoles, 2.6 and 2.7."""

    remote_console = _RemoteConsoleV26()


class _RemoteConsoleV28(StrictSerializer):
    protocol = serializers.ChoiceField(choices=choices.PROTOCOLS_V28)
    type = serializers.ChoiceField(choices=choices.TYPES_V28)


class RemoteConsoleBodyV28(StrictSerializer):
    """POST /servers/{id}/remote-consoles, 2.8 and later (adds mks/webmks)."""

    remote_console = _RemoteConsoleV28()


class GetVNCConsoleBody(StrictSerializer):
    """The argument of the os-getVNCConsole server action (2.1 to 2.5)."""

    type = serializers.ChoiceField(choices=choices.VNC_TYPES)
