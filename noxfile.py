"""The test suite on every Python the package supports: `make matrix`, or `nox -s tests-3.13`.

Each session installs the package with the extras the Makefile installs (read from its install
line, so the two cannot drift apart) less the tooling-only ones, then runs pytest as `make test`
does. Lint, type checks and docs do not depend on the interpreter: `make test` runs them once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
# Extras for working on the project, not for running its tests.
TOOLING_EXTRAS = {"docs", "dev"}
ROOT = Path(__file__).parent

# CPython 3.13 (3.13.0 here; gh-109564): when server-side socket transports left unclosed are
# collected after their server closed, the second one's __del__ raises TypeError (it detaches
# from the server, whose Server._wakeup then runs twice). Seen in the simulator's fault tests;
# on 3.11 and 3.12 the same transports only warn (ResourceWarning, ignored). The suite turns
# unraisable exceptions into failures, so on 3.13 this one is let by. A filter's fields are
# split on ":", hence the regex escape for the colon of the message.
CPYTHON_3_13_SERVER_WAKEUP = (
    r"ignore:Exception ignored in\x3a <function _SelectorTransport\.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True


def extras_for_tests() -> str:
    """The extras of the Makefile's `pip install -e '.[...]'`, less the tooling ones."""
    install = re.search(r"pip install .*-e '\.\[([^\]]+)\]'", (ROOT / "Makefile").read_text())
    if install is None:
        raise RuntimeError("no `pip install -e '.[...]'` line in the Makefile")
    extras = [e.strip() for e in install.group(1).split(",")]
    return ",".join(e for e in extras if e not in TOOLING_EXTRAS)


def pytest_filterwarnings() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        ini = tomllib.load(f)["tool"]["pytest"]["ini_options"]
    return list(ini.get("filterwarnings", []))


def select_pyenv_versions() -> None:
    """Make pyenv's shims answer `python3.X` for every version of the matrix.

    Where pyenv manages the interpreters, `python3.12` on PATH is a shim that fails unless
    PYENV_VERSION (or a .python-version file) selects a 3.12; nox finds interpreters by those
    names, so select the newest installed release of each.
    """
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return
    installed = subprocess.run(
        [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    chosen = []
    for python in PYTHONS:
        releases = [v for v in installed if re.fullmatch(rf"{re.escape(python)}\.\d+", v)]
        if releases:
            chosen.append(max(releases, key=lambda v: int(v.rsplit(".", 1)[1])))
    already = [v for v in os.environ.get("PYENV_VERSION", "").split(":") if v]
    os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys(already + chosen))


select_pyenv_versions()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """pytest on one Python; arguments after `--` go to pytest (e.g. `-m "not packaging"`)."""
    session.install("--quiet", "-e", f".[{extras_for_tests()}]")
    version = session.run("python", "-c", "import sys; print(*sys.version_info[:3])", silent=True)
    known_bugs = []
    if isinstance(version, str) and version.split()[:2] == ["3", "13"]:
        # Added to pyproject's filters, not in place of them (-W cannot hold the colon).
        filters = [*pytest_filterwarnings(), CPYTHON_3_13_SERVER_WAKEUP]
        known_bugs = ["-o", "filterwarnings=" + "\n".join(filters)]
    session.run("python", "-m", "pytest", "-q", *known_bugs, *session.posargs)
