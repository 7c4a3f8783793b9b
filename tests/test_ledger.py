from __future__ import annotations

import subprocess

import pytest

from lab_support.ledger import Ledger

from .conftest import python_child


def test_records_from_several_processes(tmp_path):
    ledger = Ledger(tmp_path / "l.db")
    ledger.record("a", 1, "one")
    code = f"from lab_support.ledger import Ledger; Ledger({str(ledger.path)!r}).record('b', 2, 'two', attempt=3)"
    subprocess.run(python_child(code), check=True)
    df = ledger.frame()
    assert list(df["actor"]) == ["a", "b"]
    assert df.loc[1, "attempt"] == 3 and df.loc[0, "pid"] != df.loc[1, "pid"]
    assert ledger.count("b") == 1 and ledger.count() == 2
    ledger.clear()
    assert ledger.count() == 0


async def test_wait_for_times_out(tmp_path):
    ledger = Ledger(tmp_path / "l.db")
    with pytest.raises(TimeoutError):
        await ledger.wait_for(1, timeout=0.2)
    ledger.record("a", 1)
    await ledger.wait_for(1, timeout=0.2)
