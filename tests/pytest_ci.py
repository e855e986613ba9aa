"""pytest hooks every pytest root imports into its conftest.py (tests/clients,
host-examples/component/tests): skip reasons are always reported (`-rs`), and under `CI=true` a skipped
test, or a skipped module, fails the run. A skip in CI means something the suite claims
was not checked; the reason says what to install or build.
"""

import os

import pytest

_SKIPPED = []


def _in_ci():
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def pytest_configure(config):
    chars = config.option.reportchars or ""
    if not {"s", "a", "A"} & set(chars):
        config.option.reportchars = chars + "s"


def _record(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append(f"{report.nodeid}: {reason}")


def pytest_runtest_logreport(report):
    _record(report)


def pytest_collectreport(report):
    _record(report)


def pytest_sessionfinish(session, exitstatus):
    if _in_ci() and _SKIPPED:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"CI=true: {len(_SKIPPED)} skipped test(s) fail the run:"] + [f"  {s}" for s in _SKIPPED]
        if reporter is not None:
            reporter.write_line("")
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
