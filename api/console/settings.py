"""The console's settings, from the environment (every worker builds its own app)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from service.users import Lockout, SessionPolicy


@dataclass(frozen=True)
class ConsoleSettings:
    """``secure_cookie``: send the session cookie only over HTTPS (set it wherever the console is
    served through TLS; the demo on http://127.0.0.1 cannot). ``policy``: session lifetimes;
    ``lockout``: failed sign-ins allowed per username and per address."""

    secure_cookie: bool = False
    policy: SessionPolicy = field(default_factory=SessionPolicy)
    lockout: Lockout = field(default_factory=Lockout.make)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "ConsoleSettings":
        """``CLAIMS_CONSOLE_SECURE_COOKIE`` (1/0), ``CLAIMS_CONSOLE_SESSION_SECONDS`` (absolute, default 12 h),
        ``CLAIMS_CONSOLE_IDLE_SECONDS`` (default 30 min), ``CLAIMS_CONSOLE_LOCKOUT_USER`` (default 5/15 minutes),
        ``CLAIMS_CONSOLE_LOCKOUT_ADDRESS`` (default 30/15 minutes), counted where
        ``CLAIMS_RATE_LIMIT_STORAGE`` says (default memory, per worker)."""
        default = SessionPolicy()
        absolute = int(env.get("CLAIMS_CONSOLE_SESSION_SECONDS") or default.absolute.total_seconds())
        idle = int(env.get("CLAIMS_CONSOLE_IDLE_SECONDS") or default.idle.total_seconds())
        if absolute <= 0 or idle <= 0:
            raise ValueError("console session lifetimes are positive numbers of seconds")
        return cls(
            secure_cookie=(env.get("CLAIMS_CONSOLE_SECURE_COOKIE") or "0").strip().lower() in ("1", "true", "yes"),
            policy=SessionPolicy(absolute=dt.timedelta(seconds=absolute), idle=dt.timedelta(seconds=idle)),
            lockout=Lockout.make(env.get("CLAIMS_CONSOLE_LOCKOUT_USER") or "5/15 minutes",
                                 env.get("CLAIMS_CONSOLE_LOCKOUT_ADDRESS") or "30/15 minutes",
                                 env.get("CLAIMS_RATE_LIMIT_STORAGE") or "memory://"),
        )
