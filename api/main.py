"""The application as uvicorn starts it in each worker process (``claims serve``).

Settings come from the environment because every worker builds its own app:
``CLAIMS_DATABASE_URL``, ``CLAIMS_PLAN``, ``CLAIMS_PROVINCIAL_MED_TYPES`` (the
province's own ``med_type`` codes, comma-separated: ``9901,9902``), and
``CLAIMS_MAX_JSON_BYTES`` / ``CLAIMS_MAX_CSV_BYTES`` (the largest request bodies,
default 2 MiB and 20 MiB). ``claims serve`` has already run the
migrations once, so the workers do not race to run them.
"""

import gc
import os

from api.app import create_app
from api.limits import BodyLimits
from service.settlements import parse_med_types


def body_limits(env) -> BodyLimits:
    """The body limits the environment sets (ValueError when one is not a positive whole number)."""
    default = BodyLimits()
    limits = BodyLimits(json_bytes=int(env.get("CLAIMS_MAX_JSON_BYTES") or default.json_bytes),
                        csv_bytes=int(env.get("CLAIMS_MAX_CSV_BYTES") or default.csv_bytes))
    if limits.json_bytes <= 0 or limits.csv_bytes <= 0:
        raise ValueError("a body limit is a positive number of bytes")
    return limits


def app_factory():
    app = create_app(os.environ.get("CLAIMS_DATABASE_URL"), os.environ.get("CLAIMS_PLAN") or None, migrate=False,
                     provincial_med_types=parse_med_types(os.environ.get("CLAIMS_PROVINCIAL_MED_TYPES")),
                     limits=body_limits(os.environ))
    # What start-up built (the app, the rules engine, SQLAlchemy's mappers and caches)
    # lives as long as the worker: freeze it out of the collector's walks (the full
    # collections over that heap were the slow tail: batches of 10 claims on PostgreSQL,
    # 4 clients, p99 118 -> 60 ms, benchmarks/test_http_throughput.py). A young
    # collection's pause grows with what piled up since the last: each settlement leaves
    # ~70 objects in cycles (sessions, connections, transactions), and at a threshold of
    # 50,000 a collection at the desk paused a worker 25-56 ms, every request waiting on it
    # delayed; at 5,000 the longest pause was 4.6 ms for less time in all
    # (benchmarks/test_desk_latency.py at 100/s, and the batches above not slower).
    gc.collect()
    gc.freeze()
    gc.set_threshold(5_000, 50, 100)
    return app
