"""fixgw.fix.tags names each tag number once, with the dictionary's own field name."""

import re

from fixgw.fix import tags
from fixgw.fix.dictionary_tables import FIELDS


def upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name.replace("ID", "Id")).upper()


def test_every_constant_is_the_dictionary_name_of_its_tag():
    constants = {k: v for k, v in vars(tags).items() if k.isupper() and isinstance(v, int)}
    assert constants, "tags.py defines no tag numbers"
    assert {k: upper_snake(FIELDS[v][0]) for k, v in constants.items()} == {k: k for k in constants}
    assert len(set(constants.values())) == len(constants)  # no number named twice


def test_the_logon_flags_are_written_under_their_names():
    from fixgw.config import parse
    s = parse({"environment": "demo", "ca_file": "ca.pem", "session": [dict(
        name="l", product="event", type="RT", listener=True, api_key_id="0" * 8 + "-0000-4000-8000-" + "0" * 12,
        private_key="k.pem", retention_hours=5)]}).session[0]
    # a listener always asks for the original OrderQty (21008): it never sees the pending report
    assert dict(s.logon_fields()) == {tags.LISTENER_SESSION: "Y", tags.SKIP_PENDING_EXEC_REPORTS: "Y",
                                      tags.PRESERVE_ORIGINAL_ORDER_QTY: "Y", tags.MESSAGE_RETENTION_PERIOD: "5"}
