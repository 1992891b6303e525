"""A real PostgreSQL server for the recorder tests, one per test session.

The PostgreSQL backend is only worth testing against the real thing (COPY,
ON CONFLICT, advisory locks, durability of a commit).  Debian's binaries are
used directly (``initdb`` + ``pg_ctl``) on a throw-away cluster in a temp dir:
no system service, no fixed port.  As root, initdb refuses to run, so the
cluster belongs to the ``postgres`` system user and is driven through runuser.
"""
from __future__ import annotations

import uuid

import psycopg
import pytest

from fixgw.testing.pgserver import private_server
from fixgw.recorder.store import StoreError


@pytest.fixture(scope="session")
def postgres_url():
    try:
        with private_server() as url:
            yield url
    except StoreError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def pg_database(postgres_url):
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
