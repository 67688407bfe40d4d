"""Fault injection per endpoint: server errors, throttling, added latency; seeded draws.

Each endpoint has its own ``random.Random``, seeded from its ``FaultSpec.seed`` whenever the
faults are set, so a run with the same seed and the same request sequence sees the same
faults. Off by default.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from .config import FAULT_ENDPOINTS, FaultSpec


@dataclass(frozen=True)
class Decision:
    """What to do with one request."""

    latency_ms: float = 0.0
    fault: str | None = None  # "error", "throttle", "internal" or None


class Faults:
    def __init__(self, specs: dict[str, FaultSpec] | None = None) -> None:
        self._lock = threading.Lock()
        self._specs: dict[str, FaultSpec] = {}
        self._rngs: dict[str, random.Random] = {}
        self.set(specs or {})

    def set(self, specs: dict[str, FaultSpec]) -> None:
        """Replace the faults of the endpoints named (others keep theirs) and reseed them."""
        unknown = set(specs) - set(FAULT_ENDPOINTS)
        if unknown:
            raise ValueError(f"no endpoint {', '.join(sorted(unknown))}; choose from {', '.join(FAULT_ENDPOINTS)}")
        with self._lock:
            for endpoint, spec in specs.items():
                self._specs[endpoint] = spec
                self._rngs[endpoint] = random.Random(spec.seed)

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()
            self._rngs.clear()

    def specs(self) -> dict[str, FaultSpec]:
        with self._lock:
            return {endpoint: self._specs.get(endpoint, FaultSpec()) for endpoint in FAULT_ENDPOINTS}

    def decide(self, endpoint: str) -> Decision:
        with self._lock:
            spec = self._specs.get(endpoint)
            if spec is None or not spec.active:
                return Decision()
            draw = self._rngs[endpoint].random()
        fault = None
        if draw < spec.error_rate:
            fault = "error"
        elif draw < spec.error_rate + spec.throttle_rate:
            fault = "throttle"
        elif endpoint == "graphql" and draw < spec.error_rate + spec.throttle_rate + spec.internal_error_rate:
            fault = "internal"
        return Decision(spec.latency_ms, fault)
