"""The release: `python -m build` makes an sdist and a wheel that install in a clean virtualenv
(no test or dev tools in it) and work there: the version, the `weavr-async` command, and one call
through `BackOffice` to the simulator they ship.

Built from a copy of the working tree, so the tree gets no `build/` or `*.egg-info` of its own.
Selected with `-m packaging` (or left out with `-m "not packaging"`); `make test` runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import attrs
import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
# What never belongs in a build: VCS data, virtualenvs, caches, earlier builds, the docs site.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".nox",
    "node_modules",
    "site",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
)

SMOKE = """
import asyncio

from weavr_async import RateBudget, BackOffice, Identity
from weavr_async.testing import FakeBackOffice


async def main() -> None:
    async with FakeBackOffice(seed=3) as fake:
        corporate = fake.add_identity("CORPORATE")
        account = fake.add_managed_account(corporate, currency="GBP", history=20)
        async with BackOffice(fake.api_key, base_url=fake.url, budget=RateBudget.unlimited()) as bo:
            acme = bo.identity(Identity.corporate(corporate.id))
            got = await acme.managed_accounts.get(account.id)
            entries = await acme.managed_accounts.statement(account.id).collect()
    assert (got.id, got.currency, len(entries)) == (account.id, "GBP", 20), (got, len(entries))
    try:  # strict mode's checks are an extra, and say so
        FakeBackOffice(strict=True)
    except ImportError as exc:
        assert "pip install 'weavr-async[strict]'" in str(exc), exc
    else:
        raise AssertionError("strict mode ran without the strict extra")
    print("smoke ok", got.id)


asyncio.run(main())
"""


@attrs.frozen
class Dists:
    sdist: Path
    wheel: Path
    source: Path


def run(*args: str | Path, cwd: Path) -> str:
    """Run a command outside the repository, with no PYTHONPATH leaking our tree in; stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as f:
        version: str = tomllib.load(f)["project"]["version"]
    return version


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    work = tmp_path_factory.mktemp("release")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    run(sys.executable, "-m", "build", "--outdir", work / "dist", source, cwd=work)
    (sdist,) = (work / "dist").glob("*.tar.gz")
    (wheel,) = (work / "dist").glob("*.whl")
    return Dists(sdist=sdist, wheel=wheel, source=source)


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with nothing but pip: the user's machine, not ours."""
    path = tmp_path_factory.mktemp("venv") / "v"
    venv.create(path, with_pip=True, symlinks=True)
    return path / "bin" / "python"


def test_the_wheel_holds_the_whole_package_and_its_type_marker(dists: Dists) -> None:
    names = set(zipfile.ZipFile(dists.wheel).namelist())
    package = {
        p.relative_to(dists.source).as_posix()
        for p in (dists.source / "weavr_async").rglob("*")
        if p.is_file() and p.suffix in (".py", ".typed", ".yaml")
    }
    assert "weavr_async/py.typed" in package
    assert "weavr_async/testing/contract/backoffice.openapi.yaml" in package
    assert package <= names, f"missing from the wheel: {sorted(package - names)}"
    outside = {n for n in names if not n.startswith(("weavr_async/", "weavr_async-"))}
    assert not outside, f"the wheel installs more than the package: {sorted(outside)}"
    metadata = zipfile.ZipFile(dists.wheel).read(
        f"weavr_async-{project_version()}.dist-info/METADATA"
    )
    assert b"License-Expression: MIT" in metadata
    assert b"Classifier: Programming Language :: Python :: 3.13" in metadata


def test_the_sdist_holds_what_it_takes_to_rebuild_and_test(dists: Dists) -> None:
    with tarfile.open(dists.sdist) as tar:
        top = f"weavr_async-{project_version()}/"
        names = {n.removeprefix(top) for n in tar.getnames()}
    for needed in (
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "pyproject.toml",
        "weavr_async/__init__.py",
        "weavr_async/py.typed",
        "tests/conftest.py",
        "spec/refresh_spec.py",
        "weavr_async/testing/contract/backoffice.openapi.yaml",
    ):
        assert needed in names, f"{needed} missing from the sdist"
    assert not [n for n in names if "__pycache__" in n or n.startswith(".git/")]


def smoke(python: Path, cwd: Path) -> None:
    """The installed package answers for itself: version, command line, one real call."""
    version = run(python, "-c", "import weavr_async; print(weavr_async.__version__)", cwd=cwd)
    assert version.strip() == project_version()
    where = run(python, "-c", "import weavr_async; print(weavr_async.__file__)", cwd=cwd)
    assert Path(where.strip()).is_relative_to(python.parent.parent), where
    usage = run(python.parent / "weavr-async", "--help", cwd=cwd)
    assert all(command in usage for command in ("demo", "statement", "simulate")), usage
    assert "smoke ok" in run(python, "-c", SMOKE, cwd=cwd)


def test_the_wheel_installs_in_a_clean_venv_and_works(
    dists: Dists, clean_venv: Path, tmp_path: Path
) -> None:
    run(clean_venv, "-m", "pip", "install", "--quiet", dists.wheel, cwd=tmp_path)
    installed = run(clean_venv, "-m", "pip", "list", "--format=freeze", cwd=tmp_path).lower()
    assert "pytest" not in installed
    assert "mypy" not in installed
    smoke(clean_venv, tmp_path)


def test_the_sdist_installs_in_a_clean_venv_and_works(
    dists: Dists, clean_venv: Path, tmp_path: Path
) -> None:
    # After the wheel's test the runtime dependencies are in place and only the package is
    # replaced; alone, this installs them too (uninstalling what is absent is not an error).
    run(clean_venv, "-m", "pip", "uninstall", "--quiet", "--yes", "weavr-async", cwd=tmp_path)
    run(clean_venv, "-m", "pip", "install", "--quiet", dists.sdist, cwd=tmp_path)
    smoke(clean_venv, tmp_path)
