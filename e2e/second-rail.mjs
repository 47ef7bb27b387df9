// The journey on the second rail and the platform-held payout, end to end in headless
// Chromium against `zinovia up` with PAYMENT_PROVIDERS=simulated,ccbill and the local CCBill
// stand-in (e2e/fake-ccbill.mjs):
//
//   1. a creator (euros) publishes a pay-per-view post;
//   2. a fan unlocks it choosing "Card (CCBill)", pays on the stand-in's page (an edited
//      price is refused there), is sent back and sees the post unlocked;
//   3. the creator's payouts page shows the sale pending; they turn on two-factor sign-in
//      and save a bank account with a code (a wrong password first); the test clock lets the hold pass: available; they request it;
//   4. the operator (refused until they turn on two-factor sign-in) sees the request, makes a batch (its SEPA file holds exactly
//      it), marks it paid; the creator's page shows it paid to their bank.
//
//   BASE_URL=… MAIL_DIR=<data dir>/mail OPS_EMAIL=… OPS_PASSWORD=… E2E_OUT=out node e2e/second-rail.mjs
import {
  axe, axeContext, base, check, enrolTotp, fail, finish, launch, shots, watchConsole, mailedLink, password, signUp, until, confirmEmail,
} from './lib.mjs';

const opsEmail = process.env.OPS_EMAIL;
const opsPassword = process.env.OPS_PASSWORD;
if (!opsEmail || !opsPassword) throw new Error('OPS_EMAIL and OPS_PASSWORD (an administrator) are required');
const run = Date.now().toString(36);
const handle = `cleo_${run}`;
const iban = 'DE89 3704 0044 0532 0130 00';

let step = 0;
const stepShots = async (page, name) => {
  step += 1;
  await shots(page, `second-rail-${String(step).padStart(2, '0')}-${name}`);
  console.log(`step ${step}: ${name}`);
};
const formErrors = (text) => text.includes('status of 422');

const csrf = (page) => page.locator('meta[name="csrf-token"]').getAttribute('content');

const held = (page, what) => page.locator(`td[data-held-stat="${what}"]`).first().innerText();

