"""Grading on a real Redis server (--redis-url): same marks, and nothing left behind on a
server that other tests share."""

from __future__ import annotations

import pytest

from launchpad.grading.engine import GradingOptions, grade_submission
from launchpad.redis import create_redis_connection

from .conftest import SOLUTION

ON_REDIS = frozenset(
    {
        "happy_path",
        "replay_same_order",
        "job_ids_from_order",
        "inventory_worker_idempotent",
        "saga_compensates",
    }
)


@pytest.mark.real_redis
def test_the_solution_grades_the_same_on_a_real_redis(real_redis_url: str) -> None:
    conn = create_redis_connection("test", real_redis_url)

    def ours() -> set[str]:
        # Every key the lab and the submission make has "grade-<run id>" in its name.
        return set(conn.scan_iter("grade-*", count=1000)) | set(
            conn.scan_iter("launchpad:{grade-*", count=1000)
        )

    try:
        before = ours()
        options = GradingOptions(redis_url=real_redis_url, only=ON_REDIS)
        report = grade_submission(SOLUTION, options=options)
        assert report.failed() == [], [r.message for r in report.results if not r.passed]
        assert ours() - before == set()
    finally:
        conn.close()
