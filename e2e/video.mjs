// The video journey, end to end in headless Chromium against `zinovia up` (local storage,
// the in-process worker and ffmpeg; ADR 0026):
//
//   1. a creator uploads a 1080p clip (made here by ffmpeg) from the composer and watches it
//      go "Transcoding N %" → "Ready", then publishes it for subscribers;
//   2. a fan who does not subscribe sees only the blurred poster, "1 video (0:12)" and no
//      stream, playlist or media URL anywhere in the page;
//   3. the fan subscribes; the player streams through hls.js (vendored, served by the app):
//      the key is fetched through the app, segments from storage, and switching the quality
//      fetches a second rendition; the seek bar shows storyboard previews under the pointer
//      and moves with the keyboard.
//
//   BASE_URL=… MAIL_DIR=<data dir>/mail E2E_OUT=out node e2e/video.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  axe, axeContext, base, check, fail, finish, launch, shots, watchConsole, mailedLink, signUp, until, confirmEmail, paySimulated,
} from './lib.mjs';

const run = Date.now().toString(36);
const handle = `vera_${run}`;
const media = fs.mkdtempSync(path.join(os.tmpdir(), 'zinovia-e2e-video-'));
const clip = path.join(media, 'rooftop.mp4');
execFileSync('ffmpeg', ['-v', 'error', '-y',
  '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=330',
  '-t', '12', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip]);

let step = 0;
const stepShots = async (page, name) => {
  step += 1;
  await shots(page, `video-${String(step).padStart(2, '0')}-${name}`);
  console.log(`step ${step}: ${name}`);
};
const formErrors = (text) => text.includes('status of 422');
const streamUrl = /\/hls\/|\.m3u8|\.m4s|media\/[0-9a-f-]{36}\//;

const pay = paySimulated;

