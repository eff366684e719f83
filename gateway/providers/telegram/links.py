"""
Linking phone numbers to Telegram chats: a bot can only write to a chat a
person opened with it, and knows their phone number only if they share it.

The flow: the subscriber opens the bot and sends ``/start``; the bot answers
with a keyboard whose one button shares their contact (``request_contact``);
the contact comes back as a message with ``contact`` — accepted only when it
is the sender's own contact (``contact.user_id == from.id``) in a private
chat — and the link phone → chat id is stored in Redis
(`gateway.store.keys.telegram_chat`, and back with
`gateway.store.keys.telegram_phone`), shared by every node.  ``/stop``
removes the link of that chat.
"""

from __future__ import annotations

import re

from gateway.logs import Logger
from gateway.store import keys
from gateway.store.scripting import call

__all__ = ["PhoneLinks", "Linker", "digits"]

_NOT_DIGIT = re.compile(r"\D")


def digits(phone: str) -> str:
    """A phone number as the gateway stores numbers: digits only, no ``+``."""
    return _NOT_DIGIT.sub("", phone or "")


class PhoneLinks:
    """phone → chat id of one bot, in Redis."""

    def __init__(self, redis, clock, bot: str, timeout: float = 5.0):
        self.redis = redis
        self.clock = clock
        self.bot = bot
        self.timeout = timeout

    def _call(self, *args):
        return call(self.redis, self.clock, *args, timeout=self.timeout)

    async def link(self, phone: str, chat_id: int) -> None:
        """Link ``phone`` to ``chat_id`` (a chat linked to another phone before is moved)."""
        phone = digits(phone)
        previous = await self._call("get", keys.telegram_phone(self.bot, chat_id))
        if previous is not None and _text(previous) != phone:
            await self._call("delete", keys.telegram_chat(self.bot, _text(previous)))
        await self._call("set", keys.telegram_chat(self.bot, phone), str(chat_id))
        await self._call("set", keys.telegram_phone(self.bot, chat_id), phone)

    async def unlink_chat(self, chat_id: int) -> str | None:
        """Remove the link of ``chat_id``; the phone it had, or None."""
        phone = await self._call("get", keys.telegram_phone(self.bot, chat_id))
        if phone is None:
            return None
        phone = _text(phone)
        if await self.chat(phone) == chat_id:
            await self._call("delete", keys.telegram_chat(self.bot, phone))
        await self._call("delete", keys.telegram_phone(self.bot, chat_id))
        return phone

    async def chat(self, phone: str) -> int | None:
        """The chat id linked to ``phone``, or None."""
        value = await self._call("get", keys.telegram_chat(self.bot, digits(phone)))
        return None if value is None else int(_text(value))

    async def offset(self) -> int:
        value = await self._call("get", keys.telegram_offset(self.bot))
        return int(value) if value is not None else 0

    async def set_offset(self, offset: int) -> None:
        await self._call("set", keys.telegram_offset(self.bot), str(offset))


class Linker:
    """Handles the updates of one bot: ``/start``, a shared contact, ``/stop``."""

    log = Logger()

    def __init__(self, api, links: PhoneLinks, texts: dict):
        self.api = api
        self.links = links
        self.texts = texts

    async def handle(self, update: dict) -> None:
        message = update.get("message")
        if not isinstance(message, dict) or (message.get("chat") or {}).get("type") != "private":
            return
        chat_id = message["chat"]["id"]
        contact = message.get("contact")
        text = (message.get("text") or "").strip()
        if isinstance(contact, dict):
            await self._contact(chat_id, message, contact)
        elif text.startswith("/start"):
            await self._ask(chat_id)
        elif text.startswith("/stop"):
            await self._stop(chat_id, message)

    async def _ask(self, chat_id: int) -> None:
        keyboard = {"keyboard": [[{"text": self.texts["share"], "request_contact": True}]],
                    "resize_keyboard": True, "one_time_keyboard": True}
        await self.api.call("sendMessage", chat_id=chat_id, text=self.texts["welcome"], reply_markup=keyboard)

    async def _contact(self, chat_id: int, message: dict, contact: dict) -> None:
        sender = (message.get("from") or {}).get("id")
        phone = digits(contact.get("phone_number", ""))
        if sender is None or contact.get("user_id") != sender or not phone:
            await self.api.call("sendMessage", chat_id=chat_id, text=self.texts["not_own"])
            return
        await self.links.link(phone, chat_id)
        self.log.info("bot {bot}: phone {phone} linked to chat {chat_id}", bot=self.links.bot,
                      phone=_masked(phone), chat_id=chat_id)
        await self.api.call("sendMessage", chat_id=chat_id, text=self.texts["linked"],
                            reply_markup={"remove_keyboard": True})

    async def _stop(self, chat_id: int, message: dict) -> None:
        phone = await self.links.unlink_chat(chat_id)
        if phone is not None:
            self.log.info("bot {bot}: phone {phone} unlinked from chat {chat_id}", bot=self.links.bot,
                          phone=_masked(phone), chat_id=chat_id)
        await self.api.call("sendMessage", chat_id=chat_id, text=self.texts["stopped"],
                            reply_markup={"remove_keyboard": True})


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _masked(phone: str) -> str:
    """A number for logs: enough to find it, not enough to dial it."""
    return phone[:4] + "…" + phone[-2:] if len(phone) > 6 else "…"
