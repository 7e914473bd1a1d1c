"""A submission that imports something the kit does not have."""

from launchpad.payments import Stripe


def create_app(env):
    return Stripe()
