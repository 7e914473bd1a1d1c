"""An instructor's own checks, as the instructor's guide shows them (``--checks DIR``).

The guide's example is the part between the snippet markers; tests/docs/test_docs_examples.py
grades the reference solution and a submission that breaks both rules with this folder.
"""

# --8<-- [start:checks]
from launchpad.grading import CheckFailed, check


@check(
    "no_print",
    title="the service logs instead of printing",
    points=2,
    hint="Use the logger from launchpad.logging.",
)
def no_print(lab):
    if "print(" in lab.submission.source("checkout.py"):
        raise CheckFailed("checkout.py calls print()", expected="log lines, not print()")


@check("declined_body", title="a decline says why", points=1, visibility="hidden")
def declined_body(lab):
    lab.payment.set_mode("decline")
    reply = lab.post_checkout(key=lab.new_key())
    if "declined" not in str(reply.body):
        raise CheckFailed(
            "the 402 does not say the card was declined",
            called="POST /checkout",
            got=reply.describe(),
            expected="an error that mentions the decline",
        )


# --8<-- [end:checks]
