"""An auth process for the outbox fault tests (run by test_outbox_faults.py, not by pytest).

``register-and-die DB URL QUEUE``: register Ada, relay her welcome email, and SIGKILL itself
right after the queue accepted the job and before the row is marked sent.
``restart DB URL QUEUE``: open the same store and relay what is pending, as auth does after
a restart; prints what it moved as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from launchpad.queue import Queue
from launchpad.redis import create_redis_connection
from launchpad.services.auth import AuthService, ScryptCost
from launchpad.services.auth_store import AuthStore
from launchpad.services.outbox_relay import OutboxRelay


class DiesBeforeMarkSent(AuthStore):
    def mark_sent(self, entry_id: int) -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # the worst moment: queued, not yet marked


def main() -> None:
    mode, db, url, queue_name = sys.argv[1:5]
    queue = Queue(queue_name, create_redis_connection("auth", url))
    if mode == "register-and-die":
        store: AuthStore = DiesBeforeMarkSent(db)
        auth = AuthService(store, cost=ScryptCost(n=2**4, r=1, p=1))
        user = auth.register("ada@example.com", "correct horse", "Ada")
        print(user.id, flush=True)
        OutboxRelay(store, queue).relay_pending()
        print("not killed", flush=True)
    else:
        store = AuthStore(db)
        moved = OutboxRelay(store, queue).relay_pending()
        print(json.dumps({"moved": moved, "outbox": store.outbox_counts()}), flush=True)


if __name__ == "__main__":
    main()
