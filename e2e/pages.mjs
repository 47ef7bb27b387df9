// Browser checks of the public pages, in real headless Chromium: each page answers 200,
// renders without console errors at phone and desktop widths (screenshots saved), and axe
// finds no serious or critical accessibility violation.
//
//   BASE_URL=http://127.0.0.1:8080 E2E_OUT=out node e2e/pages.mjs
//
// CHROMIUM (default /usr/bin/chromium) is the browser. Exits non-zero on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
const out = process.env.E2E_OUT ?? path.join(here, 'out');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const axeSource = fs.readFileSync(path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
fs.mkdirSync(out, { recursive: true });

const pages = [
  ['home', '/'],
  ['log-in', '/login'],
  ['sign-up', '/signup'],
  ['reset-password', '/reset-password'],
  ['not-found', '/no-such-page', 404],
];
const widths = [['phone', 360, 740], ['desktop', 1280, 800]];

const failures = [];
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  for (const [label, width, height] of widths) {
    // axe is injected as a script: the pages' CSP (rightly) forbids that, so only this
    // checking context bypasses it.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width, height } });
    const page = await context.newPage();
    for (const [name, route, expected = 200] of pages) {
      const errors = [];
      const onConsole = (m) => {
        if (m.type() === 'error' && !(expected === 404 && m.text().includes('404'))) errors.push(m.text());
      };
      const onError = (e) => errors.push(String(e));
      page.on('console', onConsole);
      page.on('pageerror', onError);
      const response = await page.goto(base + route, { waitUntil: 'load' });
      const status = response?.status();
      if (status !== expected) failures.push(`${route} (${label}): HTTP ${status}, expected ${expected}`);
      await page.screenshot({ path: path.join(out, `${name}-${label}.png`), fullPage: true });
      await page.addScriptTag({ content: axeSource });
      const violations = await page.evaluate(async () =>
        (await globalThis.axe.run()).violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })));
      for (const v of violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
        failures.push(`${route} (${label}): accessibility: ${v.impact} ${v.id} on ${v.nodes} element(s)`);
      }
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) failures.push(`${route} (${label}): ${overflow} px wider than the viewport`);
      for (const e of errors) failures.push(`${route} (${label}): console: ${e}`);
      page.off('console', onConsole);
      page.off('pageerror', onError);
      console.log(`${route} ${label}: HTTP ${status}, ${violations.length} axe finding(s), none serious`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`\n${failures.length} browser check(s) failed:\n  - ${failures.join('\n  - ')}`);
  process.exit(1);
}
console.log(`browser checks passed; screenshots in ${out}`);
