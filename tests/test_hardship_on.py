"""Which hardship registration decides a claim: written once, in claims/members.py."""

import datetime as dt

from claims.members import HardshipCategory, HardshipRegistration, hardship_on

D = dt.date


def _reg(category: str, registered: str, revoked: str | None = None, verified: bool = True) -> HardshipRegistration:
    return HardshipRegistration(HardshipCategory(category), verified, D.fromisoformat(registered),
                                D.fromisoformat(revoked) if revoked else None)


def test_no_registration_active_on_the_admission_date_means_not_registered():
    regs = [_reg("dibao", "2025-03-01", revoked="2025-06-01")]
    assert hardship_on(regs, D(2025, 2, 28)) is None
    assert hardship_on(regs, D(2025, 6, 1)) is None  # revoked that day: no longer active
    assert hardship_on(regs, D(2025, 5, 31)) == regs[0]


def test_of_two_active_registrations_the_latest_registered_decides_and_on_a_tie_the_last_entered():
    older, newer = _reg("near_dibao", "2024-01-01"), _reg("dibao", "2025-01-01")
    assert hardship_on([newer, older], D(2025, 7, 1)) == newer
    first, second = _reg("accident", "2025-01-01"), _reg("dibao", "2025-01-01", verified=False)
    assert hardship_on([first, second], D(2025, 7, 1)) == second
