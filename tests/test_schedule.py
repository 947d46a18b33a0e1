"""Which version is in force on a day (rules/schedule.py): no database, no plans, just dates."""

from __future__ import annotations

import datetime as dt

from rules.schedule import Schedule, in_force

D = dt.date.fromisoformat


def test_the_version_in_force_is_the_latest_effective_on_or_before_the_day():
    schedule = Schedule([(D("2026-07-01"), "july"), (D("2000-01-01"), "default"), (D("2027-01-01"), "2027")])
    assert schedule.in_force(D("2000-01-01")) == "default"
    assert schedule.in_force(D("2026-06-30")) == "default"
    assert schedule.in_force(D("2026-07-01")) == "july"
    assert schedule.in_force(D("2026-12-31")) == "july"
    assert schedule.in_force(D("2031-05-05")) == "2027"


def test_nothing_is_in_force_before_the_first_version_or_in_an_empty_schedule():
    assert Schedule([(D("2026-07-01"), "july")]).in_force(D("2026-06-30")) is None
    assert Schedule([]).in_force(D("2026-06-30")) is None
    assert in_force([], D("2026-06-30")) is None


def test_of_two_versions_from_the_same_day_the_one_listed_later_is_in_force():
    # Callers list versions in the order they were published: a same-day replacement wins.
    entries = [(D("2000-01-01"), "default"), (D("2026-07-01"), "july"), (D("2000-01-01"), "replacement")]
    assert in_force(entries, D("2026-01-01")) == "replacement"
    assert in_force(entries, D("2026-07-01")) == "july"
    assert in_force(list(reversed(entries)), D("2026-01-01")) == "default"
    assert Schedule(entries).items() == ["replacement", "july"]  # the superseded default is never in force


def test_only_the_days_before_the_first_version_can_be_uncovered():
    schedule = Schedule([(D("2026-07-01"), "july"), (D("2027-01-01"), "2027")])
    assert schedule.uncovered(D("2026-03-01"), D("2027-11-30")) == (D("2026-03-01"), D("2026-06-30"))
    assert schedule.uncovered(D("2026-07-01"), D("2027-11-30")) is None
    assert schedule.uncovered(D("2020-01-01"), D("2026-01-31")) == (D("2020-01-01"), D("2026-01-31"))
    assert Schedule([]).uncovered(D("2026-11-30"), D("2027-11-30")) == (D("2026-11-30"), D("2027-11-30"))
    assert schedule.uncovered(D("2027-12-01"), D("2027-11-30")) is None  # an empty range needs nothing
