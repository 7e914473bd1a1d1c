"""Property tests for what ``add`` accepts: job ids, payloads and options.

Whatever comes in, ``add`` either stores the job exactly (and ``get_job`` gives it back),
or refuses it with a clear error before anything is written.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from launchpad.queue import InvalidJobId, Queue
from launchpad.redis import EMBEDDED_URL, create_redis_connection

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def queue() -> Queue:
    return Queue(
        "properties", connection=create_redis_connection("t", EMBEDDED_URL), prefix="lpprop"
    )


@SETTINGS
@given(data=json_values)
def test_any_json_payload_comes_back_unchanged(queue: Queue, data: Any) -> None:
    job = queue.add("n", data)
    stored = queue.get_job(job.id)
    assert stored is not None and stored.data == data == job.data


@SETTINGS
@given(job_id=st.text(max_size=300))
def test_a_job_id_is_stored_exactly_or_refused(queue: Queue, job_id: str) -> None:
    try:
        job = queue.add("n", {}, job_id=job_id)
    except InvalidJobId as exc:
        assert str(exc)
        assert (
            not job_id
            or len(job_id) > 255
            or job_id.isdigit()
            or any(ord(c) < 32 or ord(c) == 127 for c in job_id)
        )
        return
    stored = queue.get_job(job_id)
    assert stored is not None and stored.id == job.id == job_id


@SETTINGS
@given(
    bad=st.one_of(
        st.sets(st.integers(), min_size=1),
        st.builds(object),
        st.just(math.nan),
        st.binary(min_size=1),
    )
)
def test_a_payload_that_is_not_json_is_refused_and_writes_nothing(queue: Queue, bad: Any) -> None:
    before = queue.counts()
    with pytest.raises(TypeError, match="JSON"):
        queue.add("n", {"x": [bad]})
    assert queue.counts() == before


@SETTINGS
@given(
    attempts=st.one_of(
        st.integers(),
        st.floats(),
        st.text(max_size=3),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    ),
    delay=st.one_of(st.integers(), st.floats(), st.none()),
)
def test_options_are_checked_before_redis(queue: Queue, attempts: Any, delay: Any) -> None:
    valid = (
        isinstance(attempts, int)
        and not isinstance(attempts, bool)
        and attempts >= 1
        and (delay is None or (isinstance(delay, int) and delay >= 0))
    )
    before = queue.counts()
    if valid:
        job = queue.add("n", {}, attempts=attempts, delay=delay)
        assert job.opts["attempts"] == attempts
    else:
        with pytest.raises(ValueError):
            queue.add("n", {}, attempts=attempts, delay=delay)
        assert queue.counts() == before
