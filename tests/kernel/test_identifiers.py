"""``new_uuid``: UUIDv7, ordered by creation time, unique, and never shared with a forked child
(its random bytes come from a buffer of ``os.urandom``)."""

from __future__ import annotations

import os
import time
import uuid

from services.kernel.db import new_uuid


def test_identifiers_are_version_7_unique_and_time_ordered() -> None:
    first = new_uuid()
    ids = [new_uuid() for _ in range(5_000)]
    time.sleep(0.002)
    later = new_uuid()
    assert first.version == 7
    assert first.variant == uuid.RFC_4122
    assert len(set(ids)) == len(ids)
    assert later > first
    # Several buffer refills (400 identifiers a page): still distinct.
    assert len({new_uuid().int & ((1 << 62) - 1) for _ in range(2_000)}) == 2_000


def test_a_forked_child_does_not_repeat_its_parents_identifiers() -> None:
    read_end, write_end = os.pipe()
    new_uuid()  # the parent's buffer now holds unused bytes
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child process
        os.write(write_end, new_uuid().bytes)
        os._exit(0)
    os.close(write_end)
    parent = new_uuid()
    os.waitpid(pid, 0)
    child = uuid.UUID(bytes=os.read(read_end, 16))
    os.close(read_end)
    # Same millisecond or not, the random part differs: the child drew fresh bytes.
    assert child.int & ((1 << 74) - 1) != parent.int & ((1 << 74) - 1)
