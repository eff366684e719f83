from gateway.plugins import ChannelPlugin

sms = ChannelPlugin("sms", "gateway.channels.builtin:SmsChannel")
mail = ChannelPlugin("mail", "gateway.channels.builtin:MailChannel")
call = ChannelPlugin("call", "gateway.channels.builtin:CallChannel")
viber = ChannelPlugin("viber", "gateway.channels.builtin:ViberChannel")
soc = ChannelPlugin("soc", "gateway.channels.builtin:SocialChannel")
tgm = ChannelPlugin("tgm", "gateway.channels.builtin:TelegramCodeChannel")
bot = ChannelPlugin("bot", "gateway.channels.builtin:BotChannel")
hlr = ChannelPlugin("hlr", "gateway.channels.builtin:HlrChannel")
ping = ChannelPlugin("ping", "gateway.channels.builtin:PingChannel")
