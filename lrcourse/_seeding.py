"""Build torch objects from a seed without disturbing the caller's random stream."""
from __future__ import annotations

from typing import Any, Callable

from ._validation import integer


def seeded(seed: int, build: Callable[[], Any]) -> Any:
    """``build()`` with torch's generator seeded by ``seed``; the generator's state is restored afterwards."""
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(integer("seed", seed, minimum=0))
    try:
        return build()
    finally:
        torch.random.set_rng_state(state)  # seeding here does not disturb the caller's stream
