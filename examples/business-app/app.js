// The sample business page: reads an ID card, captures a document, prints a receipt and
// shows the device status, through the HallKit SDK (served beside it as /sdk/index.js).
// ?api=http://127.0.0.1:5846&token=… override the terminal's address and the token.
// SPDX-License-Identifier: GPL-3.0-only
import { HallKit, CommandError, RefusedError } from "/sdk/index.js";

const params = new URLSearchParams(location.search);
const hk = new HallKit({
  url: params.get("api") ?? "http://127.0.0.1:5846",
  token: params.get("token") ?? "hallkit-sample-token",
});
const $ = (id) => document.getElementById(id);

// What a clerk should read for each way a command can end.
const WORDS = {
  deviceBusy: "设备正被占用（可能有市民正在自助办理），请稍后再试 · The device is in use; try again shortly",
  deviceNotReady: "设备未就绪 · The device is not ready",
  timeOut: "等待超时 · Timed out",
  canceled: "已取消 · Canceled",
  hardwareError: "设备故障 · Device fault",
  userError: "证件被移开，请重新放置 · The card moved; place it again",
  authorisationRequired: "本系统未获此项授权 · This system is not authorised for this",
};
const PROMPTS = {
  placeCard: "请将身份证放在读卡器上 · Place the ID card on the reader",
  removeCard: "请取走身份证 · Take the card",
  holdStill: "请勿移动 · Hold still",
  presentCode: "请出示二维码 · Show the code",
};

function explain(e) {
  if (e instanceof CommandError) return `${WORDS[e.code] ?? e.code}${e.errorCode ? ` (${e.errorCode})` : ""}`;
  if (e instanceof RefusedError) return `终端拒绝了本页面（${e.reason}），请联系大厅信息管理员 · The terminal refused this page (${e.reason}); ask the hall's IT`;
  // A browser hides a refusal of an origin the terminal does not list: it looks like no terminal.
  return "无法连接终端，或本页面未获终端授权，请联系大厅信息管理员 · Cannot reach the terminal, or this page is not authorised on it; ask the hall's IT";
}

function problem(e) {
  $("problem").textContent = explain(e);
  $("problem").hidden = false;
}

function show(el, text, cls) {
  el.textContent = text;
  el.className = cls ?? "";
}

hk.onConnection((s) => {
  const words = { open: "终端已连接 · Connected", connecting: "正在连接终端… · Connecting…", reconnecting: "正在重新连接… · Reconnecting…", closed: "未连接 · Not connected" };
  $("connection").textContent = words[s];
  $("connection").className = `pill ${s === "open" ? "open" : s === "connecting" ? "" : "bad"}`;
});

const rows = new Map();
function showDevice(d) {
  let tr = rows.get(d.device);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.device = d.device;
    $("devices").tBodies[0].append(tr);
    rows.set(d.device, tr);
  }
  tr.innerHTML = "";
  for (const [text, cls] of [[d.device], [d.kind], [d.health, d.health], [d.heldBy ?? "—"]]) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.append(td);
  }
}
hk.onStatus(showDevice);

let reading;
$("read-card").onclick = async () => {
  reading = new AbortController();
  $("read-card").disabled = true;
  $("cancel-card").hidden = false;
  $("card").hidden = true;
  show($("card-prompt"), "正在读卡… · Reading…", "prompt");
  try {
    const card = await hk.idCard.read({ photo: true }, {
      signal: reading.signal,
      onEvent: (e) => show($("card-prompt"), PROMPTS[e.prompt] ?? e.prompt, "prompt"),
    });
    $("card-name").textContent = card.name;
    $("card-number").textContent = card.number;
    $("card-valid").textContent = card.validTo;
    if (card.photoUrl) $("card-photo").src = card.photoUrl;
    $("card").hidden = false;
    show($("card-prompt"), "读卡成功 · Card read", "ok");
  } catch (e) {
    show($("card-prompt"), explain(e), "error");
    if (!(e instanceof CommandError)) problem(e);
  } finally {
    $("read-card").disabled = false;
    $("cancel-card").hidden = true;
  }
};
$("cancel-card").onclick = () => reading?.abort();

$("capture").onclick = async () => {
  $("capture").disabled = true;
  show($("capture-result"), "正在拍摄… · Capturing…");
  try {
    const page = await hk.documentCamera.capture({ document: true });
    $("page").src = page.url;
    $("page").hidden = false;
    show($("capture-result"), `已拍摄 ${page.width}×${page.height} · Captured${page.straightened ? "，已矫正 · straightened" : ""}`, "ok");
  } catch (e) {
    show($("capture-result"), explain(e), "error");
  } finally {
    $("capture").disabled = false;
  }
};

$("print").onclick = async () => {
  $("print").disabled = true;
  show($("print-result"), "正在打印… · Printing…");
  const name = $("card-name").textContent || "—";
  try {
    await hk.printer.printReceipt({
      lines: [
        { text: "示例业务系统受理回执", center: true, bold: true },
        { text: "Sample business receipt", center: true },
        { text: `申请人 Applicant: ${name.slice(0, 1)}**` },
        { text: "受理编号 Case: SB-0001", large: true },
        { text: new Date().toLocaleString("zh-CN") },
      ],
      qr: "https://example.invalid/case/SB-0001",
    });
    show($("print-result"), "已打印，请取回执 · Printed; take the receipt", "ok");
  } catch (e) {
    show($("print-result"), explain(e), "error");
  } finally {
    $("print").disabled = false;
  }
};

hk.status()
  .then((s) => {
    $("problem").hidden = true;
    s.devices.forEach(showDevice);
  })
  .catch(problem);
