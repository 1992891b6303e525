"""fixgw.fix.tags names each tag number once, with the dictionary's own field name."""

import ast
import pathlib
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


# Where a tag number sits in code: the first argument of QuickFIX's field calls (getField,
# setField, isSetField, removeField, StringField(...), ...), a key read from a mapping named
# for a message's parts (header[52], body.get(141)), or a (tag, value) pair in a list of fields.
_FIELD_CALLS = {"getField", "setField", "isSetField", "removeField", "getFieldRef"}
_MESSAGE_PARTS = re.compile(r"(header|body|fields|message|msg|trailer)$")


def _literal_tags(tree):
    from fixgw.fix.dictionary_tables import FIELDS as known

    def tag(node):
        ok = isinstance(node, ast.Constant) and type(node.value) is int and node.value in known
        return node.value if ok else None

    def named(node):
        return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""

    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and n.args:
            f = named(n.func)
            if f in _FIELD_CALLS or f.endswith("Field") or (
                    f == "get" and isinstance(n.func, ast.Attribute) and _MESSAGE_PARTS.search(named(n.func.value))):
                if tag(n.args[0]) is not None:
                    yield n.lineno, tag(n.args[0])
        elif isinstance(n, ast.Subscript) and _MESSAGE_PARTS.search(named(n.value)) and tag(n.slice) is not None:
            yield n.lineno, tag(n.slice)
        elif isinstance(n, ast.List):
            for e in n.elts:
                if (isinstance(e, ast.Tuple) and len(e.elts) == 2 and tag(e.elts[0]) is not None
                        and isinstance(e.elts[1], ast.Constant) and isinstance(e.elts[1].value, str)):
                    yield e.lineno, tag(e.elts[0])


# Wire text a module searches for ("\x0152=" before SendingTime) spells a tag number too.
_WIRE_TAG = re.compile(r"\x01[0-9]+=")
# Spelled out on purpose: fastfill's one-pass regex lists its tags as a digit trie, and its keys
# are that regex's groups. The others belonged to branches being edited in parallel when this
# check was written (issue 12); drop a name here once its module uses fixgw.fix.tags.
_WIRE_TEXT_ALLOWED = {"fastfill.py", "adapter/encode.py", "fix/fastorder.py", "metrics.py", "recorder/sqlbase.py"}


def _wire_tags(tree):
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr)}
    for n in ast.walk(tree):
        if (isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
                and _WIRE_TAG.search(n.value)):
            yield n.lineno, n.value


def test_code_names_its_tags():
    """A tag number appears once, in tags.py (or the codec's tables); code uses the name."""
    root = pathlib.Path(tags.__file__).parent.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name.endswith("_tables.py") or path == pathlib.Path(tags.__file__):
            continue
        for line, number in _literal_tags(ast.parse(path.read_text(), str(path))):
            found.append(f"{path.relative_to(root.parent)}:{line}: tag {number}")
    assert found == []


def test_wire_text_is_built_from_tag_names():
    root = pathlib.Path(tags.__file__).parent.parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name.endswith("_tables.py") or path.relative_to(root).as_posix() in _WIRE_TEXT_ALLOWED:
            continue
        for line, text in _wire_tags(ast.parse(path.read_text(), str(path))):
            found.append(f"{path.relative_to(root.parent)}:{line}: {text!r}")
    assert found == []


def test_the_scan_sees_each_kind_of_literal():
    code = """
message.getHeader().setField(35, "1")
message.setField(fix.StringField(58, text))
ok = header[52] and body.get(141) == "Y"
send("8", [(37, "x"), (17, "1;1")])
n = s[17] + fields.count(35)
"""
    assert sorted(t for _, t in _literal_tags(ast.parse(code))) == [17, 35, 37, 52, 58, 141]
    wire = 'def f(raw):\n    """finds \\x0152= (a docstring)"""\n    return raw.find("\\x0152=")\n'
    assert [line for line, _ in _wire_tags(ast.parse(wire))] == [3]
