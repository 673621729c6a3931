"""The commands README.md and docs/ show: their shell blocks (```sh fences), read as written.

A block is known by its document and its last command line (its comment left out), which
stays put when text around it moves and tells the blocks of one document apart.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.harness import ROOT

# A fence at the start of a line, or indented under a list item (its body then dedented).
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```$", re.MULTILINE | re.DOTALL
)
PLACEHOLDER = re.compile(r"<[A-Za-z][\w -]*>")
COMMENT = re.compile(r"(?:^|\s)#")


@dataclass(frozen=True)
class Block:
    doc: str  # relative to the checkout
    line: int  # the opening fence's line
    text: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.doc, last_command(self.text))

    def filled(self, values: dict[str, str]) -> str:
        """The block with each placeholder of `values` (`<ID>`) replaced by its value."""
        text = self.text
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    def placeholders(self) -> set[str]:
        """The <...> placeholders in the commands (comments, which bash skips, left out)."""
        return {p for line in self.text.splitlines() for p in PLACEHOLDER.findall(command(line))}


def command(line: str) -> str:
    """A line without its comment (a `#` after white space, as bash reads it outside quotes)."""
    return COMMENT.split(line, maxsplit=1)[0].rstrip()


def last_command(text: str) -> str:
    return next(
        (command(line).strip() for line in reversed(text.splitlines()) if command(line)), ""
    )


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def shell_blocks() -> list[Block]:
    blocks = []
    for path in documents():
        text = path.read_text()
        blocks += [
            Block(
                doc=str(path.relative_to(ROOT)),
                line=text.count("\n", 0, match.start()) + 1,
                text=textwrap.dedent(match.group("body")),
            )
            for match in FENCE.finditer(text)
            if match.group("lang") in ("sh", "bash", "shell", "console")
        ]
    return blocks


def block(doc: str, last: str) -> Block:
    """The one shell block of `doc` whose last command is `last`."""
    found = [b for b in shell_blocks() if b.key == (doc, last)]
    assert len(found) == 1, f"{doc}: {len(found)} shell blocks end with {last!r}"
    return found[0]


# An inline code span that starts like a command line (a program of ours or of the system).
INLINE = re.compile(r"`([^`]+)`")
COMMAND_START = re.compile(
    r"^(\. |\.venv/|scripts/|tools/|bench/|manage\.py |make |openstack |celery |gunicorn |"
    r"redis-cli|REDISCLI_AUTH=|curl |ip |nft |bridge |conntrack|ping |npm |grep |promtool |"
    r"DJANGO_SETTINGS_MODULE=)"
)


@dataclass(frozen=True)
class Inline:
    doc: str
    line: int
    text: str  # white space runs made one space (a span may wrap)


def inline_commands() -> list[Inline]:
    """Inline code spans outside the fenced blocks that start like a command."""
    found = []
    for path in documents():
        text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text())
        for match in INLINE.finditer(text):
            span = " ".join(match.group(1).split())
            if COMMAND_START.match(span):
                found.append(
                    Inline(
                        doc=str(path.relative_to(ROOT)),
                        line=text.count("\n", 0, match.start()) + 1,
                        text=span,
                    )
                )
    return found


def command_lines(shown: Block) -> list[str]:
    """The block's commands, continuation lines joined, comments left out."""
    joined = re.sub(r"\\\n\s*", "", shown.text)
    return [" ".join(command(line).split()) for line in joined.splitlines() if command(line)]