const browser = await launch();
const desktop = { viewport: { width: 1280, height: 800 } };
async function axeAs(context, route, name) {
  const ctx = await axeContext(browser, context);
  const page = await ctx.newPage();
  await page.goto(base + route);
  await axe(page, name);
  await ctx.close();
}
try {
  // 1. The creator, in euros, with a pay-per-view post.
  const creatorCtx = await browser.newContext(desktop);
  const creator = await creatorCtx.newPage();
  watchConsole(creator, 'creator', formErrors);
  const creatorEmail = `cleo-${run}@example.test`;
  await signUp(creator, creatorEmail, 'Cleo Frame');
  await confirmEmail(creator, creatorEmail);
  await creator.goto(`${base}/settings/creator`);
  await creator.getByLabel('Handle').fill(handle);
  await creator.getByLabel('Monthly price').fill('6.00');
  await creator.getByLabel('Currency').selectOption('EUR');
  await creator.getByRole('button', { name: 'Become a creator' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?saved=1$`));
  const made = await creator.request.post(`${base}/api/v1/posts`, {
    data: { text: 'Darkroom notes, for those who unlock them.', visibility: 'ppv', price_minor: 400 },
    headers: { 'x-csrf-token': await csrf(creator) },
  });
  check(made.status() === 201, `publishing the post answered ${made.status()}`);
  const postId = (await made.json()).id;
  await stepShots(creator, 'creator-ready');

  // 2. The fan unlocks it on CCBill.
  const fanCtx = await browser.newContext(desktop);
  const fan = await fanCtx.newPage();
  watchConsole(fan, 'fan', (t) => formErrors(t) || t.includes('status of 400'));
  await signUp(fan, `gail-${run}@example.test`, 'Gail Reader');
  const profile = `${base}/${handle}`;
  await fan.goto(profile);
  const post = fan.locator(`#post-${postId}`);
  check(!(await post.innerText()).includes('Darkroom notes'), 'the locked post shows its text');
  await post.getByRole('button', { name: /^Unlock for 4\.00 EUR$/ }).click();
  await fan.getByRole('heading', { name: 'Choose how to pay' }).waitFor();
  await stepShots(fan, 'fan-chooses-a-rail');
  await fan.getByRole('button', { name: 'Card (CCBill)' }).click();
  await fan.getByRole('heading', { name: 'CCBill' }).waitFor();
  const form = new URL(fan.url());
  check(form.origin !== new URL(base).origin, `the fan is not on CCBill's page but on ${form.origin}`);
  check(form.searchParams.get('initialPrice') === '4.00' && form.searchParams.get('currencyCode') === '978',
    `the form's price is ${form.searchParams.get('initialPrice')} in ${form.searchParams.get('currencyCode')}`);
  await stepShots(fan, 'fan-on-ccbill');
  // An edited price is refused by the form (its digest no longer matches).
  const edited = new URL(form);
  edited.searchParams.set('initialPrice', '0.01');
  const tamper = await fanCtx.newPage();
  watchConsole(tamper, 'tamper', (t) => t.includes('status of 400'));
  const refused = await tamper.goto(edited.toString());
  check(refused.status() === 400, `an edited price answered ${refused.status()}`);
  check((await tamper.content()).includes('formDigest does not match'), 'the edited price was not refused for its digest');
  await tamper.close();
  await fan.getByRole('button', { name: 'Pay 4.00 EUR' }).click();
  await fan.waitForURL(`${base}/account/subscriptions`);
  await until(fan, profile, async (p) => (await p.locator(`#post-${postId}`).innerText()).includes('Darkroom notes'),
    'the post unlocks after paying on CCBill');
  await stepShots(fan, 'fan-unlocked-on-ccbill');
  await fan.goto(`${base}/account/purchases`);
  check(await fan.locator('td', { hasText: 'Unlocked a post' }).count() === 1, 'purchases do not list the unlock');

  // 3. The creator's payouts: pending, a bank account, the hold passes, a request.
  await creator.goto(`${base}/dashboard/payouts`);
  check(await held(creator, 'pending') === '3.20 EUR', `pending is ${await held(creator, 'pending')}, not 3.20 EUR`);
  check(await held(creator, 'available') === '0.00 EUR', `available is ${await held(creator, 'available')} before the hold`);
  await stepShots(creator, 'payouts-pending');
  await axeAs(creatorCtx, '/dashboard/payouts', 'payouts');
  // Being paid needs two-factor sign-in: the creator turns it on, then confirms the bank
  // account with a code (a recovery code here).
  const { codes } = await enrolTotp(creator);
  await stepShots(creator, 'two-factor-on');
  await creator.goto(`${base}/dashboard/payouts`);
  await creator.getByLabel('Account holder').fill('Cleo Frame');
  await creator.getByLabel('Code from your authenticator app').fill(codes[0]);
  await creator.getByLabel('IBAN').fill(iban);
  await creator.getByLabel('Your password').fill('not my password');
  await creator.getByRole('button', { name: 'Save bank account' }).click();
  await creator.locator('#password-error').waitFor();
  check(await creator.getByLabel('IBAN').inputValue() === iban, 'the IBAN typed was lost on an error');
  await creator.getByLabel('Your password').fill(password);
  await creator.getByLabel('Code from your authenticator app').fill(codes[0]);
  await creator.getByRole('button', { name: 'Save bank account' }).click();
  await creator.waitForURL(/done=method/);
  check(await creator.locator('[data-method]').innerText().then((t) => t.includes('DE •••• 3000')), 'the bank account is not shown masked');
  check(!(await creator.content()).includes('37040044'), 'the whole IBAN is on the page');
  const clock = await creator.request.post(`${base}/api/v1/billing/simulated/clock`, {
    data: { days: 22 }, headers: { 'x-csrf-token': await csrf(creator) },
  });
  check(clock.status() === 200, `the test clock answered ${clock.status()}`);
  await until(creator, `${base}/dashboard/payouts`, async (p) => (await held(p, 'available')) === '3.20 EUR',
    'the sale becomes available after the hold');
  check(await held(creator, 'pending') === '0.00 EUR', 'still pending after the hold');
  await stepShots(creator, 'payouts-available');
  await creator.getByRole('button', { name: 'Request payout' }).click();
  await creator.waitForURL(/done=request/);
  check(await creator.locator('[data-requests] td', { hasText: 'Waiting for the next batch' }).count() === 1, 'the request is not listed as waiting');
  await stepShots(creator, 'payouts-requested');

  // 4. The operator's batch.
  const opsCtx = await browser.newContext(desktop);
  const ops = await opsCtx.newPage();
  watchConsole(ops, 'operator');
  await ops.goto(`${base}/login`);
  await ops.getByLabel('Email').fill(opsEmail);
  await ops.getByLabel('Password').fill(opsPassword);
  await ops.getByRole('button', { name: 'Log in' }).click();
  await ops.waitForURL((u) => !u.pathname.startsWith('/login'));
  // Operators act only from a session with a second factor: the console says so, and the
  // operator turns it on.
  const noSecondFactor = await ops.request.get(`${base}/admin/payouts`);
  check(noSecondFactor.status() === 403 && (await noSecondFactor.text()).includes('two-factor sign-in'),
    `the operator page answered ${noSecondFactor.status()} before two-factor sign-in`);
  await enrolTotp(ops);
  await ops.goto(`${base}/account`);
  await ops.getByRole('link', { name: 'Payout batches' }).click();
  await ops.waitForURL(`${base}/admin/payouts`);
  const row = ops.locator('[data-waiting] tr', { hasText: `@${handle}` });
  check(await row.count() === 1 && (await row.innerText()).includes('3.20 EUR'), 'the request is not waiting on the operator page');
  await stepShots(ops, 'operator-waiting');
  await axeAs(opsCtx, '/admin/payouts', 'operator payouts');
  await ops.getByRole('button', { name: 'Make a EUR batch' }).click();
  await ops.waitForURL(`${base}/admin/payouts`);
  const batch = ops.locator('[data-batches] tr[data-batch]').first();
  const batchId = await batch.getAttribute('data-batch');
  const sepa = await ops.request.get(`${base}/api/v1/admin/payout-batches/${batchId}/sepa`);
  check(sepa.status() === 200, `the SEPA file answered ${sepa.status()}`);
  const xml = await sepa.text();
  check(xml.includes('<IBAN>DE89370400440532013000</IBAN>') && xml.includes('<InstdAmt Ccy="EUR">3.20</InstdAmt>'),
    'the SEPA file does not pay the creator 3.20 EUR');
  const csv = await (await ops.request.get(`${base}/api/v1/admin/payout-batches/${batchId}/csv`)).text();
  check(csv.includes(`,${handle},Cleo Frame,DE89370400440532013000,,3.20,EUR,`), `the batch's CSV does not hold the request:\n${csv}`);
  await stepShots(ops, 'operator-batch');
  await batch.getByRole('button', { name: 'Mark paid' }).click();
  await ops.waitForURL(`${base}/admin/payouts`);
  check((await ops.locator('[data-batches] tr[data-batch]').first().innerText()).includes('Paid'), 'the batch is not marked paid');
  await creator.goto(`${base}/dashboard/payouts`);
  check(await held(creator, 'paid') === '3.20 EUR', `paid to the bank is ${await held(creator, 'paid')}`);
  check(await creator.locator('[data-requests] td', { hasText: /^Paid$/ }).count() === 1, 'the request is not shown paid');
  await stepShots(creator, 'payouts-paid');
  await creator.goto(`${base}/dashboard`);
  check((await creator.locator('[data-stat="paid-out"]').innerText()) === '3.20 EUR', 'the dashboard does not show the payout');

  // The operator's page is for administrators only.
  const denied = await creator.request.get(`${base}/admin/payouts`);
  check(denied.status() === 403, `a creator opening the operator page got ${denied.status()}`);
} catch (e) {
  fail(`the journey stopped: ${e.stack ?? e}`);
} finally {
  await browser.close();
}
finish('the journey on the second rail');
