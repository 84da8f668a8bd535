// Drives the hall display page in Debian's Chromium (playwright-core from
// ~/.cache/hallkit/browser-tests-1, on NODE_PATH) against a running centre, and prints what it
// saw as one JSON line: the page's state after calls and a recall, the banner, and the time
// from each call (a window's command sent from the page's own origin) to the page showing it.
//
//   node display.cjs BASE_URL HALL TOKEN OUT_DIR CALLS
"use strict";
const { chromium } = require("playwright-core");

const [base, hall, token, out, callsArg] = process.argv.slice(2);
const calls = Number(callsArg || 12);

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const result = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    const refused = await page.goto(`${base}/display/${hall}?token=wrong`);
    result.refused_status = refused.status();
    const opened = await page.goto(`${base}/display/${hall}?token=${token}`);
    result.status = opened.status();
    await page.waitForSelector("body[data-ready='1']", { timeout: 15000 });
    await page.screenshot({ path: `${out}/display-idle.png` });
    result.waiting_before = await page.$$eval("#waiting .service", (s) => s.map((e) => e.textContent));

    // One call after another, rotating over windows 1–3; each window finishes its ticket
    // first. Timed inside the page: from sending the command to the card showing the number.
    result.latencies_ms = [];
    for (let i = 0; i < calls; i++) {
      const w = String((i % 3) + 1);
      const r = await page.evaluate(async ({ hall, w }) => {
        const post = (body) => fetch(`/api/v1/halls/${hall}/queue/windows/${w}/commands`, {
          method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
        });
        await post({ command: "finish" });
        const t0 = performance.now();
        const res = await post({ command: "call-next" });
        if (!res.ok) return { error: `${res.status} ${await res.text()}` };
        const number = (await res.json()).ticket.number;
        const shown = () => {
          const card = document.querySelector(`.window[data-window="${w}"] .number`);
          return card && card.textContent === number;
        };
        while (!shown()) await new Promise((r) => requestAnimationFrame(r));
        return { number, ms: performance.now() - t0 };
      }, { hall, w });
      if (r.error) throw new Error(`call ${i}: ${r.error}`);
      result.latencies_ms.push(Math.round(r.ms * 10) / 10);
      if (i === 0) {
        await page.waitForSelector("#banner.shown");
        result.first_banner = await page.textContent("#banner");
        result.flashing = await page.$$eval(".window.flash", (c) => c.map((e) => e.dataset.window));
        await page.screenshot({ path: `${out}/display-call.png` });
      }
    }
    // Window 1 recalls its ticket: it moves to the top of the last calls, not in twice.
    const recalled = await page.evaluate(async (hall) => {
      const res = await fetch(`/api/v1/halls/${hall}/queue/windows/1/commands`, {
        method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ command: "recall" }),
      });
      return (await res.json()).ticket.number;
    }, hall);
    await page.waitForFunction((n) => {
      const first = document.querySelector("#recent li .number");
      return first && first.textContent === n;
    }, recalled, { timeout: 10000 });
    await page.waitForTimeout(400);
    result.recalled = recalled;
    result.last_banner = await page.textContent("#banner");
    result.recent = await page.$$eval("#recent li .number", (l) => l.map((e) => e.textContent));
    result.windows = await page.$$eval(".window", (c) => Object.fromEntries(c.map((e) => [e.dataset.window, e.querySelector(".number").textContent])));
    result.waiting_after = await page.$$eval("#waiting .service", (s) => s.map((e) => e.textContent));
    await page.screenshot({ path: `${out}/display-recall.png` });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
