"""The batch ledger on disk decides exactly as the one in memory."""

import json

from claims.accumulators import DiskLedger, Ledger
from claims.synthetic import generate_cases
from rules.batch import adjudicate_lines


def test_a_ledger_on_disk_gives_the_same_decisions_as_one_in_memory(engine):
    # 3,000 cases of 300 members: caps, duplicates, repeated diseases and periods all occur.
    lines = [json.dumps(case, ensure_ascii=False) for case in generate_cases(3000, seed=11, members=300)]
    disk = DiskLedger()
    on_disk = [d.to_json() for d in adjudicate_lines(engine, lines, disk)]
    in_memory = [d.to_json() for d in adjudicate_lines(engine, lines, Ledger())]
    assert on_disk == in_memory
    assert any(line["reasons"] == ["DUPLICATE_BILL"] for d in in_memory for line in d["lines"])
    assert any("CAP_APPLIED" in line["reasons"] or "ANNUAL_CAP_REACHED" in line["reasons"]
               for d in in_memory for line in d["lines"])
    assert len(disk.members) == 0  # nothing of it was kept in memory
    disk.close()
