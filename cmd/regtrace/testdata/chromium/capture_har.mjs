// Drives headless Chromium over the DevTools protocol (--remote-debugging-pipe:
// no WebSocket client needed) through a registry pull the way a web console
// would do it, collects the Network.* and Page.* events, and turns them into
// a HAR with chrome-har (what DevTools' own export is modelled on).
//
//   node capture_har.mjs PLAN.json
//
// PLAN: {chromium, modules, out, hostRules, registry, tokenURL, basic, manifest}
//   registry  https://registry.test:PORT   tokenURL  realm?scope=…&service=…
//   basic     base64 of user:password      manifest  /v2/REPO/manifests/REF
// Written for regtrace's end-to-end tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// chrome-har is an ES module: import it from the modules directory the
// test names, since ESM ignores NODE_PATH.
const { harFromMessages } = await import(pathToFileURL(join(plan.modules, 'chrome-har', 'index.js')).href);

const profile = mkdtempSync(join(tmpdir(), 'regtrace-chromium-'));
const chrome = spawn(plan.chromium, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--remote-debugging-pipe', `--user-data-dir=${profile}`,
  `--host-resolver-rules=${plan.hostRules}`,
  // The test registry's CA is throwaway; trusting it would need certutil.
  '--ignore-certificate-errors',
  'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let chromeLog = '';
chrome.stdio[2].on('data', d => { chromeLog += d; });

const pending = new Map();
const waiters = [];
const events = [];
let seq = 0;
let buf = Buffer.alloc(0);
chrome.stdio[4].on('data', d => {
  buf = Buffer.concat([buf, d]);
  for (let i; (i = buf.indexOf(0)) >= 0; buf = buf.subarray(i + 1)) {
    const msg = JSON.parse(buf.subarray(0, i).toString('utf8'));
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      msg.error ? p.reject(new Error(`${p.method}: ${msg.error.message}`)) : p.resolve(msg.result);
    } else {
      onEvent(msg);
    }
  }
});
chrome.on('exit', code => {
  for (const p of pending.values()) p.reject(new Error(`chromium exited (${code}): ${chromeLog}`));
});

function send(method, params = {}, sessionId) {
  const id = ++seq;
  chrome.stdio[3].write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject, method }));
}

function waitEvent(method, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${method}`)), timeoutMs);
    waiters.push({ method, resolve: p => { clearTimeout(t); resolve(p); } });
  });
}

let session;
const bodies = new Map();
const bodyFetches = [];
function onEvent(msg) {
  if (msg.sessionId !== session || !/^(Network|Page)\./.test(msg.method)) return;
  events.push({ method: msg.method, params: msg.params });
  if (msg.method === 'Network.loadingFinished') {
    // Ask at once: a document's body is dropped when the page navigates.
    const id = msg.params.requestId;
    bodyFetches.push(send('Network.getResponseBody', { requestId: id }, session)
      .then(b => bodies.set(id, b), () => {}));
  }
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i].method === msg.method) waiters.splice(i, 1)[0].resolve(msg.params);
  }
}

async function navigate(url) {
  const loaded = waitEvent('Page.loadEventFired');
  const r = await send('Page.navigate', { url }, session);
  if (r.errorText) throw new Error(`navigate ${url}: ${r.errorText}`);
  await loaded;
}

async function evaluate(expression) {
  const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, session);
  if (r.exceptionDetails) throw new Error(`${expression}: ${JSON.stringify(r.exceptionDetails)}`);
  return r.result.value;
}

try {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  ({ sessionId: session } = await send('Target.attachToTarget', { targetId, flatten: true }));
  await send('Page.enable', {}, session);
  await send('Network.enable', {}, session);
  await send('Runtime.enable', {}, session);

  // The console's first look: the registry's /v2/ (a 401 with its challenge).
  await navigate(`${plan.registry}/v2/`);
  // Log in: the token endpoint, Basic credentials on the request.
  await send('Network.setExtraHTTPHeaders', { headers: { Authorization: `Basic ${plan.basic}` } }, session);
  await navigate(plan.tokenURL);
  const token = JSON.parse(await evaluate("(document.querySelector('pre') || document.body).innerText")).token;
  await send('Network.setExtraHTTPHeaders', { headers: {} }, session);
  // Back on the registry's origin, the console fetches the manifest with
  // the token (same origin: no CORS preflight).
  await navigate(`${plan.registry}/v2/`);
  const status = await evaluate(`fetch(${JSON.stringify(plan.manifest)}, {headers: {
      Authorization: 'Bearer ' + ${JSON.stringify(token)},
      Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json'}})
    .then(async r => { await r.text(); return r.status; })`);
  // Let the last loadingFinished arrive, then every body request settle.
  await new Promise(r => setTimeout(r, 300));
  await Promise.all(bodyFetches);
  for (const e of events) {
    const b = e.method === 'Network.responseReceived' && bodies.get(e.params.requestId);
    if (b) {
      e.params.response.body = b.body;
      if (b.base64Encoded) e.params.response.encoding = 'base64';
    }
  }
  const har = harFromMessages(events, { includeTextFromResponseBody: true });
  writeFileSync(plan.out, JSON.stringify(har, null, 2));
  console.log(JSON.stringify({ manifestStatus: status, entries: har.log.entries.length, events: events.length }));
  await send('Browser.close').catch(() => {});
  await Promise.race([new Promise(r => (chrome.exitCode !== null ? r() : chrome.once('exit', r))),
    new Promise(r => setTimeout(r, 5000))]);
} catch (e) {
  console.error(String(e && e.stack || e), '\n--- chromium:\n', chromeLog);
  process.exitCode = 1;
} finally {
  // The profile can go only once Chromium has stopped writing to it.
  if (chrome.exitCode === null && chrome.signalCode === null) {
    const exited = new Promise(r => chrome.once('exit', r));
    chrome.kill();
    await Promise.race([exited, new Promise(r => setTimeout(r, 5000))]);
  }
  rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}
