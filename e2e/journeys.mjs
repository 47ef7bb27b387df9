// The four journeys of Zinovia's web app, end to end in real headless Chromium against
// `zinovia up` (simulated payments, local storage, the in-process worker and ffmpeg):
//
//   1. a creator signs up, confirms the email, becomes a creator with a price and a profile
//      picture, uploads two photos and a short video (made here by ffmpeg) watching each
//      reach "Ready", and publishes a subscribers-only post and a pay-per-view post;
//   2. a fan signs up, opens the creator's page: both posts locked, blurred, with what is
//      inside and the price, and no media URL anywhere in the page; subscribes through the
//      simulated checkout and then sees the photos and plays the video; unlocks the PPV post;
//      tips (a wrong amount first: the error shows next to the field);
//   3. the creator's dashboard shows the subscriber and the earnings;
//   4. the fan cancels; the simulated rail's test clock lets the period end; the post is
//      locked again (the bought post stays unlocked).
//
// Every step saves screenshots at phone and desktop widths; the main pages are checked with
// axe; the profile page's HTML+CSS+JS must stay under 100 KB compressed.
//
//   BASE_URL=http://127.0.0.1:8080 MAIL_DIR=<data dir>/mail E2E_OUT=out node e2e/journeys.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  axe, axeContext, base, check, fail, finish, launch, out, shots, watchConsole, mailedLink, password, signUp, until,
} from './lib.mjs';

const run = Date.now().toString(36);
const handle = `ada_${run}`;
const creatorEmail = `ada-${run}@example.test`;
const fanEmail = `finn-${run}@example.test`;

// --- media made for this run ---------------------------------------------------------------
const media = fs.mkdtempSync(path.join(os.tmpdir(), 'zinovia-e2e-media-'));
const ffmpeg = (...args) => execFileSync('ffmpeg', ['-v', 'error', '-y', ...args]);
const photo = (name, source) => {
  const file = path.join(media, name);
  ffmpeg('-f', 'lavfi', '-i', source, '-frames:v', '1', '-q:v', '3', file);
  return file;
};
const photos = [
  photo('studio-1.jpg', 'testsrc2=size=1600x1200'),
  photo('studio-2.jpg', 'smptehdbars=size=1280x960'),
  photo('backstage.jpg', 'mandelbrot=size=1200x1500'),
];
const avatar = photo('avatar.jpg', 'gradients=size=600x600:seed=7');
const video = path.join(media, 'clip.mp4');
ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440',
  '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', '-shortest', video);

// --- helpers -----------------------------------------------------------------------------
let step = 0;
const stepShots = async (page, name) => {
  step += 1;
  await shots(page, `journey-${String(step).padStart(2, '0')}-${name}`);
  console.log(`step ${step}: ${name}`);
};

// Pays the open simulated checkout the page is on and waits for the thank-you page.
async function pay(page, name) {
  // With a second rail enabled, subscribing and unlocking ask how to pay first.
  await page.waitForURL(/\/billing\/simulated\/checkout\/|\/checkout$/);
  if (new URL(page.url()).pathname === '/checkout') {
    await page.getByRole('button', { name: 'Test payment (nobody is charged)' }).click();
  }
  await page.waitForURL(/\/billing\/simulated\/checkout\//);
  await stepShots(page, `${name}-checkout`);
  await page.getByRole('button', { name: /^Pay / }).click();
  await page.waitForURL(/\/checkout\/[0-9a-f-]+$/);
  await page.getByRole('heading', { name: 'Thank you!' }).waitFor({ timeout: 30_000 });
  await stepShots(page, `${name}-paid`);
}

// A form sent back with its errors answers 422, which Chromium logs; that is expected.
const formErrors = (text) => text.includes('status of 422');
// The posts by name: their ids are read from the creator's own page (locked posts show no
// text to the fan).
const ids = {};
const post = (page, name) => page.locator(`#post-${ids[name]}`);
// Storage keys and signed URLs; locked posts must hold none.
const mediaUrl = /\/storage\/|media\/[0-9a-f-]{36}\/|uploads\/[0-9a-f-]{36}|X-Amz-Signature|signature=/;
const assetIds = (html) => new Set(Array.from(html.matchAll(/media\/([0-9a-f-]{36})\//g), (m) => m[1]));

// Compressed bytes of a response (gzip, as browsers ask for it).
function compressedSize(url, cookie) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { 'accept-encoding': 'gzip', cookie: cookie ?? '' } }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => resolve({ bytes: n, encoding: res.headers['content-encoding'] ?? 'identity', status: res.statusCode }));
    }).on('error', reject);
  });
}

