"""What the local CloudFormation refuses because AWS does: DeleteStack while an update runs (and
the notebooks' ``clean``, which waits for the update to end), stack tags with the ``aws:`` prefix,
a template given both inline and by URL, and a missing stack named as AWS names it."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout

import pytest

from cdlab import notebook
from tests.aws_errors import refused
from tests.integration.test_cloudformation import delete_stacks, status, story
from tests.integration.test_cloudformation_safeguards import (
    ALARM,
    MONITORING_MINUTES,
    WATCHED_YML,
    monitoring,
    settled,
    trigger_alarm,
)
from tests.polling import poll

TAG_REFUSED = (
    "ValidationError", "aws: prefixed tag key names are not allowed for external use.", 400
)  # fmt: skip
BOTH_TEMPLATES = ("ValidationError", "You cannot specify both Template URL and Template Body.", 400)
TEMPLATE_BUCKET = "cfn-refuse-templates"


@pytest.fixture(scope="module")
def cfn(client) -> Iterator[object]:
    """A CloudFormation client; this module's stacks are deleted when it is done."""
    cfn = client("cloudformation")
    yield cfn
    delete_stacks(cfn, "cfn-refuse")


@pytest.fixture(scope="module")
def cloudwatch(client):
    return client("cloudwatch")


def updating(cfn, cloudwatch, stack: str, alarm: str) -> str:
    """Create ``stack``, then start an update that stays UPDATE_IN_PROGRESS while it watches the
    rollback trigger ``alarm`` (MONITORING_MINUTES, ended early by the alarm); its id."""
    trigger = trigger_alarm(cloudwatch, alarm)
    stack_id = cfn.create_stack(StackName=stack, TemplateBody=WATCHED_YML)["StackId"]
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    cfn.update_stack(
        StackName=stack, UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Threshold", "ParameterValue": "5"}],
        RollbackConfiguration={
            "RollbackTriggers": [{"Arn": trigger, "Type": ALARM}],
            "MonitoringTimeInMinutes": MONITORING_MINUTES,
        },
    )  # fmt: skip
    monitoring(cfn, stack, "UPDATE_COMPLETE")
    assert status(cfn, stack) == "UPDATE_IN_PROGRESS"
    return stack_id


def end_update(cfn, cloudwatch, stack: str, alarm: str) -> None:
    """End the update ``updating`` started: its trigger's alarm rolls it back."""
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="a test")
    assert settled(cfn, stack) == "UPDATE_ROLLBACK_COMPLETE"


# ---- DeleteStack while an operation runs -------------------------------------------------------


def test_delete_stack_is_refused_while_an_update_runs(cfn, cloudwatch) -> None:
    stack, alarm = "cfn-refuse-updating", "cfn-refuse-updating-trigger"
    stack_id = updating(cfn, cloudwatch, stack, alarm)
    events = story(cfn, stack)
    for name in (stack, stack_id):
        assert refused(cfn.delete_stack, StackName=name) == (
            "ValidationError",
            f"Stack [{stack_id}] cannot be deleted while in status UPDATE_IN_PROGRESS",
            400,
        )
    assert status(cfn, stack) == "UPDATE_IN_PROGRESS"
    assert story(cfn, stack) == events

    end_update(cfn, cloudwatch, stack, alarm)  # not deleted by a delete queued behind it
    assert not any(e[1].startswith("DELETE") for e in story(cfn, stack) if e[0] == stack)
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack_id)


def test_delete_stack_is_accepted_while_a_create_runs(cfn, cloudwatch) -> None:
    """AWS accepts DeleteStack during CREATE_IN_PROGRESS; the local cloud deletes the stack once
    the create ends (here rolled back by its trigger)."""
    stack, alarm = "cfn-refuse-creating", "cfn-refuse-creating-trigger"
    trigger = trigger_alarm(cloudwatch, alarm)
    stack_id = cfn.create_stack(
        StackName=stack, TemplateBody=WATCHED_YML,
        RollbackConfiguration={
            "RollbackTriggers": [{"Arn": trigger, "Type": ALARM}],
            "MonitoringTimeInMinutes": MONITORING_MINUTES,
        },
    )["StackId"]  # fmt: skip
    monitoring(cfn, stack, "CREATE_COMPLETE")
    assert status(cfn, stack) == "CREATE_IN_PROGRESS"
    cfn.delete_stack(StackName=stack)
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="a test")
    poll(  # the create's ROLLBACK_COMPLETE may show for a moment before the queued delete starts
        lambda: status(cfn, stack_id),
        until=lambda now: now == "DELETE_COMPLETE",
        what=f"stack {stack} deleted once its create rolled back",
    )


def test_clean_waits_for_an_update_to_end_and_then_deletes_the_stack(cfn, cloudwatch) -> None:
    """The notebooks' ``clean`` meets the refusal AWS gives while a deploy stack is mid-update
    and deletes the stack once the update is over, saying what it waits for."""
    prefix = "cfn-refuse-clean"
    stack, alarm = f"{prefix}-stack", f"{prefix}-trigger"
    stack_id = updating(cfn, cloudwatch, stack, alarm)
    printed, result = io.StringIO(), {}

    def run() -> None:
        with redirect_stdout(printed):
            result["deleted"] = notebook.clean(prefix)

    cleaning = threading.Thread(target=run, daemon=True)
    cleaning.start()
    try:
        poll(
            printed.getvalue,
            until=lambda text: f"stack {stack} is UPDATE_IN_PROGRESS: waiting" in text,
            what="clean to say it waits for the update",
        )
        assert status(cfn, stack) == "UPDATE_IN_PROGRESS"
    finally:
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="a test")
    cleaning.join(timeout=120)
    assert not cleaning.is_alive()
    assert ("stack", stack) in set(result["deleted"].itertuples(index=False, name=None))
    assert status(cfn, stack_id) == "DELETE_COMPLETE"
    ours = [e[1] for e in story(cfn, stack_id) if e[0] == stack]
    assert ours.index("UPDATE_ROLLBACK_COMPLETE") < ours.index("DELETE_IN_PROGRESS")
    assert notebook.leftovers(prefix) == []


