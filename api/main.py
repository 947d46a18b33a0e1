"""The application as uvicorn starts it in each worker process (``claims serve``).

Settings come from the environment because every worker builds its own app:
``CLAIMS_DATABASE_URL`` and ``CLAIMS_PLAN``. ``claims serve`` has already run the
migrations once, so the workers do not race to run them.
"""

import os

from api.app import create_app


def app_factory():
    return create_app(os.environ.get("CLAIMS_DATABASE_URL"), os.environ.get("CLAIMS_PLAN") or None, migrate=False)
