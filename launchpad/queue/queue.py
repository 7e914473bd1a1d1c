"""The producer's side: add jobs, look at them, and steer the queue.

Job ids and duplicates (the part BullMQ users trip over):

- Without ``job_id`` the queue numbers jobs itself (1, 2, 3 ... per queue), so every add
  is a new job. Custom ids may therefore not be plain numbers.
- With ``job_id``, an add whose id already exists changes NOTHING and returns the job that
  is there, with ``job.duplicate = True``. This holds in every state:
    * waiting or delayed: the job runs once, with the data of the FIRST add;
    * active: the add is a no-op; it does not queue a second run after this one;
    * completed or failed: the id stays taken as long as the job is kept, so a re-add is
      silently a no-op. Retention frees it: a worker with ``remove_on_complete=True``
      (or ``=N``, keep the newest N) deletes finished jobs, and their ids can be used again.
- The check and the add are one Lua script, so two producers racing with one id make
  exactly one job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from launchpad.correlation import current_correlation_id
from launchpad.logging import get_logger
from launchpad.queue.blocking import notify_embedded_arrival
from launchpad.queue.errors import InvalidJobId, redis_errors
from launchpad.queue.job import DEFAULT_OPTS, Job, JobState
from launchpad.queue.keys import QueueKeys
from launchpad.queue.retry import parse_backoff
from launchpad.queue.scripts import Scripts
from launchpad.redis import create_redis_connection, is_embedded

__all__ = ["Queue"]

log = get_logger("queue")

_QUEUE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
BULK_CHUNK = 1000  # jobs per script call: big enough to amortise, small enough not to stall Redis
_STATES = ("waiting", "active", "delayed", "completed", "failed")
_STATE = {state.value: state for state in JobState}
_BULK_KEYS = frozenset({"name", "data", "job_id", "attempts", "backoff", "delay"})
_PLAIN = (dict, list, str, int, float, bool, type(None))


def _check_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str):
        raise InvalidJobId(f"job_id must be a str, not {type(job_id).__name__}")
    if not job_id or len(job_id) > 255:
        raise InvalidJobId("job_id must be 1-255 characters")
    if job_id.isdigit():
        raise InvalidJobId(
            f"job_id {job_id!r} is a plain number, which the queue keeps for its own ids; "
            f"add a prefix like 'order-{job_id}'"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in job_id):
        raise InvalidJobId("job_id must not contain control characters")
    return job_id


def _to_json(data: Any) -> tuple[str, Any]:
    """``data`` as JSON text, and as the plain value a worker will see (models dumped)."""
    if type(data) not in _PLAIN and isinstance(data, BaseModel):  # (a model check is slow)
        data = data.model_dump(mode="json")
    try:
        return _JSON.encode(data), data
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "job data must be JSON-serialisable (dict, list, str, number, bool, None "
            f"or a pydantic model): {exc}"
        ) from None


_JSON = json.JSONEncoder(allow_nan=False, separators=(",", ":"))  # made once: json.dumps with
# options builds a new encoder on every call, which dominated the cost of a bulk add


@lru_cache(maxsize=1024)
def _quoted(text: str | None) -> str:
    """``text`` as a JSON string (job names and correlation ids repeat: cached)."""
    return json.dumps(text)


def _attempts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"attempts must be a whole number >= 1, not {value!r}")
    return value


def _delay(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"delay must be a whole number of ms >= 0, not {value!r}")
    return value


class Queue:
    """A named queue of jobs in Redis.

    Args:
        name: the queue's name (letters, digits, ``.``, ``_``, ``-``).
        connection: a Redis or RedisCluster client; ``None`` makes one with
            ``create_redis_connection("queue")`` (embedded unless ``REDIS_URL`` is set).
        prefix: first part of every key, ``<prefix>:{<name>}:<part>``.
        default_job_options: ``attempts``, ``backoff`` and ``delay`` for jobs that do not set them.
    """

    def __init__(
        self,
        name: str,
        connection: Any = None,
        prefix: str = "launchpad",
        default_job_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not _QUEUE_NAME.fullmatch(name):
            raise ValueError(f"queue name must be 1-100 of [A-Za-z0-9._-], not {name!r}")
        if not isinstance(prefix, str) or "{" in prefix or "}" in prefix or not prefix:
            raise ValueError(f"prefix must be a non-empty string without braces, not {prefix!r}")
        self.name = name
        self.prefix = prefix
        self.connection = connection if connection is not None else create_redis_connection("queue")
        self.key_names = QueueKeys(prefix, name)
        self.scripts = Scripts(self.connection, self.key_names)
        defaults = dict(default_job_options or {})
        unknown = set(defaults) - {"attempts", "backoff", "delay"}
        if unknown:
            raise ValueError(f"default_job_options has unknown keys {sorted(unknown)}")
        self.default_job_options: dict[str, Any] = {
            "attempts": _attempts(defaults.get("attempts", 1)),
            "backoff": parse_backoff(defaults.get("backoff")),
            "delay": _delay(defaults.get("delay", 0)),
        }

    def __repr__(self) -> str:
        return f"Queue({self.name!r}, prefix={self.prefix!r})"

    # --- adding jobs -------------------------------------------------------------------

    @lru_cache(maxsize=256)  # noqa: B019 - a few option sets per queue; the queue lives long
    def _options(self, attempts: Any, backoff: Any, delay: Any) -> tuple[dict[str, Any], str]:
        """Checked opts (falling back to the queue's defaults), and their part of the stored
        JSON, cached: only what differs from ``DEFAULT_OPTS`` is stored (Redis bytes per job)."""
        defaults = self.default_job_options
        bo = parse_backoff(backoff) if backoff is not None else defaults["backoff"]
        first_delay = _delay(delay if delay is not None else defaults["delay"])
        tries = _attempts(attempts if attempts is not None else defaults["attempts"])
        opts = {"attempts": tries, "backoff": bo.as_dict() if bo else None, "delay": first_delay}
        lean = {key: value for key, value in opts.items() if value != DEFAULT_OPTS[key]}
        return opts, f',"opts":{_JSON.encode(lean)}' if lean else ""

    def _prepare(
        self, name: Any, data: Any, job_id: Any, attempts: Any, backoff: Any, delay: Any
    ) -> tuple[tuple[str, str, int], Job]:
        """Check everything and build the script's arguments; raises before Redis is touched."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"job name must be a non-empty str, not {name!r}")
        payload, data = _to_json(data)
        if isinstance(backoff, dict):  # unhashable: check it here, cache its parsed form
            backoff = parse_backoff(backoff)
        try:
            opts, opts_json = self._options(attempts, backoff, delay)
        except TypeError:  # an unhashable value (a list...): check it without the cache
            opts, opts_json = Queue._options.__wrapped__(self, attempts, backoff, delay)
        cid = current_correlation_id()
        # The data is already JSON text: splice it in rather than parse and dump it again.
        # Defaults and a missing correlation id are left out (see Job.from_record).
        cid_json = f',"cid":{_quoted(cid)}' if cid is not None else ""
        record = f'{{"name":{_quoted(name)},"data":{payload}{opts_json}{cid_json}}}'
        checked_id = "" if job_id is None else _check_job_id(job_id)
        job = Job(id=checked_id, name=name, data=data, opts=dict(opts), correlation_id=cid)
        return (checked_id, record, opts["delay"]), job

    def _job_from_add(self, reply: list[Any], job: Job) -> Job:
        """The added job: ``job`` as built here, or the one that was there (a duplicate)."""
        job_id, duplicate = str(reply[0]), int(reply[1])
        if duplicate:
            found = Job.from_reply(job_id, reply[2:])
            found.duplicate = True
            return found
        job.id, job.state, job.added_at = job_id, _STATE[reply[2]], int(reply[3])
        return job

    # --8<-- [start:add]
    def add(
        self,
        name: str,
        data: Any,
        *,
        job_id: str | None = None,
        attempts: int | None = None,
        backoff: Any = None,
        delay: int | None = None,
    ) -> Job:
        """Add one job in one round trip; ``job.duplicate`` tells whether the id existed.

        Args:
            name: what kind of work ("send-notification").
            data: JSON-serialisable payload or a pydantic model (dumped to JSON);
                anything else is a ``TypeError`` and nothing is written.
            job_id: your id for deduplication. If a job with this id exists, in any state,
                nothing changes and that job comes back with ``duplicate=True``: a waiting
                or delayed job keeps its first data, an active one is not queued again,
                and a completed or failed one blocks the id until retention removes it.
            attempts: runs allowed in all (1 = no retry).
            backoff: wait between attempts: ``{"type": "fixed"|"exponential", "delay": ms}``.
            delay: ms to wait before the first run.

        Raises:
            QueueUnavailable: Redis cannot be reached or did not answer in time; the job
                may or may not have been added (add it again with its ``job_id``).
        """
        args, job = self._prepare(name, data, job_id, attempts, backoff, delay)
        with redis_errors(self.name):
            reply = self.scripts.run("add_job", *args)
        job = self._job_from_add(reply[0], job)
        self._after_add([job])
        return job

    # --8<-- [end:add]

    def add_bulk(self, jobs: Iterable[Mapping[str, Any]]) -> list[Job]:
        """Add many jobs with one script call per 1,000; each is checked first, like ``add``.

        Each item is a dict with ``name`` and ``data``, and optionally ``job_id``,
        ``attempts``, ``backoff``, ``delay``. It is the same script as ``add`` with many
        jobs in its ARGV, so it works on a Redis Cluster too (where pipelined scripts are
        refused). If one item is invalid, none is sent. Ids repeated within one call follow
        the usual rule: the first one wins.
        """
        prepared = []
        for item in jobs:
            if not item.keys() <= _BULK_KEYS:
                unknown = sorted(set(item) - _BULK_KEYS)
                raise ValueError(f"add_bulk item has unknown keys {unknown}")
            prepared.append(
                self._prepare(
                    item.get("name"),
                    item.get("data"),
                    item.get("job_id"),
                    item.get("attempts"),
                    item.get("backoff"),
                    item.get("delay"),
                )
            )
        added: list[Job] = []
        for start in range(0, len(prepared), BULK_CHUNK):
            chunk = prepared[start : start + BULK_CHUNK]
            args = [arg for job_args, _ in chunk for arg in job_args]
            with redis_errors(self.name):
                replies = self.scripts.run("add_job", *args)
            added += [
                self._job_from_add(r, job) for r, (_, job) in zip(replies, chunk, strict=True)
            ]
        self._after_add(added)
        return added

    def _after_add(self, jobs: list[Job]) -> None:
        if is_embedded(self.connection):
            notify_embedded_arrival()
        if log.isEnabledFor(20):
            for job in jobs:
                log.info(
                    "job added" if not job.duplicate else "job id exists: add ignored",
                    extra={
                        "queue": self.name,
                        "job_id": job.id,
                        "job_name": job.name,
                        "state": job.state.value if job.state else None,
                    },
                )

    # --- looking -------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        """The job as it is now, or ``None`` if there is no such job (or it was removed)."""
        with redis_errors(self.name):
            reply = self.scripts.run("get_job", job_id)
        return Job.from_reply(str(job_id), reply) if reply else None

    def counts(self) -> dict[str, int]:
        """Jobs per state: waiting (paused ones included), active, delayed, completed, failed."""
        with redis_errors(self.name):
            counts = self.scripts.run("counts")
        return dict(zip(_STATES, (int(n) for n in counts), strict=True))

    def keys(self) -> list[str]:
        """The names of every Redis key this queue uses (whether it exists yet or not)."""
        return self.key_names.all()

    def is_paused(self) -> bool:
        with redis_errors(self.name):
            return bool(self.connection.hexists(self.key_names.key("meta"), "paused"))

    # --- steering ------------------------------------------------------------------------

    def pause(self) -> None:
        """Workers stop taking jobs (jobs in hand finish); adds still queue up."""
        with redis_errors(self.name):
            self.scripts.run("pause", 1)

    def resume(self) -> None:
        """Workers take jobs again."""
        with redis_errors(self.name):
            self.scripts.run("pause", 0)
        if is_embedded(self.connection):
            notify_embedded_arrival()

    def promote_delayed(self) -> int:
        """Move due delayed jobs to waiting now (workers also do this as they fetch)."""
        with redis_errors(self.name):
            return int(self.scripts.run("promote_delayed")[0])

    def drain(self) -> int:
        """Remove waiting and delayed jobs (not active or finished ones); returns how many."""
        with redis_errors(self.name):
            return int(self.scripts.run("remove_waiting"))

    def obliterate(self) -> None:
        """Delete every key of this queue: all jobs in every state, counters, the pause flag.

        Meant for demos and tests; stop the workers first, or their jobs in hand are lost.
        """
        with redis_errors(self.name):
            self.scripts.run("obliterate")
