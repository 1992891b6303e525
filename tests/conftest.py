import os

import pytest

from fixgw.testing.launch import SimProcess


def pytest_addoption(parser):
    parser.addoption("--faults-size", type=int, default=None,
                     help="trades in the fault campaign (tests/test_campaign.py); default 120 or $FIXGW_FAULTS_SIZE")


def faults_size(config) -> int:
    return config.getoption("--faults-size") or int(os.environ.get("FIXGW_FAULTS_SIZE", "120"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.name == "test_fault_campaign":  # a larger campaign runs longer than the default timeout
            item.add_marker(pytest.mark.timeout(300 + 10 * faults_size(config)))


@pytest.fixture
def campaign_size(request) -> int:
    return faults_size(request.config)


@pytest.fixture
def sim(tmp_path):
    s = SimProcess(tmp_path / "sim")
    yield s
    s.stop()
