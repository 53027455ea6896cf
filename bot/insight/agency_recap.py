"""The recap's section per partner agency (SPEC §8): reports forwarded that day, how many
were accepted, done and returned, and the median time to accept and to finish."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.core.i18n import duration_text, t
from storage.recap import ForwardFact

AGENCIES_IN_TEXT = 3


@dataclass(frozen=True, slots=True)
class AgencyStat:
    agency: str
    forwarded: int
    accepted: int
    done: int
    returned: int
    median_accept: timedelta | None
    median_finish: timedelta | None


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(value.total_seconds() for value in values))


def agency_stats(forwards: Sequence[ForwardFact], post_ids: Collection[int]) -> list[AgencyStat]:
    """One line of figures per agency, the busiest first."""
    by_agency: dict[str, list[ForwardFact]] = {}
    for fact in forwards:
        if fact.post_id in post_ids:
            by_agency.setdefault(fact.agency, []).append(fact)
    stats = [
        AgencyStat(
            agency=agency,
            forwarded=len(facts),
            accepted=sum(1 for f in facts if f.accepted_at is not None),
            done=sum(1 for f in facts if f.state == "selesai"),
            returned=sum(1 for f in facts if f.state == "dikembalikan"),
            median_accept=_median(
                [f.accepted_at - f.forwarded_at for f in facts if f.accepted_at is not None]
            ),
            median_finish=_median(
                [
                    f.closed_at - f.forwarded_at
                    for f in facts
                    if f.state == "selesai" and f.closed_at is not None
                ]
            ),
        )
        for agency, facts in by_agency.items()
    ]
    return sorted(stats, key=lambda stat: (-stat.forwarded, stat.agency))


def render_lines(language: str, stats: Sequence[AgencyStat]) -> list[str]:
    if not stats:
        return []
    none = t(language, "recap.no_value")
    lines = [t(language, "recap.agency_title")]
    for stat in stats[:AGENCIES_IN_TEXT]:
        lines.append(
            t(
                language,
                "recap.agency_line",
                agency=stat.agency,
                forwarded=stat.forwarded,
                accepted=stat.accepted,
                done=stat.done,
                returned=stat.returned,
            )
        )
        lines.append(
            t(
                language,
                "recap.agency_times",
                accepted=stat.accepted,
                accept=duration_text(language, stat.median_accept) if stat.median_accept else none,
                finish=duration_text(language, stat.median_finish) if stat.median_finish else none,
            )
        )
    if len(stats) > AGENCIES_IN_TEXT:
        lines.append(t(language, "recap.agency_more", count=len(stats) - AGENCIES_IN_TEXT))
    return lines
