"""The lesson's services: auth, notifications (+ its worker), the fake email outbox.

Each service is a plain class that holds its own state, plus a WSGI app in front of it
(:mod:`launchpad.http.web`). :class:`launchpad.services.system.System` wires them all,
with the gateway and the queue, in one process or on real ports.
"""
