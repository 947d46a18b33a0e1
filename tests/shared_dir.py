"""Where the shared spec is: ``../shared`` beside the project, as CI and developers have it.

``CLAIMS_SHARED_DIR`` overrides it (for a clone checked out somewhere without the
spec beside it). The tests that read it fail when it is missing: the spec's
examples are what the engine must reproduce.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLAIMS_SHARED_DIR") or ROOT.parent / "shared")
