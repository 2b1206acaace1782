"""Satisfaction KPIs: CSAT (share of 4–5 ratings on a 1–5 scale) and NPS (−100..+100).

Beside each score: its response count, CSAT's mean rating and Wilson 95 % interval, and the
change against the previous period of the same window kind (satisfaction trend). Small samples
mislead, so ``sampled`` withholds a score below a minimum number of responses.
"""

from __future__ import annotations

from math import sqrt
from typing import Final

WILSON_Z_95: Final = 1.959963984540054  # two-sided 95 %: the 0.975 quantile of N(0, 1)


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


def csat_mean_score(score_sum: int, responses: int) -> float | None:
    """Mean CSAT rating: sum of ratings ÷ ratings; score 1..5, ``None`` with no responses."""
    if responses <= 0:
        return None
    return score_sum / responses


def wilson_interval(
    positive: int, responses: int, z: float = WILSON_Z_95
) -> tuple[float, float] | None:
    """Wilson score interval of the share ``positive ÷ responses`` (default 95 %):
    centre (p + z²/2n) ÷ (1 + z²/n) ± z·√(p(1−p)/n + z²/4n²) ÷ (1 + z²/n); ratio bounds within
    0..1, ``None`` with no responses. Unlike p ± z·√(p(1−p)/n) it stays inside 0..1 and is not
    zero-width at 0 % or 100 %, which is what makes it fit a handful of ratings."""
    if responses <= 0:
        return None
    n = responses
    p = positive / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def nps_passives(promoters: int, detractors: int, responses: int) -> int:
    """Passives (7–8): responses that are neither promoters nor detractors; count, 0 when none."""
    return responses - promoters - detractors


def sampled(value: float | None, responses: int, min_sample: int) -> float | None:
    """``value`` when it rests on at least ``min_sample`` responses, else ``None`` (no data)."""
    return value if responses >= min_sample else None


def change(current: float | None, previous: float | None) -> float | None:
    """This period's value − the previous period's (same unit as the values: ratio or NPS
    points); ``None`` when either has no data."""
    if current is None or previous is None:
        return None
    return current - previous
