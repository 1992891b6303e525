"""The control plane: how an operator drives a running ``fixgw run`` process.

``server`` is the owner-only JSON-lines Unix socket (the simulator serves one too) and its
client; ``schema`` checks every request before it runs; ``commands`` answers them (status,
logon/logout, reset-seqnum, manual trading); ``supervisor`` adds backoff, schedules and operator
holds to QuickFIX's reconnect timer; ``logsetup`` writes the process's key=value, redacted log;
``main`` is the process: lock, gateway, recorder, API, socket, signals.
"""
