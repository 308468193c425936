"""Readers share the lock, a writer has it alone, and a waiting writer is not starved."""

from __future__ import annotations

import threading

from index.read_write_lock import ReadWriteLock


def test_readers_share_and_a_writer_waits_for_them() -> None:
    lock = ReadWriteLock()
    inside = threading.Barrier(2, timeout=10)
    written = threading.Event()

    def writer() -> None:
        with lock.writing():
            written.set()

    with lock.reading():
        reader = threading.Thread(target=lambda: _read(lock, inside))
        reader.start()
        inside.wait()  # a second reader got in while the first holds the lock
        reader.join(10)
        thread = threading.Thread(target=writer)
        thread.start()
        assert not written.wait(0.2)  # the writer waits for the reader
    assert written.wait(10)
    thread.join(10)


def _read(lock: ReadWriteLock, inside: threading.Barrier) -> None:
    with lock.reading():
        inside.wait()


def test_a_waiting_writer_goes_before_new_readers() -> None:
    lock = ReadWriteLock()
    order: list[str] = []
    writer_waiting = threading.Event()

    def writer() -> None:
        writer_waiting.set()
        with lock.writing():
            order.append("writer")

    def late_reader() -> None:
        with lock.reading():
            order.append("reader")

    with lock.reading():
        first = threading.Thread(target=writer)
        first.start()
        assert writer_waiting.wait(10)
        while not lock._writers_waiting:  # the writer is queued on the condition
            threading.Event().wait(0.01)
        second = threading.Thread(target=late_reader)
        second.start()
        assert not second.join(0.2) and second.is_alive()  # held back behind the writer
    first.join(10)
    second.join(10)
    assert order == ["writer", "reader"]


def test_a_writer_excludes_readers_until_it_is_done() -> None:
    lock = ReadWriteLock()
    entered = threading.Event()

    def reader() -> None:
        with lock.reading():
            entered.set()

    with lock.writing():
        thread = threading.Thread(target=reader)
        thread.start()
        assert not entered.wait(0.2)
    assert entered.wait(10)
    thread.join(10)
