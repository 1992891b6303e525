"""JSON Schemas extracted from the seed documents (test helper).

The seeds 001-003 are kept in tests/fixtures/seeds, byte for byte as in ../shared/seeds (a test checks
that, when ../shared is beside the checkout): a clone must not need anything outside itself.

* 001: the OpenAPI 3.0 document of GET /portfolio/positions, as written in the
  seed (its ````yaml block): validated with openapi-schema-validator's OAS 3.0
  validator, components resolved in place.
* 002: the GET /fcm/positions example response; 003: the WebSocket
  market_position example message. Neither seed has a formal schema, so the
  schema is the example's own structure: every key it shows is required, with
  the JSON type of its example value (``"<string>"`` a string, an ISO time a
  date-time string).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from openapi_schema_validator import OAS30Validator

SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"


def _text(prefix: str) -> str:
    [path] = SEEDS.glob(f"{prefix}_*")
    return path.read_text()


def positions_validator() -> OAS30Validator:
    """Seed 001: GetPositionsResponse of the OpenAPI document in the seed."""
    text = _text("001")
    start = text.index("````yaml")
    block = text[text.index("\n", start) + 1:text.index("````", start + 8)]
    spec = yaml.safe_load(block)
    return OAS30Validator({"$ref": "#/components/schemas/GetPositionsResponse", "components": spec["components"]})


def _schema_of(example):
    if isinstance(example, dict):
        return {"type": "object", "required": sorted(example),
                "properties": {k: _schema_of(v) for k, v in example.items()}}
    if isinstance(example, list):
        return {"type": "array", "items": _schema_of(example[0])} if example else {"type": "array"}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int):
        return {"type": "integer"}
    if isinstance(example, str) and example[:2].isdigit() and "T" in example and example.endswith("Z"):
        return {"type": "string", "format": "date-time"}
    return {"type": "string"}


def fcm_positions_schema() -> dict:
    """Seed 002: the structure of its example GET /fcm/positions response."""
    text = _text("002")
    start = text.index("{", text.index("KALSHI-ACCESS-TIMESTAMP"))
    body, _ = json.JSONDecoder().raw_decode(text[start:])
    return _schema_of(body)


def ws_market_position_schema() -> dict:
    """Seed 003: the structure of its example market_position message."""
    text = _text("003")
    start = text.index('{  "type": "market_position"')
    message, _ = json.JSONDecoder().raw_decode(text[start:])
    return _schema_of(message)
