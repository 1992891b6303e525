from fixgw.state import TRANSITIONS, Event, Lifecycle, State


def test_happy_path_and_refusal():
    lc = Lifecycle("s")
    for ev, st in [(Event.START, State.CONNECTING), (Event.LOGON_SENT, State.LOGGING_ON),
                   (Event.LOGON_OK, State.LOGGED_ON), (Event.LOGOUT_SENT, State.LOGGING_OUT),
                   (Event.DISCONNECTED, State.DISCONNECTED), (Event.LOGON_SENT, State.LOGGING_ON)]:
        assert lc.fire(ev) is st
    assert lc.fire(Event.DISCONNECTED, "Logon refused: x") is State.DISCONNECTED
    assert lc.last_error == "Logon refused: x" and lc.logons == 1


def test_unlisted_events_leave_state_alone_and_stop_always_stops():
    lc = Lifecycle("s")
    assert lc.fire(Event.LOGON_OK) is State.STOPPED
    assert all(TRANSITIONS[(s, Event.STOP)] is State.STOPPED for s in State)


def test_logon_clears_last_error():
    lc = Lifecycle("s")
    lc.fire(Event.START); lc.fire(Event.LOGON_SENT); lc.note_error("boom")
    lc.fire(Event.LOGON_OK)
    assert lc.last_error is None and lc.connected_since is not None
