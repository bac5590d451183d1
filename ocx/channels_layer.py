"""The embedded mode's channel layer.

Channels' in-memory layer keeps asyncio queues owned by the server's event loop. In embedded
mode the Celery worker and beat run in threads of the same process with loops of their own, so
a send from there is handed over to the server's loop instead of touching its queues from a
foreign thread (which would not wake the waiting consumer).
"""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer


class EmbeddedChannelLayer(InMemoryChannelLayer):
    _home_loop: asyncio.AbstractEventLoop | None = None

    def _remember_loop(self) -> None:
        if self._home_loop is None or self._home_loop.is_closed():
            self._home_loop = asyncio.get_running_loop()

    async def receive(self, channel):
        self._remember_loop()
        return await super().receive(channel)

    async def group_add(self, group, channel):
        self._remember_loop()
        return await super().group_add(group, channel)

    def _foreign_home(self):
        home = self._home_loop
        if home is None or home.is_closed() or not home.is_running():
            return None
        return home if home is not asyncio.get_running_loop() else None

    async def send(self, channel, message):
        home = self._foreign_home()
        if home is None:
            return await super().send(channel, message)
        fut = asyncio.run_coroutine_threadsafe(super().send(channel, message), home)
        return await asyncio.wrap_future(fut)

    async def group_send(self, group, message):
        home = self._foreign_home()
        if home is None:
            return await super().group_send(group, message)
        fut = asyncio.run_coroutine_threadsafe(super().group_send(group, message), home)
        return await asyncio.wrap_future(fut)
