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

import copy
import json
import math
import random
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any, Protocol, TypeVar

from tests.soak_summary import Row, record

T = TypeVar("T")

SHORT = 10_000  # inputs per codec in `make test`
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


class Problem(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def message(self) -> str: ...


def check_refusal(problems: Sequence[Problem], doc: dict[str, Any], roots: set[str]) -> None:
    """A loader's refusal names each problem, with a message, at a key path of the document (or of the model)."""
    check(bool(problems), "a refusal without problems")
    for problem in problems:
        check(bool(problem.message.strip()), f"problem without a message: {problem}")
        syntax = problem.message.startswith(("TOML syntax error", "not UTF-8"))
        root = problem.path.split(".")[0].split("[")[0]
        check(syntax or (bool(problem.path) and root in roots | set(doc)),
              f"problem not at a key path of the document: {problem!r}")  # fmt: skip


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


# ------------------------------------------------------------------------------------ structured TOML mutations

ODD_VALUES: tuple[object, ...] = (
    -1, 0, 1, 2**31, 2**63 - 1, -(2**63), 10**6, 1.5, -0.0, float("nan"), float("inf"), True, False, "", " ", "x",
    "5.00", "-5.00", "0.001", "1e3", "５.00", "9" * 40, "25:00", "00:00", "23:59", "24:00", "07:30", "UTC",
    "Mars/Olympus", "CNY", "XXX", "粤B3R7K2", "\u0000", "a\nb", "../../etc/passwd", "/dev/ttyUSB0", "0.0.0.0:0",
    "http://", "P1", [], [1], ["a", "b"], [{}], {}, {"a": 1}, {"unknown": "key"},
    datetime(2026, 3, 2, 8, 0, tzinfo=UTC), datetime(2026, 3, 2, 8, 0), date(2026, 3, 2), dtime(8, 0),
)  # fmt: skip


def toml_text(doc: dict[str, Any]) -> str:
    """``doc`` as TOML: top-level ``key = value`` lines, every table inline (TOML allows any nesting that way)."""
    return "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in doc.items())


def _toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


class TomlMutator:
    """Mutations of parsed TOML documents (dicts): delete a key, replace a value by an odd one (wrong type, out of
    range, empty), perturb a number, add an unknown key, duplicate or empty a list, copy another node's value."""

    def __init__(self, seed: int, docs: Sequence[dict[str, Any]], *, max_ops: int = 3) -> None:
        self.rng = random.Random(seed)
        self.docs = list(docs)
        self.max_ops = max_ops

    def _nodes(self, doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, Any]]:
        """(container, key) pairs for every value in ``doc``."""
        out: list[tuple[Any, Any]] = []
        items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
        for key, value in items:
            out.append((doc, key))
            out.extend(self._nodes(value, (*path, key)))
        return out

    def one(self) -> dict[str, Any]:
        rng = self.rng
        doc: dict[str, Any] = copy.deepcopy(rng.choice(self.docs))
        for _ in range(rng.randint(1, self.max_ops)):
            nodes = self._nodes(doc)
            if not nodes:
                break
            container, key = rng.choice(nodes)
            value = container[key]
            op = rng.random()
            if op < 0.2:
                del container[key]
            elif op < 0.5:
                container[key] = copy.deepcopy(rng.choice(ODD_VALUES))
            elif op < 0.65 and isinstance(value, int | float) and not isinstance(value, bool):
                container[key] = rng.choice([value + 1, value - 1, -value, value * 10, value * 1000, 0])
            elif op < 0.75 and isinstance(value, dict):
                value[rng.choice(["extra", "unit_minute", "Price", "0", ""])] = rng.choice(ODD_VALUES[:12])
            elif op < 0.85 and isinstance(value, list):
                if value and rng.random() < 0.6:
                    value.insert(rng.randrange(len(value) + 1), copy.deepcopy(rng.choice(value)))
                else:
                    value.clear()
            else:
                other_container, other_key = rng.choice(nodes)
                container[key] = copy.deepcopy(other_container[other_key])
        return doc

    def many(self, count: int) -> Iterable[dict[str, Any]]:
        for _ in range(count):
            yield self.one()