async function budget(page, context) {
  const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const html = await compressedSize(`${base}/${handle}`, cookie);
  const assets = await page.evaluate(() => [
    ...Array.from(document.querySelectorAll('link[rel=stylesheet]'), (l) => l.href),
    ...Array.from(document.querySelectorAll('script[src]'), (s) => s.src),
  ]);
  let total = html.bytes;
  const parts = [`HTML ${html.bytes} B (${html.encoding})`];
  for (const a of assets) {
    const r = await compressedSize(a, cookie);
    total += r.bytes;
    parts.push(`${new URL(a).pathname} ${r.bytes} B (${r.encoding})`);
  }
  console.log(`profile page budget: ${total} B compressed = ${parts.join(' + ')}`);
  check(html.encoding === 'gzip', 'the profile page is not served compressed');
  check(total < 100 * 1024, `the profile page's HTML+CSS+JS is ${total} B compressed, over 100 KB`);
}

const browser = await launch();
const desktop = { viewport: { width: 1280, height: 800 } };
const axed = [];
async function axeAs(context, route, name) {
  const ctx = await axeContext(browser, context);
  const page = await ctx.newPage();
  await page.goto(base + route);
  const found = await axe(page, name);
  axed.push(`${name}: ${found.length} finding(s)`);
  await ctx.close();
}

