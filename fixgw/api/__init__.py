"""Kalshi's own REST and WebSocket API served from the drop copy, Prometheus metrics, reconcile."""
