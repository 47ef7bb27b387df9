// Trust and safety, end to end in headless Chromium against `zinovia up`:
//
//   1. a creator publishes a post and turns on two-factor sign-in (QR code, key, recovery
//      codes), then signs in again in two steps; a paid post is refused until verified;
//   1b. the creator submits verification (legal name, date of birth, ID photo and selfie
//      straight to private storage); an administrator with two-factor sign-in opens it in
//      the console, sees both photos and approves it; the creator then publishes a paid post;
//   2. a visitor reports the post from its card (category, details, their address) and is
//      thanked with the due date;
//   3. a moderator is refused the console until they turn on two-factor sign-in, then sees
//      the report in the queue and dismisses it with a reason;
//   4. the visitor's acknowledgement and outcome are in the mail folder;
//   5. a signed-in fan reports the creator's second post; the moderator removes it from the
//      queue with a reason; the post is gone for everyone; the creator reads the notice (with
//      the reason) on their notices page and appeals; the moderator sees the appeal and finds
//      the creator in the console's accounts; the fan's outcome email is in the mail folder.
//
// Screenshots at 360 and 1280 px, axe on every new page.
//
// The server runs with the embedded default CREATOR_VERIFICATION=manual.
//
//   BASE_URL=… MAIL_DIR=<data dir>/mail MOD_EMAIL=… MOD_PASSWORD=… OPS_EMAIL=… OPS_PASSWORD=… E2E_OUT=out node e2e/trust.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  axe, axeContext, base, check, confirmEmail, enrolTotp, fail, finish, launch, password, shots, signUp, totp, until, watchConsole,
} from './lib.mjs';

const modEmail = process.env.MOD_EMAIL;
const modPassword = process.env.MOD_PASSWORD;
if (!modEmail || !modPassword) throw new Error('MOD_EMAIL and MOD_PASSWORD (a moderator) are required');
const opsEmail = process.env.OPS_EMAIL;
const opsPassword = process.env.OPS_PASSWORD;
if (!opsEmail || !opsPassword) throw new Error('OPS_EMAIL and OPS_PASSWORD (an administrator) are required');
const media = fs.mkdtempSync(path.join(os.tmpdir(), 'zinovia-e2e-trust-'));
const photo = (name, source) => {
  const file = path.join(media, name);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-frames:v', '1', '-q:v', '3', file]);
  return file;
};
const idPhoto = photo('id-card.jpg', 'testsrc2=size=1000x630');
const selfie = photo('selfie.jpg', 'gradients=size=800x1000:seed=3');
const run = Date.now().toString(36);
const handle = `tess_${run}`;
const visitorEmail = `visitor-${run}@example.test`;

let step = 0;
const stepShots = async (page, name) => {
  step += 1;
  await shots(page, `trust-${String(step).padStart(2, '0')}-${name}`);
  console.log(`step ${step}: ${name}`);
};
const formErrors = (text) => text.includes('status of 422') || text.includes('status of 403');
const csrf = (page) => page.locator('meta[name="csrf-token"]').getAttribute('content');

const browser = await launch();
const desktop = { viewport: { width: 1280, height: 800 } };
async function axeAs(context, route, name) {
  const ctx = await axeContext(browser, context);
  const page = await ctx.newPage();
  await page.goto(base + route);
  await axe(page, name);
  await ctx.close();
}

async function logIn(page, email, pass) {
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Log in' }).click();
}

