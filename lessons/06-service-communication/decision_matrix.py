"""Decision matrix: sync or async, interaction by interaction

Which pattern LaunchPad uses for each conversation between its parts, why, and the demo
of this lesson where you saw it happen. The test for every row is one question: can the
caller go on without the answer?

Run: ``launchpad lesson 06 decision_matrix``
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from _demo import Demo, run_demo


class Interaction(NamedTuple):
    who: str
    pattern: str
    why: str
    demos: tuple[str, ...]


# --8<-- [start:matrix]
MATRIX = [
    Interaction(
        "client -> gateway",
        "sync HTTP",
        "a person waits for the answer",
        ("gateway_proxy",),
    ),
    Interaction(
        "gateway -> auth",
        "sync HTTP (proxy)",
        "no answer, no login",
        ("gateway_proxy", "sync_http"),
    ),
    Interaction(
        "notifications -> auth (verify a token)",
        "sync HTTP + deadline + circuit breaker",
        "no user, no request; a hung auth must not hang us",
        ("sync_http", "deadlines", "circuit_breaker"),
    ),
    Interaction(
        "gateway -> notifications",
        "sync HTTP (proxy)",
        "the caller wants 'accepted' now; delivery is async",
        ("gateway_proxy", "async_queue"),
    ),
    Interaction(
        "auth -> notifications (welcome email)",
        "async, via auth's outbox + the queue",
        "slow and flaky; signing up must not wait for it, nor lose it",
        ("async_queue", "eventual_consistency", "outbox"),
    ),
    Interaction(
        "worker -> email provider",
        "at-least-once + idempotency key",
        "a retried job runs twice; one email",
        ("idempotency",),
    ),
]
# --8<-- [end:matrix]

RULES = [
    ("The caller needs the result to go on (auth, reads, a price)", "sync HTTP, with a timeout"),
    ("The caller only needs to know the work will happen", "async, through a queue"),
    ("The work is slow, flaky, or done by someone else's system", "async, retried, idempotent"),
    ("A business rule needs both to happen together (pay, then ship)", "sync, or a saga"),
    ("Not sure yet", "start sync (simpler); move to async when it hurts"),
]


def body(demo: Demo) -> None:
    here = Path(__file__).resolve().parent
    rows = []
    missing: list[str] = []
    for row in MATRIX:
        for name in row.demos:
            if not (here / f"{name}.py").is_file():
                missing.append(name)
        rows.append([row.who, row.pattern, row.why, "\n".join(row.demos)])
    demo.table("interaction", "pattern", "why", "see it in", rows=rows, title="LaunchPad")
    demo.table(
        "when...", "choose", rows=[list(r) for r in RULES], title="rules of thumb (any system)"
    )
    demo.panel(
        "Sync couples the caller to the callee in time: both must be up, and the caller "
        "waits. Async removes that coupling; the price is eventual consistency and retries, "
        "which is why every async consumer must be idempotent.",
        title="takeaway",
    )
    sync = sum(row.pattern.startswith("sync") for row in MATRIX)
    demo.headline(
        f"{len(MATRIX)} interactions of LaunchPad: {sync} synchronous, "
        f"{len(MATRIX) - sync} asynchronous or at-least-once"
    )
    demo.observe(
        rows=[row._asdict() for row in MATRIX],
        demos_linked=sorted({d for row in MATRIX for d in row.demos}),
        missing_demos=sorted(set(missing)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_demo(__doc__, body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
