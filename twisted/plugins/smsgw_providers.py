from gateway.plugins import ProviderPlugin

null = ProviderPlugin("null", "sends nowhere and reports every message delivered", "gateway.providers.null:from_options")
