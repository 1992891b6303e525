"""A local Kalshi FIX exchange: a real QuickFIX TLS acceptor with Kalshi's rules."""
