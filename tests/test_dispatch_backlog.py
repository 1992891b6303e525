"""The received-message backlog (fixgw/dispatch.py): decoded once, in arrival order, by whoever reads first."""

import threading

from fixgw.dispatch import Backlog, Inbound


def _backlog(log: list):
    def decoder(runtime, raw, invalid, msg_type):
        log.append((threading.current_thread().name, raw))
        if raw == "boom":
            raise RuntimeError("decoder bug")
        return f"model of {raw}", None
    return Backlog(decoder)


def test_reading_a_message_decodes_every_earlier_one_first_and_each_only_once():
    log = []
    b = _backlog(log)
    items = [b.add("nr", None, raw, False) for raw in ("one", "two", "three")]
    assert not any(i.decoded for i in items) and len(b) == 3
    assert items[1].message == "model of two"
    assert [raw for _, raw in log] == ["one", "two"] and items[0].decoded and not items[2].decoded
    assert (items[0].message, items[2].message, items[2].error) == ("model of one", "model of three", None)
    assert [raw for _, raw in log] == ["one", "two", "three"] and len(b) == 0


def test_a_decoder_that_raises_leaves_that_message_with_the_error_and_the_rest_decodable():
    log = []
    b = _backlog(log)
    bad, good = b.add("nr", None, "boom", False), b.add("nr", None, "fine", False)
    assert good.message == "model of fine"
    assert bad.message is None and bad.error == "decoding failed: RuntimeError: decoder bug"


def test_a_message_built_decoded_needs_no_backlog():
    item = Inbound("nr", None, None, "MsgSeqNum gap")
    assert item.decoded and (item.session, item.message, item.raw, item.error) == ("nr", None, None, "MsgSeqNum gap")


def test_concurrent_readers_decode_each_message_once():
    log = []
    b = _backlog(log)
    items = [b.add("nr", None, str(i), False) for i in range(200)]
    threads = [threading.Thread(target=lambda: [i.message for i in reversed(items)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [raw for _, raw in log] == [str(i) for i in range(200)]


def test_the_decoder_gets_the_msg_type_read_on_arrival():
    seen = []
    b = Backlog(lambda runtime, raw, invalid, msg_type: (seen.append((raw, invalid, msg_type)), None)[1:] + (None,))
    b.add("nr", None, "text", True, "8").settle()
    assert seen == [("text", True, "8")]


def test_a_message_decoded_on_arrival_comes_after_every_earlier_one_and_is_never_queued():
    log = []
    b = _backlog(log)
    older = [b.add("nr", None, raw, False) for raw in ("one", "boom")]
    now = b.now("nr", None, "two", False, "8")
    assert [raw for _, raw in log] == ["one", "boom", "two"] and len(b) == 0 and all(i.decoded for i in older)
    assert (now.decoded, now.message, now.raw, now.msg_type, now.error) == (True, "model of two", "two", "8", None)
    failed = b.now("nr", None, "boom", False)
    assert failed.message is None and failed.error == "decoding failed: RuntimeError: decoder bug"
