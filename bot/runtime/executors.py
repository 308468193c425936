"""The two thread pools a chat process runs its blocking core calls in.

Questions, and everything else quick that people wait for (summaries, digests, votes, the
sources and the admins' reads of the knowledge base), run on a small pool of their own.
Summaries and digests take seconds, so the core lets at most `max_concurrent_summaries` (1)
run at once (`bot.core.summaries`): with two threads, one is always left for members' answers.
Limits are checked on the event loop before anything is queued here (`admit`), so a flood of
refused requests never waits in, or occupies, this pool.
Changes to the knowledge base (adding a URL, a file or text, refreshing, removing, feed
subscriptions and polls, scheduled or asked for) run one at a time on a single "knowledge"
thread. A big import takes minutes: on a shared pool two of them (two admins, or an import and
the scheduled feed poll) took every thread and members' questions queued behind them.

One knowledge thread per process, shared by every adapter in it: a second one would mostly
wait, since the core's writer lock already serialises writers (across processes too), and
one thread keeps a burst of imports from ever taking more than itself. A change queued behind
a long import waits its turn; a question never does.

Platform-neutral: the adapters (`bot.adapters.telegram.app`, `bot.adapters.discord.client`) each make a
`CoreExecutors` and shut it down when they stop.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor, ThreadPoolExecutor

from bot.core.actors import Action, Actor, may

log = logging.getLogger(__name__)

QUESTION_THREADS = 2


class _SharedKnowledgeThread:
    """The process's one knowledge executor, made for its first user and shut down after its
    last one stops (a test process starts and stops many adapters, in turn or side by side)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._users = 0

    def acquire(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crisisbot-knowledge")
            self._users += 1
            return self._executor

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._executor is None:
                return
            executor, self._executor = self._executor, None
        shut_down(executor)


_knowledge_thread = _SharedKnowledgeThread()


def shut_down(executor: Executor) -> None:
    """Cancel the calls still queued; one already running finishes in its thread (the
    interpreter joins pool threads at exit), so a write is never cut off halfway."""
    executor.shutdown(wait=False, cancel_futures=True)


class CoreExecutors:
    """The question and knowledge executors of one running adapter (an Application, a Client).

    An executor passed in belongs to the caller, who shuts it down; `shutdown` shuts down the
    question pool made here and releases the process's knowledge thread.
    """

    def __init__(self, questions: Executor | None = None, knowledge: Executor | None = None) -> None:
        self._owns_questions = questions is None
        self.questions: Executor = questions if questions is not None else ThreadPoolExecutor(
            max_workers=QUESTION_THREADS, thread_name_prefix="crisisbot-core")
        self._leases_knowledge = knowledge is None
        self.knowledge: Executor = knowledge if knowledge is not None else _knowledge_thread.acquire()
        self._closed = False
        self._closing = threading.Lock()

    def for_change(self, actor: Actor) -> Executor:
        """Where a knowledge-base change by `actor` runs: the knowledge thread for an admin.

        Anyone else's attempt runs on the question pool, as it would be refused at once by the
        core's gate (which still decides, and audits the refusal): it must not wait behind an
        import to say so. This picks a thread, it grants nothing."""
        return self.knowledge if may(actor, Action.CHANGE_KNOWLEDGE) else self.questions

    def shutdown(self) -> None:
        """Shut down what this made; safe to call more than once."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
        if self._owns_questions:
            shut_down(self.questions)
        if self._leases_knowledge:
            _knowledge_thread.release()
