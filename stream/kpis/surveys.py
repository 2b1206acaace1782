"""Satisfaction KPIs: CSAT (share of 4–5 ratings on a 1–5 scale) and NPS (−100..+100)."""

from __future__ import annotations


def csat(positive: int, responses: int) -> float | None:
    """Ratings 4–5 ÷ all ratings; ratio 0..1, ``None`` with no responses."""
    if responses <= 0:
        return None
    return positive / responses


def nps(promoters: int, detractors: int, responses: int) -> float | None:
    """% promoters (9–10) − % detractors (0–6); score −100..+100, ``None`` with no responses."""
    if responses <= 0:
        return None
    return 100.0 * (promoters - detractors) / responses


def is_csat_positive(score: int) -> bool:
    """A CSAT rating counts as satisfied at 4 or 5."""
    return score >= 4


def nps_class(score: int) -> int:
    """+1 promoter (9–10), 0 passive (7–8), −1 detractor (0–6)."""
    if score >= 9:
        return 1
    if score >= 7:
        return 0
    return -1
