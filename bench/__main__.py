"""`make bench`: one JSON line per figure, each against a baseline measured in the same run."""

from __future__ import annotations

import json
import logging
import sys

from bench import api, reads, record, rtt, translation
from fixgw.adapter import tls
from fixgw.fix import codec, wire


def emit(name: str, value: float, unit: str, baseline: float, ratio: float) -> None:
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit,
                      "baseline": round(baseline, 2), "ratio": round(ratio, 3)}), flush=True)


def main() -> int:
    # First, what the baseline is: an engine built without optimisation once made every ratio look good.
    build = tls.engine_build()
    print(json.dumps({"name": "engine", "build": build.describe(), "optimised": build.optimisation is not None
                      and not build.asserts, "quickfix_parse_per_s": round(translation.parse_rate()),
                      "decoder_c_steps": wire._c_split is not None and codec._fill is not None}), flush=True)
    for fig in translation.run():
        emit(*fig)
    for fig in rtt.run():
        emit(*fig)
    for fig in record.run():
        emit(*fig)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # bench.api's clients cut off at the end
    for fig in api.run(100_000):
        emit(*fig)
    for fig in reads.run():
        emit(*fig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
