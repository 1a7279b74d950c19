"""Running a command's `main` in-process, and what a usage error must look like."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


def run_main(
    main: Callable[[Sequence[str]], int], capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `main(argv)`, argparse's own exit included."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(
    result: tuple[int, str, str], prog: str, message: str, untouched: Path
) -> None:
    """Exit 2, nothing on stdout, one `prog: error:` line naming `message`, nothing written."""
    code, out, err = result
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error:"), err
    assert message in err
    assert list(untouched.iterdir()) == []  # nothing written, no temp dir
