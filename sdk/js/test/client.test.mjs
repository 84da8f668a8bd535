// The SDK against a real `kiosk run` on the sim profile (kiosk-app/tests/business_app.rs
// starts it and runs these with HALLKIT_URL and HALLKIT_TOKEN set).
// SPDX-License-Identifier: GPL-3.0-only
import { test } from "node:test";
import assert from "node:assert/strict";
import { HallKit, CommandError, RefusedError, ConnectionError, COMMANDS } from "../dist/index.js";

const url = process.env.HALLKIT_URL;
const token = process.env.HALLKIT_TOKEN;
if (!url || !token) throw new Error("set HALLKIT_URL and HALLKIT_TOKEN (a kiosk run on the sim profile)");

async function simulate(device, what, args = {}) {
  const res = await fetch(`${url}/hallkit/v1/simulator`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ device, what, args }),
  });
  assert.equal(res.status, 200, await res.text());
}

test("the catalogue the SDK was generated from is the terminal's", async () => {
  const hk = new HallKit({ url, token });
  try {
    const s = await hk.services();
    const names = s.services.flatMap((x) => x.commands).sort();
    // A kiosk has every service but the window unit's desk.
    const kiosk = Object.keys(COMMANDS).filter((c) => !c.startsWith("Window.")).sort();
    assert.deepEqual(names, kiosk);
    assert.equal(s.system, "sample-business-app");
  } finally {
    hk.close();
  }
});

test("an ID card read reports its prompt and resolves with the card", async () => {
  const hk = new HallKit({ url, token });
  try {
    const prompts = [];
    const read = hk.idCard.read({ photo: true }, {
      onEvent: (e) => {
        prompts.push(e.prompt);
        if (e.prompt === "placeCard") simulate("idcard", "place", { card: "resident" });
      },
    });
    const card = await read;
    assert.equal(card.name, "张三丰");
    assert.equal(card.sex, "male");
    assert.ok(prompts.includes("placeCard"), prompts.join());
    const photo = await hk.fetchResult(card.photoUrl);
    assert.ok(photo.size > 1000);
    await assert.rejects(hk.fetchResult(card.photoUrl), RefusedError, "a result is fetched once");
    await simulate("idcard", "lift");
  } finally {
    hk.close();
  }
});

test("an AbortSignal cancels the command on the terminal", async () => {
  const hk = new HallKit({ url, token });
  try {
    const abort = new AbortController();
    const read = hk.idCard.read({}, {
      signal: abort.signal,
      onEvent: (e) => e.prompt === "placeCard" && abort.abort(),
    });
    await assert.rejects(read, (e) => e instanceof CommandError && e.code === "canceled");
    // The reader is free again at once: a status shows nobody holds it.
    let held = "x";
    for (let i = 0; i < 50 && held; i++) {
      const s = await hk.status();
      held = s.devices.find((d) => d.device === "idcard").heldBy;
      if (held) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(held, undefined);
  } finally {
    hk.close();
  }
});

test("a timeout rejects with timeOut, and the HTTP transport gives the same answers", async () => {
  const http = new HallKit({ url, token, transport: "http" });
  await assert.rejects(http.idCard.read({}, { timeoutMs: 300 }), (e) => e instanceof CommandError && e.code === "timeOut");
  const printed = await http.printer.printReceipt({ lines: [{ text: "SDK 测试回执", center: true }] });
  assert.equal(printed.outcome, "printed");
  await assert.rejects(http.printer.printReceipt({ lines: [] }), (e) => e instanceof CommandError && e.code === "invalidData");
});

test("a device going offline is pushed to the page", async () => {
  const hk = new HallKit({ url, token });
  try {
    await hk.status();
    const offline = new Promise((resolve) => hk.onStatus((s) => s.device === "scanner" && s.health !== "online" && resolve(s)));
    await simulate("scanner", "unplug");
    const s = await offline;
    assert.equal(s.device, "scanner");
    await simulate("scanner", "replug");
  } finally {
    hk.close();
  }
});

test("a wrong token is refused with its reason, and a lost terminal is retried with back-off", async () => {
  const bad = new HallKit({ url, token: "not-a-token" });
  await assert.rejects(bad.connect(), (e) => e instanceof RefusedError && e.reason === "token-unknown");
  bad.close();
  const states = [];
  const gone = new HallKit({ url: "http://127.0.0.1:9", token, reconnect: { initialMs: 20, maxMs: 40 } });
  gone.onConnection((s) => states.push(s));
  await assert.rejects(gone.status(), ConnectionError);
  await new Promise((r) => setTimeout(r, 300));
  gone.close();
  assert.ok(states.filter((s) => s === "reconnecting").length >= 2, states.join());
});
