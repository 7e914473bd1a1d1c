"""The queue in a few lines, as its reference page starts: ``python docs/examples/queue_start.py``.

The page shows the part between the snippet markers; tests/docs/test_docs_examples.py runs
this file, waits for the job to be sent, presses Ctrl-C (SIGINT) and expects a clean exit.
"""

# --8<-- [start:start]
from launchpad.queue import Queue, Worker

q = Queue("notifications")  # embedded Redis unless REDIS_URL is set
q.add(
    "send-notification",
    {"to": "ada@example.com"},
    job_id="welcome-ada",
    attempts=3,
    backoff={"type": "exponential", "delay": 1000},
)
Worker(q, lambda job: print("sending", job.data)).run()  # Ctrl-C: finish, then stop
# --8<-- [end:start]
