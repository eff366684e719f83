from twisted.application.service import ServiceMaker

smsgw = ServiceMaker("smsgw", "gateway.tap", "SMS and messaging gateway: SMPP and HTTP in, SMSCs and messengers out", "smsgw")
