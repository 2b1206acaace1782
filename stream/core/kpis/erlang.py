"""Staffing math: Erlang B, Erlang C and Erlang A (M/M/n+M), pure and numerically stable.

Notation: arrival rate ``lam`` (calls/s), mean handle time ``aht`` (s; service rate μ = 1/aht),
offered load ``A = lam · aht`` (Erlangs), ``n`` agents, answer target ``T`` (s), mean patience
``patience`` (s; abandonment rate θ = 1/patience).

* Erlang B, by the recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)) (Jagerman 1974): every
  term is a ratio in [0, 1], so nothing overflows at 500 or 5000 agents (no factorials, no
  powers of A).
* Erlang C (M/M/n, no abandonment), from B: C(n, A) = n·B / (n − A·(1 − B)) for n > A (Cooper,
  *Introduction to Queueing Theory*, 2nd ed., §3.4); the probability that a call waits.
  Service level SL(n) = 1 − C·e^{−(n − A)·T/aht}; mean wait (ASA) = C·aht / (n − A).
  With n ≤ A the queue grows without bound: SL 0, wait infinite.
* Erlang A (Palm 1943; Mandelbaum & Zeltyn, "The Palm/Erlang-A queue", 2007): M/M/n with
  exponential patience. The stationary distribution of the number in system is a birth-death
  chain, rates λ up, min(k, n)·μ + max(k − n, 0)·θ down, built as ratios to the previous state
  (log-free, stable) and truncated where the tail is below 1e-13 of the mass. An arrival that
  finds j calls waiting moves up one place at rate n·μ + i·θ (i calls still ahead: a service or
  an abandon ahead) and abandons itself at rate θ; P(answered within T | j) is computed for all j
  at once by uniformization (Grassmann 1977) over that pure-death chain. The service level is
  P(answered with wait ≤ T) over all arrivals: an abandon counts against it (abandons before the
  queue's short-abandon threshold are a small share; the model does not know them apart).

``agents_required`` returns the smallest n whose service level reaches the goal (the queue's
``service_level_goal`` at its ``answer_target_seconds``).
"""

from __future__ import annotations

import math
from typing import Final

MAX_AGENTS: Final = 10_000
"""Search bound of ``agents_required``: a load needing more returns ``None``."""
_TAIL: Final = 1e-13


def erlang_b(n: int, load: float) -> float:
    """Blocking probability of n servers under ``load`` Erlangs (iterative recursion)."""
    if n < 0 or load < 0:
        raise ValueError("n and load must be non-negative")
    b = 1.0
    for k in range(1, n + 1):
        ab = load * b
        b = ab / (k + ab)
    return b


def erlang_c(n: int, load: float) -> float:
    """Probability that a call waits (Erlang C); 1.0 when n ≤ load (unstable queue)."""
    if n <= load:
        return 1.0
    b = erlang_b(n, load)
    return n * b / (n - load * (1.0 - b))


def service_level_c(n: int, load: float, aht: float, target: float) -> float:
    """Erlang C: P(wait ≤ target) = 1 − C(n, A)·exp(−(n − A)·target/aht); 0 when n ≤ A."""
    if n <= load:
        return 0.0
    return 1.0 - erlang_c(n, load) * math.exp(-(n - load) * target / aht)


def mean_wait_c(n: int, load: float, aht: float) -> float:
    """Erlang C mean wait of all calls (ASA) = C(n, A)·aht/(n − A); ``inf`` when n ≤ A."""
    if n <= load:
        return math.inf
    return erlang_c(n, load) * aht / (n - load)


def _stationary_waiting(n: int, lam: float, mu: float, theta: float) -> tuple[float, list[float]]:
    """Erlang A: (P(an arrival finds a free agent), [P(it finds j calls waiting) for j ≥ 0])."""
    # Relative to p(0) = 1, term by term: p(k) = p(k−1)·λ/(k·μ) up to n, then λ/(n·μ + j·θ).
    # Scaled as it goes so that no term exceeds 1e250.
    free = 1.0
    p = 1.0
    for k in range(1, n):
        p *= lam / (k * mu)
        free += p
        if free > 1e250:
            free *= 1e-250
            p *= 1e-250
    p *= lam / (n * mu)  # p(n): all agents busy, nobody waiting
    waiting = [p]
    total = free + p
    j = 0
    while True:
        j += 1
        p *= lam / (n * mu + j * theta)
        waiting.append(p)
        total += p
        if p < _TAIL * total and lam < n * mu + j * theta:
            break
    return free / total, [w / total for w in waiting]


