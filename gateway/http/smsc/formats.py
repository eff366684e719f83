"""
smsc.ru response shapes for ``fmt`` 0 (text), 1 (numbers), 2 (XML) and 3
(JSON), as its clients parse them: ``OK - 1 SMS, ID - <id>``,
``<id>,<cnt>``, ``{"id": …, "cnt": …}``; errors ``ERROR = N (description)``,
``0,-N``, ``{"error": …, "error_code": N}`` (with the request id for errors
3, 6, 7, 8 when some of the request was accepted).  Every answer is HTTP 200,
like smsc.ru's, except 503 while the store is unavailable.
"""

from __future__ import annotations

import json
from decimal import Decimal
from xml.sax.saxutils import escape

from gateway.http.errors import HttpError
from gateway.http.responses import Reply

__all__ = ["Formatter", "DESCRIPTIONS", "FORMATS"]

FORMATS = (0, 1, 2, 3)

#: smsc.ru error numbers and their descriptions.
DESCRIPTIONS = {
    1: "parameters error", 2: "invalid login or password", 3: "not enough money on the account",
    4: "IP address is temporarily blocked", 5: "invalid date format", 6: "message is forbidden",
    7: "invalid phone number format", 8: "message cannot be delivered to this number",
    9: "duplicate request or too many requests",
}
_WITH_ID = {3, 6, 7, 8}


def money(value: Decimal | None) -> str:
    return "0.00" if value is None else f"{value:.2f}"


class Formatter:
    """Writes answers in one ``fmt`` and response charset."""

    def __init__(self, fmt: int = 0, charset: str = "windows-1251"):
        self.fmt = fmt if fmt in FORMATS else 0
        self.charset = charset

    def _reply(self, fields: list[tuple[str, object]], text: str, status: int = 200) -> Reply:
        if self.fmt == 3:
            body = json.dumps(dict(fields), ensure_ascii=False)
            return Reply(status, b"application/json; charset=" + self.charset.encode(),
                         body.encode(self.charset, "replace"))
        if self.fmt == 2:
            inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields)
            text = f"<?xml version=\"1.0\" encoding=\"{self.charset}\"?>\n<result>{inner}</result>"
            return Reply(status, b"text/xml; charset=" + self.charset.encode(), text.encode(self.charset, "replace"))
        return Reply(status, b"text/plain; charset=" + self.charset.encode(), text.encode(self.charset, "replace"))

    def error(self, error: HttpError, request_id: str | None = None) -> Reply:
        """``ERROR = N (description)`` in the chosen format."""
        n = error.smsc
        description = f"{DESCRIPTIONS.get(n, 'error')}: {error.message}"
        fields: list = [("error", description), ("error_code", n)]
        with_id = request_id is not None and n in _WITH_ID
        if with_id:
            fields.append(("id", _json_id(request_id)))
        if self.fmt == 1:
            text = f"{request_id if with_id else 0},-{n}"
        else:
            text = f"ERROR = {n} ({description})" + (f", ID - {request_id}" if with_id else "")
        return self._reply(fields, text, 503 if error.status == 503 else 200)

    def sent(self, request_id: str, count: int, cost: Decimal | None = None,
             balance: Decimal | None = None, cost_mode: int = 0) -> Reply:
        """The answer to an accepted send (``cost`` 2 adds the cost, 3 also the balance)."""
        fields: list = [("id", _json_id(request_id)), ("cnt", count)]
        text, numbers = f"OK - {count} SMS, ID - {request_id}", [request_id, str(count)]
        if cost_mode >= 2:
            fields.append(("cost", money(cost)))
            text += f", COST - {money(cost)}"
            numbers.append(money(cost))
        if cost_mode >= 3:
            fields.append(("balance", money(balance)))
            text += f", BALANCE - {money(balance)}"
            numbers.append(money(balance))
        return self._reply(fields, ",".join(numbers) if self.fmt == 1 else text)

    def price(self, cost: Decimal | None, count: int) -> Reply:
        """The answer to ``cost=1``: the price only, nothing sent."""
        fields = [("cost", money(cost)), ("cnt", count)]
        text = f"{money(cost)},{count}" if self.fmt == 1 else f"{money(cost)} ({count} SMS)"
        return self._reply(fields, text)

    def balance(self, balance: Decimal | None) -> Reply:
        """``/sys/balance.php``: the balance; 'unlimited' (JSON null) for an unlimited account."""
        text = "unlimited" if balance is None else money(balance)
        return self._reply([("balance", None if balance is None else money(balance))], text)

    def statuses(self, rows: list[dict], multiple: bool) -> Reply:
        """``/sys/status.php``: one status, or (``id`` given as a list) one per message."""
        if not multiple:
            row = rows[0]
            return self._reply(list(row.items()), self._status_text(row))
        if self.fmt == 3:
            body = json.dumps(rows, ensure_ascii=False)
            return Reply(200, b"application/json; charset=" + self.charset.encode(),
                         body.encode(self.charset, "replace"))
        if self.fmt == 2:
            inner = "".join("<sms>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in r.items()) + "</sms>"
                            for r in rows)
            text = f"<?xml version=\"1.0\" encoding=\"{self.charset}\"?>\n<result>{inner}</result>"
            return Reply(200, b"text/xml; charset=" + self.charset.encode(), text.encode(self.charset, "replace"))
        lines = [self._status_text(r) + (f",{r['phone']},{r['id']}" if self.fmt == 1
                                         else f", phone = {r['phone']}, id = {r['id']}") for r in rows]
        return self._reply([], "\n".join(lines))

    def _status_text(self, row: dict) -> str:
        if self.fmt == 1:
            return f"{row['status']},{row['last_timestamp']},{row['err']}"
        text = f"Status = {row['status']}, check_time = {row['last_date']}, err = {row['err']}"
        if "send_date" in row:  # all=1
            for key in ("send_date", "phone", "cost", "sender_id", "status_name", "message", "comment", "type"):
                text += f", {key} = {row[key]}"
        return text


def _json_id(request_id: str):
    """A request id as smsc.ru's JSON gives it: a number when it is one (as those it numbers)."""
    if request_id.isdigit() and request_id[0] != "0" and len(request_id) < 16:
        return int(request_id)
    return request_id
