// A local stand-in for CCBill that a browser can reach, for the journey on the second rail
// (the Rust tests' FakeCcbill, as a page): its FlexForm refuses a price whose `formDigest`
// does not match (MD5 of the price fields, then the salt, as CCBill documents, ADR 0022);
// "Pay" posts the `NewSaleSuccess` webhook CCBill would send (form-encoded, pass-through
// fields returned with an `X-` prefix) to the app's secret webhook URL, from 127.0.0.1,
// then sends the browser to the approval URL; DataLink cancels when the user is right.
//
//   FAKE_CCBILL_PORT=… APP_BASE=http://127.0.0.1:8080 CCBILL_ACCNUM=… CCBILL_SUBACC=…
//   CCBILL_FLEXFORM_ID=… CCBILL_SALT=… CCBILL_WEBHOOK_TOKEN=… CCBILL_DATALINK_USERNAME=…
//   CCBILL_DATALINK_PASSWORD=… node e2e/fake-ccbill.mjs
import crypto from 'node:crypto';
import http from 'node:http';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};
const port = Number(env('FAKE_CCBILL_PORT'));
const app = env('APP_BASE');
const accnum = env('CCBILL_ACCNUM');
const subacc = env('CCBILL_SUBACC');
const flex = env('CCBILL_FLEXFORM_ID');
const salt = env('CCBILL_SALT');
const token = env('CCBILL_WEBHOOK_TOKEN');
const dlUser = env('CCBILL_DATALINK_USERNAME');
const dlPassword = env('CCBILL_DATALINK_PASSWORD');

const digest = (fields) => crypto.createHash('md5').update(fields.join('') + salt).digest('hex');
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const currencies = { 840: 'USD', 978: 'EUR', 826: 'GBP' };

// Why the form refuses `q`, or null.
function refusal(path, q) {
  if (path !== `/wap-frontflex/flexforms/${flex}` || q.get('clientAccnum') !== accnum || q.get('clientSubacc') !== subacc) {
    return 'unknown form or account';
  }
  const fields = [q.get('initialPrice'), q.get('initialPeriod')];
  if (q.has('recurringPrice')) fields.push(q.get('recurringPrice'), q.get('recurringPeriod'), q.get('numRebills'));
  fields.push(q.get('currencyCode'));
  if (fields.some((f) => f === null)) return 'a price field is missing';
  return q.get('formDigest') === digest(fields) ? null : 'formDigest does not match the price fields';
}

const page = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>CCBill (local stand-in)</title></head><body><main>${body}</main></body></html>`);
};

let sales = 0;
const stamp = (d) => d.toISOString().replace('T', ' ').slice(0, 19);

async function paid(q) {
  sales += 1;
  const n = String(sales).padStart(5, '0');
  const recurring = q.has('recurringPrice');
  const f = {
    subscriptionId: `0117240102${Date.now() % 10000}${n}`,
    transactionId: `0912191101${Date.now() % 10000}${n}`,
    clientAccnum: accnum,
    clientSubacc: subacc,
    timestamp: stamp(new Date()),
    subscriptionInitialPrice: q.get('initialPrice'),
    billedInitialPrice: q.get('initialPrice'),
    subscriptionCurrencyCode: q.get('currencyCode'),
    billedCurrencyCode: q.get('currencyCode'),
    initialPeriod: q.get('initialPeriod'),
    subscriptionRecurringPrice: recurring ? q.get('recurringPrice') : '0.00',
    billedRecurringPrice: recurring ? q.get('recurringPrice') : '0.00',
    rebills: recurring ? q.get('numRebills') : '0',
    paymentType: 'CREDIT',
    cardType: 'VISA',
    last4: '1111',
  };
  if (recurring) {
    f.recurringPeriod = q.get('recurringPeriod');
    f.nextRenewalDate = stamp(new Date(Date.now() + 30 * 86400e3)).slice(0, 10);
  }
  for (const [k, v] of q) f[`X-${k}`] = v;
  const url = `${app}/api/v1/billing/webhooks/ccbill/${token}?clientAccnum=${accnum}&clientSubacc=${subacc}&eventType=NewSaleSuccess&eventGroupType=Subscription`;
  const r = await fetch(url, { method: 'POST', body: new URLSearchParams(f) });
  if (r.status !== 200) throw new Error(`the app answered the webhook with ${r.status}: ${await r.text()}`);
}

const server = http.createServer(async (req, res) => {
  try {
    const u = new URL(req.url, `http://127.0.0.1:${port}`);
    if (req.method === 'GET' && u.pathname.startsWith('/wap-frontflex/flexforms/')) {
      const why = refusal(u.pathname, u.searchParams);
      if (why) return page(res, 400, `<h1>Payment refused</h1><p>${escape(why)}</p>`);
      const amount = `${u.searchParams.get('initialPrice')} ${currencies[u.searchParams.get('currencyCode')] ?? ''}`;
      const what = u.searchParams.has('recurringPrice') ? `${amount} a month` : amount;
      return page(res, 200, `<h1>CCBill</h1><p>Pay ${escape(what)} by card.</p>
        <form method="post" action="/pay"><input type="hidden" name="q" value="${escape(u.search.slice(1))}">
        <button type="submit">Pay ${escape(what)}</button></form>`);
    }
    if (req.method === 'POST' && u.pathname === '/pay') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const q = new URLSearchParams(new URLSearchParams(body).get('q') ?? '');
      const why = refusal(`/wap-frontflex/flexforms/${flex}`, q);
      if (why) return page(res, 400, `<h1>Payment refused</h1><p>${escape(why)}</p>`);
      await paid(q);
      // The FlexForm's approval URL (docs/runbooks/payments.md).
      res.writeHead(303, { location: `${app}/account/subscriptions` });
      return res.end();
    }
    if (req.method === 'GET' && u.pathname === '/utils/subscriptionManagement.cgi') {
      const q = u.searchParams;
      const code = q.get('clientAccnum') !== accnum || q.get('username') !== dlUser || q.get('password') !== dlPassword ? -1
        : q.get('action') !== 'cancelSubscription' ? -6 : q.get('subscriptionId') ? 1 : -5;
      res.writeHead(200, { 'content-type': 'text/xml' });
      return res.end(`<?xml version='1.0' standalone='yes'?>\n<results>${code}</results>\n`);
    }
    res.writeHead(404);
    return res.end();
  } catch (e) {
    console.error(`fake CCBill: ${e.stack ?? e}`);
    res.writeHead(500);
    return res.end(String(e));
  }
});
server.listen(port, '127.0.0.1', () => console.log(`fake CCBill on 127.0.0.1:${port}`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
