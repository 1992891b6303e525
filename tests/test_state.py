from fixgw.state import TRANSITIONS, Lifecycle, State, Trigger


def test_happy_path_and_refusal():
    lc = Lifecycle("s")
    for ev, st in [(Trigger.START, State.CONNECTING), (Trigger.LOGON_SENT, State.LOGGING_ON),
                   (Trigger.LOGON_OK, State.LOGGED_ON), (Trigger.LOGOUT_SENT, State.LOGGING_OUT),
                   (Trigger.DISCONNECTED, State.DISCONNECTED), (Trigger.LOGON_SENT, State.LOGGING_ON)]:
        assert lc.fire(ev) is st
    assert lc.fire(Trigger.DISCONNECTED, "Logon refused: x") is State.DISCONNECTED
    assert lc.last_error == "Logon refused: x" and lc.logons == 1


def test_unlisted_events_leave_state_alone_and_stop_always_stops():
    lc = Lifecycle("s")
    assert lc.fire(Trigger.LOGON_OK) is State.STOPPED
    assert all(TRANSITIONS[(s, Trigger.STOP)] is State.STOPPED for s in State)


def test_logon_keeps_the_last_error_and_its_history_but_clears_the_attempts():
    lc = Lifecycle("s")
    lc.fire(Trigger.START); lc.fire(Trigger.LOGON_SENT); lc.note_error("boom"); lc.note_error("boom")
    lc.fire(Trigger.DISCONNECTED, "dropped")
    lc.fire(Trigger.LOGON_SENT)
    lc.fire(Trigger.LOGON_OK)
    assert lc.open_error is None and lc.connected_since is not None
    assert lc.last_error == "dropped" and lc.last_error_at is not None  # why it dropped, after the Logon
    assert [(e["error"], e["count"]) for e in lc.history()] == [("boom", 2), ("dropped", 1)]
    for i in range(30):
        lc.note_error(f"e{i}")
    assert len(lc.history()) == 20 and lc.history()[-1]["error"] == "e29"
