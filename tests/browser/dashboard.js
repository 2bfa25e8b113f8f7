// Drive Debian's chromium against a watcher's dashboard (run by
// tests/integration/test_dashboard.py, which reads the JSON it prints).
//
//   node dashboard.js CONFIG.json
//
// CONFIG: {modules, url, envs: [site/env...], container, screenshot,
//          docker: [argv of `docker rm -f CONTAINER`], timeoutMs}
//
// It loads the page once, checks that every environment is listed, removes
// the container by hand, and waits -- without reloading -- until the page
// has shown it as drift and then the environment converged again. Every
// console error, page error and navigation is reported; the caller asserts.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const { chromium } = require(path.join(cfg.modules, 'playwright-core'));

// Runs in the page before its own script: remember every drift entry and
// environment state the page ever showed, however briefly.
function recorder(name) {
  window.__seen = { drift: false, states: [] };
  new MutationObserver(function () {
    if (document.querySelector('#drift li[data-name="' + name + '"]')) window.__seen.drift = true;
    for (const tr of document.querySelectorAll('#envs tr[data-env]')) {
      const s = tr.getAttribute('data-env') + '=' + tr.getAttribute('data-state');
      if (window.__seen.states[window.__seen.states.length - 1] !== s) window.__seen.states.push(s);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true });
}

(async function main() {
  const out = { consoleErrors: [], pageErrors: [], navigations: 0, listed: [], driftSeen: false,
    healed: false, states: [], steps: [] };
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('console', function (m) { if (m.type() === 'error') out.consoleErrors.push(m.text()); });
    page.on('pageerror', function (e) { out.pageErrors.push(String(e)); });
    page.on('framenavigated', function (f) { if (f === page.mainFrame()) out.navigations++; });
    await page.addInitScript(recorder, cfg.container);
    await page.goto(cfg.url, { waitUntil: 'load' });
    out.steps.push('loaded');
    const t = cfg.timeoutMs;
    await page.waitForSelector('#live.on', { timeout: t });
    for (const env of cfg.envs) {
      await page.waitForSelector('#envs tr[data-env="' + env + '"][data-state="converged"]', { timeout: t });
    }
    out.listed = await page.$$eval('#envs tr[data-env]', function (rows) {
      return rows.map(function (r) { return r.getAttribute('data-env'); });
    });
    out.steps.push('listed');

    execFileSync(cfg.docker[0], cfg.docker.slice(1), { stdio: 'ignore' });
    out.steps.push('removed');
    await page.waitForFunction(function () { return window.__seen.drift; }, null, { timeout: t, polling: 50 });
    out.driftSeen = true;
    out.steps.push('drift shown');
    await page.waitForFunction(function (name) {
      return !document.querySelector('#drift li[data-name="' + name + '"]') &&
        document.body.getAttribute('data-phase') === 'idle' &&
        Array.from(document.querySelectorAll('#envs tr[data-env]')).every(function (r) {
          return r.getAttribute('data-state') === 'converged';
        });
    }, cfg.container, { timeout: t, polling: 100 });
    out.healed = true;
    out.steps.push('healed');
    out.states = await page.evaluate(function () { return window.__seen.states; });
    out.timeline = await page.$$eval('#timeline > li', function (l) { return l.map(function (x) { return x.textContent; }); });
    await page.screenshot({ path: cfg.screenshot, fullPage: true });
    out.steps.push('screenshot');
  } catch (e) {
    out.error = String(e && e.stack || e);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
})();