// Mails to `to` whose text holds `needle`.
function mails(to, needle) {
  const dir = process.env.MAIL_DIR;
  if (!dir || !fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8').replace(/=\r?\n/g, ''))
    .filter((t) => t.includes(to) && t.includes(needle)).length;
}

try {
  // 1. The creator, a post, two-factor sign-in.
  const creatorCtx = await browser.newContext(desktop);
  const creator = await creatorCtx.newPage();
  watchConsole(creator, 'creator', formErrors);
  const creatorEmail = `tess-${run}@example.test`;
  await signUp(creator, creatorEmail, 'Tess Lumen');
  await confirmEmail(creator, creatorEmail);
  await creator.goto(`${base}/settings/creator`);
  await creator.getByLabel('Handle').fill(handle);
  await creator.getByLabel('Monthly price').fill('5.00');
  await creator.getByRole('button', { name: 'Become a creator' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?saved=1$`));
  const made = await creator.request.post(`${base}/api/v1/posts`, {
    data: { text: 'Golden hour on the pier.', visibility: 'public' },
    headers: { 'x-csrf-token': await csrf(creator) },
  });
  check(made.status() === 201, `publishing the post answered ${made.status()}`);
  const postId = (await made.json()).id;
  const second = await creator.request.post(`${base}/api/v1/posts`, {
    data: { text: 'Behind the scenes, take two.', visibility: 'public' },
    headers: { 'x-csrf-token': await csrf(creator) },
  });
  check(second.status() === 201, `publishing the second post answered ${second.status()}`);
  const secondId = (await second.json()).id;
  await creator.goto(`${base}/account/security`);
  check(await creator.locator('[data-two-factor="off"]').count() === 1, 'two-factor sign-in is not shown as off');
  await axeAs(creatorCtx, '/account/security', 'security page');
  await creator.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await creator.getByRole('img', { name: /QR code/ }).waitFor();
  await stepShots(creator, 'creator-enrols');
  const { secret, codes } = await enrolTotp(creator);
  await stepShots(creator, 'creator-recovery-codes');
  // A new sign-in needs the second step; a wrong code is refused by its field.
  const againCtx = await browser.newContext(desktop);
  const again = await againCtx.newPage();
  watchConsole(again, 'creator again', formErrors);
  await logIn(again, creatorEmail, password);
  await again.waitForURL(/\/login\/second-factor/);
  check(!(await againCtx.cookies()).some((c) => c.name.includes('session')), 'a session cookie before the second factor');
  await again.getByLabel('Code from your authenticator app').fill('000000');
  await again.getByRole('button', { name: 'Sign in' }).click();
  await again.locator('#code-error').waitFor();
  await stepShots(again, 'second-step-refused');
  await axeAs(againCtx, '/login/second-factor', 'second step');
  await again.getByLabel('Code from your authenticator app').fill(totp(secret, 30));
  await again.getByRole('button', { name: 'Sign in' }).click();
  await again.waitForURL((u) => !u.pathname.startsWith('/login'));
  await againCtx.close();
  check(codes.length === 10, 'ten recovery codes');

  // 1b. A paid post waits for verification; the creator submits it; an administrator approves.
  const paidTry = await creator.request.post(`${base}/api/v1/posts`, {
    data: { text: 'For subscribers.', visibility: 'subscribers' },
    headers: { 'x-csrf-token': await csrf(creator) },
  });
  check(paidTry.status() === 422, `an unverified creator's paid post answered ${paidTry.status()}`);
  await creator.goto(`${base}/account`);
  await creator.getByRole('link', { name: 'Verification' }).click();
  await creator.waitForURL(`${base}/account/verification`);
  await axeAs(creatorCtx, '/account/verification', 'verification page');
  await creator.getByLabel('Legal name (as on your ID)').fill('Tess Lumen');
  await creator.getByLabel('Date of birth').fill('2015-06-01');
  await creator.getByRole('button', { name: 'Save details' }).click();
  await creator.locator('#date_of_birth-error').waitFor();
  await creator.getByLabel('Date of birth').fill('1995-06-01');
  await creator.getByRole('button', { name: 'Save details' }).click();
  await creator.waitForURL(/done=saved/);
  // Each photo goes straight to storage; the field says when it is sent (or why not).
  const sendPhoto = async (doc, label, file) => {
    await creator.getByLabel(label).setInputFiles(file);
    const field = creator.locator(`[data-document-field="${doc}"]`);
    for (let i = 0; i < 60 && !(await field.getAttribute('data-sent')); i += 1) await creator.waitForTimeout(250);
    check(await field.getAttribute('data-sent') === '1', `the ${doc} was not sent: ${await field.locator('[data-state]').innerText()}`);
  };
  await sendPhoto('id_document', /photo of your passport/, idPhoto);
  await sendPhoto('selfie', /holding that document/, selfie);
  await stepShots(creator, 'creator-verification');
  await creator.getByRole('button', { name: 'Send for review' }).click();
  await creator.waitForURL(/done=submitted/);
  await until(creator, `${base}/account/verification`, async (p) => (await p.locator('[data-verification="submitted"]').count()) === 1,
    'the verification to reach the reviewers');
  const opsCtx = await browser.newContext(desktop);
  const ops = await opsCtx.newPage();
  watchConsole(ops, 'administrator', formErrors);
  await logIn(ops, opsEmail, opsPassword);
  await ops.waitForURL((u) => !u.pathname.startsWith('/login'));
  await enrolTotp(ops);
  await ops.goto(`${base}/admin`);
  await ops.getByRole('link', { name: 'Verifications' }).click();
  await ops.waitForURL(`${base}/admin/verifications`);
  await axeAs(opsCtx, '/admin/verifications', 'verification queue');
  await ops.locator('[data-verification-id]', { hasText: 'Tess Lumen' }).getByRole('link').click();
  await ops.locator('[data-legal-name]', { hasText: 'Tess Lumen' }).waitFor();
  for (const doc of ['id_document', 'selfie']) {
    const shown = await ops.locator(`img[data-document="${doc}"]`).evaluate((img) => img.complete && img.naturalWidth > 0);
    check(shown, `the ${doc} is not shown to the reviewer`);
  }
  await stepShots(ops, 'admin-reviews-verification');
  await ops.getByRole('radio', { name: /Approve/ }).check();
  await ops.getByRole('textbox', { name: /^Reason/ }).fill('Clear photos; the name and the age match.');
  await ops.getByRole('button', { name: 'Decide' }).click();
  await ops.waitForURL(/done=approved/);
  await creator.goto(`${base}/account/verification`);
  await creator.locator('[data-verification="approved"]').waitFor();
  const paid = await creator.request.post(`${base}/api/v1/posts`, {
    data: { text: 'For subscribers.', visibility: 'subscribers' },
    headers: { 'x-csrf-token': await csrf(creator) },
  });
  check(paid.status() === 201, `a verified creator's paid post answered ${paid.status()}`);
  await opsCtx.close();

  // 2. A visitor reports the post from its card.
  const visitorCtx = await browser.newContext(desktop);
  const visitor = await visitorCtx.newPage();
  watchConsole(visitor, 'visitor', formErrors);
  await visitor.goto(`${base}/${handle}`);
  await visitor.locator(`#post-${postId}`).getByRole('link', { name: 'Report' }).click();
  await visitor.waitForURL(/\/report\?/);
  await axeAs(visitorCtx, new URL(visitor.url()).pathname + new URL(visitor.url()).search, 'report form');
  await visitor.getByLabel('Shared without consent').check();
  await visitor.getByLabel('Details (what, where, why)').fill('This is me; I never agreed to this being posted.');
  await visitor.getByRole('button', { name: 'Send report' }).click();
  await visitor.locator('#email-error').waitFor();
  check(await visitor.getByLabel('Details (what, where, why)').inputValue() !== '', 'the details typed were lost');
  await visitor.getByLabel('Your email (for our answer)').fill(visitorEmail);
  await visitor.getByRole('button', { name: 'Send report' }).click();
  await visitor.locator('[data-report-filed]').waitFor();
  await stepShots(visitor, 'visitor-reported');

  // 3. The moderator: refused until two-factor sign-in is on, then the queue.
  const modCtx = await browser.newContext(desktop);
  const mod = await modCtx.newPage();
  watchConsole(mod, 'moderator', formErrors);
  await logIn(mod, modEmail, modPassword);
  await mod.waitForURL((u) => !u.pathname.startsWith('/login'));
  const refused = await mod.goto(`${base}/admin/reports`);
  check(refused.status() === 403 && (await mod.content()).includes('two-factor sign-in'),
    `the queue answered ${refused.status()} before two-factor sign-in`);
  await enrolTotp(mod);
  await mod.getByRole('link', { name: 'Console' }).click();
  await mod.getByRole('link', { name: 'Reports' }).click();
  await mod.waitForURL(`${base}/admin/reports`);
  const card = mod.locator('[data-report]', { hasText: 'never agreed' });
  check(await card.count() === 1, 'the report is not in the queue');
  check((await card.innerText()).includes('non_consensual'), 'the category is not shown');
  await stepShots(mod, 'moderator-queue');
  await axeAs(modCtx, '/admin/reports', 'reports queue');
  await card.getByLabel(/^Reason \(sent to the reporter/).fill('The creator holds a signed release for this shoot.');
  await card.getByRole('button', { name: 'Dismiss' }).click();
  await mod.waitForURL(/done=dismissed/);
  check(await mod.locator('[data-report]', { hasText: 'never agreed' }).count() === 0, 'the dismissed report is still open');
  await mod.goto(`${base}/admin/reports?status=dismissed`);
  check(await mod.locator('[data-report]', { hasText: 'signed release' }).count() === 1, 'the outcome is not listed');
  await stepShots(mod, 'moderator-dismissed');

  // 4. The visitor hears back twice.
  for (let i = 0; i < 60 && mails(visitorEmail, 'signed release') === 0; i += 1) await mod.waitForTimeout(500);
  check(mails(visitorEmail, 'We received your report') === 1, 'the acknowledgement is not in the mail folder');
  check(mails(visitorEmail, 'signed release') === 1, 'the outcome is not in the mail folder');

  // 5. A signed-in fan reports the second post; the moderator removes it.
  const fanCtx = await browser.newContext(desktop);
  const fan = await fanCtx.newPage();
  // The removed post's 404 is expected.
  watchConsole(fan, 'fan', (t) => formErrors(t) || t.includes('status of 404'));
  const fanEmail = `fan-${run}@example.test`;
  await signUp(fan, fanEmail, 'Fen Reader');
  await confirmEmail(fan, fanEmail);
  await fan.goto(`${base}/${handle}`);
  await fan.locator(`#post-${secondId}`).getByRole('link', { name: 'Report' }).click();
  await fan.waitForURL(/\/report\?/);
  check(await fan.getByLabel('Your email (for our answer)').count() === 0, 'a signed-in fan is asked for an address');
  await fan.getByLabel('Illegal content').check();
  await fan.getByLabel('Details (what, where, why)').fill('A stolen photo of someone else, posted as theirs.');
  await fan.getByRole('button', { name: 'Send report' }).click();
  await fan.locator('[data-report-filed]').waitFor();
  await mod.goto(`${base}/admin/reports`);
  const fanCard = mod.locator('[data-report]', { hasText: 'stolen photo' });
  check(await fanCard.count() === 1, "the fan's report is not in the queue");
  await fanCard.getByLabel(/^Reason for removing it/).fill('Posted without the consent of the person shown.');
  await fanCard.getByRole('button', { name: 'Remove' }).click();
  await mod.waitForURL(/done=removed/);
  await stepShots(mod, 'moderator-removed');
  const gone = await fan.goto(`${base}/posts/${secondId}`);
  check(gone.status() === 404, `the removed post answered ${gone.status()} to the fan`);

  // The creator reads the notice and appeals.
  await creator.goto(`${base}/notices`);
  const notice = creator.locator('[data-notice]', { hasText: 'without the consent' });
  check(await notice.count() === 1, 'the creator does not see the notice with its reason');
  await stepShots(creator, 'creator-notice');
  await axeAs(creatorCtx, '/notices', 'notices page');
  await notice.getByLabel(/^Appeal/).fill('The person shown is me; I can prove it.');
  await notice.getByRole('button', { name: 'Send appeal' }).click();
  await creator.waitForURL(/done=appealed/);
  check(await creator.getByText('Your appeal is waiting for a moderator.').count() === 1, 'the appeal is not shown as waiting');

  // The moderator sees the appeal and the creator's account in the console.
  await mod.goto(`${base}/admin/appeals`);
  check(await mod.locator('[data-appeal]', { hasText: 'I can prove it' }).count() === 1, 'the appeal is not in the queue');
  await axeAs(modCtx, '/admin/appeals', 'appeals queue');
  await mod.goto(`${base}/admin/users?q=${encodeURIComponent(handle)}`);
  await mod.getByRole('link', { name: 'Tess Lumen' }).click();
  await mod.locator('[data-account-status="active"]').waitFor();
  check(await mod.locator('[data-action]', { hasText: 'without the consent' }).count() === 1, 'the account does not show its moderation history');
  await stepShots(mod, 'moderator-account');
  await axeAs(modCtx, new URL(mod.url()).pathname, 'account page');

  // The fan and the creator hear by email.
  for (let i = 0; i < 60 && mails(fanEmail, 'without the consent') === 0; i += 1) await mod.waitForTimeout(500);
  check(mails(fanEmail, 'We acted on it') === 1, "the fan's outcome is not in the mail folder");
  check(mails(creatorEmail, 'without the consent') === 1, "the creator's notice is not in the mail folder");
  check(mails(creatorEmail, 'Our reviewers verified your identity') === 1, "the creator's verification email is not in the mail folder");
} catch (e) {
  fail(`the journey stopped: ${e.stack ?? e}`);
} finally {
  await browser.close();
}
finish('the trust-and-safety journey');
