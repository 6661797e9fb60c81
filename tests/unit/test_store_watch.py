"""A poller's watch on the Store: it wakes at a write of its kind of document, whichever thread
writes it, and does not miss one made between two waits."""

from __future__ import annotations

import threading
from pathlib import Path

from cdlab.localcloud.state.store import Store

BOUND = 30.0  # seconds: far longer than a wake takes, far shorter than the waits' 600 s


def test_a_write_of_its_kind_wakes_a_waiting_watch(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    watch = store.watch("codebuild-build")
    woke = threading.Event()
    waiter = threading.Thread(target=lambda: (watch.wait(600), woke.set()), daemon=True)
    waiter.start()
    store.put("cloudformation-stack", "other", {"StackStatus": "CREATE_COMPLETE"})
    assert store.writes("codebuild-build") == 0
    store.put("codebuild-build", "p:1", {"buildComplete": True})
    assert woke.wait(BOUND), "the build's write did not wake the watch"
    assert store.writes("codebuild-build") == 1


def test_a_write_made_before_the_wait_is_not_missed(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    watch = store.watch("cloudformation-stack")
    store.put("cloudformation-stack", "s", {"StackStatus": "UPDATE_IN_PROGRESS"})
    store.delete("cloudformation-stack", "s")
    waiter = threading.Thread(target=watch.wait, args=(600,), daemon=True)
    waiter.start()
    waiter.join(BOUND)
    assert not waiter.is_alive(), "a write made before the wait did not end it"
    assert watch.seen == store.writes("cloudformation-stack") == 2
