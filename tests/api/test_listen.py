"""`fixgw serve`'s listening socket turns Nagle off for every connection it accepts.

asyncio sets TCP_NODELAY only on sockets whose ``proto`` is IPPROTO_TCP; a plain
``socket.socket()`` has proto 0, so uvicorn's responses (the head, then the body: two writes)
waited for the client's delayed ACK, about 40 ms each on Linux, before the body left.
"""

from __future__ import annotations

import socket

from fixgw.api.serve import listen


def test_accepted_connections_have_nagle_off():
    server = listen("127.0.0.1", 0)
    try:
        server.listen()
        client = socket.create_connection(server.getsockname()[:2])
        conn, _ = server.accept()
        with client, conn:
            assert conn.proto == socket.IPPROTO_TCP  # what asyncio's transports check before they set it
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        server.close()
