// The browser half of TestServeE2E (cli/serve_e2e_test.go): Debian's
// chromium, driven by playwright-core, opens the page of a search that is
// running, sees the chart and the table fill in as results arrive (with
// no reload), opens a cell's drawing and saves a screenshot.
//
// Environment:
//   CELLC_UI_URL      the page (printed by cellc search --ui)
//   CELLC_E2E_OUT     folder for serve.png and the browser profile
//   PLAYWRIGHT_CORE   path of the playwright-core package
//   CHROMIUM          the browser (default /usr/bin/chromium)
//   CELLC_E2E_NO_DOT  set when Graphviz is missing: expect the message
//   CELLC_E2E_MS      the time it may take in all (default 60000)
// The search starts with no worker: once the page shows it empty, this
// prints the line "EMPTY" and the test starts a cellc worker, so the page
// is seen going from nothing to a growing chart and table. At the end it
// prints one JSON line of what it saw and exits 0, or prints the failure
// and exits 1.
'use strict';
const path = require('path');
const fs = require('fs');

const url = process.env.CELLC_UI_URL;
const out = process.env.CELLC_E2E_OUT;
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');
const budget = Number(process.env.CELLC_E2E_MS || 60000);
const noDot = !!process.env.CELLC_E2E_NO_DOT;

// Everything is bounded: a hung browser must not hang the test.
const killer = setTimeout(() => { console.error(`e2e: not done after ${budget} ms`); process.exit(1); }, budget);

async function main() {
  const profile = fs.mkdtempSync(path.join(out, 'profile-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
    timeout: 60000,
  });
  const seen = {};
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(45000);
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(url);
    // A page reload would lose this.
    await page.evaluate(() => { window.__e2eMarker = 42; });

    // Empty at first: the search has no worker yet.
    await page.waitForSelector('#fig6-empty');
    seen.emptyRows = await page.locator('#topk-table tbody tr.row').count();
    if (seen.emptyRows !== 0) throw new Error(`${seen.emptyRows} rows before any worker ran`);
    console.log('EMPTY');

    // The table and the chart fill in as results arrive.
    await page.waitForSelector('#topk-table tbody tr.row');
    const count = () => page.evaluate(() => Number((document.getElementById('stat-results') || {}).textContent || 0));
    seen.firstResults = await count();
    seen.firstPoints = await page.locator('#fig6 circle.pt').count();
    await page.waitForFunction((n) => Number(document.getElementById('stat-results').textContent) >= n + 2, seen.firstResults);
    await page.waitForFunction(() => document.querySelectorAll('#fig6 circle.pt').length >= 3);
    await page.waitForSelector('#fig6 .series path');
    seen.laterResults = await count();
    seen.laterPoints = await page.locator('#fig6 circle.pt').count();
    seen.rows = await page.locator('#topk-table tbody tr.row').count();
    seen.marker = await page.evaluate(() => window.__e2eMarker);
    if (seen.marker !== 42) throw new Error('the page reloaded');
    if (seen.laterPoints <= seen.firstPoints && seen.firstPoints >= 3 && seen.laterResults <= seen.firstResults) {
      throw new Error(`the chart did not grow: ${seen.firstPoints} -> ${seen.laterPoints} points`);
    }
    seen.live = await page.locator('#live').textContent();

    // Open the best cell's drawing.
    await page.locator('#topk-table tbody tr.row').first().click();
    await page.waitForFunction(() => (document.getElementById('cell-text') || {}).textContent, null);
    seen.cellText = (await page.locator('#cell-text').textContent()).includes('normal cell');
    if (!seen.cellText) throw new Error('the .cell text is not shown');
    if (noDot) {
      await page.waitForSelector('#cell-drawing .problems');
      seen.drawing = await page.locator('#cell-drawing').textContent();
      if (!/Graphviz|dot/.test(seen.drawing)) throw new Error('no message about Graphviz: ' + seen.drawing);
    } else {
      await page.waitForSelector('#cell-drawing svg.drawing g.node');
      seen.drawingNodes = await page.locator('#cell-drawing svg.drawing g.node').count();
    }
    // The table keeps refreshing under the open drawing.
    await page.waitForFunction((n) => Number(document.getElementById('stat-results').textContent) > n, seen.laterResults);
    if (await page.locator('#cell-drawing svg, #cell-drawing .problems').count() === 0) throw new Error('the drawing went away on refresh');
    if (await page.evaluate(() => window.__e2eMarker) !== 42) throw new Error('the page reloaded');
    seen.errors = errors;
    await page.evaluate(() => window.scrollTo(0, 0)); // the header is sticky
    await page.screenshot({ path: path.join(out, 'serve.png'), fullPage: true });
    seen.screenshot = path.join(out, 'serve.png');
  } finally {
    await ctx.close();
  }
  console.log(JSON.stringify(seen));
}

main().then(() => { clearTimeout(killer); process.exit(0); }, (e) => {
  console.error('e2e: ' + (e && e.stack || e));
  process.exit(1);
});
