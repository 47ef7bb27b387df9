// Zinovia's page script. Everything here improves a page that already works without it
// where it can: uploads straight to storage with progress and live processing state, the
// composer's order of files, infinite scroll over "Older posts" links, a lightbox, the
// profile's grid view, local times for scheduling, and the video player (HLS). No inline scripts (CSP).
(() => {
  'use strict';

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const csrf = () => ($('meta[name="csrf-token"]') || {}).content || '';

  // --- the JSON API ----------------------------------------------------------------------
  const explain = (data, status) => {
    const e = data && data.error;
    if (!e) return `The server answered ${status}.`;
    const fields = Object.entries(e.fields || {}).map(([f, ms]) => `${f.replace(/_/g, ' ')} ${ms.join(', ')}`);
    return fields.length ? fields.join('; ') : e.message;
  };

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch (_) { /* no body */ }
    if (!res.ok) throw new Error(explain(data, res.status));
    return data;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- one file, straight to storage ------------------------------------------------------
  // Asks for an upload, PUTs the bytes where it says (reporting progress), completes it,
  // then follows processing until the file is ready or refused. Calls `on(state, detail)`.
  // The declared type: the browser's, or from the extension where browsers give none
  // (HEIC and AVIF outside Safari, Matroska). The server checks the bytes either way.
  const typeOf = (file) => file.type || {
    heic: 'image/heic', heif: 'image/heif', avif: 'image/avif', mkv: 'video/x-matroska',
  }[(file.name.split('.').pop() || '').toLowerCase()] || 'application/octet-stream';

  // Sends `file` exactly as `upload` (method, URL, signed headers) says, reporting progress.
  function put(upload, file, progress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(upload.method, upload.url);
      for (const [k, v] of Object.entries(upload.headers || {})) {
        if (!['content-length', 'host'].includes(k.toLowerCase())) xhr.setRequestHeader(k, v);
      }
      if (new URL(upload.url, location.href).origin === location.origin) {
        xhr.setRequestHeader('x-csrf-token', csrf());
      }
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress(Math.round((e.loaded / e.total) * 100)); };
      xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`The upload was refused (${xhr.status}).`)));
      xhr.onerror = () => reject(new Error('The upload failed: check your connection and try again.'));
      xhr.send(file);
    });
  }

  async function upload(file, purpose, on) {
    const type = typeOf(file);
    const kind = type.startsWith('video/') ? 'video' : 'image';
    const created = await api('POST', '/api/v1/media/uploads', {
      kind, purpose, content_type: type,
      byte_size: file.size, filename: file.name,
    });
    on('uploading', 0);
    await put(created.upload, file, (p) => on('uploading', p));
    on('uploading', 100);
    await api('POST', `/api/v1/media/${created.asset_id}/complete`);
    return follow(created.asset_id, on);
  }

  // Polls an asset until it is ready (resolves its id) or refused (rejects with the reason).
  async function follow(id, on) {
    on('processing', id);
    for (let wait = 500; ; wait = Math.min(wait * 1.3, 3000)) {
      const m = await api('GET', `/api/v1/media/${id}`);
      if (m.state === 'ready') { on('ready', m); return id; }
      if (m.progress != null) on('transcoding', m.progress);
      if (m.state === 'rejected' || m.state === 'failed') {
        throw new Error(m.rejection_reason || 'This file could not be processed.');
      }
      await sleep(wait);
    }
  }

  const words = { uploading: 'Uploading', processing: 'Processing…', ready: 'Ready' };

  // --- the composer ---------------------------------------------------------------------
  function composer(form) {
    const list = $('#upload-list', form);
    const ids = $('#media_ids', form);
    const publish = $('#publish', form);
    const state = $('#publish-state', form);
    const input = $('[data-files]', form);
    const drop = $('[data-drop]', form);

    const sync = () => {
      const items = $$('li', list);
      ids.value = items.filter((li) => li.dataset.ready === 'yes').map((li) => li.dataset.id).join(',');
      const busy = items.filter((li) => li.dataset.ready === 'no').length;
      publish.disabled = busy > 0;
      state.textContent = busy ? `Waiting for ${busy} ${busy === 1 ? 'file' : 'files'} to be ready…` : '';
      items.forEach((li, i) => {
        $('[data-move="up"]', li).disabled = i === 0;
        $('[data-move="down"]', li).disabled = i === items.length - 1;
      });
    };

    const item = (name) => {
      const li = document.createElement('li');
      li.className = 'upload';
      li.dataset.ready = 'no';
      li.innerHTML = '<img class="thumb" alt="" hidden><span class="upload-name"></span>' +
        '<progress max="100" value="0"></progress><span class="upload-state" role="status"></span>' +
        '<span class="upload-actions"><button type="button" class="link" data-move="up">Move up</button>' +
        '<button type="button" class="link" data-move="down">Move down</button>' +
        '<button type="button" class="link" data-remove>Remove</button></span>';
      $('.upload-name', li).textContent = name;
      $('[data-move="up"]', li).setAttribute('aria-label', `Move ${name} up`);
      $('[data-move="down"]', li).setAttribute('aria-label', `Move ${name} down`);
      $('[data-remove]', li).setAttribute('aria-label', `Remove ${name}`);
      list.append(li);
      return li;
    };

    const track = (li) => (s, detail) => {
      const bar = $('progress', li);
      const label = $('.upload-state', li);
      li.dataset.state = s;
      if (s === 'uploading') { bar.value = detail; label.textContent = `Uploading ${detail}%`; }
      if (s === 'processing') { bar.value = 100; li.dataset.id = detail; label.textContent = words.processing; }
      if (s === 'transcoding') { bar.value = detail; label.textContent = `Transcoding ${detail} %`; }
      if (s === 'ready') { li.dataset.ready = 'yes'; bar.hidden = true; label.textContent = words.ready; sync(); }
    };

    const fail = (li, e) => {
      li.dataset.ready = 'failed';
      li.dataset.state = 'rejected';
      $('progress', li).hidden = true;
      $('.upload-state', li).textContent = `Not added: ${e.message}`;
      li.classList.add('failed');
      sync();
    };

    const add = (files) => {
      for (const file of files) {
        const li = item(file.name);
        if (file.type.startsWith('image/')) {
          // A local preview where the browser can show the file (not HEIC outside Safari).
          const img = $('.thumb', li);
          img.onerror = () => { img.hidden = true; };
          img.onload = () => { img.hidden = false; };
          img.src = URL.createObjectURL(file);
        }
        sync();
        upload(file, 'post', track(li)).catch((e) => fail(li, e));
      }
    };

    // Files already attached (the form came back with an error).
    ids.value.split(',').filter(Boolean).forEach((id, i) => {
      const li = item(`File ${i + 1}`);
      li.dataset.id = id;
      follow(id, track(li)).catch((e) => fail(li, e));
    });

    input.addEventListener('change', () => { add(input.files); input.value = ''; });
    ['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add('over'); }));
    ['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, () => drop.classList.remove('over')));
    drop.addEventListener('drop', (e) => { e.preventDefault(); add(e.dataTransfer.files); });

    list.addEventListener('click', (e) => {
      const li = e.target.closest('li');
      if (!li) return;
      if (e.target.matches('[data-remove]')) { li.remove(); }
      if (e.target.matches('[data-move="up"]') && li.previousElementSibling) li.previousElementSibling.before(li);
      if (e.target.matches('[data-move="down"]') && li.nextElementSibling) li.nextElementSibling.after(li);
      sync();
      // Keep the keyboard where it was; at the top or bottom the other move button takes it.
      if (e.target.isConnected && e.target.matches('[data-move]')) {
        (e.target.disabled ? $('[data-move]:not(:disabled)', li) || $('[data-remove]', li) : e.target).focus();
      }
    });

    form.addEventListener('submit', (e) => {
      if (publish.disabled) { e.preventDefault(); return; }
      const local = $('#publish_at', form).value;
      const when = local ? new Date(local) : null;
      // An unreadable time goes as typed; the server answers with the field's error.
      $('#publish_at_utc', form).value = when && !Number.isNaN(when.getTime()) ? when.toISOString() : '';
    });
    sync();
  }

  // --- avatar and banner: upload with a preview of the crop ---------------------------------
  // Uploads in flight per form: its submit button waits for all of them.
  const inFlight = new WeakMap();
  const busy = (form, delta) => {
    const n = (inFlight.get(form) || 0) + delta;
    inFlight.set(form, n);
    const save = $('button[type=submit]', form);
    if (save) save.disabled = n > 0;
  };

  function imageField(box) {
    const input = $('input[type=file]', box);
    const preview = $('[data-preview]', box);
    const bar = $('progress', box);
    const label = $('[data-state]', box);
    const asset = $('[data-asset]', box);
    const form = box.closest('form');
    input.addEventListener('change', () => {
      const file = input.files[0];
      if (!file) return;
      preview.onerror = () => { preview.hidden = true; };
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      bar.hidden = false;
      busy(form, +1);
      upload(file, input.dataset.upload, (s, detail) => {
        if (s === 'uploading') { bar.value = detail; label.textContent = `Uploading ${detail}%`; }
        if (s === 'processing') { label.textContent = words.processing; }
        if (s === 'transcoding') { bar.value = detail; label.textContent = `Transcoding ${detail} %`; }
        if (s === 'ready') { label.textContent = 'Ready: save to use it.'; }
      }).then((id) => {
        asset.value = id;
      }).catch((e) => {
        label.textContent = `Not used: ${e.message}`;
      }).finally(() => {
        bar.hidden = true;
        busy(form, -1);
      });
    });
  }

  // --- verification documents, straight to private storage ------------------------------
  function documentField(box) {
    const input = $('input[type=file]', box);
    const bar = $('progress', box);
    const label = $('[data-state]', box);
    input.addEventListener('change', async () => {
      const file = input.files[0];
      if (!file) return;
      bar.hidden = false;
      try {
        const created = await api('POST', '/api/v1/me/verification/documents', {
          document: box.dataset.documentField, content_type: file.type || 'application/octet-stream', byte_size: file.size,
        });
        await put(created.upload, file, (p) => { bar.value = p; label.textContent = `Uploading ${p}%`; });
        label.textContent = 'Sent.';
        box.dataset.sent = '1';
      } catch (e) {
        label.textContent = `Not sent: ${e.message}`;
      } finally {
        bar.hidden = true;
      }
    });
  }

  // --- lightbox -------------------------------------------------------------------------
  function lightbox(dialog) {
    const img = $('#lightbox-img', dialog);
    let shots = [];
    let at = 0;
    const show = (i) => {
      at = (i + shots.length) % shots.length;
      const photo = $('img.photo', shots[at]);
      img.src = shots[at].href;
      img.alt = photo ? photo.alt : '';
    };
    document.addEventListener('click', (e) => {
      const a = e.target.closest('a.shot');
      if (!a || e.metaKey || e.ctrlKey || e.shiftKey) return;
      e.preventDefault();
      shots = $$(`a.shot[data-gallery="${a.dataset.gallery}"]`);
      show(shots.indexOf(a));
      dialog.showModal();
    });
    dialog.addEventListener('click', (e) => {
      const what = e.target.dataset && e.target.dataset.lightbox;
      if (what === 'prev') show(at - 1);
      else if (what === 'next') show(at + 1);
      else if (what === 'close' || e.target === dialog) dialog.close();
    });
    dialog.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowLeft') show(at - 1);
      if (e.key === 'ArrowRight') show(at + 1);
    });
    dialog.addEventListener('close', () => { img.src = 'data:,'; });
  }

  // --- infinite scroll over the "Older posts" link ----------------------------------------
  function infinite(link) {
    const posts = $('[data-posts]');
    if (!posts || !('IntersectionObserver' in window)) return;
    let loading = false;
    const more = async () => {
      if (loading) return;
      loading = true;
      try {
        const res = await fetch(link.href, { credentials: 'same-origin' });
        if (!res.ok) throw new Error(String(res.status));
        const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
        $$('[data-posts] > article', doc).forEach((a) => {
          if (document.getElementById(a.id)) return;
          posts.append(a);
          $$('[data-player]', a).forEach(player);
        });
        const next = $('a[data-more]', doc);
        if (next) {
          link.href = next.href;
          // Still in view after the page grew? Observing again reports it at once.
          observer.unobserve(link);
          observer.observe(link);
        } else {
          observer.disconnect();
          link.parentElement.remove();
        }
      } catch (_) {
        observer.disconnect(); // the link still works by hand
      } finally {
        loading = false;
      }
    };
    const observer = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) more(); }, { rootMargin: '800px' });
    observer.observe(link);
  }

  // --- the profile's list / grid switch -------------------------------------------------------
  function viewSwitch(box) {
    const posts = $('[data-posts]');
    box.hidden = false;
    box.addEventListener('click', (e) => {
      const b = e.target.closest('[data-view]');
      if (!b) return;
      posts.classList.toggle('as-grid', b.dataset.view === 'grid');
      $$('[data-view]', box).forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
    });
  }

  // --- live messages (Server-Sent Events; ADR 0024) --------------------------------------
  // On message pages: the nav's unread badge stays current; on a thread, new messages appear without a reload
  // (rendered by the server, fetched after the last one shown). The browser reconnects by
  // itself, sending Last-Event-ID; the server replays what was missed.
  function live(badge) {
    if (!window.EventSource) return;
    const thread = $('[data-thread]');
    const setUnread = (n) => {
      if (typeof n !== 'number') return;
      badge.hidden = n === 0;
      badge.lastChild.textContent = String(n);
    };
    let catching = Promise.resolve();
    let leaving = false;
    document.addEventListener('submit', () => { leaving = true; });
    const catchUp = () => {
      catching = catching.then(async () => {
        const list = $('[data-bubbles]', thread);
        if (leaving) return;
        const after = thread.dataset.last;
        const url = `/messages/${thread.dataset.thread}/since${after ? `?after=${after}` : ''}`;
        const res = await fetch(url, { credentials: 'same-origin' });
        if (!res.ok) return;
        const html = await res.text();
        const box = document.createElement('ol');
        box.innerHTML = html;
        for (const li of Array.from(box.children)) {
          const old = document.getElementById(li.id);
          if (old) old.replaceWith(li); else list.append(li);
          $$('[data-player]', li).forEach(player);
          thread.dataset.last = li.dataset.message;
        }
        const last = list.lastElementChild;
        if (last) last.scrollIntoView({ block: 'nearest' });
      }).catch(() => {});
    };
    // Opened once the page has loaded: a stream that never ends must not hold up `load`.
    const connect = () => {
      const source = new EventSource('/api/v1/messages/live');
      source.addEventListener('hello', (e) => setUnread(JSON.parse(e.data).unread_total));
      source.addEventListener('message', (e) => {
        const d = JSON.parse(e.data);
        if (thread && d.message.conversation_id === thread.dataset.thread) catchUp();
        else setUnread(d.unread_total);
      });
      source.addEventListener('read', (e) => {
        const d = JSON.parse(e.data);
        setUnread(d.unread_total);
        if (thread && d.conversation_id === thread.dataset.thread) {
          $$('.bubble.mine .bubble-meta', thread).forEach((p) => { if (!/Read$/.test(p.textContent)) p.append(' · Read'); });
        }
      });
      // Never while a form is being sent: a reload would cancel its navigation.
      const reloadThread = () => { if (thread && !leaving) location.reload(); };
      source.addEventListener('unlocked', reloadThread);
      source.addEventListener('unsent', reloadThread);
      source.addEventListener('resync', reloadThread);
    };
    if (document.readyState === 'complete') connect();
    else window.addEventListener('load', () => setTimeout(connect, 0), { once: true });
  }
  // --- the video player (ADR 0026) ---------------------------------------------------------
  // A video the viewer may see streams from its HLS master playlist (the app checks access
  // there, and again for every playlist and the key): through hls.js (vendored, loaded only
  // here) where the browser has Media Source Extensions, through the browser's own HLS on
  // Safari, else the MP4 in the page plays. Adds a quality choice and a seek bar whose
  // previews come from the storyboard; both are native controls, so keys work on them.
  // hls.js is fetched when a pointer or the focus first reaches a player; a video started
  // before that (or without script) plays its MP4.
  let hlsScript = null;
  const loadHls = (src) => {
    if (window.Hls) return Promise.resolve(window.Hls);
    if (!hlsScript) {
      hlsScript = new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = src;
        s.onload = () => (window.Hls ? resolve(window.Hls) : reject(new Error('hls.js did not load')));
        s.onerror = () => reject(new Error('hls.js did not load'));
        document.head.append(s);
      });
    }
    return hlsScript;
  };
  const clock = (t) => {
    const s = Math.max(0, Math.round(t));
    const h = Math.floor(s / 3600);
    const m = Math.floor(s / 60) % 60;
    const ss = String(s % 60).padStart(2, '0');
    return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
  };
  // WebVTT cues `start --> end` / `url#xywh=x,y,w,h`, times as seconds.
  const parseStoryboard = (text) => {
    const secs = (t) => t.split(':').reduce((acc, part) => acc * 60 + parseFloat(part), 0);
    const cues = [];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const m = /^([\d:.]+)\s+-->\s+([\d:.]+)/.exec(lines[i]);
      const at = m && /^(.*)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(lines[i + 1] || '');
      if (at) cues.push({ start: secs(m[1]), end: secs(m[2]), url: at[1], x: +at[2], y: +at[3], w: +at[4], h: +at[5] });
    }
    return cues;
  };

  function player(box) {
    const video = $('video[data-hls]', box);
    if (!video) return;
    const master = video.dataset.hls;
    const mp4 = ($('source', video) || {}).src || '';
    const apple = /^Apple/.test(navigator.vendor || '') && video.canPlayType('application/vnd.apple.mpegurl');
    const mse = 'MediaSource' in window || 'ManagedMediaSource' in window;
    box.dataset.engine = 'mp4';

    // The seek bar with storyboard previews.
    const bar = document.createElement('div');
    bar.className = 'player-bar';
    const seek = document.createElement('input');
    seek.type = 'range';
    seek.className = 'seek';
    seek.min = '0';
    seek.step = '0.1';
    seek.value = '0';
    seek.max = String(video.duration || 0);
    seek.setAttribute('aria-label', 'Position');
    const preview = document.createElement('div');
    preview.className = 'sb-preview';
    preview.hidden = true;
    const previewTime = document.createElement('span');
    preview.append(previewTime);
    bar.append(seek, preview);
    box.append(bar);
    const setMax = () => { if (isFinite(video.duration) && video.duration > 0) seek.max = String(video.duration); };
    video.addEventListener('loadedmetadata', setMax);
    video.addEventListener('durationchange', setMax);
    video.addEventListener('timeupdate', () => {
      if (document.activeElement !== seek) seek.value = String(video.currentTime);
      seek.setAttribute('aria-valuetext', `${clock(video.currentTime)} of ${clock(+seek.max)}`);
    });
    seek.addEventListener('input', () => {
      video.currentTime = +seek.value;
      show(+seek.value);
    });
    seek.addEventListener('change', () => { preview.hidden = true; });
    seek.addEventListener('blur', () => { preview.hidden = true; });

    let cues = null;
    let loadingCues = null;
    const storyboard = () => {
      if (!loadingCues) {
        loadingCues = (async () => {
          const res = await fetch(master, { credentials: 'same-origin' });
          if (!res.ok) throw new Error(String(res.status));
          const m = /#EXT-X-SESSION-DATA:DATA-ID="com\.zinovia\.storyboard",VALUE="([^"]+)"/.exec(await res.text());
          if (!m) return [];
          const vtt = await fetch(new URL(m[1], new URL(master, location.href)), { credentials: 'same-origin' });
          if (!vtt.ok) throw new Error(String(vtt.status));
          return parseStoryboard(await vtt.text());
        })().then((c) => { cues = c; return c; }, () => { cues = []; return []; }); // no previews, no retry loop
      }
      return loadingCues;
    };
    const show = (t) => {
      if (!cues) { storyboard().then(() => { if (!preview.hidden || document.activeElement === seek) show(t); }); return; }
      const cue = cues.find((c) => t >= c.start && t < c.end) || cues[cues.length - 1];
      previewTime.textContent = clock(t);
      if (cue) {
        preview.style.width = `${cue.w}px`;
        preview.style.height = `${cue.h}px`;
        preview.style.backgroundImage = `url("${cue.url.replace(/"/g, '%22')}")`;
        preview.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
        box.dataset.previewed = cue.url.split('?')[0].split('/').pop();
      }
      const max = +seek.max || 1;
      const left = Math.min(Math.max(t / max, 0), 1) * seek.clientWidth;
      preview.style.left = `${Math.max(0, Math.min(left - (cue ? cue.w : 0) / 2, seek.clientWidth - (cue ? cue.w : 0)))}px`;
      preview.hidden = false;
    };
    seek.addEventListener('pointermove', (e) => {
      const r = seek.getBoundingClientRect();
      show(((e.clientX - r.left) / r.width) * (+seek.max || 0));
    });
    seek.addEventListener('pointerleave', () => { preview.hidden = true; });
    seek.addEventListener('focus', () => { storyboard(); });

    if (apple) {
      // Safari plays HLS itself (and chooses the quality itself).
      video.src = master;
      box.dataset.engine = 'native';
      return;
    }
    if (!mse) return; // the MP4
    // hls.js (large) loads when someone reaches for this player, not with the page.
    let attached = false;
    const attach = () => {
      if (attached) return;
      attached = true;
      stream();
    };
    for (const e of ['pointerenter', 'focusin', 'touchstart']) box.addEventListener(e, attach, { once: true, passive: true });
    const stream = () => loadHls(video.dataset.hlsJs).then((Hls) => {
      if (!Hls.isSupported() || !video.paused || video.currentTime > 0) return; // the MP4 already plays
      const hls = new Hls({ enableWorker: false, autoStartLoad: false, capLevelToPlayerSize: true });
      box.dataset.engine = 'hls.js';
      let started = false;
      let retries = 0;
      hls.loadSource(master);
      hls.attachMedia(video);
      video.addEventListener('play', () => { if (!started) { started = true; hls.startLoad(video.currentTime); } });
      // The quality: automatic, or one of the renditions.
      hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
        if (data.levels.length < 2 || $('select.quality', bar)) return;
        const label = document.createElement('label');
        label.className = 'quality-label';
        label.textContent = 'Quality ';
        const pick = document.createElement('select');
        pick.className = 'quality';
        pick.add(new Option('Auto', '-1'));
        data.levels.forEach((l, i) => pick.add(new Option(`${l.height}p`, String(i))));
        pick.addEventListener('change', () => { hls.currentLevel = +pick.value; });
        label.append(pick);
        bar.append(label);
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => { box.dataset.level = String(data.level); });
      // Signed URLs expire (MEDIA_URL_TTL): after a long pause, fetch the playlists again
      // (access is decided again there) and go on where it stopped.
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR && retries < 3) {
          retries += 1;
          const at = video.currentTime;
          hls.loadSource(master);
          if (started) hls.startLoad(at);
        } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR && retries < 3) {
          retries += 1;
          hls.recoverMediaError();
        } else {
          hls.destroy();
          box.dataset.engine = 'mp4';
          if (mp4) video.src = mp4;
        }
      });
      hls.on(Hls.Events.FRAG_LOADED, () => { retries = 0; });
    }).catch(() => { /* the MP4 plays */ });
  }
  const start = () => {
    $$('form#composer').forEach(composer);
    $$('[data-image-field]').forEach(imageField);
    $$('[data-document-field]').forEach(documentField);
    $$('dialog#lightbox').forEach(lightbox);
    $$('a[data-more]').forEach(infinite);
    $$('[data-view-switch]').forEach(viewSwitch);
    $$('[data-player]').forEach(player);
    // Message pages only: each open stream holds a connection, and browsers allow few per
    // site over HTTP/1.1.
    if ($('[data-live]')) $$('[data-unread]').slice(0, 1).forEach(live);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
