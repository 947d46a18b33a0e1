"""A real ``claims serve`` in a subprocess, the databases it serves, and bounded HTTP load.

Used by the load tests (this folder) and by ``benchmarks/test_http_throughput.py``.

``Server`` starts ``claims serve --workers N`` on a free port of 127.0.0.1 in a new
session (its own process group): uvicorn's supervisor forks the workers, so stopping
or SIGKILLing "the server" means signalling the whole group, never a single pid. The
server writes its log to a file (a pipe nobody reads would fill and block it); the log
is quoted when the server fails to start.

``fresh_database`` makes a migrated, empty database: a SQLite file, or a PostgreSQL
database ``claims_test_<pid>_<n>`` (``tests/databases.py``) made through the server's ``test`` database and
dropped afterwards. A PostgreSQL that cannot be reached raises ``PostgresUnreachable``
with the URL tried; the tests turn that into a failure, never a skip.

Every request loop here is bounded in count and in time, and only loopback addresses
are ever targeted.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from service import claims, registry, settlements
from service.auth import CLI, Role, create_key
from service.plans import PlanBook, ensure_published_default
from service.schemas import ClaimCreate, EnrollmentCreate, HardshipCreate, HospitalCreate, MemberCreate, UnionCreate
from store.db import make_engine, session_factory
from tests.builders import certno_for

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
BACKENDS = ("sqlite", "postgres")



# ----------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def claims_command() -> list[str]:
    """The installed ``claims`` entry point of this interpreter's environment."""
    script = Path(sys.executable).with_name("claims")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``claims <args>`` as a user runs it; output captured as text."""
    return subprocess.run([*claims_command(), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


class Server:
    """``claims serve`` on a free loopback port with ``workers`` processes, in its own process group."""

    STARTED = "Application startup complete."

    def __init__(self, db_url: str, workdir: Path, workers: int = 2, start_timeout: float = 90,
                 env: dict[str, str] | None = None) -> None:
        self.db_url = db_url
        self.env = env or {}  # settings for the server (CLAIMS_CONSOLE_IDLE_SECONDS...)
        self.workers = workers
        self.start_timeout = start_timeout
        self.port = free_port()
        self.log_path = workdir / f"serve-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self) -> "Server":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("CLAIMS_DATABASE_URL", None)
        env.pop("CLAIMS_PLAN", None)
        env.update(self.env)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*claims_command(), "serve", "--db", self.db_url, "--host", HOST, "--port", str(self.port),
                 "--workers", str(self.workers)],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        with client(self.base_url, timeout=5) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"claims serve exited with {self.process.returncode}:\n{self.log()[-3000:]}")
                # Every worker has started (not just the first to answer /health).
                if self.log().count(self.STARTED) >= self.workers:
                    try:
                        if http.get("/health").status_code == 200:
                            return self
                    except httpx.TransportError:
                        pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"claims serve did not start within {self.start_timeout} s:\n{self.log()[-3000:]}")

    def worker_cpu_seconds(self) -> dict[int, float]:
        """CPU seconds (user + system) used so far by each child of the supervisor (Linux /proc)."""
        assert self.process is not None
        used: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid:  # fields[1] is the parent pid
                used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        return used

    def _signal_group(self, sig: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)  # the group this Popen started (start_new_session)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the supervisor and every worker at once, as a power cut would."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._wait_group_gone()

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM to the group); SIGKILL whatever is left after 20 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=30)
        self._wait_group_gone()

    def _wait_group_gone(self, timeout: float = 10) -> None:
        """Workers are reaped by init once the supervisor is gone; wait until none is left."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----------------------------------------------------------------------------- requests


_TLS = ssl.create_default_context()


def client(base_url: str, timeout: float = 60) -> httpx.Client:
    """An HTTP client for one thread. The servers are plain HTTP on loopback; sharing one TLS
    context only spares each client the 50 ms of loading the CA bundle that httpx does
    per client, which with 100 clients would be the slowest part of a test."""
    return httpx.Client(base_url=base_url, timeout=timeout, verify=_TLS)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def bill(setl_id: str, b: str, *, patient: str, begndate: str, enddate: str, diag_code: str = "J18.900",
         hospital: str = "H1", fund: str = "4000.00") -> dict[str, Any]:
    """A settlement of member ``patient`` that adds up (default-plan.md section 2) with in-policy self-pay B = ``b``.

    It carries the patient's resident identity number (as ``seed`` registers it), so
    only that member can claim it.
    """
    b_, fund_ = Decimal(b), Decimal(fund)
    total = fund_ + b_
    return {
        "fixmedins_code": hospital, "fixmedins_name": f"{hospital} 医院", "hosp_lv": "02", "setl_id": setl_id,
        "insutype": "310", "med_type": "21", "begndate": begndate, "enddate": enddate, "certno": certno_for(patient),
        "medfee_sumamt": f"{total:.2f}", "fulamt_ownpay_amt": "0.00", "overlmt_selfpay": "0.00",
        "preselfpay_amt": "0.00", "inscp_scp_amt": f"{total:.2f}", "hifp_pay": f"{fund_:.2f}",
        "fund_pay_sumamt": f"{fund_:.2f}", "psn_part_amt": f"{b_:.2f}", "acct_pay": "0.00",
        "psn_cash_pay": f"{b_:.2f}",
        "diagnoses": [{"diag_code": diag_code, "diag_name": "", "maindiag_flag": "1"}],
    }


