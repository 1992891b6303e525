"""Prometheus metrics of a recording gateway (prometheus-client collector; pure core).

Nothing is counted twice: the collector reads, at scrape time, the counters the
sessions already keep (:class:`fixgw.metrics.SessionMetrics`), the recorder's
queue and watermarks and the WebSocket hub. The recorder is handed in and read
by attribute, so this module imports no adapter. The recorder and the hub live
in two processes (:mod:`fixgw.api.worker`): each has a collector of its own half,
and /metrics serves both texts.
"""

from __future__ import annotations

import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import CollectorRegistry

from fixgw.recorder.phase import Phase
from fixgw.state import State


class Collector:
    """Reads ``recorder`` (its gateway's sessions, queue, watermarks), the WebSocket ``hub`` and the
    sessions of any other ``gateways`` in the process (``fixgw run``'s order-entry sessions);
    either of ``recorder`` and ``hub`` may be None (the other process has it)."""

    def __init__(self, recorder, hub=None, gateways=()):
        self.recorder, self.hub, self.gateways = recorder, hub, list(gateways)

    def collect(self):
        if self.recorder is not None:
            yield from self._recording()
        if self.hub is not None:
            clients = GaugeMetricFamily("fixgw_ws_clients", "Connected WebSocket clients")
            clients.add_metric([], self.hub.clients)
            pending = GaugeMetricFamily("fixgw_ws_backlog", "Stored reports not yet turned into frames")
            pending.add_metric([], self.hub.backlog)
            yield from (clients, pending)

    def _recording(self):
        rec = self.recorder
        state = GaugeMetricFamily("fixgw_session_state", "1 for the state each session is in",
                                  labels=["session", "state"])
        msgs_in = CounterMetricFamily("fixgw_messages_in", "FIX messages received, by MsgType",
                                      labels=["session", "msg_type"])
        msgs_out = CounterMetricFamily("fixgw_messages_out", "FIX messages sent, by MsgType",
                                       labels=["session", "msg_type"])
        rejects = CounterMetricFamily("fixgw_rejects", "Rejects (35=3/j/9, 150=8) by direction",
                                      labels=["session", "direction"])
        decode = CounterMetricFamily("fixgw_decode_anomalies", "Messages that did not decode",
                                     labels=["session"])
        ack = HistogramMetricFamily("fixgw_order_ack_seconds", "Order sent to its first definitive answer",
                                    labels=["session"])
        runtimes = [item for gw in [rec.gateway, *self.gateways] for item in gw.runtimes.items()]
        for name, rt in runtimes:
            for s in State:
                state.add_metric([name, s.value], 1.0 if rt.lifecycle.state is s else 0.0)
            m = rt.metrics
            for t, n in sorted(m.msgs_in.items()):
                msgs_in.add_metric([name, t], n)
            for t, n in sorted(m.msgs_out.items()):
                msgs_out.add_metric([name, t], n)
            rejects.add_metric([name, "in"], m.rejects_in)
            rejects.add_metric([name, "out"], m.rejects_out)
            decode.add_metric([name], m.decode_errors)
            h, seen, buckets = m.order_ack, 0, []
            for i, n in enumerate(h.buckets[:-1]):  # bucket i holds [2^(i-1), 2^i) us
                seen += n
                buckets.append((repr((1 << i) / 1e6), seen))
            buckets.append(("+Inf", h.count))
            ack.add_metric([name], buckets, h.total_us / 1e6)
        yield from (state, msgs_in, msgs_out, rejects, decode, ack)

        stored = CounterMetricFamily("fixgw_recorder_reports_stored", "Reports newly stored by this process")
        stored.add_metric([], rec.stored)
        backlog = GaugeMetricFamily("fixgw_recorder_backlog", "Reports received and not yet written")
        backlog.add_metric([], rec.backlog())
        age = GaugeMetricFamily("fixgw_watermark_age_seconds",
                                "Seconds since the watermark last moved (-1: not in this process)",
                                labels=["product"])
        received = GaugeMetricFamily("fixgw_backfill_reports", "Reports received by the running or last "
                                     "backfill", labels=["product"])
        running = GaugeMetricFamily("fixgw_backfill_running", "1 from a gap found until the backfill's last "
                                    "page is stored (the product is not live)", labels=["product"])
        now = time.time()
        for name, p in rec.products.items():
            age.add_metric([name], now - p.moved_at if p.moved_at else -1.0)
            received.add_metric([name], p.received)
            running.add_metric([name], 0.0 if p.phase is Phase.LIVE else 1.0)
        yield from (stored, backlog, age, received, running)


def registry(recorder, hub=None, gateways=()) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=True)
    reg.register(Collector(recorder, hub, gateways))
    return reg
