"""The worked examples of ../shared/spec/examples decide exactly as expected."""

import subprocess
import sys
from pathlib import Path

from tests.shared_dir import SHARED

ROOT = Path(__file__).resolve().parent.parent
SPEC = SHARED / "spec" / "examples"
COMPARE = SHARED / "tools" / "compare_decisions.py"


def test_spec_examples_decide_as_expected_through_the_batch_cli(tmp_path):
    out = tmp_path / "decisions.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "cli.main", "adjudicate", str(SPEC / "cases.jsonl"), "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    compare = subprocess.run([sys.executable, str(COMPARE), str(SPEC / "expected.jsonl"), str(out)],
                             capture_output=True, text=True)
    assert compare.returncode == 0, compare.stdout
    assert compare.stdout.strip().endswith("16 cases, 0 differ")


def test_bundled_examples_are_the_spec_examples():
    assert (ROOT / "examples" / "cases.jsonl").read_text(encoding="utf-8") == (SPEC / "cases.jsonl").read_text(encoding="utf-8")
