"""The error tree in fixgw/errors.py's docstring names every FixgwError subclass, under its real parent."""

import importlib
import pkgutil
import re

import fixgw
from fixgw import errors
from fixgw.errors import FixgwError

_BRANCH = re.compile(r"^(?P<indent>[ │]*)[├└]── (?P<name>\w+)")


def documented() -> dict[str, str]:
    """name -> parent name, read from the box-drawing tree in the docstring."""
    lines = errors.__doc__.splitlines()
    root = next(line.strip() for line in lines if line.strip() == "FixgwError")
    parents, stack = {}, [root]          # stack[d] is the class at depth d
    for line in lines:
        m = _BRANCH.match(line.strip("\n").removeprefix("    "))
        if not m:
            continue
        depth = len(m["indent"]) // 4 + 1
        del stack[depth:]
        parents[m["name"]] = stack[depth - 1]
        stack.append(m["name"])
    return parents


def defined() -> dict[str, str]:
    """name -> parent name of every FixgwError subclass defined in the fixgw package."""
    for mod in pkgutil.walk_packages(fixgw.__path__, "fixgw."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    out, todo = {}, [FixgwError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("fixgw."):
                out[sub.__name__] = next(b.__name__ for b in sub.__bases__ if issubclass(b, FixgwError))
                todo.append(sub)
    return out


def test_the_docstring_tree_is_read():
    tree = documented()
    assert tree["LogonError"] == "SessionError" and tree["ConfigError"] == "FixgwError"


def test_every_fixgw_error_is_in_the_documented_tree_under_its_parent():
    assert documented() == defined()