def _answered_within(n: int, mu: float, theta: float, target: float, positions: int) -> list[float]:
    """Erlang A: for an arrival finding j = 0..positions−1 waiting, P(answered within target)."""
    # Chain of places i = j..0 (i calls ahead), absorbing "answered" (from place 0 at n·μ) and
    # "abandoned" (rate θ from every place). Uniformized with rate L = n·μ + (positions)·θ:
    # from place i, step to i−1 (or answered) w.p. (n·μ + i·θ)/L, abandon w.p. θ/L, stay else.
    big = n * mu + positions * theta
    x = target * big
    # u[i]: P(answered within k jumps | at place i); weight of k jumps: Poisson(x, k).
    u = [0.0] * positions
    out = [0.0] * positions
    weight = math.exp(-x) if x < 700 else 0.0
    log_weight = -x
    k = 0
    # Poisson weights summed until the remaining mass is below the tail.
    cumulative = 0.0
    limit = int(x + 12.0 * math.sqrt(x) + 50)
    while k <= limit:
        if weight > 0.0:
            for i in range(positions):
                out[i] += weight * u[i]
            cumulative += weight
        # one more jump: new u from old u (place 0 moves to answered = 1)
        new = [0.0] * positions
        stay0 = 1.0 - (n * mu + theta) / big
        new[0] = (n * mu) / big + stay0 * u[0]
        for i in range(1, positions):
            move = (n * mu + i * theta) / big
            new[i] = move * u[i - 1] + (1.0 - move - theta / big) * u[i]
        u = new
        k += 1
        log_weight += math.log(x) - math.log(k) if x > 0 else -math.inf
        weight = math.exp(log_weight) if log_weight > -745 else 0.0
        if cumulative > 1.0 - _TAIL and k > x:
            break
    for i in range(positions):
        out[i] += (1.0 - cumulative) * u[i]  # the tail: at most its own weight
    return out


def service_level_a(n: int, lam: float, aht: float, patience: float, target: float) -> float:
    """Erlang A: P(a call is answered with wait ≤ target), abandons counted against it."""
    if n < 1:
        return 0.0
    if lam <= 0:
        return 1.0
    if math.isinf(patience):  # no abandonment: Erlang C
        return service_level_c(n, lam * aht, aht, target)
    mu, theta = 1.0 / aht, 1.0 / patience
    free, waiting = _stationary_waiting(n, lam, mu, theta)
    within = _answered_within(n, mu, theta, target, len(waiting))
    return free + sum(p * w for p, w in zip(waiting, within, strict=True))


def agents_required_c(lam: float, aht: float, target: float, goal: float) -> int | None:
    """Smallest n with Erlang C service level ≥ ``goal``; 0 with no calls; None past MAX_AGENTS."""
    if lam <= 0:
        return 0
    load = lam * aht
    n = max(1, math.floor(load) + 1)
    while n <= MAX_AGENTS:
        if service_level_c(n, load, aht, target) >= goal:
            return n
        n += 1
    return None


def agents_required_a(
    lam: float, aht: float, patience: float, target: float, goal: float
) -> int | None:
    """Smallest n with Erlang A service level ≥ ``goal`` (binary search: SL rises with n)."""
    if lam <= 0:
        return 0
    if goal <= 0:
        return 1
    hi = agents_required_c(lam, aht, target, goal) or MAX_AGENTS
    while service_level_a(hi, lam, aht, patience, target) < goal:
        if hi >= MAX_AGENTS:
            return None
        hi = min(MAX_AGENTS, hi * 2)
    lo = 0  # service_level_a(0) is 0 < goal
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if service_level_a(mid, lam, aht, patience, target) >= goal:
            hi = mid
        else:
            lo = mid
    return hi
