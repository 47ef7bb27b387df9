// The messaging journey, end to end in headless Chromium against `zinovia up` (simulated
// payments, the in-process worker):
//
//   1. a creator publishes two photos (they land in the vault); two fans subscribe;
//   2. one fan opens the creator's thread from the profile ("Message") and waits there;
//   3. the creator sends that fan a paid message with the two photos from the vault picker;
//      the fan's open thread shows it arrive without reloading, blurred, "Unlock for 3.00";
//   4. the fan unlocks it on the simulated rail and sees the two photos; the creator's
//      thread shows "Unlocked" and the dashboard the earning;
//   5. the other fan cancels and the test clock ends the period; a mass message to
//      "expired subscribers" reaches that lapsed fan and not the active one.
//
//   BASE_URL=… MAIL_DIR=<data dir>/mail E2E_OUT=out node e2e/messages.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  axe, axeContext, base, check, fail, finish, launch, shots, watchConsole, mailedLink, signUp, until, confirmEmail, paySimulated,
} from './lib.mjs';

const run = Date.now().toString(36);
const handle = `mira_${run}`;
const media = fs.mkdtempSync(path.join(os.tmpdir(), 'zinovia-e2e-messages-'));
const photo = (name, source) => {
  const file = path.join(media, name);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-frames:v', '1', '-q:v', '3', file]);
  return file;
};
const photos = [photo('window.jpg', 'testsrc2=size=1400x1000'), photo('street.jpg', 'mandelbrot=size=1000x1400')];

let step = 0;
const stepShots = async (page, name) => {
  step += 1;
  await shots(page, `messages-${String(step).padStart(2, '0')}-${name}`);
  console.log(`step ${step}: ${name}`);
};
const formErrors = (text) => text.includes('status of 422');
const csrf = (page) => page.locator('meta[name="csrf-token"]').getAttribute('content');

const pay = paySimulated;

