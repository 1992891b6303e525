"""The backfill phase table (fixgw.recorder.phase): what each step does from each phase."""

from __future__ import annotations

import pytest

from fixgw.recorder.phase import TRANSITIONS, Page, Phase, Product, Step


def product(phase: Phase) -> Product:
    p = Product("event", ["listener"], "dc", phase=phase)
    if phase is Phase.ASKING:
        p.page, p.page_seq = Page("1;1", "20001;0", 0, 0), 7
    if phase is Phase.NEXT:
        p.next_page = ("20001;0", False)
    return p


def test_a_whole_backfill_walks_wanted_asking_next_asking_live():
    p = product(Phase.WANTED)
    steps = [Step.START, Step.PAGE, Step.SENT, Step.CAUGHT_UP]
    assert [p.fire(s) for s in steps] == [Phase.ASKING, Phase.NEXT, Phase.ASKING, Phase.LIVE]


@pytest.mark.parametrize("phase", list(Phase))
def test_again_always_wants_a_backfill_and_drops_the_page(phase):
    p = product(phase)
    assert p.fire(Step.AGAIN) is Phase.WANTED
    assert (p.page, p.page_seq, p.next_page) == (None, None, None)


def test_a_listener_that_loses_reports_ends_live_recording_but_not_a_running_backfill():
    assert product(Phase.LIVE).fire(Step.LISTENER_LOST) is Phase.WANTED
    for phase in (Phase.ASKING, Phase.NEXT, Phase.WANTED):  # the last page's epoch judges it
        p = product(phase)
        assert p.fire(Step.LISTENER_LOST) is phase
    assert product(Phase.ASKING).page is not None


@pytest.mark.parametrize("phase,step", [(ph, st) for ph in Phase for st in Step if (ph, st) not in TRANSITIONS])
def test_a_step_the_table_does_not_list_changes_nothing(phase, step):
    p = product(phase)
    before = (p.page, p.page_seq, p.next_page)
    assert p.fire(step) is phase and (p.page, p.page_seq, p.next_page) == before


def test_live_reports_are_contiguous_only_when_live_on_that_listener_connection():
    p = product(Phase.LIVE)
    p.live_gen = 3
    assert p.contiguous(3) and not p.contiguous(2)
    p.fire(Step.LISTENER_LOST)
    assert not p.contiguous(3)
