"""Makes fluentbit_host importable whatever pytest's import mode, and applies the suite's
skip policy (tests/pytest_ci.py): skip reasons printed, a skip fails the run under CI=true."""

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[2] / "tests"))
from pytest_ci import pytest_collectreport, pytest_configure, pytest_runtest_logreport, pytest_sessionfinish  # noqa: E402,F401
