// The sample business page in Debian's headless Chromium, driven by playwright-core, against a
// `kiosk run` on the sim profile: reads the ID card (placing the fixture card through the sim
// terminal's simulator when the page asks for it), captures a document, prints a receipt,
// then opens the same page from an origin the terminal does not list.
//   node browser.cjs PAGE_URL REFUSED_PAGE_URL GATEWAY_URL TOKEN SHOTS_DIR
// Prints one JSON object of what it saw. NODE_PATH must reach playwright-core.
// SPDX-License-Identifier: GPL-3.0-only
const { chromium } = require("playwright-core");
const path = require("node:path");

const [pageUrl, refusedUrl, gateway, token, shots] = process.argv.slice(2);

async function simulate(device, what, args) {
  const res = await fetch(`${gateway}/hallkit/v1/simulator`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ device, what, args }),
  });
  if (!res.ok) throw new Error(`simulator ${device} ${what}: ${res.status} ${await res.text()}`);
}

const text = (page, sel) => page.$eval(sel, (el) => el.textContent);
const loaded = (page, sel) =>
  page.waitForFunction((s) => {
    const img = document.querySelector(s);
    return img && img.complete && img.naturalWidth > 0;
  }, sel);

(async () => {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const seen = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const api = `?api=${encodeURIComponent(gateway)}&token=${encodeURIComponent(token)}`;
    await page.goto(pageUrl + api);
    await page.waitForSelector('#devices tbody tr[data-device="idcard"]', { timeout: 20000 });
    await page.waitForSelector("#connection.open");
    seen.connection = await text(page, "#connection");
    seen.devices = await page.$$eval("#devices tbody tr", (rows) => rows.map((r) => r.dataset.device));
    await page.screenshot({ path: path.join(shots, "01-status.png") });

    await page.click("#read-card");
    await page.waitForFunction(() => document.querySelector("#card-prompt").textContent.includes("请将身份证放在读卡器上"));
    seen.cardPrompt = await text(page, "#card-prompt");
    await page.screenshot({ path: path.join(shots, "02-place-card.png") });
    await simulate("idcard", "place", { card: "resident" });
    await page.waitForSelector("#card:not([hidden])", { timeout: 20000 });
    await loaded(page, "#card-photo");
    seen.name = await text(page, "#card-name");
    seen.number = await text(page, "#card-number");
    seen.photoWidth = await page.$eval("#card-photo", (img) => img.naturalWidth);
    await page.screenshot({ path: path.join(shots, "03-card-read.png") });
    await simulate("idcard", "lift", {});

    await page.click("#capture");
    await page.waitForSelector("#capture-result.ok, #capture-result.error", { timeout: 30000 });
    seen.capture = await text(page, "#capture-result");
    await loaded(page, "#page");
    seen.pageWidth = await page.$eval("#page", (img) => img.naturalWidth);
    await page.screenshot({ path: path.join(shots, "04-document.png") });

    await page.click("#print");
    await page.waitForSelector("#print-result.ok, #print-result.error", { timeout: 30000 });
    seen.print = await text(page, "#print-result");
    await page.screenshot({ path: path.join(shots, "05-printed.png") });

    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await other.goto(refusedUrl + api);
    await other.waitForSelector("#problem:not([hidden])", { timeout: 20000 });
    seen.refused = await text(other, "#problem");
    seen.refusedConnection = await text(other, "#connection");
    await other.screenshot({ path: path.join(shots, "06-refused-origin.png") });
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(seen));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
