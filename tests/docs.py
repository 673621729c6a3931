"""The commands README.md and docs/ show: their shell blocks (```sh fences), read as written.

A block is known by its document and its last command line (its comment left out), which
stays put when text around it moves and tells the blocks of one document apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.harness import ROOT

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
PLACEHOLDER = re.compile(r"<[A-Za-z][\w ]*>")
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
                text=match.group("body"),
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
