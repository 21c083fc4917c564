// Browser test of the automl dashboard (`automl ui`): playwright-core drives the system's
// Chromium against a real store, as a person would use the page.
//
// Targets (environment):
//   AUTOML_BIN=path/to/automl         the real binary: `automl fit` builds the store (flowers,
//                                     6 trials), `automl ui` serves it; a second fit checks that
//                                     the page follows a running search live.
//   AUTOML_UI_FIXTURE=path/to/serve_fixture
//                                     the crates/ui example (a fixture store of made-up trials,
//                                     no stored model): page, leaderboard, plots and details are
//                                     checked; predict must report that there is no model.
//   CHROMIUM=/usr/bin/chromium        the browser (default /usr/bin/chromium).
// Writes target/ui-screenshot.png (relative to the repo root). Prints `N passed, M failed`.

import { chromium } from "playwright-core";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const FLOWERS = path.join(ROOT, "examples", "data", "flowers.csv");
const BIN = process.env.AUTOML_BIN ? path.resolve(process.env.AUTOML_BIN) : null;
const FIXTURE = process.env.AUTOML_UI_FIXTURE ? path.resolve(process.env.AUTOML_UI_FIXTURE) : null;
const CHROME = process.env.CHROMIUM || "/usr/bin/chromium";
const MODE = BIN ? "bin" : "fixture";

if (!BIN && !FIXTURE) {
  console.error("set AUTOML_BIN (the automl binary) or AUTOML_UI_FIXTURE (the serve_fixture example binary)");
  process.exit(2);
}

const results = [];
const children = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "automl-ui-test-"));

function log(msg) { process.stdout.write(msg + "\n"); }
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr || r.error}`);
  return r;
}

function start(cmd, args, label) {
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  child.output = "";
  child.stdout.on("data", (d) => { child.output += d; });
  child.stderr.on("data", (d) => { child.output += d; });
  child.label = label;
  children.push(child);
  return child;
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once("exit", (code) => r(code)));
}

async function waitFor(what, fn, timeoutMs) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}`);
}

async function startUi(store) {
  const port = await freePort();
  const child = BIN
    ? start(BIN, ["ui", "--store", store, "--port", String(port)], "automl ui")
    : start(FIXTURE, ["--store", store, "--port", String(port)], "serve_fixture");
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(`${child.label} to answer on ${url}`, async () => {
    if (child.exitCode !== null) throw new Error(`${child.label} exited ${child.exitCode}: ${child.output}`);
    const r = await fetch(url + "api");
    return r.ok;
  }, 30_000);
  return { child, url };
}