try {
  // ------------------------------------------------------------------------------------------
  // 1. The creator.
  const creatorCtx = await browser.newContext(desktop);
  const creator = await creatorCtx.newPage();
  watchConsole(creator, 'creator', formErrors);
  await signUp(creator, creatorEmail, 'Ada Lens');
  await stepShots(creator, 'creator-signed-up');

  await creator.goto(await mailedLink(creatorEmail, '/verify-email'));
  await creator.getByRole('button', { name: 'Confirm my email' }).click();
  await creator.getByRole('heading', { name: 'Email confirmed' }).waitFor();
  await stepShots(creator, 'creator-email-confirmed');

  await creator.goto(`${base}/settings/creator`);
  await creator.getByRole('heading', { name: 'Become a creator' }).waitFor();
  // A bad price and a reserved handle come back next to their fields.
  await creator.getByLabel('Handle').fill('admin');
  await creator.getByLabel('Monthly price').fill('lots');
  await creator.getByRole('button', { name: 'Become a creator' }).click();
  check(await creator.locator('#handle-error').count() === 1, 'a reserved handle shows no error next to the field');
  check(await creator.locator('#price-error').count() === 1, 'a bad price shows no error next to the field');
  await stepShots(creator, 'creator-settings-errors');
  await creator.getByLabel('Handle').fill(handle);
  await creator.getByLabel('About you').fill('Photographer. Studio days, backstage, and the odd short film.');
  await creator.getByLabel('Monthly price').fill('4.99');
  await creator.getByLabel('Free trial (days)').fill('0');
  await creator.locator('#avatar_file').setInputFiles(avatar);
  await creator.locator('#avatar-state', { hasText: 'Ready' }).waitFor({ timeout: 60_000 });
  await stepShots(creator, 'creator-settings-avatar-ready');
  await axeAs(creatorCtx, '/settings/creator', 'creator settings');
  await creator.getByRole('button', { name: 'Become a creator' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?saved=1$`));
  check(await creator.locator('img.avatar').count() === 1, 'the profile shows no avatar');
  await stepShots(creator, 'creator-profile-created');

  // Two photos and a video, each to "Ready", in one subscribers-only post.
  await creator.goto(`${base}/dashboard/compose`);
  await creator.getByLabel('Text', { exact: true }).fill('A day at the studio: two frames and a short clip.');
  await creator.locator('#files').setInputFiles([photos[0], photos[1], video]);
  await creator.locator('#upload-list li').nth(2).waitFor();
  await stepShots(creator, 'composer-uploading');
  await creator.locator('#upload-list li[data-state=ready]').nth(2).waitFor({ timeout: 120_000 });
  check(await creator.locator('#upload-list li.failed').count() === 0, 'an upload failed');
  // Reorder: the video first, then back (the order published is the list's).
  await creator.locator('#upload-list li').nth(2).getByRole('button', { name: /^Move .+ up$/ }).click();
  check(await creator.locator('#upload-list li .upload-name').nth(1).innerText() === 'clip.mp4', 'moving the video up did not reorder the list');
  check(await creator.evaluate(() => document.activeElement?.getAttribute('aria-label')) === 'Move clip.mp4 up', 'the moved file lost the keyboard focus');
  await creator.locator('#upload-list li').nth(1).getByRole('button', { name: /^Move .+ down$/ }).click();
  check(await creator.locator('#publish').isEnabled(), 'publish stays disabled with every file ready');
  await creator.getByLabel('Subscribers').check();
  await stepShots(creator, 'composer-ready');
  await axeAs(creatorCtx, '/dashboard/compose', 'composer');
  await creator.getByRole('button', { name: 'Publish' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?published=`));
  await stepShots(creator, 'creator-published-subscribers-post');

  // A pay-per-view post: a missing price is refused next to its field, then published.
  await creator.goto(`${base}/dashboard/compose`);
  await creator.getByLabel('Text', { exact: true }).fill('Backstage, for those who unlock it.');
  await creator.locator('#files').setInputFiles([photos[2]]);
  await creator.locator('#upload-list li[data-state=ready]').first().waitFor({ timeout: 60_000 });
  await creator.getByLabel('Pay-per-view: people who unlock it').check();
  await creator.getByRole('button', { name: 'Publish' }).click();
  await creator.locator('#price-error').waitFor();
  await stepShots(creator, 'composer-price-error');
  await creator.locator('#upload-list li[data-state=ready]').first().waitFor({ timeout: 30_000 });
  await creator.getByLabel(/Price to unlock/).fill('3.50');
  await creator.getByRole('button', { name: 'Publish' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?published=`));
  check(await creator.locator('article.post').count() === 2, 'the creator does not see both posts');
  for (const [name, text] of [['studio', 'A day at the studio'], ['Backstage', 'Backstage, for']]) {
    ids[name] = (await creator.locator('article.post', { hasText: text }).getAttribute('id')).replace('post-', '');
  }
  // The files of both posts, as the creator's page names them.
  const postFiles = new Set();
  for (const name of ['studio', 'Backstage']) {
    for (const id of assetIds(await post(creator, name).innerHTML())) postFiles.add(id);
  }
  check(postFiles.size === 4, `the creator's posts show ${postFiles.size} files, not 4`);
  await stepShots(creator, 'creator-published-ppv-post');

  // ------------------------------------------------------------------------------------------
  // 2. The fan.
  const fanCtx = await browser.newContext(desktop);
  const fan = await fanCtx.newPage();
  watchConsole(fan, 'fan', formErrors);
  await signUp(fan, fanEmail, 'Finn Fan');
  const profile = `${base}/${handle}`;
  const source = await (await fan.goto(profile)).text();
  const leaked = [...assetIds(source)].filter((id) => postFiles.has(id));
  check(leaked.length === 0, `the locked page source names the posts' files ${leaked.join(', ')}`);
  for (const name of ['studio', 'Backstage']) {
    check(!mediaUrl.test(await post(fan, name).innerHTML()), `the locked post ${name} holds a media URL`);
  }
  check(await fan.locator('article.post.is-locked').count() === 2, 'the fan does not see two locked posts');
  check(await fan.locator('article.is-locked .locked-media img.blur').count() === 2, 'locked posts have no blurred placeholder');
  check((await post(fan, 'studio').locator('.lock-what').innerText()).includes('2 photos · 1 video'),
    'the subscribers post does not say what is inside');
  check(await post(fan, 'Backstage').getByRole('button', { name: /^Unlock for 3\.50 [A-Z]{3}$/ }).count() === 1,
    'the PPV post does not offer to unlock at its price');
  check(await fan.locator('img.photo, video').count() === 0, 'a locked page shows media');
  await stepShots(fan, 'fan-sees-locked-posts');
  await axeAs(fanCtx, `/${handle}`, 'profile, locked');

  await fan.getByRole('button', { name: /^Subscribe for 4\.99 [A-Z]{3} a month$/ }).click();
  await pay(fan, 'fan-subscribe');
  await fan.getByRole('link', { name: /page$/ }).click();
  await until(fan, profile, async (p) => (await p.locator('article.post:not(.is-locked)').count()) === 1,
    'the subscription unlocks the subscribers post');
  const open = post(fan, 'studio');
  check(await open.locator('img.photo').count() === 2, 'the subscriber does not see two photos');
  check(await open.locator('video source[type="video/mp4"]').count() === 1, 'the subscriber does not see the video');
  check(await post(fan, 'Backstage').locator('.locked-media').count() === 1, 'the PPV post unlocked with the subscription');
  const srcset = await open.locator('img.photo').first().getAttribute('srcset');
  check(srcset && srcset.split(',').length >= 2, `the photo has no responsive srcset (${srcset})`);
  check(await open.locator('img.photo').first().getAttribute('loading') === 'lazy', 'photos are not lazy-loaded');
  await open.locator('img.photo').first().scrollIntoViewIfNeeded();
  await fan.waitForFunction(() => Array.from(document.querySelectorAll('img.photo')).every((i) => i.complete && i.naturalWidth > 0),
    null, { timeout: 20_000 });
  const played = await open.locator('video').evaluate(async (v) => {
    v.muted = true;
    await v.play();
    await new Promise((r) => setTimeout(r, 1200));
    return { time: v.currentTime, width: v.videoWidth };
  });
  check(played.time > 0.3 && played.width === 640, `the video does not play (${JSON.stringify(played)})`);
  await stepShots(fan, 'fan-subscribed-sees-photos-and-video');
  await open.locator('a.shot').first().click();
  await fan.locator('dialog#lightbox[open]').waitFor();
  await fan.keyboard.press('ArrowRight');
  await stepShots(fan, 'fan-lightbox');
  await fan.keyboard.press('Escape');
  // Likes it from the card, without JavaScript's help: a form, back to the same card.
  await open.getByRole('button', { name: 'Like', exact: true }).click();
  await fan.waitForURL(new RegExp(`/${handle}#post-${ids.studio}$`));
  check(await post(fan, 'studio').getByRole('button', { name: 'Liked', exact: true }).getAttribute('aria-pressed') === 'true',
    'the like did not stick');
  check((await post(fan, 'studio').locator('.post-foot').innerText()).includes('1 like'), 'the like is not counted');
  // And comments on it, on the post's own page.
  await post(fan, 'studio').getByRole('link', { name: '0 comments' }).click();
  await fan.getByLabel('Add a comment').fill('The second frame is my favourite.');
  await fan.getByRole('button', { name: 'Comment', exact: true }).click();
  await fan.locator('.comment-list li', { hasText: 'The second frame is my favourite.' }).waitFor();
  await stepShots(fan, 'fan-commented');
  await axeAs(fanCtx, `/posts/${ids.studio}`, 'post with comments');
  await fan.goto(profile);
  await axeAs(fanCtx, `/${handle}`, 'profile, subscribed');
  await budget(fan, fanCtx);

  await post(fan, 'Backstage').getByRole('button', { name: /^Unlock for 3\.50 [A-Z]{3}$/ }).click();
  await pay(fan, 'fan-unlock');
  await fan.getByRole('link', { name: 'See the post' }).click();
  await until(fan, profile, async (p) => (await p.locator('article.post.is-locked').count()) === 0,
    'the purchase unlocks the PPV post');
  check(await post(fan, 'Backstage').locator('img.photo').count() === 1, 'the bought post shows no photo');
  await stepShots(fan, 'fan-unlocked-ppv-post');

  await fan.getByRole('link', { name: 'Send a tip' }).click();
  await fan.getByLabel(/Amount/).fill('three');
  await fan.getByRole('button', { name: 'Continue to payment' }).click();
  check(await fan.locator('#amount-error').count() === 1, 'a bad tip amount shows no error next to the field');
  await stepShots(fan, 'fan-tip-error');
  await fan.getByLabel(/Amount/).fill('3');
  await fan.getByLabel(/A note/).fill('Thank you for the studio days!');
  await fan.getByRole('button', { name: 'Continue to payment' }).click();
  await pay(fan, 'fan-tip');
  await axeAs(fanCtx, '/feed', 'feed');
  await fan.goto(`${base}/feed`);
  check(await fan.locator('article.post:not(.is-locked)').count() === 2, 'the feed does not hold both posts');
  await stepShots(fan, 'fan-feed');
  await fan.goto(`${base}/account/purchases`);
  check(await fan.locator('td', { hasText: 'Unlocked a post' }).count() === 1, 'purchases do not list the unlock');
  check(await fan.locator('td', { hasText: 'Tip' }).count() === 1, 'purchases do not list the tip');
  await stepShots(fan, 'fan-purchases');
  await axeAs(fanCtx, '/account/purchases', 'purchases');

  // ------------------------------------------------------------------------------------------
  // 3. The creator's dashboard.
  await until(creator, `${base}/dashboard`, async (p) => (await p.locator('[data-transactions] tbody tr').count()) === 3,
    'the dashboard lists three transactions');
  check((await creator.locator('[data-stat=subscribers]').innerText()).trim() === '1', 'the dashboard does not count the subscriber');
  // 4.99 + 3.50 + 3.00 = 11.49 gross; the creator's part after the platform's fee is less.
  // They never set up payouts, so the platform holds all of it for them.
  const stat = async (name) => (await creator.locator(`[data-stat=${name}]`).innerText()).trim();
  const earned = await stat('earned');
  check(/^\d+\.\d\d [A-Z]{3}$/.test(earned) && parseFloat(earned) > 0 && parseFloat(earned) < 11.49,
    `the earnings are not the money after fees (${earned})`);
  check(await stat('owed') === earned, `what is held for the creator is not all they earned (${await stat('owed')})`);
  check(parseFloat(await stat('paid')) === 0, `money shows as paid to an account the creator does not have (${await stat('paid')})`);
  check(await creator.locator('[data-transactions]', { hasText: 'Thank you for the studio days!' }).count() === 1,
    'the tip note is not in the transactions');
  check(await creator.locator('svg.bars rect.bar').evaluateAll((rs) => rs.some((r) => Number(r.getAttribute('height')) > 0)),
    'the earnings chart has no bar for today');
  await stepShots(creator, 'creator-dashboard');
  await axeAs(creatorCtx, '/dashboard', 'dashboard');

  // ------------------------------------------------------------------------------------------
  // 4. The fan cancels; after the period ends the post is locked again.
  await fan.goto(`${base}/account/subscriptions`);
  await fan.getByRole('button', { name: /^Cancel your subscription to Ada Lens$/ }).click();
  await fan.locator('.notice', { hasText: 'canceled' }).waitFor();
  await until(fan, `${base}/account/subscriptions`, async (p) => (await p.locator('[data-sub-state]', { hasText: 'Canceled: ends' }).count()) === 1,
    'the subscription shows as canceled');
  await stepShots(fan, 'fan-canceled');
  await axeAs(fanCtx, '/account/subscriptions', 'subscriptions');
  await fan.goto(profile);
  check(await post(fan, 'studio').locator('img.photo').count() === 2, 'access ended before the period did');

  const token = await fan.locator('meta[name="csrf-token"]').getAttribute('content');
  const passed = await fan.request.post(`${base}/api/v1/billing/simulated/clock`, {
    data: { days: 31 }, headers: { 'x-csrf-token': token },
  });
  check(passed.status() === 200, `the test clock answered ${passed.status()}`);
  check((await passed.json()).ended >= 1, 'the test clock ended no subscription');
  await until(fan, profile, async (p) => (await post(p, 'studio').locator('.locked-media').count()) === 1,
    'the post locks again after the period ends');
  check(await post(fan, 'Backstage').locator('img.photo').count() === 1, 'the bought post locked with the subscription');
  check(!mediaUrl.test(await post(fan, 'studio').innerHTML()), 'the relocked post still holds a media URL');
  await stepShots(fan, 'fan-locked-again');
  await fan.goto(`${base}/account/subscriptions`);
  check(await fan.locator('[data-sub-state]', { hasText: 'Ended' }).count() === 1, 'the subscription does not show as ended');
  await stepShots(fan, 'fan-subscription-ended');

  // ------------------------------------------------------------------------------------------
  // Dark theme (the system's setting): the fan's pages are as readable.
  const dark = await browser.newContext({ ...desktop, colorScheme: 'dark', bypassCSP: true, storageState: await fanCtx.storageState() });
  const night = await dark.newPage();
  for (const [route, name] of [[`/${handle}`, 'profile'], ['/account/subscriptions', 'subscriptions']]) {
    await night.goto(base + route);
    const found = await axe(night, `${name}, dark theme`);
    axed.push(`${name} (dark): ${found.length} finding(s)`);
    await stepShots(night, `dark-${name}`);
  }
  await dark.close();

  // ------------------------------------------------------------------------------------------
  // Infinite scroll: 21 more posts; a visitor scrolls past the first page of 20 and the next
  // page joins the list (each post once), until there is no older post.
  const creatorToken = await creator.locator('meta[name="csrf-token"]').getAttribute('content');
  for (let i = 1; i <= 21; i += 1) {
    const r = await creator.request.post(`${base}/api/v1/posts`, {
      data: { text: `Note ${i} from the studio`, visibility: 'public' }, headers: { 'x-csrf-token': creatorToken },
    });
    if (r.status() !== 201) throw new Error(`posting note ${i}: ${r.status()} ${await r.text()}`);
  }
  const visitorCtx = await browser.newContext(desktop);
  const visitor = await visitorCtx.newPage();
  watchConsole(visitor, 'visitor');
  await visitor.goto(profile);
  check(await visitor.locator('article.post').count() === 20, 'the first page is not 20 posts');
  await visitor.locator('a[data-more]').scrollIntoViewIfNeeded();
  await visitor.waitForFunction(() => document.querySelectorAll('article.post').length === 23, null, { timeout: 15_000 })
    .catch(() => {});
  const shown = await visitor.locator('article.post').evaluateAll((as) => as.map((a) => a.id));
  check(shown.length === 23 && new Set(shown).size === 23, `infinite scroll shows ${shown.length} posts (${new Set(shown).size} different), not 23`);
  check(await visitor.locator('a[data-more]').count() === 0, 'the "Older posts" link stays after the last page');
  await stepShots(visitor, 'visitor-scrolled-to-the-end');
  await visitorCtx.close();

  await creatorCtx.close();
  await fanCtx.close();
} catch (e) {
  fail(`journey stopped at step ${step + 1}: ${e.stack ?? e}`);
} finally {
  await browser.close();
  fs.rmSync(media, { recursive: true, force: true });
}
console.log(`accessibility: ${axed.join('; ')}`);
finish('journeys');
