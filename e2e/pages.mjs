// Browser checks of the public pages, in real headless Chromium: each page answers as
// expected, renders without console errors at phone and desktop widths (screenshots saved),
// is no wider than the screen, and axe finds no serious or critical accessibility violation.
//
//   BASE_URL=http://127.0.0.1:8080 E2E_OUT=out node e2e/pages.mjs
//
// CHROMIUM (default /usr/bin/chromium) is the browser. Exits non-zero on any failure.
import path from 'node:path';
import { axe, base, check, fail, finish, launch, out, overflow, widths } from './lib.mjs';

const pages = [
  ['home', '/'],
  ['explore', '/explore'],
  ['log-in', '/login'],
  ['sign-up', '/signup'],
  ['reset-password', '/reset-password'],
  ['not-found', '/no-such-page', 404],
];

const browser = await launch();
try {
  for (const [label, width, height] of widths) {
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
      check(status === expected, `${route} (${label}): HTTP ${status}, expected ${expected}`);
      await page.screenshot({ path: path.join(out, `${name}-${label}.png`), fullPage: true });
      const violations = await axe(page, `${route} (${label})`);
      const wider = await overflow(page);
      check(wider <= 0, `${route} (${label}): ${wider} px wider than the viewport`);
      for (const e of errors) fail(`${route} (${label}): console: ${e}`);
      page.off('console', onConsole);
      page.off('pageerror', onError);
      console.log(`${route} ${label}: HTTP ${status}, ${violations.length} axe finding(s)`);
    }
    await context.close();
  }
} finally {
  await browser.close();
}
finish('browser checks of the public pages');
