"""The control plane: how an operator drives a running ``fixgw run`` process.

``server`` is the owner-only JSON-lines Unix socket (the simulator serves one too) and its
client; ``schema`` checks every request before it runs; ``main`` is the process (logging, the
supervisor, the commands the socket answers, lock, gateway, recorder, API, signals).
"""
