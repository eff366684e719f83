// bind_transceiver → submit_sm (registered_delivery) → wait for the deliver_sm receipt.
// Usage: node dlr_round_trip.js PORT SYSTEM_ID PASSWORD; prints one JSON line, exits 0 (or 1).
const smpp = require('smpp');
const [port, systemId, password] = process.argv.slice(2);
const result = {};
const session = smpp.connect({url: `smpp://127.0.0.1:${port}`, auto_enquire_link_period: 10000});
const fail = (why) => { console.log(JSON.stringify({error: why, ...result})); process.exit(1); };
setTimeout(() => fail('timed out'), 20000);
session.on('error', (e) => fail(String(e)));
session.on('connect', () => {
  session.bind_transceiver({system_id: systemId, password: password}, (pdu) => {
    result.bind_status = pdu.command_status;
    if (pdu.command_status !== 0) fail('bind refused');
    session.submit_sm({
      source_addr: 'Shop', destination_addr: '79001234567', registered_delivery: 1,
      short_message: 'Hello from node smpp',
    }, (resp) => {
      result.submit_status = resp.command_status;
      result.message_id = resp.message_id;
    });
  });
});
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  if (!(pdu.esm_class & 0x04)) return;
  result.receipted_message_id = pdu.receipted_message_id;
  result.message_state = pdu.message_state;
  result.text = pdu.short_message.message;
  session.unbind(() => { console.log(JSON.stringify(result)); session.close(); process.exit(0); });
});
