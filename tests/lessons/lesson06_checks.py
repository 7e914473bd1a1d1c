"""What each lesson 06 demo claims on screen, as assertions on its ``--json`` observations.

One function per demo. The same checks run on the embedded Redis (one test per demo) and
on a real Redis server (the whole lesson in one run), so a claim holds on both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

LESSON_DIR = Path(__file__).resolve().parents[2] / "lessons" / "06-service-communication"
MARGIN = 1.0  # seconds a loaded machine may add to a deadline
FAST = 0.5  # "at once": well under any timeout in the demos

Observed = dict[str, Any]


def check_sync_http(obs: Observed) -> None:
    # valid token -> the user; invalid -> None (a 401 is a value)
    assert obs["valid"]["outcome"] == "user"
    assert obs["valid"]["user"]["email"] == "ada@example.com"
    assert obs["invalid"] == {**obs["invalid"], "outcome": "None", "value": None}
    # auth hanging -> ServiceTimeout at the configured timeout, not later, not earlier
    hanging = obs["hanging"]
    assert hanging["outcome"] == "ServiceTimeout"
    assert hanging["timeout_s"] * 0.9 <= hanging["seconds"] <= hanging["timeout_s"] + MARGIN
    # auth stopped -> ServiceUnavailable, fast
    assert obs["stopped"]["outcome"] == "ServiceUnavailable"
    assert obs["stopped"]["seconds"] < FAST
    # the caller's correlation id shows on both sides
    assert obs["correlation"]["caller_lines"] >= 1
    assert obs["correlation"]["auth_lines"] >= 1


def check_gateway_proxy(obs: Observed) -> None:
    received = obs["auth_received"]
    assert received["x-forwarded-by"] == "gateway"
    assert received["x-forwarded-for"] == "127.0.0.1"
    assert received["x-correlation-id"] == obs["login_response_id"]
    # one id, made at the gateway, in every service's log lines and headers
    cid = obs["correlation_id"]
    assert cid and obs["notification_status"] == 202
    assert {"gateway", "notifications", "auth"} <= set(obs["services_logging_id"])
    assert obs["notifications_received_id"] == cid
    assert obs["auth_received_id"] == cid
    # streamed: the first piece came well before the last was sent
    arrivals = obs["stream_arrivals_s"]
    assert len(arrivals) == 4
    assert arrivals[0] < arrivals[-1] - 0.3
    # down -> 502 at once; hung -> 504 at the upstream timeout
    assert obs["down"]["status"] == 502 and obs["down"]["seconds"] < FAST
    hanging = obs["hanging"]
    assert hanging["status"] == 504
    assert hanging["timeout_s"] * 0.9 <= hanging["seconds"] <= hanging["timeout_s"] + MARGIN


def check_deadlines(obs: Observed) -> None:
    gateway_ms = round(obs["gateway_timeout_s"] * 1000)
    margin_ms = round(obs["margin_s"] * 1000)
    for case, sent_ms in (("chain", gateway_ms), ("hurried", obs["client_budget_ms"])):
        c = obs[case]
        # the gateway sent its budget (or the client's smaller one) on to notifications,
        # less what it used itself before forwarding
        assert sent_ms - FAST * 1000 <= c["notifications_budget_ms"] <= sent_ms
        # notifications gave auth what was left minus its margin: less than its own timeout
        assert 0 < c["auth_budget_ms"] <= sent_ms - margin_ms
        assert c["auth_budget_ms"] < obs["auth_timeout_s"] * 1000
        # auth hung; notifications stopped waiting when that budget ran out, not at 1 s...
        assert c["auth_answered"] is False
        assert c["auth_budget_ms"] / 1000 - 0.25 <= c["auth_call_s"] < sent_ms / 1000
        # ...and its own 503 reached the client: the gateway relayed it, it did not time out
        assert c["notifications_status"] == c["status"] == 503
        assert "auth service did not answer" in c["error"]
        assert c["notifications_answered_s"] < obs["gateway_timeout_s"]
        assert c["notifications_answered_s"] <= c["client_s"] < obs["gateway_timeout_s"] + MARGIN
        # one trace: the gateway-made correlation id is the trace id at every hop
        assert c["trace_ids"] == [c["correlation_id"].replace("-", "")]


def check_circuit_breaker(obs: Observed) -> None:
    calls, threshold, timeout = obs["calls"], obs["threshold"], obs["timeout_s"]
    # closed: the first `threshold` calls each waited for the whole deadline...
    for c in calls[:threshold]:
        assert c["state_before"] == "closed" and c["outcome"] == "ServiceTimeout"
        assert timeout * 0.9 <= c["seconds"] <= timeout + MARGIN
    # ...then open: refused without being sent, far below the deadline
    rest = calls[threshold:]
    assert rest and all(c["state_before"] == "open" for c in rest)
    assert all(c["outcome"] == "CircuitOpen" for c in rest)
    assert max(c["seconds"] for c in rest) < timeout / 10
    # degraded where the business allows it, a failure where it does not
    assert obs["degraded"]["stale_read"].startswith("degraded")
    assert obs["degraded"]["stale_read_user"] == "ada@example.com"
    assert obs["degraded"]["unknown_token"] == "CircuitOpen"
    assert obs["degraded"]["write"] == "CircuitOpen"
    # recovery through half-open
    assert obs["recovery"] == {
        **obs["recovery"],
        "state_before": "half-open",
        "state_after": "closed",
        "user": "ada@example.com",
    }


def check_async_queue(obs: Observed) -> None:
    assert obs["register_status"] == 201
    assert obs["emails_when_register_answered"] == 0
    assert obs["emails_delivered"] == 1
    assert obs["job_state"] == "completed"
    # the email came after the answer: the caller did not wait for it
    assert obs["email_after_s"] > obs["register_s"]
    assert obs["job_correlation_id"] == obs["register_correlation_id"]
    assert obs["worker_logged_id"] is True


def check_eventual_consistency(obs: Observed) -> None:
    users = obs["users"]
    assert obs["logins_ok_while_stopped"] == users
    assert obs["emails_while_stopped"] == 0
    assert obs["backlog_while_stopped"] == list(range(1, users + 1))
    assert max(s["waiting"] + s["active"] for s in obs["backlog_samples"]) > 0
    assert obs["backlog_after"] == 0
    assert obs["completed_after"] == users
    assert sorted(obs["emails_per_user"].values()) == [1] * users


def check_outbox(obs: Observed) -> None:
    # Redis down at sign-up: the user exists and can log in; the email waits in the outbox
    assert obs["register_status"] == 201 and obs["login_status"] == 200
    assert obs["health_while_down"] == 503
    assert obs["outbox_while_down"] == {"pending": 1, "sent": 0}
    assert obs["emails_while_down"] == 0
    # the relay failed, kept the row, and backed off 0.1, 0.2 s (doubling)
    assert obs["relay_failures_while_down"] >= 2
    assert obs["relay_waits_s"][:2] == [0.1, 0.2]
    # Redis back: queued within the last backoff wait (0.4 s at most) plus a margin
    assert 0 <= obs["queued_after_redis_back_s"] <= 0.4 + MARGIN
    assert obs["job_id"] == f"welcome-email-{obs['user_id']}"
    assert obs["outbox_after"] == {"pending": 0, "sent": 1}
    # exactly one email, and two re-sends of the same row are no-ops
    assert obs["resend_duplicates"] == [True, True]
    assert obs["jobs_for_user"] == 1 and obs["emails_delivered"] == 1


def check_idempotency(obs: Observed) -> None:
    cases = obs["crash_cases"]
    for case in cases.values():
        assert case["runs"] == 2 and case["stalled_count"] == 1  # really crashed and retried
        assert case["job_state"] == "completed"
    assert cases["A"]["deliveries"] == 2  # no delivery log: two emails
    assert cases["B"]["deliveries"] == 1  # with it: one
    assert cases["C"]["deliveries"] == 2  # crash between send and record: the window
    assert cases["D"]["deliveries"] == 1  # the idempotency key closes it...
    assert cases["D"]["provider_calls"] == 2  # ...although the provider was asked twice
    assert obs["job_id_dedup"] == {
        "first_duplicate": False,
        "second_duplicate": True,
        "same_id": True,
        "waiting": 1,
    }
    assert obs["logout_twice"] == {"statuses": [200, 200], "same_body": True, "verify_after": 401}


def check_retries(obs: Observed) -> None:
    attempts = obs["attempts"]
    assert obs["runs_before_dead_letter"] == attempts == obs["attempts_made_when_failed"]
    assert obs["planned_backoff_ms"] == [200 * 2**n for n in range(attempts - 1)]
    for gap, planned in zip(obs["gaps_ms"], obs["planned_backoff_ms"], strict=True):
        assert planned - 2 <= gap <= planned + MARGIN * 1000  # never early (ms rounding)
    assert obs["failed_state"] == "failed"
    assert obs["failed_reason"] == "no email template 'welcome-v2'"
    assert obs["dead_letters"] == ["welcome-email-ada"] and obs["dead_letters_total"] == 1
    assert obs["retry_results"] == ["retried", "not-failed"]  # two retries, queued once
    assert obs["state_after_retry"] == "completed"
    assert obs["runs_total"] == attempts + 1 == obs["attempts_made_after_retry"]
    assert obs["emails_sent"] == 1
    assert obs["counts_after"] == {
        "waiting": 0, "active": 0, "delayed": 0, "completed": 1, "failed": 0
    }  # fmt: skip


def check_redis_backbone(obs: Observed) -> None:
    added, busy, done = obs["moments"]["added"], obs["moments"]["busy"], obs["moments"]["done"]
    assert added["wait"] == {"type": "list", "size": 2}
    assert added["delayed"] == {"type": "zset", "size": 1}
    assert added["jobs"]["type"] == "hash" and added["jobs"]["size"] == 3
    assert busy["active"] == {"type": "list", "size": 1}
    assert busy["locks"]["type"] == "zset"
    assert "active" not in done and "wait" not in done
    assert done["completed"]["size"] == 1 and done["failed"]["size"] == 1
    assert len(obs["slots"]) == 1  # one hash tag, one cluster slot
    assert obs["final_counts"] == {
        "waiting": 0,
        "active": 0,
        "delayed": 1,
        "completed": 1,
        "failed": 1,
    }
    assert obs["ada_stored"]["states"] == "completed"
    assert obs["ping"] is True


def check_decision_matrix(obs: Observed) -> None:
    assert obs["missing_demos"] == []
    assert len(obs["rows"]) >= 4
    for row in obs["rows"]:
        assert row["pattern"] and row["why"]
        for demo in row["demos"]:
            assert (LESSON_DIR / f"{demo}.py").is_file(), f"row {row['who']} links to {demo}"


CHECKS: dict[str, Callable[[Observed], None]] = {
    "sync_http": check_sync_http,
    "gateway_proxy": check_gateway_proxy,
    "deadlines": check_deadlines,
    "circuit_breaker": check_circuit_breaker,
    "async_queue": check_async_queue,
    "eventual_consistency": check_eventual_consistency,
    "outbox": check_outbox,
    "idempotency": check_idempotency,
    "retries": check_retries,
    "redis_backbone": check_redis_backbone,
    "decision_matrix": check_decision_matrix,
}
