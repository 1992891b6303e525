import pytest

from fixgw.sim.launch import SimProcess


@pytest.fixture
def sim(tmp_path):
    s = SimProcess(tmp_path / "sim")
    yield s
    s.stop()
