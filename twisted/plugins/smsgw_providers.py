from gateway.plugins import ProviderPlugin

null = ProviderPlugin("null", "sends nowhere and reports every message delivered", "gateway.providers.null:from_options")
smtp = ProviderPlugin("smtp", "e-mail through an SMTP relay (implicit TLS, STARTTLS, AUTH)", "gateway.providers.smtp:from_options")
telegram = ProviderPlugin("telegram", "Telegram bot: messages to the chats phones are linked to (Bot API)", "gateway.providers.telegram.bot:from_options")
telegram_gateway = ProviderPlugin("telegram_gateway", "Telegram Gateway API: verification codes", "gateway.providers.telegram.codes:from_options")
viber = ProviderPlugin("viber", "Viber messages through a vendor's HTTP API (presets in etc/providers)", "gateway.providers.vendor:viber")
voice = ProviderPlugin("voice", "text-to-speech calls through a vendor's HTTP API", "gateway.providers.vendor:voice")
social = ProviderPlugin("social", "messages to social network users through a vendor's HTTP API", "gateway.providers.vendor:social")
hlr = ProviderPlugin("hlr", "HLR lookups: offline from numbering data, or an HLR vendor's web API", "gateway.providers.hlr.provider:from_options")
http = ProviderPlugin("http", "HTTP SMS aggregator from a request template (presets in etc/providers)",
                      "gateway.providers.http:HttpTemplateProvider")
