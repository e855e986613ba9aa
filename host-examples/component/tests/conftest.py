"""Shared pytest hooks: skip reasons printed, and a skipped test fails the run under CI=true."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tests"))
from pytest_ci import pytest_collectreport, pytest_configure, pytest_runtest_logreport, pytest_sessionfinish  # noqa: E402,F401
