"""The one backoff rule for retries: feeds, shared national feeds, the circuit breaker, webhooks.

Each retry waits ``first * factor ** attempt`` seconds (attempt 0 is the first retry), at most ``cap``,
times a random factor from ``jitter`` so that many sources or webhooks that failed together do not all
come back in the same second.
"""

import random


def backoff_seconds(
    attempt: int,
    *,
    first: float,
    factor: float = 2,
    cap: float | None = None,
    jitter: tuple[float, float] = (0.8, 1.2),
) -> float:
    wait = first * factor ** max(attempt, 0)
    if cap is not None:
        wait = min(wait, cap)
    return wait * random.uniform(*jitter)
