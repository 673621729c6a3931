"""Errors of the network agent: what its callers (the compute worker) catch."""


class NetworkAgentError(Exception):
    """The kernel refused or a tool failed; the message says which and on what."""


class CommandFailed(NetworkAgentError):
    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"{' '.join(argv)} exited {returncode}: {stderr.strip()}")