const browser = await launch();
const desktop = { viewport: { width: 1280, height: 800 } };
try {
  // 1. The creator uploads the clip and follows its transcoding.
  const creatorCtx = await browser.newContext(desktop);
  const creator = await creatorCtx.newPage();
  watchConsole(creator, 'creator', formErrors);
  const creatorEmail = `vera-${run}@example.test`;
  await signUp(creator, creatorEmail, 'Vera Motion');
  await confirmEmail(creator, creatorEmail);
  await creator.goto(`${base}/settings/creator`);
  await creator.getByLabel('Handle').fill(handle);
  await creator.getByLabel('Monthly price').fill('6.00');
  await creator.getByRole('button', { name: 'Become a creator' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?saved=1$`));

  await creator.goto(`${base}/dashboard/compose`);
  await creator.getByLabel('Text', { exact: true }).fill('Rooftop at dusk, in motion.');
  await creator.locator('#files').setInputFiles(clip);
  const item = creator.locator('#upload-list li').first();
  await item.locator('.upload-state', { hasText: /^Transcoding \d+ %$/ }).waitFor({ timeout: 120_000 });
  const shown = await item.locator('.upload-state').innerText();
  check(/^Transcoding \d+ %$/.test(shown), `the composer does not show the transcoding progress (${shown})`);
  await stepShots(creator, 'composer-transcoding');
  await creator.locator('#upload-list li[data-state=ready]').first().waitFor({ timeout: 300_000 });
  await stepShots(creator, 'composer-video-ready');
  await creator.getByLabel('Subscribers').check();
  await creator.getByRole('button', { name: 'Publish' }).click();
  await creator.waitForURL(new RegExp(`/${handle}\\?published=`));
  const postId = (await creator.locator('article.post').first().getAttribute('id')).replace('post-', '');

  // 2. A fan who does not subscribe: the poster, blurred, and the length; no stream.
  const fanCtx = await browser.newContext(desktop);
  const fan = await fanCtx.newPage();
  watchConsole(fan, 'fan', formErrors);
  await signUp(fan, `wes-${run}@example.test`, 'Wes Watcher');
  const profile = `${base}/${handle}`;
  const source = await (await fan.goto(profile)).text();
  check(!streamUrl.test(source), 'the locked page names the stream or a media file');
  const card = fan.locator(`#post-${postId}`);
  check(await card.locator('.locked-media img.blur').count() === 1, 'the locked video has no blurred poster');
  const what = await card.locator('.lock-what').innerText();
  check(/1 video \(0:1[12]\)/.test(what), `the locked video does not say its length (${what})`);
  check(await fan.locator('video').count() === 0, 'a locked page holds a video element');
  const refused = (await fanCtx.request.get(`${base}/api/v1/media/00000000-0000-7000-8000-000000000000/hls/master.m3u8`)).status();
  check(refused === 404, `an unknown stream answers ${refused}`);
  await stepShots(fan, 'fan-locked-video');

  // 3. Subscribed: the player streams.
  await fan.getByRole('button', { name: /^Subscribe for 6\.00 [A-Z]{3} a month$/ }).click();
  await pay(fan);
  await until(fan, profile, async (p) => (await p.locator(`#post-${postId} video[data-hls]`).count()) === 1,
    'the subscription unlocks the video');
  const requests = [];
  fan.on('response', (r) => { if (/^https?:/.test(r.url())) requests.push({ url: r.url(), status: r.status() }); });
  const box = fan.locator(`#post-${postId} [data-player]`);
  const video = box.locator('video');
  await box.scrollIntoViewIfNeeded();
  await box.hover();
  await fan.waitForFunction((id) => document.querySelector(`#post-${id} [data-player]`).dataset.engine === 'hls.js',
    postId, { timeout: 20_000 });
  check(requests.some((r) => /\/assets\/hls\.[0-9a-f]+\.js$/.test(r.url) && r.status === 200),
    'hls.js was not loaded from the app');
  check(requests.every((r) => new URL(r.url).origin === new URL(base).origin),
    `something was fetched from elsewhere: ${requests.map((r) => r.url).filter((u) => !u.startsWith(base)).join(', ')}`);
  const played = await video.evaluate(async (v) => {
    v.muted = true;
    await v.play();
    const until = Date.now() + 20_000;
    while (v.currentTime < 1.5 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    return { time: v.currentTime, width: v.videoWidth, height: v.videoHeight, src: v.currentSrc };
  });
  check(played.time >= 1.5, `the stream does not play (${JSON.stringify(played)})`);
  check(played.src.startsWith('blob:'), `the video does not play through hls.js (${played.src})`);
  check(requests.some((r) => /\/hls\/master\.m3u8$/.test(r.url) && r.status === 200), 'the master playlist was not fetched');
  check(requests.some((r) => /\/hls\/key\?/.test(r.url) && r.status === 200), 'the key was not fetched through the app');
  await stepShots(fan, 'fan-plays-the-stream');

  // Quality: the choice lists every rendition; picking another one fetches it.
  const quality = box.getByLabel('Quality');
  const options = await quality.locator('option').allInnerTexts();
  check(options[0] === 'Auto' && JSON.stringify(options.slice(1).sort()) === JSON.stringify(['1080p', '360p', '480p', '720p']),
    `the quality choice is ${JSON.stringify(options)}`);
  const renditions = () => new Set(requests
    .map((r) => /\/hls\/(\d+p)\/[^/?]+\.m4s/.exec(r.url))
    .filter(Boolean).map((m) => m[1]));
  const before = renditions();
  const other = ['360p', '1080p', '480p', '720p'].find((r) => !before.has(r));
  await quality.selectOption({ label: other });
  for (let i = 0; i < 100 && !renditions().has(other); i += 1) await fan.waitForTimeout(200);
  const fetched = renditions();
  check(fetched.size >= 2 && fetched.has(other), `renditions fetched: ${[...fetched].join(', ')} (picked ${other})`);
  check(requests.filter((r) => /\.m4s(\?|$)/.test(r.url)).every((r) => r.status === 200 || r.status === 206),
    'a segment was refused');
  await video.evaluate((v) => v.pause());

  // The seek bar: storyboard previews under the pointer, and the arrow keys move it.
  const seek = box.getByRole('slider', { name: 'Position' });
  const bounds = await seek.boundingBox();
  await fan.mouse.move(bounds.x + bounds.width * 0.1, bounds.y + bounds.height / 2);
  await fan.mouse.move(bounds.x + bounds.width * 0.75, bounds.y + bounds.height / 2, { steps: 5 });
  await box.locator('.sb-preview:not([hidden])').waitFor({ timeout: 10_000 });
  const preview = await box.locator('.sb-preview').evaluate((p) => ({
    image: p.style.backgroundImage, position: p.style.backgroundPosition, width: p.style.width, label: p.textContent,
  }));
  check(/\/hls\/sb\/[^"]+\.jpg/.test(preview.image) && preview.position !== '' && preview.width !== '',
    `the seek bar shows no storyboard preview (${JSON.stringify(preview)})`);
  check(/^0:0[89]$/.test(preview.label), `the preview at three quarters says ${preview.label}`);
  await stepShots(fan, 'fan-storyboard-preview');
  await fan.mouse.move(0, 0);
  await seek.focus();
  const t0 = await video.evaluate((v) => v.currentTime);
  await fan.keyboard.press('ArrowRight');
  await fan.keyboard.press('ArrowRight');
  await fan.keyboard.press('PageUp');
  const t1 = await video.evaluate((v) => v.currentTime);
  check(t1 > t0, `the arrow keys do not move the position (${t0} → ${t1})`);

  const ax = await axeContext(browser, fanCtx);
  const axPage = await ax.newPage();
  await axPage.goto(profile);
  await axPage.locator(`#post-${postId} [data-player]`).hover();
  await axPage.waitForFunction((id) => document.querySelector(`#post-${id} select.quality`), postId, { timeout: 20_000 });
  await axe(axPage, 'profile with the player');
  await ax.close();
} catch (e) {
  fail(`the video journey stopped: ${e.stack || e}`);
} finally {
  await browser.close();
  fs.rmSync(media, { recursive: true, force: true });
}
finish('the video journey');
