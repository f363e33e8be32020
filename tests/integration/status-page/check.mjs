// Drives pgship-receiver's status page (GET /) in Debian's chromium, the way a person would:
// types the token, waits for the table, reads what each row shows, takes screenshots at desktop
// and phone width, then tries a wrong token. Prints one JSON object on stdout for the C++ test
// to judge; exits non-zero only when the browser itself could not run (the reason on stderr).
//
//   node check.mjs BASE_URL TOKEN OUT_DIR
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

const [baseUrl, token, outDir] = process.argv.slice(2);
if (!baseUrl || !token || !outDir) {
  process.stderr.write('usage: node check.mjs BASE_URL TOKEN OUT_DIR\n');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const pageUrl = new URL('/', baseUrl).toString();
const WAIT_MS = 15000;

const result = {
  rows: [],
  archives: [],
  console_errors: [],
  phone_fits: false,
  wrong_token_message: '',
  wrong_token_rows: 0,
  // Uncaught exceptions on the refused-token path. Its console is not judged: Chrome itself
  // logs every 401 response as "Failed to load resource", which no page can avoid.
  wrong_token_page_errors: [],
};

function watch(page, sink, consoleToo) {
  if (consoleToo) {
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') sink.push(`${msg.type()}: ${msg.text()}`);
    });
    page.on('requestfailed', (req) => {
      sink.push(`request failed: ${req.method()} ${req.url()} (${req.failure()?.errorText ?? '?'})`);
    });
  }
  page.on('pageerror', (err) => sink.push(`page error: ${err.message}`));
}

// Types the token into the page's form and submits it, then waits for rows or for #error.
async function submitToken(page, value) {
  await page.goto(pageUrl, { waitUntil: 'load', timeout: WAIT_MS });
  await page.fill('#token', value, { timeout: WAIT_MS });
  await page.click('#token-form [type=submit]', { timeout: WAIT_MS });
  await page.waitForSelector('tr[data-database], #error:not([hidden])', { timeout: WAIT_MS })
    .catch(() => {});
}

// Runs in the page: the data-attributes are the contract, the texts are what a person reads.
function extract() {
  const num = (v) => (v === null || v === '' ? null : Number(v));
  const cell = (row, field) => row.querySelector(`[data-field="${field}"]`);
  const text = (row, field) => cell(row, field)?.textContent.trim() ?? null;
  const attr = (row, field, name) => cell(row, field)?.getAttribute(name) ?? null;
  const rows = [...document.querySelectorAll('tr[data-database]')].map((r) => ({
    client: r.getAttribute('data-client'),
    database: r.getAttribute('data-database'),
    newest: text(r, 'newest'),
    age: text(r, 'age'),
    age_state: attr(r, 'age', 'data-state'),
    age_seconds: num(attr(r, 'age', 'data-age-seconds')),
    size: text(r, 'size'),
    size_bytes: num(attr(r, 'size', 'data-bytes')),
    trend_points: num(cell(r, 'trend')?.querySelector('svg')?.getAttribute('data-points') ?? null),
    drill: text(r, 'drill'),
    drill_result: attr(r, 'drill', 'data-result'),
    drill_rows: num(attr(r, 'drill', 'data-rows')),
    drill_recovery_seconds: num(attr(r, 'drill', 'data-recovery-seconds')),
    pitr: text(r, 'pitr-drill'),
    pitr_result: attr(r, 'pitr-drill', 'data-result'),
    pitr_rows: num(attr(r, 'pitr-drill', 'data-rows')),
    pitr_recovery_seconds: num(attr(r, 'pitr-drill', 'data-recovery-seconds')),
    scrub: text(r, 'scrub'),
  }));
  const archives = [...document.querySelectorAll('tr[data-system]')].map((r) => ({
    client: r.getAttribute('data-client'),
    system: text(r, 'system'),
    window: text(r, 'window'),
    lag: num(attr(r, 'lag', 'data-lag-seconds')),
    gaps: num(text(r, 'gaps')),
  }));
  const error = document.getElementById('error');
  return { rows, archives, error: error && !error.hidden ? error.textContent.trim() : '' };
}

let browser;
try {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
} catch (err) {
  process.stderr.write(`could not start chromium: ${err.message}\n`);
  process.exit(3);
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  watch(page, result.console_errors, true);
  try {
    await submitToken(page, token);
    const seen = await page.evaluate(extract);
    result.rows = seen.rows;
    result.archives = seen.archives;
    if (seen.error) result.console_errors.push(`page shows #error: ${seen.error}`);
    await page.screenshot({ path: path.join(outDir, 'status-desktop.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    // Let the media query's layout settle before measuring.
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    await page.screenshot({ path: path.join(outDir, 'status-phone.png'), fullPage: true });
    result.phone_fits = await page.evaluate(
      () => document.documentElement.scrollWidth <= window.innerWidth);
  } catch (err) {
    result.console_errors.push(`check: ${err.message.split('\n')[0]}`);
  }
  await context.close();

  // A fresh context: no sessionStorage from the good token, as a new visitor would be.
  const wrong = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const wrongPage = await wrong.newPage();
  watch(wrongPage, result.wrong_token_page_errors, false);
  try {
    await submitToken(wrongPage, token + 'x');
    const seen = await wrongPage.evaluate(extract);
    result.wrong_token_message = seen.error;
    result.wrong_token_rows = seen.rows.length;
  } catch (err) {
    result.wrong_token_page_errors.push(`check: ${err.message.split('\n')[0]}`);
  }
  await wrong.close();
} finally {
  await browser.close();
}

process.stdout.write(JSON.stringify(result) + '\n');
