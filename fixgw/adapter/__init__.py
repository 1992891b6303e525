"""The QuickFIX adapter: the only gateway code that imports ``quickfix``.

``guard`` wraps every QuickFIX callback; ``logs`` is the redacting log factory; ``tls`` checks the
QuickFIX build and pins the CA; ``sessions`` renders SessionSettings from ``cfg/``; ``encode``
turns field pairs into the ``quickfix.Message`` that is sent; ``application`` is the
``quickfix.Application`` (callbacks: read each received message's text, count it and hand it
to ``fixgw.dispatch`` in one call); ``recovery`` recovers
sequence gaps through KalshiDC; ``orderentry`` is the order-entry API; ``gateway`` ties them into
:class:`~fixgw.adapter.gateway.Gateway`.
"""
