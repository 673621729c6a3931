"""What the other services give up when a project is deleted.

Keystone deletes a project whatever Nova or Neutron still hold for it. Here every resource
points at its project with a PROTECT foreign key, so the services above identity register a
releaser: a function that removes what is only history or their own bookkeeping (deleted
servers' rows, the network service's automatic ``default`` security group) inside the
project's delete transaction. What they leave (live resources) still protects the project,
and `services.delete_project` answers 409 naming it. Identity is the bottom layer and
imports none of them: each registers itself in its AppConfig.ready.
"""

from collections.abc import Callable

from apps.identity.models import Project

Releaser = Callable[[Project], None]

_releasers: dict[str, Releaser] = {}


def register(name: str, releaser: Releaser) -> None:
    """Add (or replace, on a second ready()) the releaser called `name`."""
    _releasers[name] = releaser


def release(project: Project) -> None:
    """Run every releaser for `project`; the caller holds the delete's transaction."""
    for releaser in _releasers.values():
        releaser(project)
