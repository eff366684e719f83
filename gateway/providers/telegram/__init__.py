"""
Telegram providers:

- ``type = telegram`` (`gateway.providers.telegram.bot`): channel ``bot``,
  messages from a Telegram bot (Bot API ``sendMessage``) to the chat a
  subscriber linked to their phone number by sharing their contact with the
  bot (`gateway.providers.telegram.links`); the bot takes its updates by
  polling or through a webhook (`gateway.providers.telegram.webhook`);
- ``type = telegram_gateway`` (`gateway.providers.telegram.codes`): channel
  ``tgm``, verification codes through the Telegram Gateway API
  (``sendVerificationMessage``).
"""

__all__: list[str] = []
