// node `soap` against Ithaca's rich contract (gateway/tests/fixtures/rich/rich.wsdl).
//
// Run by gateway/tests/soap_rich.rs with ITHACA_BASE=http://HOST:PORT. Calls
// every operation on every port (document/literal wrapped and rpc/literal,
// SOAP 1.1 and 1.2), checks every value received, and prints
// `PORT CASE: ok` per case (or `PORT CASE: FAILED ...` and exits 1).
'use strict';

const soap = require('soap');
const util = require('util');

const NS = 'urn:ithaca:test:rich';
const base = process.env.ITHACA_BASE;
const wsdl = `${base}/services/RichService?wsdl`;

function check(label, got, want) {
  const a = JSON.stringify(got), b = JSON.stringify(want);
  if (a !== b) throw new Error(`${label}: expected ${b}, got ${a}`);
}

// node soap reads every simple value as a string unless it knows the type;
// compare as strings so both are accepted.
const str = (v) => (v === undefined || v === null ? v : String(v));

const address = (street, city, country, zip) => {
  const a = { attributes: { country }, street, city };
  if (zip !== undefined) a.zip = zip;
  return a;
};

function companyOrder(secondQuantity) {
  return {
    attributes: { currency: 'EUR' },
    id: 'A-17',
    priority: 'high',
    customer: { attributes: { xsi_type: { type: 'Company', xmlns: NS } }, name: 'Acme & Sons <Ltd>', vatId: 'DE123' },
    contact: { phone: '+49 30 1234' },
    shipTo: address('1 Main St', 'Zürich', 'CH'),
    billTo: address('2 Side St', 'Bern', 'CH', '3000'),
    lines: {
      line: [
        { attributes: { gift: 'true' }, sku: 'pen', quantity: 3, unitPrice: '1.25' },
        { sku: 'ink', quantity: secondQuantity, unitPrice: '4.10' },
      ],
    },
    tag: ['rush', 'fragile'],
    note: null,
  };
}

function personOrder() {
  return {
    attributes: { currency: 'NOK' },
    id: 'B-2',
    priority: 'low',
    customer: { attributes: { xsi_type: { type: 'Person', xmlns: NS } }, name: 'Ada', birthYear: 1970 },
    contact: { email: 'ada@example.org' },
    shipTo: address('Storgata 1', 'Oslo', 'NO', '0155'),
    lines: { line: [{ sku: 'book', quantity: 1, unitPrice: '12.5' }] },
    note: 'leave at door',
  };
}

// The fault element of a SOAP 1.1 or 1.2 fault, as node soap parsed it.
function faultOf(err) {
  const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body && err.root.Envelope.Body.Fault;
  if (!fault) throw err;
  return {
    reason: fault.faultstring !== undefined ? fault.faultstring : fault.Reason && fault.Reason.Text && (fault.Reason.Text.$value || fault.Reason.Text),
    detail: fault.detail || fault.Detail,
  };
}

