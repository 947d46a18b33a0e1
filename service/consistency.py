"""``claims check``: every stored total equals the decisions behind it.

After a crash (or on any day) this recomputes each member's accumulators from the
decision lines and adjustments and compares them with the stored ones, checks that
every claim's status and total agree with its lines, and that its lines are the
decision its latest audit entry recorded (``audit.decision_digest``): a decision
edited in the database, lines and total alike, adds up but no longer matches. The
ledger's own rules (every entry balances, reversals negate, the trial balance is
zero) are ``service.ledger_check``'s.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.decision import BenefitLine, LineStatus, claim_status
from claims.money import format_fen
from service import audit, funds, ledger_check, payments
from service import claim_aggregate as aggregate
from store import models


def check(session: Session) -> list[str]:
    """Problems found, one line each; empty when everything adds up."""
    problems: list[str] = []
    expected: dict[tuple[str, str, str, str], int] = defaultdict(int)
    owner = dict(session.execute(select(models.Claim.id, models.Claim.member_id)).all())
    # What each claim holds, its decision's lines and its adjustments, as the claim
    # aggregate counts it for every decision it makes.
    for claim_id, changes in aggregate.holdings(session).items():
        for c in changes:
            expected[(owner[claim_id], c.benefit, c.measure, c.scope)] += c.delta
    lines_by_claim: dict[int, list[models.DecisionLine]] = defaultdict(list)
    for line in session.scalars(select(models.DecisionLine).order_by(models.DecisionLine.claim_id, models.DecisionLine.position)):
        lines_by_claim[line.claim_id].append(line)
    recorded = audit.recorded_decisions(session)
    cancelled = set(session.scalars(select(models.AuditEntry.entity_id).where(
        models.AuditEntry.entity == "claim", models.AuditEntry.action == "claim.cancelled")))
    stored = {(a.member_id, a.benefit, a.measure, a.scope): a.value for a in session.scalars(select(models.Accumulator))}
    for key in sorted(set(expected) | set(stored)):
        want, have = expected.get(key, 0), stored.get(key, 0)
        if want != have:
            member, benefit, measure, scope = key
            shown = (format_fen(want), format_fen(have)) if measure in ("paid", "base") else (want, have)
            problems.append(f"member {member} {benefit} {measure} {scope}: decisions give {shown[0]}, stored {shown[1]}")
    for claim in session.scalars(select(models.Claim).order_by(models.Claim.id)):
        lines = lines_by_claim.get(claim.id, [])
        if not lines:
            problems.append(f"claim {claim.id} has no decision lines")
            continue
        domain = [BenefitLine(ln.benefit, LineStatus(ln.status), ln.amount) for ln in lines]
        if claim.status == aggregate.CANCELLED:
            # Its lines stay as decided; it holds nothing (holdings leaves it out) and its
            # cancellation is in the log, or someone set the status behind the service's back.
            if str(claim.id) not in cancelled:
                problems.append(f"claim {claim.id} is cancelled but the audit log has no cancellation of it")
        total = sum(ln.amount for ln in domain if ln.counts)
        if total != claim.total:
            problems.append(f"claim {claim.id}: total {format_fen(claim.total)}, its lines add up to {format_fen(total)}")
        if claim.status != aggregate.CANCELLED and claim_status(domain).value != claim.status:
            problems.append(f"claim {claim.id}: status {claim.status}, its lines say {claim_status(domain).value}")
        entry = recorded.get(str(claim.id))
        if entry is None:
            problems.append(f"claim {claim.id} has no audit entry for its decision")
        elif "decision" in entry[1] and entry[1]["decision"] != audit.decision_digest(lines):
            # (An entry written before decisions carried a digest has no "decision" to compare.)
            problems.append(f"claim {claim.id}: its lines are not the decision recorded in the audit log "
                            f"(entry at position {entry[0]}): changed outside the service")
    problems += payments.check(session)  # funds.md §3-4: paid once, one live run a line, the ledger agrees
    problems += ledger_check.check(session)
    problems.extend(funds.check(session))
    return problems