@dataclass
class Answer:
    """One request's outcome: status and JSON body, or the transport error that ended it."""

    status: int | None
    body: Any = None
    error: str | None = None
    seconds: float = 0.0


def send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Answer:
    started = time.perf_counter()
    try:
        response = client.request(method, path, **kwargs)
    except httpx.TransportError as err:
        return Answer(None, error=f"{type(err).__name__}: {err}", seconds=time.perf_counter() - started)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(response.status_code, body, seconds=time.perf_counter() - started)


def all_at_once(base_url: str, calls: list[Callable[[httpx.Client], Answer]], timeout: float = 60) -> list[Answer]:
    """Run each call in its own thread with its own client, released together by a barrier.

    Bounded: one request per thread, each with ``timeout``; the threads are joined
    within twice that.
    """
    barrier = threading.Barrier(len(calls))
    answers: list[Answer | None] = [None] * len(calls)

    def run(i: int) -> None:
        with client(base_url, timeout) as c:
            try:
                barrier.wait(timeout=timeout)
            except threading.BrokenBarrierError:
                answers[i] = Answer(None, error="the other threads never arrived")
                return
            answers[i] = calls[i](c)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=2 * timeout)
    return [a if a is not None else Answer(None, error="no answer in time") for a in answers]


# ----------------------------------------------------------------------------- the cast

YEAR = dt.date.today().year - 1  # last year: a claim is never in the future and never late
SUBMITTED = f"{YEAR}-06-30"
# Claims are sent by officers, who record when a paper claim reached the union office (and why).
PAPER_NOTE = "纸质申请表已于当日交至工会办公室"
RECEIVED = {"submitted_on": SUBMITTED, "note": PAPER_NOTE}


@dataclass(frozen=True)
class Keys:
    admin: str
    officer: str  # of union U1
    hospital: str  # of hospital H1


def seed(db_url: str, members: list[str], *, hardship_registered_on: str | None = None) -> Keys:
    """The published default plan, union U1, hospital H1 (grade 02), renewing members
    (enrolled last year and the year before), optionally on the hardship register (near_dibao, verified), and a key per role.

    Made through the services, in one transaction, as the command line's administrator.
    """
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            ensure_published_default(s)  # as the app does when it starts
            registry.create_union(s, CLI, UnionCreate(id="U1", name="呼和浩特市总工会"))
            registry.create_hospital(s, CLI, HospitalCreate(code="H1", name="内蒙古医科大学附属医院", grade="02"))
            for member in members:
                registry.create_member(s, CLI, MemberCreate(id=member, union_id="U1", gender="F", certno=certno_for(member),
                                                            birth_date=dt.date(1979, 3, 14)))
                for year in (YEAR - 1, YEAR):
                    registry.add_enrollment(s, CLI, member, EnrollmentCreate(
                        period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31),
                        enrolled_on=dt.date(year - 1, 12, 1)))
                if hardship_registered_on:
                    on = dt.date.fromisoformat(hardship_registered_on)
                    registry.register_hardship(s, CLI, member, HardshipCreate(
                        category="near_dibao", registered_on=on, verified=True, verified_on=on))
            keys = Keys(
                admin=create_key(s, Role.ADMIN, label="load admin")[1],
                officer=create_key(s, Role.OFFICER, union_id="U1", label="load officer")[1],
                hospital=create_key(s, Role.HOSPITAL, hospital_code="H1", label="load hospital")[1],
            )
            s.commit()
        return keys
    finally:
        engine.dispose()


def claim_in_process(db_url: str, member: str, settlement: dict[str, Any], submitted_on: str = SUBMITTED) -> str:
    """Post a settlement and claim it through the services (no server); returns the claim status."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as s:
            row, _ = settlements.post_settlement(s, CLI, settlement)
            claim = claims.submit_claim(s, CLI, PlanBook(), ClaimCreate(
                member_id=member, settlement_id=row.id, submitted_on=dt.date.fromisoformat(submitted_on),
                note=PAPER_NOTE))
            s.commit()
            return claim.status
    finally:
        engine.dispose()
