// What the browser checks share: the browser, axe, screenshots at both widths, and a
// record of failures that ends the run with a non-zero status.
import fs from 'node:fs';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const base = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
export const out = process.env.E2E_OUT ?? path.join(here, 'out');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const axeSource = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
fs.mkdirSync(out, { recursive: true });

export const widths = [['phone', 360, 740], ['desktop', 1280, 800]];

export const failures = [];
export const fail = (message) => {
  failures.push(message);
  console.error(`FAIL ${message}`);
};
export const check = (ok, message) => {
  if (!ok) fail(message);
  return ok;
};

export const launch = () => chromium.launch({ executablePath, args: ['--no-sandbox'] });

// Runs axe on the page as it is and records serious and critical findings. axe is injected
// as a script, which the pages' CSP (rightly) forbids, so this runs only in contexts made
// with `bypassCSP` (see `axeContext`).
export async function axe(page, what) {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () =>
    (await globalThis.axe.run()).violations.map((v) => ({
      id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    })));
  for (const v of violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
    fail(`${what}: accessibility: ${v.impact} ${v.id} (${v.help}) on ${v.nodes} element(s): ${v.targets.join(', ')}`);
  }
  return violations;
}

// A context for axe with the same cookies as `context` (so it sees what that person sees).
export async function axeContext(browser, context, width = 1280, height = 800) {
  return browser.newContext({
    bypassCSP: true,
    viewport: { width, height },
    storageState: context ? await context.storageState() : undefined,
  });
}

// Whether the page is wider than its viewport (a layout that breaks on phones).
export async function overflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

// A screenshot of the page at both widths (`<name>-phone.png`, `<name>-desktop.png`), with
// the layout checked at each; the page is left at desktop width.
export async function shots(page, name) {
  for (const [label, width, height] of widths) {
    await page.setViewportSize({ width, height });
    // Images the new width asks for (srcset) load before the picture is taken.
    await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
    const wider = await overflow(page);
    check(wider <= 0, `${name} (${label}): ${wider} px wider than the viewport`);
    await page.screenshot({ path: path.join(out, `${name}-${label}.png`), fullPage: true });
  }
}

// Collects console errors and uncaught exceptions of a page (a CSP violation is one).
export function watchConsole(page, what, ignore = () => false) {
  page.on('console', (m) => {
    if (m.type() === 'error' && !ignore(m.text())) fail(`${what}: console: ${m.text()} (${page.url()})`);
  });
  page.on('pageerror', (e) => fail(`${what}: uncaught: ${e} (${page.url()})`));
}

export function finish(what) {
  if (failures.length) {
    console.error(`\n${failures.length} ${what} failed:\n  - ${failures.join('\n  - ')}`);
    process.exit(1);
  }
  console.log(`${what} passed; screenshots in ${out}`);
}

// The password every account of the journeys signs up with.
export const password = 'correct horse battery staple';

// The newest mail to `to` in MAIL_DIR whose body holds `/path?token=…`: the link, decoded.
export async function mailedLink(to, pathPrefix) {
  const mailDir = process.env.MAIL_DIR;
  if (!mailDir) throw new Error('MAIL_DIR (the data directory\'s mail folder) is required');
  for (let i = 0; i < 100; i += 1) {
    const files = fs.existsSync(mailDir) ? fs.readdirSync(mailDir).map((f) => path.join(mailDir, f)) : [];
    files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (!text.includes(to)) continue;
      const m = text.match(new RegExp(`https?://[^\\s"<>]*${pathPrefix}\\?token=[A-Za-z0-9_-]+`));
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to} with a ${pathPrefix} link in ${mailDir}`);
}

// Signs up through the sign-up page and lands on the account page.
export async function signUp(page, email, name) {
  await page.goto(`${base}/signup`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Display name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByLabel('I am 18 or older').check();
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.waitForURL(/\/account/);
}

// Reloads `url` until `ready(page)` holds (the rail's events are handled in the background).
export async function until(page, url, ready, what, seconds = 30) {
  for (let i = 0; i < seconds * 2; i += 1) {
    await page.goto(url);
    if (await ready(page)) return true;
    await page.waitForTimeout(500);
  }
  fail(`${what}: not so after ${seconds} s`);
  return false;
}

// Confirms `email`'s address from the mailed link, in `page`.
export async function confirmEmail(page, email) {
  await page.goto(await mailedLink(email, '/verify-email'));
  await page.getByRole('button', { name: 'Confirm my email' }).click();
  await page.getByRole('heading', { name: 'Email confirmed' }).waitFor();
}

// Pays the simulated checkout the page is headed to (choosing it where several rails are
// on) and waits for the thank-you page.
export async function paySimulated(page) {
  await page.waitForURL(/\/billing\/simulated\/checkout\/|\/checkout$/);
  if (new URL(page.url()).pathname === '/checkout') {
    await page.getByRole('button', { name: 'Test payment (nobody is charged)' }).click();
  }
  await page.waitForURL(/\/billing\/simulated\/checkout\//);
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.waitForURL(/\/checkout\/[0-9a-f-]+$/);
  await page.getByRole('heading', { name: 'Thank you!' }).waitFor({ timeout: 30_000 });
}

// The code an authenticator app with this base32 secret shows (RFC 6238: HMAC-SHA1, 6
// digits, 30-second steps), `offset` seconds from now.
export function totp(secret, offset = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/\s+/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor((Date.now() / 1000 + offset) / 30)));
  const mac = createHmac('sha1', key).update(step).digest();
  const at = mac[19] & 0x0f;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1e6).padStart(6, '0');
}

// Turns two-factor sign-in on from Account → Security as a person would: the QR code is
// shown, the key is read off the page into the "app", its code confirms. Returns the key
// and the recovery codes shown once.
export async function enrolTotp(page) {
  await page.goto(`${base}/account/security`);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await page.getByRole('img', { name: /QR code/ }).waitFor();
  const secret = (await page.locator('[data-totp-secret]').innerText()).replace(/\s+/g, '');
  await page.getByLabel('The 6-digit code the app shows').fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.locator('[data-recovery-codes]').waitFor();
  const codes = await page.locator('[data-recovery-codes] code').allInnerTexts();
  check(codes.length === 10, `${codes.length} recovery codes were shown, not 10`);
  check(await page.locator('[data-two-factor="on"]').count() === 1, 'two-factor sign-in is not on after enrolling');
  return { secret, codes };
}