# ---- tags ------------------------------------------------------------------------------------


def test_a_stack_tag_with_the_aws_prefix_is_refused(cfn) -> None:
    stack, reserved = "cfn-refuse-tags", [{"Key": "aws:team", "Value": "lab"}]
    made = {"StackName": stack, "TemplateBody": WATCHED_YML}
    assert refused(cfn.create_stack, **made, Tags=reserved) == TAG_REFUSED
    assert refused(
        cfn.create_change_set, StackName=stack, ChangeSetName="first", ChangeSetType="CREATE",
        TemplateBody=WATCHED_YML, Tags=reserved,
    ) == TAG_REFUSED  # fmt: skip
    assert refused(cfn.describe_stacks, StackName=stack)[0] == "ValidationError"  # nothing made

    mine = [{"Key": "team", "Value": "lab"}]
    cfn.create_stack(StackName=stack, TemplateBody=WATCHED_YML, Tags=mine)
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    events = story(cfn, stack)
    previous = {"StackName": stack, "UsePreviousTemplate": True}
    assert refused(cfn.update_stack, **previous, Tags=[*mine, *reserved]) == TAG_REFUSED
    assert refused(cfn.create_change_set, **previous, ChangeSetName="two", Tags=reserved) == (
        TAG_REFUSED
    )
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert (described["StackStatus"], described["Tags"]) == ("CREATE_COMPLETE", mine)
    assert story(cfn, stack) == events
    assert cfn.list_change_sets(StackName=stack)["Summaries"] == []


# ---- TemplateBody and TemplateURL --------------------------------------------------------------


def test_a_template_inline_and_by_url_is_refused_except_by_validate_template(cfn, s3) -> None:
    s3.create_bucket(Bucket=TEMPLATE_BUCKET)
    s3.put_object(
        Bucket=TEMPLATE_BUCKET, Key="watched.yml", Body=f"Description: by URL\n{WATCHED_YML}"
    )
    url = f"https://{TEMPLATE_BUCKET}.s3.amazonaws.com/watched.yml"
    body = f"Description: inline\n{WATCHED_YML}"
    stack = "cfn-refuse-templates"
    both = {"TemplateBody": body, "TemplateURL": url}
    assert refused(cfn.create_stack, StackName=stack, **both) == BOTH_TEMPLATES
    assert refused(
        cfn.create_change_set, StackName=stack, ChangeSetName="first", ChangeSetType="CREATE",
        **both,
    ) == BOTH_TEMPLATES  # fmt: skip
    assert refused(cfn.create_stack, StackName=stack) == (
        "ValidationError", "Either Template URL or Template Body must be specified.", 400
    )  # fmt: skip
    assert refused(cfn.describe_stacks, StackName=stack)[0] == "ValidationError"
    assert cfn.validate_template(**both)["Description"] == "inline"  # TemplateBody is used

    cfn.create_stack(StackName=stack, TemplateURL=url)
    cfn.get_waiter("stack_create_complete").wait(StackName=stack)
    assert refused(cfn.update_stack, StackName=stack, **both) == BOTH_TEMPLATES
    previous = {"StackName": stack, "UsePreviousTemplate": True}
    assert refused(cfn.update_stack, **previous, TemplateBody=body) == (
        "ValidationError",
        "You cannot specify both usePreviousTemplate and Template Body/Template URL",
        400,
    )
    second = {"StackName": stack, "ChangeSetName": "second"}
    assert refused(cfn.create_change_set, **second, **both) == BOTH_TEMPLATES
    [described] = cfn.describe_stacks(StackName=stack)["Stacks"]
    assert (described["StackStatus"], described["Description"]) == ("CREATE_COMPLETE", "by URL")


# ---- a stack that does not exist ---------------------------------------------------------------


def test_a_missing_stack_is_named_as_aws_names_it(cfn) -> None:
    """UpdateStack and an UPDATE change set say "Stack [<name>] does not exist", and an UPDATE
    change set says so of a stack only a CREATE change set made (REVIEW_IN_PROGRESS);
    DescribeStacks keeps its own "Stack with id <name> does not exist"."""
    missing = "cfn-refuse-missing"
    expected = ("ValidationError", f"Stack [{missing}] does not exist", 400)
    assert refused(cfn.update_stack, StackName=missing, TemplateBody=WATCHED_YML) == expected
    change_set = {"StackName": missing, "ChangeSetName": "one", "TemplateBody": WATCHED_YML}
    assert refused(cfn.create_change_set, **change_set) == expected
    assert refused(cfn.describe_stacks, StackName=missing)[1] == (
        f"Stack with id {missing} does not exist"
    )

    review = "cfn-refuse-review"
    cfn.create_change_set(
        StackName=review, ChangeSetName="one", ChangeSetType="CREATE", TemplateBody=WATCHED_YML
    )
    assert status(cfn, review) == "REVIEW_IN_PROGRESS"
    assert refused(
        cfn.create_change_set, StackName=review, ChangeSetName="two", ChangeSetType="UPDATE",
        TemplateBody=WATCHED_YML,
    ) == ("ValidationError", f"Stack [{review}] does not exist", 400)  # fmt: skip
