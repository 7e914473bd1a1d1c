"""A minimal BullMQ on Redis: Queue (producer), Worker (consumer), Job, and their states.

>>> q = Queue("notifications")                       # embedded Redis unless REDIS_URL is set
>>> job = q.add("send-notification", {"to": "ada@example.com"}, job_id="welcome-ada",
...             attempts=3, backoff={"type": "exponential", "delay": 1000})
>>> Worker(q, lambda job: print(job.data)).run()      # Ctrl-C finishes jobs in hand, then stops

See ``launchpad/queue/README.md`` for job ids and duplicates, and for what happens when a
worker dies.
"""

from launchpad.queue.errors import InvalidJobId, QueueError, QueueUnavailable, UnrecoverableError
from launchpad.queue.job import Job, JobState
from launchpad.queue.queue import Queue
from launchpad.queue.retry import Backoff
from launchpad.queue.worker import Worker

__all__ = [
    "Backoff",
    "InvalidJobId",
    "Job",
    "JobState",
    "Queue",
    "QueueError",
    "QueueUnavailable",
    "UnrecoverableError",
    "Worker",
]
