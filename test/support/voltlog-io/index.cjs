// ocpp-ws-io requires 'voltlog-io' at load time but only builds a logger when its `logging` option is
// not false. The tests always pass `logging: false`; reaching this means a test forgot to.
'use strict';
function refuse() {
  throw new Error('voltlog-io is not installed here: create ocpp-ws-io clients and servers with { logging: false }');
}
module.exports = { createLogger: refuse, consoleTransport: refuse, prettyTransport: refuse };
