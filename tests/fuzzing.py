"""The fuzz harness every codec and loader target shares (issue 18): a fast seeded mutator and a campaign that
counts honestly.

A campaign runs one callable per input. The callable checks the target's invariants itself (a round trip, a bad
check never delivered) and raises :class:`InvariantError` when one fails. The target's own documented error (passed as
``refusal``) is a rejection, and must say what was wrong; any other exception is a crash. Crashes and violations are
counted (both in the row's ``crashes``), the first few kept with the input that caused them, the row recorded in
the soak summary, and only then does the test fail, so the table shows the real figure.

Hypothesis is too slow for a million inputs; :class:`Mutator` (``random.Random`` with a fixed seed) is not, and a
failure replays from the seed and the input's index.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tests.soak_summary import Row, record

T = TypeVar("T")

SHORT = 5_000  # inputs per target in `make test`
LONG = 1_000_000  # inputs per target in `make soak` / `make fuzz`


class InvariantError(AssertionError):
    """An invariant of the target does not hold for this input (not a crash of the target, a wrong answer)."""


@dataclass
class Campaign:
    """One fuzz run of one target: call :meth:`run`, then :meth:`finish` (records the row, then asserts)."""

    target: str
    refusal: type[BaseException] | tuple[type[BaseException], ...]
    specific: Callable[[BaseException], bool] | None = None  # extra test that a refusal names what was wrong
    inputs: int = 0
    refused: int = 0
    crashes: int = 0
    violations: int = 0
    examples: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def _keep(self, index: int, sample: object, what: str) -> None:
        if len(self.examples) < 5:
            self.examples.append(f"input #{index} {_shown(sample)}: {what}")

    def run(self, samples: Iterable[T], one: Callable[[T], Any]) -> Campaign:
        for index, sample in enumerate(samples, start=self.inputs):
            self.inputs += 1
            try:
                one(sample)
            except InvariantError as err:
                self.violations += 1
                self._keep(index, sample, f"invariant broken: {err}")
            except self.refusal as err:
                self.refused += 1
                text = str(err)
                if not text.strip() or (self.specific is not None and not self.specific(err)):
                    self.violations += 1
                    self._keep(index, sample, f"unspecific refusal {type(err).__name__}: {text!r}")
            except Exception as err:
                self.crashes += 1
                where = traceback.extract_tb(err.__traceback__)[-1]
                self._keep(index, sample, f"crash {type(err).__name__}: {err} at {where.filename}:{where.lineno}")
        return self

    def finish(self, detail: str = "") -> None:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = f"{self.inputs / elapsed:,.0f} inputs/s"
        text = f"{rate}; {self.refused:,} refused"
        if self.violations:
            text += f"; {self.violations} invariant violations"
        record(Row(target=f"fuzz: {self.target}", inputs=self.inputs, crashes=self.crashes + self.violations,
                   detail=f"{text}; {detail}" if detail else text))  # fmt: skip
        failed = self.crashes + self.violations
        assert not failed, f"{self.target}: {self.crashes} crashes, {self.violations} violations:\n" + "\n".join(
            self.examples
        )


def _shown(sample: object) -> str:
    text = sample.hex(" ") if isinstance(sample, bytes | bytearray) else repr(sample)
    return text[:200] + (" ..." if len(text) > 200 else "")


def check(condition: bool, message: str) -> None:
    """Raise :class:`InvariantError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise InvariantError(message)


class Mutator:
    """Fast seeded byte mutations of known-good seeds: flips, token insertions, deletions, duplications, splices,
    truncations and plain random bytes."""

    def __init__(self, seed: int, seeds: Sequence[bytes], tokens: Sequence[bytes] = (), *, noise: float = 0.05,
                 max_ops: int = 4) -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.seeds = [bytes(s) for s in seeds]
        self.tokens = [bytes(t) for t in tokens] or [b"\x00", b"\xff"]
        self.noise = noise
        self.max_ops = max_ops

    def one(self) -> bytes:
        rng = self.rng
        if rng.random() < self.noise:
            return rng.randbytes(rng.randint(0, 64))
        data = bytearray(rng.choice(self.seeds))
        for _ in range(rng.randint(1, self.max_ops)):
            size = len(data)
            pos = rng.randrange(size + 1)
            op = rng.random()
            if op < 0.35 and size:
                data[min(pos, size - 1)] = rng.randrange(256)
            elif op < 0.45 and size:
                data[min(pos, size - 1)] ^= 1 << rng.randrange(8)
            elif op < 0.65:
                data[pos:pos] = rng.choice(self.tokens)
            elif op < 0.8:
                del data[pos : pos + rng.randint(1, 8)]
            elif op < 0.9:
                data[pos:pos] = data[pos : pos + rng.randint(1, 16)]
            else:
                other = rng.choice(self.seeds)
                cut = rng.randrange(len(other) + 1)
                data = data[:pos] + bytearray(other[cut:])
        return bytes(data)

    def many(self, count: int) -> Iterable[bytes]:
        for _ in range(count):
            yield self.one()
