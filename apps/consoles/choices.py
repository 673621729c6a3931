"""Console protocols and types: what the API accepts per microversion, and what we serve.

Nova's request schemas (os-remote-consoles) accept more than a given cloud serves; a type the
schema accepts but this cloud does not serve is a 400 "Unavailable console type", as Nova
answers for a console kind its compute hosts have disabled.
"""

from apps.servers.choices import TaskState, VmState

# POST /servers/{id}/remote-consoles, from 2.6 (Nova's create_v26 schema).
PROTOCOLS_V26 = ("vnc", "spice", "serial")
TYPES_V26 = ("novnc", "xvpvnc", "spice-html5", "serial")
# 2.8 adds VMware's MKS console.
PROTOCOLS_V28 = (*PROTOCOLS_V26, "mks")
TYPES_V28 = (*TYPES_V26, "webmks")

# The legacy os-getVNCConsole action (2.1 to 2.5).
VNC_TYPES = ("novnc", "xvpvnc")

# protocol → the types that belong to it (a pair outside this is "Invalid console type").
TYPES_BY_PROTOCOL = {
    "vnc": frozenset({"novnc", "xvpvnc"}),
    "spice": frozenset({"spice-html5"}),
    "serial": frozenset({"serial"}),
    "mks": frozenset({"webmks"}),
}

# What this cloud serves: noVNC through `manage.py consoleproxy`.
SERVED = frozenset({("vnc", "novnc")})

# The page the proxy serves for a noVNC console; the URL keeps Nova's default page name
# (novncproxy_base_url = http://host:6080/vnc_lite.html) so consoles URLs look as in Nova.
NOVNC_PAGE = "vnc_lite.html"

# A console is handed out while the guest runs (its VNC server exists), and not while it
# moves between hosts or goes away (the address is about to change). Reboots are allowed:
# watching a guest reboot is what a console is for. Nova rejects only deleting/migrating.
CONSOLE_VM_STATES = frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.RESCUED})
CONSOLE_REJECTED_TASK_STATES = frozenset(
    {
        TaskState.DELETING,
        TaskState.MIGRATING,
        TaskState.RESIZE_MIGRATING,
        TaskState.RESIZE_MIGRATED,
        TaskState.RESIZE_FINISH,
    }
)
