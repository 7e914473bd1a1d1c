"""The lesson's services: auth, notifications (+ its worker), the fake email provider.

Each service is a plain class that holds its own state, plus a WSGI app in front of it
(``launchpad.http.web``). ``launchpad.services.system.System`` wires them all,
with the gateway and the queue, in one process or on real ports.
"""
