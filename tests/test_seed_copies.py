"""tests/fixtures/seeds holds the seed documents the schema tests read, as the project's seeds are."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "fixtures" / "seeds"
SHARED = next((p / "shared" / "seeds" for p in Path(__file__).resolve().parents if (p / "shared" / "seeds").is_dir()),
              None)


@pytest.mark.skipif(SHARED is None, reason="../shared/seeds is not beside this checkout")
def test_the_copies_are_the_seeds_byte_for_byte():
    copies = sorted(HERE.iterdir())
    assert [p.name for p in copies] == sorted(p.name for p in SHARED.glob("00[123]_*"))
    for p in copies:
        assert p.read_bytes() == (SHARED / p.name).read_bytes(), p.name
