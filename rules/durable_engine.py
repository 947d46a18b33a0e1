"""The one module that talks to durable_rules.

durable_rules (2.0.28) is not thread-safe, keeps state per session id in a fixed-size
table, and never frees a ruleset (see ../shared/style.md). So here:

- every call into it holds one process-wide lock;
- a ruleset is registered once per definition and cached; a plan version compiles to
  the same definition every time, so it is registered at most once per process;
- each evaluation uses a fresh session id and deletes its state before returning.
  Deleting the state of a session whose fact matched no rule segfaults the core
  (measured here), while not deleting it fills the session table; so every ruleset
  gets one rule, ``claim.received``, that matches every claim fact. It also proves
  the fact was evaluated: a fact it does not match is an error, not "no rule held";
- the library's errors become ``RulesEngineError`` naming the ruleset and, when it can
  be found, the rule.

We drive the library's compiled core (``durable_rules_engine``, which ships inside the
durable-rules package and is what its Python ``Host`` calls) directly rather than
through ``Host``: our actions only record which rule fired, and the ``Host`` wrapper
around each of them (closures, state copies to and from JSON, and timer threads that
call into the core outside any lock of ours) cost more than the matching itself.
The protocol is the one ``durable.engine.Ruleset`` follows: assert, then take each
triggered action in turn with ``start_action_for_state`` /
``complete_and_start_action``, then delete the session.
"""

from __future__ import annotations

import copy
import ctypes
import itertools
import json
import sys
import threading
from typing import Any

import durable_rules_engine as _core  # the compiled core of the durable-rules package

RECEIVED = "claim.received"
_RECEIVED_RULE = {"all": [{"m": {"fact": "claim"}}]}
_NOT_HANDLED = 1  # what the core answers when no rule matched the fact


class RulesEngineError(RuntimeError):
    """durable_rules refused a ruleset or failed while evaluating a fact."""

    def __init__(self, ruleset: str, message: str, rule: str | None = None) -> None:
        where = f"ruleset {ruleset}" + (f", rule {rule}" if rule else "")
        super().__init__(f"{where}: {message}")
        self.ruleset = ruleset
        self.rule = rule


def _keep_large_allocations_on_the_heap() -> None:
    """Stop glibc from mmap-ing (and unmapping) the core's per-session buffers.

    The core allocates and frees blocks above glibc's mmap threshold for every
    session; left alone, each claim costs dozens of page faults (measured: 485,000
    minor faults and 1.5 s of system time for 10,000 claims; 7,400 and 0.09 s with
    this). Raising the thresholds makes those blocks reusable heap memory.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 128 * 1024 * 1024)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


_keep_large_allocations_on_the_heap()
_LOCK = threading.Lock()
_HANDLES: dict[str, int] = {}
_SESSIONS = itertools.count(1)


def _create(name: str, definition: dict[str, Any]) -> int:
    return _core.create_ruleset(name, json.dumps(definition, ensure_ascii=False))


def _find_bad_rule(definition: dict[str, Any]) -> str | None:
    """Which rule the core refuses, by creating each alone under a probe name.

    Only runs after a registration failed; the probes are a few KB each and are
    never freed, which is acceptable on that error path only.
    """
    for i, (name, rule) in enumerate(definition.items()):
        try:
            _create(f"probe_{next(_SESSIONS)}_{i}", {name: rule})
        except _core.error:
            return name
    return None


def register(ruleset: str, definition: dict[str, Any]) -> None:
    """Register a ruleset once per process (a no-op when it is already there)."""
    with _LOCK:
        if ruleset in _HANDLES:
            return
        full = copy.deepcopy(definition)
        full[RECEIVED] = copy.deepcopy(_RECEIVED_RULE)
        try:
            _HANDLES[ruleset] = _create(ruleset, full)
        except _core.error as err:
            raise RulesEngineError(ruleset, str(err), _find_bad_rule(full)) from None


def evaluate(ruleset: str, fact: dict[str, Any]) -> list[str]:
    """Assert one fact in a fresh session; the names of the rules that fired, in order."""
    with _LOCK:
        handle = _HANDLES.get(ruleset)
        if handle is None:
            raise RulesEngineError(ruleset, "not registered")
        sid = str(next(_SESSIONS))
        fired: list[str] = []
        try:
            result = _core.assert_fact(handle, json.dumps({**fact, "fact": "claim", "sid": sid}, ensure_ascii=False))
            if result[0] == _NOT_HANDLED:
                raise RulesEngineError(ruleset, "the claim fact matched no rule", RECEIVED)
            state = result[1]
            started = _core.start_action_for_state(handle, state)
            message = started[1] if started else None
            while message:
                # The message is {"<rule name>": {...the fact...}}; rule names hold no quotes.
                fired.append(message[2 : message.index('"', 2)])
                message = _core.complete_and_start_action(handle, state)
        except _core.error as err:
            raise RulesEngineError(ruleset, f"evaluating a fact failed: {err}") from err
        if RECEIVED not in fired:
            raise RulesEngineError(ruleset, "the claim fact was not evaluated", RECEIVED)
        _core.delete_state(handle, sid)
        return [name for name in fired if name != RECEIVED]
