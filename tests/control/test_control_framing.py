"""Control socket framing, on the server alone: one JSON request per line, however it arrives."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from fixgw.control import server as control


@pytest.fixture
def served():
    d = Path(tempfile.mkdtemp(prefix="fixgw-frm-"))  # short: a Unix socket path has ~100 bytes
    seen, first_part_read = [], threading.Event()
    server = control.serve(d / "c.sock", lambda req: (seen.append(req), {"echo": req})[1])
    real_read = server._read

    def read(c):  # note when the server has read bytes that hold no complete line yet
        real_read(c)
        if c.buf and b"\n" not in c.buf:
            first_part_read.set()

    server._read = read
    try:
        yield server, seen, first_part_read
    finally:
        control.close(server)
        shutil.rmtree(d, ignore_errors=True)


def connect(server) -> tuple[socket.socket, object]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(str(server.path))
    return s, s.makefile()


def test_a_request_split_across_reads_is_one_request(served):
    server, seen, first_part_read = served
    s, f = connect(server)
    with s:
        s.sendall(b'{"cmd": "st')
        assert first_part_read.wait(30)  # the server has read half a line and answered nothing
        assert seen == []
        s.sendall(b'atus", "n": 1}\n')
        assert json.loads(f.readline()) == {"ok": True, "echo": {"cmd": "status", "n": 1}}
    assert seen == [{"cmd": "status", "n": 1}]


def test_two_requests_in_one_read_get_two_answers_in_order(served):
    server, seen, _ = served
    s, f = connect(server)
    with s:
        s.sendall(b'{"n": 1}\n{"n": 2}\n')
        assert [json.loads(f.readline()) for _ in range(2)] == [{"ok": True, "echo": {"n": 1}},
                                                                 {"ok": True, "echo": {"n": 2}}]
    assert seen == [{"n": 1}, {"n": 2}]


def test_a_line_that_is_not_a_json_object_is_answered_and_the_connection_serves_on(served):
    server, _, _ = served
    s, f = connect(server)
    with s:
        s.sendall(b'[1, 2]\n{"n": 3}\n')
        assert json.loads(f.readline()) == {"ok": False,
                                            "error": "ValueError: a request is one JSON object per line"}
        assert json.loads(f.readline()) == {"ok": True, "echo": {"n": 3}}


@pytest.mark.parametrize("newline", [False, True], ids=["unterminated", "terminated"])
def test_a_request_line_over_the_limit_is_refused_with_the_reason_even_when_it_ends(served, newline):
    server, seen, _ = served
    padding = "x" * control.MAX_LINE
    line = json.dumps({"n": 1, "pad": padding}).encode() + (b"\n" if newline else b"")
    s, f = connect(server)
    with s:
        try:
            s.sendall(line)
        except OSError:
            pass  # closed while writing: the answer is already there
        assert json.loads(f.readline()) == {
            "ok": False, "error": f"closed: a request line is longer than {control.MAX_LINE} bytes"}
        assert f.readline() == ""  # and closed
    assert seen == []


def test_a_line_of_exactly_the_limit_is_served(served):
    server, _, _ = served
    head = b'{"pad": "'
    line = head + b"x" * (control.MAX_LINE - len(head) - 2) + b'"}'
    assert len(line) == control.MAX_LINE
    s, f = connect(server)
    with s:
        s.sendall(line + b"\n")
        assert json.loads(f.readline())["ok"] is True
