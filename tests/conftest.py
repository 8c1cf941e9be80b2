"""Shared fixtures: a small paper project built in a temporary directory, and a quick ``ctx``.
Helpers that are not fixtures live in ``support.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import add_site_sources, make_project, run_build, run_site


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "paper")


@pytest.fixture(scope="session")
def built_fixture(tmp_path_factory) -> Path:
    """The fixture project, built once for the tests that only read its outputs."""
    root = make_project(tmp_path_factory.mktemp("golden") / "paper")
    result = run_build(root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def ctx():
    """A quick experiment context (tiny timing budget), as a worker would pass to run()."""
    from experiments.harness.context import Context

    return Context(quick=True, threads=2, seed=0, device="cpu")


@pytest.fixture(scope="session")
def site_project(tmp_path_factory) -> Path:
    """The fixture project with site sources, committed, its paper and site built once."""
    root = make_project(tmp_path_factory.mktemp("site") / "paper")
    add_site_sources(root)
    result = run_site(root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root
