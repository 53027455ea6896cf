"""PerChatUpdateProcessor: order per person, concurrency across people, bounded state."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import defaultdict

import pytest
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

from bot.core.processing import SHARED_KEY, PerChatUpdateProcessor

TOKEN = "123456789:AAH-fake_token-0123456789abcdefghijklmno"


def _message_update(update_id: int, user_id: int, text: str = "hi") -> Update:
    update = Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": f"u{user_id}"},
                "text": text,
            },
        },
        None,
    )
    assert update is not None
    return update


def _channel_update(update_id: int, chat_id: int) -> Update:
    update = Update.de_json(
        {
            "update_id": update_id,
            "channel_post": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": "channel", "title": "Posko"},
                "text": "news",
            },
        },
        None,
    )
    assert update is not None
    return update


async def _settle() -> None:
    """Lets every runnable task run until it blocks; no wall-clock waiting."""
    for _ in range(50):
        await asyncio.sleep(0)


def test_key_prefers_user_then_chat_then_shared() -> None:
    assert PerChatUpdateProcessor.key_for(_message_update(1, 77)) == 77
    assert PerChatUpdateProcessor.key_for(_channel_update(2, -1001234)) == -1001234
    assert PerChatUpdateProcessor.key_for(object()) is SHARED_KEY


async def test_same_user_runs_in_order_when_first_is_slow() -> None:
    processor = PerChatUpdateProcessor()
    log: list[str] = []
    gate = asyncio.Event()

    async def slow_first() -> None:
        log.append("first started")
        await gate.wait()
        log.append("first done")

    async def quick_second() -> None:
        log.append("second")

    first = asyncio.create_task(processor.process_update(_message_update(1, 7), slow_first()))
    second = asyncio.create_task(processor.process_update(_message_update(2, 7), quick_second()))
    await _settle()
    assert log == ["first started"]

    gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=2)
    assert log == ["first started", "first done", "second"]


async def test_different_users_overlap() -> None:
    processor = PerChatUpdateProcessor()
    started = {1: asyncio.Event(), 2: asyncio.Event()}

    async def meet(me: int, other: int) -> None:
        # Finishes only if the other user's update is running at the same time.
        started[me].set()
        await started[other].wait()

    await asyncio.wait_for(
        asyncio.gather(
            processor.process_update(_message_update(1, 1), meet(1, 2)),
            processor.process_update(_message_update(2, 2), meet(2, 1)),
        ),
        timeout=2,  # sequential processing would wait here forever: a TimeoutError fails
    )
    assert started[1].is_set() and started[2].is_set()
    assert processor.active_keys == 0


async def test_backlog_of_one_user_does_not_block_another() -> None:
    # Far more queued updates than permits: if queued updates held permits, user 2
    # would wait for user 1's whole backlog.
    processor = PerChatUpdateProcessor(max_concurrent_updates=8)
    gate = asyncio.Event()
    order: list[int] = []
    running = 0
    most_running = 0

    async def handle(seq: int) -> None:
        nonlocal running, most_running
        running += 1
        most_running = max(most_running, running)
        if seq == 0:
            await gate.wait()
        await asyncio.sleep(0)
        order.append(seq)
        running -= 1

    backlog = [
        asyncio.create_task(processor.process_update(_message_update(seq, 1), handle(seq)))
        for seq in range(1000)
    ]
    await _settle()
    assert processor.current_concurrent_updates == 1
    assert processor.active_keys == 1

    other_done = asyncio.Event()

    async def other_user() -> None:
        other_done.set()

    await asyncio.wait_for(
        processor.process_update(_message_update(5000, 2), other_user()), timeout=2
    )
    assert other_done.is_set()
    assert order == []
    assert not any(task.done() for task in backlog)

    gate.set()
    await asyncio.wait_for(asyncio.gather(*backlog), timeout=10)
    assert order == list(range(1000))
    assert most_running == 1
    assert processor.active_keys == 0
    assert processor.current_concurrent_updates == 0


async def test_key_table_is_empty_after_many_users() -> None:
    processor = PerChatUpdateProcessor()

    async def noop() -> None:
        await asyncio.sleep(0)

    await asyncio.gather(
        *(
            processor.process_update(_message_update(seq, user), noop())
            for seq in range(3)
            for user in range(500)
        )
    )
    assert processor.active_keys == 0


async def test_total_concurrency_is_bounded() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=2)
    gate = asyncio.Event()
    running: set[int] = set()

    async def hold(user: int) -> None:
        running.add(user)
        await gate.wait()

    tasks = [
        asyncio.create_task(processor.process_update(_message_update(user, user), hold(user)))
        for user in range(1, 6)
    ]
    await _settle()
    assert running == {1, 2}
    assert processor.current_concurrent_updates == 2
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=2)
    assert running == {1, 2, 3, 4, 5}


async def test_non_updates_share_one_ordered_line() -> None:
    processor = PerChatUpdateProcessor()
    gate = asyncio.Event()
    log: list[str] = []

    async def record(name: str, wait: bool) -> None:
        if wait:
            await gate.wait()
        log.append(name)

    tasks = [
        asyncio.create_task(processor.process_update(object(), record("a", True))),
        asyncio.create_task(processor.process_update("job", record("b", False))),
    ]
    await _settle()
    assert log == []
    gate.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=2)
    assert log == ["a", "b"]


async def test_failing_update_releases_the_line() -> None:
    processor = PerChatUpdateProcessor()
    log: list[str] = []

    async def boom() -> None:
        raise RuntimeError("handler bug")

    async def after() -> None:
        log.append("after")

    results = await asyncio.gather(
        processor.process_update(_message_update(1, 9), boom()),
        processor.process_update(_message_update(2, 9), after()),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError)
    assert log == ["after"]
    assert processor.active_keys == 0


async def test_cancelled_queued_update_is_closed_and_line_goes_on() -> None:
    processor = PerChatUpdateProcessor()
    gate = asyncio.Event()
    log: list[str] = []

    async def head() -> None:
        await gate.wait()
        log.append("head")

    async def never() -> None:
        log.append("cancelled one ran")

    async def tail() -> None:
        log.append("tail")

    queued = never()
    tasks = [
        asyncio.create_task(processor.process_update(_message_update(1, 3), head())),
        asyncio.create_task(processor.process_update(_message_update(2, 3), queued)),
        asyncio.create_task(processor.process_update(_message_update(3, 3), tail())),
    ]
    await _settle()
    tasks[1].cancel()
    await _settle()
    assert inspect.getcoroutinestate(queued) == inspect.CORO_CLOSED

    gate.set()
    await asyncio.wait_for(asyncio.gather(tasks[0], tasks[2]), timeout=2)
    assert log == ["head", "tail"]
    assert processor.active_keys == 0


class _OfflineBotApi(BaseRequest):
    """Answers getMe so Application.initialize() needs no network; nothing else is sent."""

    GET_ME = json.dumps(
        {
            "ok": True,
            "result": {"id": 123456789, "is_bot": True, "first_name": "Posko", "username": "p"},
        }
    ).encode()

    def __init__(self) -> None:
        self.calls: list[str] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls.append(endpoint)
        if endpoint == "getMe":
            return 200, self.GET_ME
        return 400, b'{"ok": false, "description": "offline test API"}'


async def test_application_keeps_order_per_user_and_overlaps_users() -> None:
    """Through the Application's own update queue, which is where it uses the processor.

    Application.process_update() dispatches to handlers directly and bypasses the update
    processor, so updates are put on update_queue and the application is started.
    """
    api = _OfflineBotApi()
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(api)
        .updater(None)
        .concurrent_updates(PerChatUpdateProcessor(64))
        .build()
    )
    assert isinstance(app.update_processor, PerChatUpdateProcessor)

    gate = asyncio.Event()
    seen: defaultdict[int, list[str]] = defaultdict(list)
    user_2_done = asyncio.Event()

    async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_message is not None
        user, text = update.effective_user.id, update.effective_message.text or ""
        if text == "1-0":
            await gate.wait()
        seen[user].append(text)
        if len(seen[2]) == 3:
            user_2_done.set()

    app.add_handler(TypeHandler(Update, on_update))

    async with app:
        await app.start()
        try:
            for seq in range(3):
                for user in (1, 2):
                    update = _message_update(seq * 2 + user, user, f"{user}-{seq}")
                    update.set_bot(app.bot)
                    app.update_queue.put_nowait(update)
            await asyncio.wait_for(user_2_done.wait(), timeout=2)
            assert seen[1] == []

            gate.set()
            await asyncio.wait_for(app.update_queue.join(), timeout=2)
        finally:
            gate.set()
            await app.stop()

    assert seen == {1: ["1-0", "1-1", "1-2"], 2: ["2-0", "2-1", "2-2"]}
    assert api.calls == ["getMe"]
    assert app.update_processor.active_keys == 0


def test_rejects_non_positive_limit() -> None:
    with pytest.raises(ValueError):
        PerChatUpdateProcessor(0)


def test_the_bot_runs_on_uvloop_where_it_is_installed() -> None:
    import uvloop

    from bot.core import loop

    async def which() -> type:
        return type(asyncio.get_running_loop())

    assert loop.run(which()) is uvloop.Loop
