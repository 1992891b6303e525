"""Data shapes: ``fix`` (FIX application messages), ``rest`` (Kalshi REST wire shapes), ``ws``
(WebSocket messages), ``fcm`` (FCM shapes) and ``event`` (the dispatcher's :class:`~fixgw.models.event.Event`)."""
