"""The drop-copy recorder: every ExecutionReport of an account, stored exactly once.

Kalshi's drop copy is a replay of the last three hours, not a live feed, so a
report missed for longer than that is gone.  The recorder therefore keys every
report by (account, product, ExecID), writes each batch durably before it asks
for more, and records the ranges it could not fetch as gaps instead of losing
them silently.

:mod:`fixgw.recorder.store` is the pure core (models, the ``Store`` protocol,
``open_store``); :mod:`~fixgw.recorder.sqlite` and :mod:`~fixgw.recorder.postgres`
are the two backends with the same schema and semantics.
"""
