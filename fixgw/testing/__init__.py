"""Test support, not the product: nothing in the gateway, the recorder or the API imports it.

It ships in the package because ``make demo`` and ``make bench`` use it too: ``launch`` starts
the simulator as a child process and makes accounts and gateway configs for it; ``pgserver``
runs a private throw-away PostgreSQL server (Debian's binaries) for the recorder's tests.
"""