async function api(url, p) {
  const r = await fetch(url + p.replace(/^\//, ""));
  const body = await r.json();
  if (!r.ok) throw new Error(`${p}: ${body.error}`);
  return body;
}

async function screenshot(page) {
  fs.mkdirSync(path.join(ROOT, "target"), { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ROOT, "target", "ui-screenshot.png"), fullPage: true });
  log("screenshot: target/ui-screenshot.png");
}

async function main() {
  const store = path.join(tmp, "store");
  if (BIN) {
    log(`building a store: automl fit ${path.relative(ROOT, FLOWERS)} --max-trials 6 --space fast`);
    run(BIN, ["fit", FLOWERS, "--store", store, "--max-trials", "6", "--space", "fast", "--quiet"]);
  }
  const { url } = await startUi(store);
  log(`dashboard (${MODE}) at ${url}`);

  // A fresh profile directory per run (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(path.join(tmp, "chrome-profile"), {
    executablePath: CHROME,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1440, height: 1000 },
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(url) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) external.push(r.url()); });

  const trialsApi = (await api(url, "/api/studies/latest/trials")).trials;
  const complete = trialsApi.filter((t) => t.state === "complete" && t.mean !== null);

  await check("the page loads with its study", async () => {
    await page.goto(url, { waitUntil: "load" });
    assert((await page.title()) === "automl dashboard", "title");
    await page.waitForSelector("#studies .study-item", { timeout: 15_000 });
    const title = await page.textContent("#study-title");
    assert(/^#\d+ /.test(title), `study title: ${title}`);
    const kpis = await page.textContent("#kpis");
    assert(kpis.includes(String(trialsApi.length)), `KPIs show the trial count: ${kpis}`);
  });

  await check("the leaderboard shows every trial", async () => {
    if (BIN) assert(trialsApi.length >= 6, `a 6-trial fit stores at least 6 trials, got ${trialsApi.length}`);
    await page.waitForFunction((n) => document.querySelectorAll("#leaderboard tbody tr").length === n, trialsApi.length, { timeout: 15_000 });
    const ids = await page.$$eval("#leaderboard tbody tr", (rs) => rs.map((r) => Number(r.dataset.trial)));
    assert(JSON.stringify(ids) === JSON.stringify(trialsApi.map((t) => t.trial_id)), `default order is the leaderboard's: ${ids} vs ${trialsApi.map((t) => t.trial_id)}`);
  });

  await check("clicking a header sorts the leaderboard", async () => {
    const byTrial = () => page.$$eval("#leaderboard tbody tr", (rs) => rs.map((r) => Number(r.dataset.trial)));
    await page.click('#leaderboard th[data-key="trial_id"]');
    const asc = await byTrial();
    assert(asc.every((v, i) => i === 0 || asc[i - 1] < v), `ascending by trial: ${asc}`);
    await page.click('#leaderboard th[data-key="trial_id"]');
    const desc = await byTrial();
    assert(desc.every((v, i) => i === 0 || desc[i - 1] > v), `descending by trial: ${desc}`);
    await page.click('#leaderboard th[data-key="mean"]');
    const best = await byTrial();
    assert(best[0] === trialsApi[0].trial_id, `score sort puts the best trial first: ${best[0]} vs ${trialsApi[0].trial_id}`);
    await page.click('#leaderboard th[data-key="rank"]');
  });

  await check("the plots render", async () => {
    const circles = await page.$$eval("#plot-time svg circle.pt", (c) => c.length);
    assert(circles === complete.length, `one point per complete trial: ${circles} vs ${complete.length}`);
    const d = await page.getAttribute("#plot-time svg path.best-line", "d");
    assert(d && d.startsWith("M") && d.length > 5, `best-so-far line: ${d}`);
    const fams = new Set(complete.map((t) => t.candidate.family));
    const bars = await page.$$eval("#plot-family svg rect", (r) => r.length);
    assert(bars === fams.size, `one bar per family: ${bars} vs ${fams.size}`);
    const legend = await page.textContent("#legend-time");
    for (const f of fams) assert(legend.includes(f), `legend names ${f}`);
  });

  await check("clicking a row opens the trial's details", async () => {
    const t = trialsApi.find((x) => Object.keys(x.candidate.params).length > 0) || trialsApi[0];
    await page.click(`#leaderboard tbody tr[data-trial="${t.trial_id}"]`);
    await page.waitForSelector("#trial-detail:not(.hidden)", { timeout: 10_000 });
    const title = await page.textContent("#detail-title");
    assert(title.includes(`Trial ${t.trial_id}`) && title.includes(t.candidate.family), `detail title: ${title}`);
    const params = await page.textContent("#detail-params");
    for (const k of Object.keys(t.candidate.params)) assert(params.includes(k), `parameter ${k} shown: ${params}`);
    const lineage = await page.textContent("#detail-lineage");
    assert(lineage.includes("operator") && lineage.includes("parents"), `lineage shown: ${lineage}`);
    if (t.fold_scores.length) {
      const folds = await page.$$eval("#detail-folds svg rect", (r) => r.length);
      assert(folds === t.fold_scores.length, `one bar per fold: ${folds}`);
    }
  });

  // The fixture mode's store has no seed variance; `automl fit` measures it by default.
  if (MODE === "bin") await check("a trial whose seed variance was measured plots its per-seed fold scores", async () => {
    const withSv = trialsApi.filter((x) => x.extra && x.extra.seed_variance);
    assert(withSv.length > 0, "the browser test's study measured seed variance");
    const t = withSv[0];
    const sv = t.seed_variance;
    assert(sv && sv.seed_fold_scores.length === sv.seeds.length, `typed seed variance in /api/trial: ${JSON.stringify(sv)}`);
    await page.click(`#leaderboard tbody tr[data-trial="${t.trial_id}"]`);
    await page.waitForSelector("#detail-seeds svg", { timeout: 10_000 });
    const dots = await page.$$eval("#detail-seeds svg circle.fold-dot", (c) => c.length);
    const nFolds = sv.seed_fold_scores.reduce((n, f) => n + f.filter((v) => v != null).length, 0);
    assert(dots === nFolds, `one dot per seed and fold: ${dots} vs ${nFolds}`);
    const means = await page.$$eval("#detail-seeds svg rect.seed-mean", (r) => r.length);
    assert(means === sv.seed_scores.length + sv.split_scores.length, `one mean per seed and fold set: ${means}`);
    const text = await page.textContent("#detail-seeds");
    assert(text.includes("seed_std") && text.includes("churn"), `summary under the plot: ${text}`);
  });

  if (MODE === "bin") {
    await check("predict: an uploaded CSV gets predictions from the final model", async () => {
      await page.setInputFiles("#predict-file", FLOWERS);
      await page.click("#predict-run");
      await page.waitForSelector("#predict-table", { timeout: 60_000 });
      const rows = await page.$$eval("#predict-table tbody tr", (r) => r.length);
      const nInput = fs.readFileSync(FLOWERS, "utf8").trim().split("\n").length - 1;
      assert(rows === nInput, `one prediction per input row: ${rows} vs ${nInput}`);
      const head = await page.$$eval("#predict-table thead th", (h) => h.map((x) => x.textContent));
      assert(head.includes("prediction") && head.some((h) => h.startsWith("proba_")), `columns: ${head}`);
      const classes = new Set(["setosa", "versicolor", "virginica"]);
      const preds = await page.$$eval("#predict-table tbody tr td:nth-child(2)", (c) => c.map((x) => x.textContent));
      assert(preds.every((p) => classes.has(p)), `predictions are class labels: ${preds.slice(0, 5)}`);
      const download = page.waitForEvent("download", { timeout: 10_000 });
      await page.click("#predict-download");
      const file = path.join(tmp, "predictions.csv");
      await (await download).saveAs(file);
      const lines = fs.readFileSync(file, "utf8").trim().split("\n");
      assert(lines.length === nInput + 1 && lines[0].startsWith("prediction"), `downloaded CSV: ${lines.length} lines, header ${lines[0]}`);
    });

    await screenshot(page);

    await check("predict: one typed row gets one prediction", async () => {
      await page.click("#tab-row");
      const names = await page.$$eval("#row-inputs input", (i) => i.map((x) => x.name));
      assert(names.length === 4, `one input per feature column: ${names}`);
      const values = { petal_length: "1.4", petal_width: "0.2", sepal_length: "5.1", sepal_width: "3.5" };
      for (const n of names) await page.fill(`#row-inputs input[name="${n}"]`, values[n] || "1");
      await page.click("#predict-run");
      await page.waitForFunction(() => document.querySelectorAll("#predict-table tbody tr").length === 1, null, { timeout: 30_000 });
      const pred = await page.textContent("#predict-table tbody tr td:nth-child(2)");
      assert(pred === "setosa", `a short-petalled flower is a setosa, got ${pred}`);
    });
  } else {
    await check("predict: a study without a stored model says so", async () => {
      assert(await page.isDisabled("#predict-run"), "the Predict button is disabled");
      const sub = await page.textContent("#predict-sub");
      assert(sub.includes("no stored model"), sub);
      // The endpoint itself explains why.
      const r = await fetch(url + "api/studies/latest/predict", { method: "POST", body: fs.readFileSync(FLOWERS) });
      const body = await r.json();
      assert(r.status === 404 && body.error.includes("no final model"), `${r.status} ${body.error}`);
    });
  }

  if (MODE !== "bin") await screenshot(page);

  await check("the Serving & drift view shows the prediction log", async () => {
    // A log of a served model: primary, shadow (agreeing on 1 of 2 rows), canary, a drift check.
    const logDir = path.join(store, "predictions");
    fs.mkdirSync(logDir, { recursive: true });
    const now = Date.now();
    const p = (ts, model, role, req, outputs) => JSON.stringify({ kind: "prediction", ts_ms: ts, source: "serve", model, role,
      request_id: req, rows: outputs.length, row_hashes: outputs.map(() => 1), outputs, latency_us: 2500 });
    const lines = [
      p(now, "study-1", "primary", "r1", ["setosa", "virginica"]),
      p(now + 1, "study-2", "shadow", "r1", ["setosa", "setosa"]),
      p(now + 2, "study-3", "canary", "r2", ["setosa"]),
      JSON.stringify({ kind: "drift", ts_ms: now + 3, source: "drift", model: "study-1", report: { drift: true, domain: { auc: 0.77 },
        columns: [{ name: "petal_length", kind: "numeric", effect: 0.5, p_value: 0.001, flagged: true },
          { name: "sepal_width", kind: "numeric", effect: 0.05, p_value: 0.7, flagged: false }] } }),
    ];
    fs.writeFileSync(path.join(logDir, `${String(now).padStart(13, "0")}-1-0-000000.jsonl`), lines.join("\n") + "\n");
    await page.click("#view-serving");
    await page.waitForSelector("#serving-models tbody tr", { timeout: 15_000 });
    assert(await page.isHidden("#studies-view"), "the studies view is hidden");
    const models = await page.$$eval("#serving-models tbody tr td:first-child", (c) => c.map((x) => x.textContent));
    for (const m of ["study-1", "study-2", "study-3"]) assert(models.includes(m), `model ${m} listed: ${models}`);
    const shadow = await page.textContent("#serving-shadows");
    assert(shadow.includes("50.0 %"), `shadow agreement 1 of 2 rows: ${shadow}`);
    const canary = await page.textContent("#canary-text");
    assert(canary.includes("study-3") && canary.includes("50.0 %"), `canary share: ${canary}`);
    const flagged = await page.$$eval("#drift-body table.drift-columns tr.flagged td:first-child", (c) => c.map((x) => x.textContent));
    assert(JSON.stringify(flagged) === JSON.stringify(["petal_length"]), `flagged columns highlighted: ${flagged}`);
    const bars = await page.$$eval("#drift-body svg.drift-plot rect.bar", (r) => r.length);
    assert(bars === 2, `one effect bar per column: ${bars}`);
    const head = await page.textContent("#drift-body .drift-model");
    assert(head.includes("0.77"), `domain classifier AUC shown: ${head}`);
    await page.click("#view-studies");
    assert(await page.isVisible("#leaderboard"), "back to the studies view");
  });

  await check("the page makes no request outside the dashboard and logs no error", async () => {
    assert(external.length === 0, `external requests: ${external}`);
    assert(pageErrors.length === 0, `page errors: ${pageErrors.join(" | ")}`);
  });


  if (MODE === "bin") {
    await check("the page follows a running fit live", async () => {
      const live = path.join(tmp, "live-store");
      const fit = start(BIN, ["fit", FLOWERS, "--store", live, "--time-budget", "15", "--space", "fast", "--quiet"], "automl fit (live)");
      // Start the dashboard once the fit holds the store and has published its first snapshot.
      await waitFor("the fit's first snapshot", () => {
        if (fit.exitCode !== null) throw new Error(`fit exited ${fit.exitCode}: ${fit.output}`);
        return fs.existsSync(path.join(live, "snapshot.json"));
      }, 60_000);
      const ui = await startUi(live);
      const p2 = await context.newPage();
      await p2.goto(ui.url);
      await p2.waitForSelector("#live-badge .badge.live", { timeout: 15_000 });
      const rows = () => p2.$$eval("#leaderboard tbody tr", (r) => r.length);
      await p2.waitForFunction(() => document.querySelectorAll("#leaderboard tbody tr").length > 0, null, { timeout: 20_000 });
      const first = await rows();
      const predictDisabled = await p2.isDisabled("#predict-run");
      assert(predictDisabled, "predict is disabled while the fit holds the store");
      // More trials appear without reloading the page (it polls every few seconds).
      await p2.waitForFunction((n) => document.querySelectorAll("#leaderboard tbody tr").length > n, first, { timeout: 30_000 });
      const code = await exited(fit);
      assert(code === 0, `the live fit exited ${code}: ${fit.output}`);
      await p2.waitForSelector("#live-badge .badge.idle", { timeout: 20_000 });
      const final = (await api(ui.url, "/api/studies/latest/trials")).trials.length;
      await p2.waitForFunction((n) => document.querySelectorAll("#leaderboard tbody tr").length === n, final, { timeout: 20_000 });
      assert(final > first, `trials grew during the fit: ${first} -> ${final}`);
      await p2.close();
    });
  }

  await context.close();
}

let fatal = null;
try {
  await main();
} catch (e) {
  fatal = e;
  results.push({ name: "setup", ok: false });
  log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
} finally {
  for (const c of children) { if (c.exitCode === null) c.kill("SIGTERM"); }
  for (const c of children) await exited(c);
  if (results.some((r) => !r.ok)) for (const c of children) if (c.output) log(`--- ${c.label} output ---\n${c.output.slice(-3000)}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}
const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
log(`${passed} passed, ${failed} failed`);
process.exit(failed || fatal ? 1 : 0);
