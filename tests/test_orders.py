"""Ack: the one-shot answer the order path hands back (fixgw/orders.py)."""

import asyncio
import threading
import time
import uuid

import pytest

from fixgw.orders import Ack, new_cl_ord_id


def test_every_waiter_gets_the_answer_once_it_is_resolved():
    ack = Ack("req")
    got = []
    threads = [threading.Thread(target=lambda: got.append(ack.wait(5))) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    assert not ack.done and got == []
    assert ack.resolve("answer") and not ack.resolve("another")
    for t in threads:
        t.join(5)
    assert got == ["answer"] * 4 and ack.done
    assert ack.wait(0) == "answer" and ack.wait(None) == "answer"  # and again, at once


def test_wait_times_out_naming_the_request():
    with pytest.raises(TimeoutError, match="no answer to str within 0.01 s"):
        Ack("req").wait(0.01)


def test_asyncio_waiters_are_answered_from_another_thread():
    async def main():
        ack = Ack("req")
        threading.Timer(0.02, ack.resolve, args=("answer",)).start()
        return await ack, await ack

    assert asyncio.run(main()) == ("answer", "answer")


def test_cl_ord_ids_are_unique_version_4_uuids():
    ids = [new_cl_ord_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids[:100])