const cases = {
  async 'submitOrder company'(port) {
    const [res] = await port.submitOrderAsync({ order: companyOrder(2) });
    const r = res.receipt;
    check('orderId', r.orderId, 'A-17');
    check('currency', r.attributes.currency, 'EUR');
    check('priority', r.priority, 'high');
    check('customer', [r.customer.name, r.customer.vatId], ['Acme & Sons <Ltd>', 'DE123']);
    check('customerKind', r.customerKind, 'Company');
    check('contactKind', r.contactKind, 'phone');
    check('shipTo', [r.shipTo.street, r.shipTo.city, r.shipTo.zip, r.shipTo.attributes.country], ['1 Main St', 'Zürich', undefined, 'CH']);
    check('billTo', [r.billTo.city, r.billTo.zip, r.billTo.attributes.country], ['Bern', '3000', 'CH']);
    check('lineCount', str(r.lineCount), '2');
    check('giftLines', str(r.giftLines), '1');
    check('total', Number(r.total), 11.95);
    check('tag', r.tag, ['RUSH', 'FRAGILE']);
    check('note', r.note, null);
  },
  async 'submitOrder person'(port) {
    const [res] = await port.submitOrderAsync({ order: personOrder() });
    const r = res.receipt;
    check('customer', [r.customer.name, str(r.customer.birthYear)], ['Ada', '1970']);
    check('customerKind', r.customerKind, 'Person');
    check('contactKind', r.contactKind, 'email');
    check('priority', r.priority, 'low');
    check('billTo', r.billTo, undefined);
    check('lineCount', str(r.lineCount), '1');
    check('total', Number(r.total), 12.5);
    check('tag', r.tag, undefined);
    check('note', r.note, 'leave at door');
  },
  async 'submitOrder fault'(port) {
    let fault;
    try {
      await port.submitOrderAsync({ order: companyOrder(0) });
    } catch (err) {
      fault = faultOf(err);
    }
    if (!fault) throw new Error('no fault for a line of quantity 0');
    check('reason', fault.reason, 'line 2: quantity must be positive');
    const d = fault.detail && fault.detail.orderRejected;
    if (!d) throw new Error(`no orderRejected detail in ${util.inspect(fault.detail)}`);
    check('detail', [d.orderId, str(d.lineNumber), d.problem], ['A-17', '2', 'quantity must be positive']);
  },
  async 'track header'(port, client) {
    client.clearSoapHeaders();
    client.addSoapHeader({ session: { user: 'alice', ticket: 41 } }, 'session', 'r', NS);
    try {
      const [r, , header] = await port.trackAsync({ orderId: 'A-17' });
      check('track', [r.orderId, r.user, str(r.nextTicket)], ['A-17', 'alice', '42']);
      // node soap hands the parsed response Header to the callback.
      const t = header && header.tracking;
      if (!t) throw new Error(`no tracking header in ${util.inspect(header)}`);
      check('tracking header', [t.code, str(t.hops)], ['A-17/alice', '82']);
    } finally {
      client.clearSoapHeaders();
    }
  },
  async 'track header fault'(port, client) {
    client.clearSoapHeaders();
    client.addSoapHeader({ session: { user: 'alice', ticket: -1 } }, 'session', 'r', NS);
    let err;
    try {
      await port.trackAsync({ orderId: 'A-17' });
    } catch (e) {
      err = e;
    } finally {
      client.clearSoapHeaders();
    }
    if (!err) throw new Error('no fault for a negative ticket');
    const fault = faultOf(err);
    check('reason', fault.reason, 'the session ticket is negative');
    check('detail', fault.detail, undefined);
    // The declared soap:headerfault block is in the fault's Header.
    const header = err.root.Envelope.Header;
    const refused = header && header.trackingRefused;
    if (!refused) throw new Error(`no trackingRefused header in ${util.inspect(err.root.Envelope)}`);
    check('header fault', refused.reason, 'ticket -1 of alice is negative');
  },
  async quote(port) {
    const [r] = await port.quoteAsync({ sku: 'pen', quantity: 4, shipTo: address('Storgata 1', 'Oslo', 'NO'), priority: 'high' });
    check('total', Number(r.total), 10);
    check('summary', [r.summary.text, str(r.summary.express), r.summary.attributes.country], ['4 x pen to Oslo', 'true', 'NO']);
  },
  async 'quote fault'(port) {
    let fault;
    try {
      await port.quoteAsync({ sku: 'pen', quantity: 1000, shipTo: address('s', 'c', 'NO'), priority: 'low' });
    } catch (err) {
      if (isWrapperRefusal(err)) throw err;
      fault = faultOf(err);
    }
    if (!fault) throw new Error('no fault for a quantity of 1000');
    check('reason', fault.reason, 'at most 999 per quote');
    const d = fault.detail && fault.detail.quoteRefused;
    if (!d) throw new Error(`no quoteRefused detail in ${util.inspect(fault.detail)}`);
    check('detail', [d.sku, str(d.maxQuantity)], ['pen', '999']);
  },
};

// node soap 1.13 writes an rpc wrapper in the definitions' targetNamespace,
// not in the soap:body `namespace` the binding gives (lib/client.js
// `_invoke` passes `defs.$targetNamespace` to `objectToRpcXML`; the upstream
// fix, vpulim/node-soap PR #783, was closed unmerged), and writes the content
// of struct parts unqualified. The gateway rightly refuses such a request
// with a Client fault (the body element is not the operation's wrapper).
// When that refusal is what a case gets, the case is reported as skipped
// with this reason; any other outcome is checked as usual.
const RPC_SKIP = 'skipped (node soap 1.13 puts the rpc wrapper in the targetNamespace, not the soap:body namespace)';
const isWrapperRefusal = (err) => {
  try {
    return /expects the body element \{urn:ithaca:test:rich:rpc\}quote, not \{urn:ithaca:test:rich\}quote/.test(faultOf(err).reason);
  } catch (_) {
    return false;
  }
};

const plan = [
  ['RichSoap11Port', false, ['submitOrder company', 'submitOrder person', 'submitOrder fault', 'track header', 'track header fault']],
  ['RichSoap12Port', true, ['submitOrder company', 'submitOrder person', 'submitOrder fault', 'track header', 'track header fault']],
  ['RichRpcSoap11Port', false, ['quote', 'quote fault']],
  ['RichRpcSoap12Port', true, ['quote', 'quote fault']],
];

(async () => {
  let failed = false;
  for (const [portName, soap12, names] of plan) {
    const client = await soap.createClientAsync(wsdl, { forceSoap12Headers: soap12, preserveWhitespace: true, handleNilAsNull: true });
    // Promise versions of the port's operations.
    const methods = client.RichService[portName];
    const port = {};
    for (const op of Object.keys(methods)) {
      port[`${op}Async`] = (args) => new Promise((resolve, reject) => {
        methods[op](args, (err, result, raw, header) => (err ? reject(err) : resolve([result, raw, header])));
      });
    }
    for (const name of names) {
      try {
        await cases[name](port, client);
        console.log(`${portName} ${name}: ok`);
      } catch (err) {
        if (isWrapperRefusal(err)) {
          console.log(`${portName} ${name}: ${RPC_SKIP}`);
          continue;
        }
        failed = true;
        console.log(`${portName} ${name}: FAILED ${err && err.message}`);
        console.error(err && (err.body || err.stack || err));
        console.error(client.lastRequest);
      }
    }
  }
  process.exit(failed ? 1 : 0);
})().catch((err) => {
  console.error(String(err && (err.stack || err)));
  process.exit(1);
});
