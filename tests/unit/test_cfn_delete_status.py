"""DeleteStack in each status a stack passes through: refused while an update, its cleanup or its
rollback runs, as AWS refuses it; accepted otherwise. The provider is driven on a stack document
alone (the statuses an update passes through last too briefly to call into on a running cloud;
the integration tests call into UPDATE_IN_PROGRESS)."""

from __future__ import annotations

from typing import Any

import pytest

from cdlab.localcloud.cloudformation.provider.stack_operations import StackOperations
from cdlab.localcloud.protocols.errors import ValidationError

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"


class OneStack:
    """The provider's view of a store that holds one unprotected stack."""

    def __init__(self, status: str) -> None:
        self.doc = {"StackId": STACK_ID, "StackName": "s", "StackStatus": status}

    def find(self, name_or_id: str) -> dict[str, Any] | None:
        return self.doc if name_or_id in ("s", STACK_ID) else None

    def protected(self, stack_id: str) -> bool:
        return False


class Started:
    """An engine that records the operations started."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def start(self, doc: dict[str, Any], operation: str, **options: Any) -> None:
        self.operations.append(operation)


def provider(status: str) -> tuple[StackOperations, Started]:
    operations, engine = StackOperations(), Started()
    operations.stacks, operations.engine = OneStack(status), engine  # type: ignore[assignment]
    return operations, engine


@pytest.mark.parametrize(
    "status",
    [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    ],
)
def test_delete_stack_is_refused_while_an_update_runs(status: str) -> None:
    operations, engine = provider(status)
    for name in ("s", STACK_ID):
        with pytest.raises(ValidationError) as refused:
            operations.delete_stack(None, {"StackName": name})  # type: ignore[arg-type]
        assert str(refused.value) == (
            f"Stack [{STACK_ID}] cannot be deleted while in status {status}"
        )
    assert engine.operations == []


@pytest.mark.parametrize(
    "status",
    [
        "CREATE_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "REVIEW_IN_PROGRESS",
        "CREATE_COMPLETE",
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "DELETE_FAILED",
    ],
)
def test_delete_stack_is_accepted_in_any_other_status(status: str) -> None:
    operations, engine = provider(status)
    assert operations.delete_stack(None, {"StackName": "s"}) == {}  # type: ignore[arg-type]
    assert engine.operations == ["delete"]


def test_a_stack_being_deleted_is_not_deleted_twice() -> None:
    operations, engine = provider("DELETE_IN_PROGRESS")
    assert operations.delete_stack(None, {"StackName": "s"}) == {}  # type: ignore[arg-type]
    assert engine.operations == []
