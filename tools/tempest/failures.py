"""Print each failed test of a subunit stream with the last line of its traceback.

    var/tempest-venv/bin/python tools/tempest/failures.py var/tempest/results/latest/results.subunit

With a second argument, the whole traceback of each failed test whose id contains it.
Runs in Tempest's virtualenv (it needs python-subunit and testtools, which Tempest installs).
"""

import sys

import subunit
import testtools


class _Failures(testtools.StreamResult):
    def __init__(self) -> None:
        super().__init__()
        self.details: dict[str, list[str]] = {}
        self.failed: list[str] = []

    def status(self, test_id=None, test_status=None, file_name=None, file_bytes=None, **kw):
        if test_id is None:
            return
        if file_name == "traceback" and file_bytes:
            self.details.setdefault(test_id, []).append(bytes(file_bytes).decode(errors="replace"))
        if test_status == "fail":
            self.failed.append(test_id)


def _reason(traceback: str) -> str:
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if not lines[index].startswith((" ", "\t")) and ":" in lines[index]:
            return " | ".join(lines[index : index + 3])[:400]
    return (lines[-1] if lines else "")[:400]


def main(path: str, pattern: str | None = None) -> None:
    result = _Failures()
    with open(path, "rb") as stream:
        subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout").run(result)
    for test_id in result.failed:
        if pattern is not None:  # the whole traceback of the tests whose id contains it
            if pattern in test_id:
                print(test_id, "".join(result.details.get(test_id, [])), sep="\n")
            continue
        reason = _reason("".join(result.details.get(test_id, [])))
        print(f"{test_id}\n    {reason}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
