"""Where the shared spec is: ``../shared`` beside the project, as CI and developers have it.

``CLAIMS_SHARED_DIR`` overrides it. A clone made elsewhere (``git clone . /tmp/fresh``)
finds it beside the repository it was cloned from. The tests that read it fail when
it is missing: the spec's examples are what the engine must reproduce.
"""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _find() -> Path:
    if os.environ.get("CLAIMS_SHARED_DIR"):
        return Path(os.environ["CLAIMS_SHARED_DIR"])
    beside = ROOT.parent / "shared"
    if beside.is_dir():
        return beside
    origin = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True).stdout.strip()
    if origin and Path(origin).is_dir():
        return Path(origin).resolve().parent / "shared"
    return beside


SHARED = _find()