const browser = await launch();
const desktop = { viewport: { width: 1280, height: 800 } };
async function axeAs(context, route, name) {
  const ctx = await axeContext(browser, context);
  const page = await ctx.newPage();
  await page.goto(base + route);
  await axe(page, name);
  await ctx.close();
}
async function fanWho(name, email) {
  const ctx = await browser.newContext(desktop);
  const page = await ctx.newPage();
  watchConsole(page, name, formErrors);
  await signUp(page, email, name);
  await page.goto(`${base}/${handle}`);
  await page.getByRole('button', { name: /^Subscribe for 5\.00 [A-Z]{3} a month$/ }).click();
  await pay(page);
  return [ctx, page];
}
try {
  // 1. The creator and two photos in the vault.
  const creatorCtx = await browser.newContext(desktop);
  const creator = await creatorCtx.newPage();
  watchConsole(creator, 'creator', formErrors);
  const creatorEmail = `mira-${run}@example.test`;
  await signUp(creator, creatorEmail, 'Mira Stills');
  await confirmEmail(creator, creatorEmail);
  await creator.goto(`${base}/settings/creator`);
  await creator.getByLabel('Handle').fill(handle);
  await creator.getByLabel('Monthly price').fill('5.00');
  await creator.getByRole('button', { name: 'Become a creator' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?saved=1$`));
  await creator.goto(`${base}/dashboard/compose`);
  await creator.getByLabel('Text', { exact: true }).fill('Two frames from the city.');
  await creator.locator('#files').setInputFiles(photos);
  await creator.locator('#upload-list li[data-state=ready]').nth(1).waitFor({ timeout: 120_000 });
  await creator.getByLabel('Subscribers').check();
  await creator.getByRole('button', { name: 'Publish' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?published=`));
  await creator.goto(`${base}/dashboard/vault`);
  check(await creator.locator('.vault-item').count() === 2, 'the vault does not hold the two photos');
  await stepShots(creator, 'creator-vault');
  await axeAs(creatorCtx, '/dashboard/vault', 'vault');

  const [fanCtx, fan] = await fanWho('Noor Reader', `noor-${run}@example.test`);
  const [lapsedCtx, lapsed] = await fanWho('Otto Leaving', `otto-${run}@example.test`);

  // 2. The fan opens the thread from the profile and waits there.
  await fan.goto(`${base}/${handle}`);
  await fan.getByRole('button', { name: 'Message' }).click();
  await fan.waitForURL(/\/messages\/[0-9a-f-]+$/);
  const thread = fan.url();
  await fan.getByLabel('Message').fill('Hello! Anything new from the city?');
  await fan.getByRole('button', { name: 'Send' }).click();
  await fan.waitForURL(/#message-composer$/);
  await fan.evaluate(() => { window.stillHere = true; });
  await stepShots(fan, 'fan-thread-waiting');

  // 3. The creator answers with a paid message of both photos.
  await creator.goto(`${base}/messages`);
  check(await creator.locator('.inbox-line.unread', { hasText: 'Noor Reader' }).count() === 1, 'the creator\'s inbox does not show the fan unread');
  await stepShots(creator, 'creator-inbox');
  await axeAs(creatorCtx, '/messages', 'inbox');
  await creator.locator('.inbox-line', { hasText: 'Noor Reader' }).getByRole('link').click();
  await creator.waitForURL(/\/messages\/[0-9a-f-]+$/);
  await creator.getByLabel('Message').fill('Two new frames, just for you.');
  for (const box of await creator.locator('.vault-picker input[type=checkbox]').all()) await box.check();
  await creator.getByLabel(/Price to unlock/).fill('3.00');
  await stepShots(creator, 'creator-composes-paid-message');
  await axeAs(creatorCtx, new URL(creator.url()).pathname, 'thread (creator)');
  await creator.getByRole('button', { name: 'Send' }).click();
  await creator.waitForURL(/#message-composer$/);

  // The fan's open thread shows it arrive, blurred, without a reload.
  const arrived = fan.locator('.bubble.is-locked', { hasText: 'Two new frames' });
  await arrived.waitFor({ timeout: 10_000 });
  check(await fan.evaluate(() => window.stillHere === true), 'the fan\'s page reloaded to show the message');
  check((await arrived.innerText()).includes('2 photos'), 'the locked message does not say what it holds');
  check(await arrived.locator('img.photo').count() === 0, 'a locked message shows its photos');
  check(!/\/media\/|X-Amz-Signature|Signature=/.test(await arrived.innerHTML()), 'a locked message holds a media URL');
  await stepShots(fan, 'fan-paid-message-arrived-live');
  await axeAs(fanCtx, new URL(thread).pathname, 'thread (fan)');

  // 4. The fan unlocks it.
  await arrived.getByRole('button', { name: /^Unlock for 3\.00 [A-Z]{3}$/ }).click();
  await pay(fan);
  await fan.getByRole('link', { name: 'See the message' }).click();
  await fan.waitForURL(/\/messages\/[0-9a-f-]+/);
  const open = fan.locator('.bubble', { hasText: 'Two new frames' });
  check(await open.locator('img.photo').count() === 2, 'the unlocked message does not show two photos');
  await fan.waitForFunction(() => Array.from(document.querySelectorAll('.bubble img.photo')).every((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 15_000 }).catch(() => fail('the unlocked photos did not load'));
  await stepShots(fan, 'fan-unlocked-message');
  await until(creator, creator.url().replace(/#.*$/, ''), async (p) => (await p.locator('.bubble.mine', { hasText: 'Two new frames' }).locator('.unlocked').count()) === 1,
    'the creator\'s thread shows the message unlocked');
  await stepShots(creator, 'creator-sees-unlocked');
  await creator.goto(`${base}/dashboard`);
  check(await creator.locator('text=Message unlocked').count() >= 1, 'the dashboard does not list the message earning');
  await stepShots(creator, 'creator-dashboard-earning');

  // 5. The other fan lapses; a mass message to expired subscribers reaches only them.
  await lapsed.goto(`${base}/account/subscriptions`);
  await lapsed.getByRole('button', { name: /^Cancel your subscription to / }).click();
  await lapsed.locator('.notice', { hasText: 'canceled' }).waitFor();
  const passed = await lapsed.request.post(`${base}/api/v1/billing/simulated/clock`, {
    data: { days: 31 }, headers: { 'x-csrf-token': await csrf(lapsed) },
  });
  check(passed.status() === 200, `the test clock answered ${passed.status()}`);
  await creator.goto(`${base}/dashboard/messages/mass`);
  await creator.getByLabel('Send to').selectOption('expired');
  await creator.getByLabel('Message', { exact: true }).fill('We miss you: new frames every week.');
  await stepShots(creator, 'creator-mass-message');
  await axeAs(creatorCtx, '/dashboard/messages/mass', 'mass messages');
  await creator.getByRole('button', { name: 'Send' }).click();
  await creator.waitForURL(/\/dashboard\/messages\/mass\?sent=1$/);
  await until(creator, `${base}/dashboard/messages/mass`, async (p) => (await p.locator('tr[data-mass]', { hasText: 'Sent' }).first().innerText()).includes('Expired subscribers'),
    'the mass message is delivered');
  await until(lapsed, `${base}/messages`, async (p) => (await p.locator('.inbox-line', { hasText: 'We miss you' }).count()) === 1,
    'the lapsed fan receives the win-back message');
  await stepShots(lapsed, 'lapsed-fan-inbox');
  await fan.goto(`${base}/messages`);
  check(await fan.locator('.inbox-line', { hasText: 'We miss you' }).count() === 0, 'an active subscriber got the message for expired ones');
  await fanCtx.close();
  await lapsedCtx.close();
} catch (e) {
  fail(`the journey stopped: ${e.stack ?? e}`);
} finally {
  await browser.close();
  fs.rmSync(media, { recursive: true, force: true });
}
finish('the messaging journey');
