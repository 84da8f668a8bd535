// HallKit local device API client for browser business systems (and Node.js 20+).
// One connection per page; commands are promises, their events callbacks, AbortSignal cancels.
// SPDX-License-Identifier: GPL-3.0-only

import type {
  AckStatus,
  CaptureResult,
  CompletionCode,
  DeviceState,
  IdCardResult,
  MediaEvent,
  Message,
  PrintResult,
  ScanResult,
  ServicesResult,
  StatusResult,
  ReceiptLine,
  WindowStatusResult,
  WindowConfirmResult,
  WindowRateResult,
  WindowSignResult,
  ConfirmLineItem,
  IdCardVerifyResult,
  VerifyMethod,
  SocialSecurityResult,
  ApduResult,
  PreviewEvent,
  PreviewResult,
  StampResult,
} from "./generated.js";
import { COMMANDS, type CommandName, type Commands } from "./generated.js";

export * from "./generated.js";

/** The WebSocket subprotocol; the token goes as a second one, `bearer.<token>`. */
export const SUBPROTOCOL = "hallkit.v1";

export interface HallKitOptions {
  /** The terminal's local API, `http://127.0.0.1:5846` by default. */
  url?: string;
  /** The business system's token, as the hall's IT issued it. */
  token: string;
  /** `websocket` (events as they happen, status pushes) or `http` (background mode: one request per command). */
  transport?: "websocket" | "http";
  /** Reconnect back-off after a lost connection: first wait and the cap, in ms. */
  reconnect?: { initialMs?: number; maxMs?: number; enabled?: boolean };
  /** Another WebSocket implementation (Node.js 20 needs `--experimental-websocket` otherwise). */
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
}

export interface CommandOptions<E = MediaEvent> {
  /** How long the terminal may take, in ms (each command has a default). */
  timeoutMs?: number;
  /** Aborting cancels the command on the terminal; the promise rejects with `canceled`. */
  signal?: AbortSignal;
  /** The device's prompts while the command runs (place the card, present the code …). */
  onEvent?: (event: E, name: string) => void;
}

/** The command ran and ended other than `success`. */
export class CommandError extends Error {
  readonly code: CompletionCode;
  readonly command: string;
  readonly requestId: number;
  /** With `commandErrorCode`: the command's own reason (`paperOut`, `noMedia` …). */
  readonly errorCode?: string;
  constructor(command: string, requestId: number, code: CompletionCode, description: string | undefined, payload: unknown) {
    super(`${command}: ${code}${description ? ` (${description})` : ""}`);
    this.name = "CommandError";
    this.code = code;
    this.command = command;
    this.requestId = requestId;
    const p = payload as { errorCode?: unknown } | null;
    if (p && typeof p.errorCode === "string") this.errorCode = p.errorCode;
  }
}

/** The terminal did not take the command (acknowledge other than ok), or refused the page (403). */
export class RefusedError extends Error {
  /** An acknowledge status, or the 403 body's `error` (`origin-not-allowed`, `token-expired` …). */
  readonly reason: AckStatus | string;
  constructor(reason: AckStatus | string, description?: string) {
    super(`refused: ${reason}${description ? ` (${description})` : ""}`);
    this.name = "RefusedError";
    this.reason = reason;
  }
}

/** The connection to the terminal went away while the command ran (it was canceled there). */
export class ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionError";
  }
}

interface Pending {
  name: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onEvent?: (event: never, name: string) => void;
  cleanup: () => void;
}

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export class HallKit {
  private readonly url: string;
  private readonly token: string;
  private readonly transport: "websocket" | "http";
  private readonly WS: typeof WebSocket | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly backoff: { initialMs: number; maxMs: number; enabled: boolean };
  private socket?: WebSocket;
  private opening?: Promise<void>;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly statusListeners = new Set<(s: DeviceState) => void>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private closedByUser = false;
  private attempts = 0;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(options: HallKitOptions) {
    this.url = (options.url ?? "http://127.0.0.1:5846").replace(/\/$/, "");
    this.token = options.token;
    this.transport = options.transport ?? "websocket";
    this.WS = options.WebSocket ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.backoff = {
      initialMs: options.reconnect?.initialMs ?? 500,
      maxMs: options.reconnect?.maxMs ?? 10_000,
      enabled: options.reconnect?.enabled ?? true,
    };
  }

  /** Opens the WebSocket (commands open it too, on first use). Rejects with RefusedError on 403. */
  connect(): Promise<void> {
    if (this.transport === "http") return Promise.resolve();
    if (this.socket?.readyState === 1) return Promise.resolve();
    if (this.opening) return this.opening;
    this.closedByUser = false;
    this.emitState(this.attempts > 0 ? "reconnecting" : "connecting");
    const WS = this.WS;
    if (!WS) return Promise.reject(new ConnectionError("no WebSocket in this environment; pass one in the options"));
    const wsUrl = `${this.url.replace(/^http/, "ws")}/hallkit/v1/ws`;
    this.opening = new Promise<void>((resolve, reject) => {
      let opened = false;
      const ws = new WS(wsUrl, [SUBPROTOCOL, `bearer.${this.token}`]);
      this.socket = ws;
      ws.onopen = () => {
        opened = true;
        this.attempts = 0;
        this.opening = undefined;
        this.emitState("open");
        resolve();
      };
      ws.onmessage = (ev: MessageEvent) => this.onMessage(String(ev.data));
      // Browsers fire error then close on a refused handshake; some runtimes only error.
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        this.opening = undefined;
        this.failAll("the connection to the terminal closed");
        if (!opened) {
          // A refused upgrade looks the same as no terminal from a page: ask over HTTP why.
          this.whyRefused().then((why) => reject(why ?? new ConnectionError(`cannot reach ${wsUrl}`)));
        }
        this.scheduleReconnect();
      };
      ws.onclose = end;
      ws.onerror = () => {
        if (!opened) end();
      };
    });
    return this.opening;
  }

  /** Closes the connection for good; running commands are canceled on the terminal. */
  close(): void {
    this.closedByUser = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
    this.socket = undefined;
    this.emitState("closed");
  }

  /** Device status changes, pushed by the terminal. Returns the unsubscribe function. */
  onStatus(listener: (state: DeviceState) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Any command of the catalogue, typed by its name. */
  command<N extends CommandName>(
    name: N,
    payload: Commands[N]["payload"],
    options: CommandOptions<Commands[N]["event"]> = {},
  ): Promise<Commands[N]["result"]> {
    return this.transport === "http"
      ? (this.overHttp(name, payload, options) as Promise<Commands[N]["result"]>)
      : (this.overSocket(name, payload, options) as Promise<Commands[N]["result"]>);
  }

  services(): Promise<ServicesResult> {
    return this.command("Common.GetServices", {});
  }

  status(): Promise<StatusResult> {
    return this.command("Common.Status", {});
  }

  readonly idCard = {
    /** Waits for a card and reads it; `photo: true` adds a one-time `photoUrl`. */
    read: (p: { photo?: boolean; device?: string } = {}, o?: CommandOptions): Promise<IdCardResult> =>
      this.command("IdCard.Read", p, o),
  };

  readonly verify = {
    /** Reads the card, then checks the person's face or finger against it on the terminal. */
    holder: (method: VerifyMethod, o?: CommandOptions): Promise<IdCardVerifyResult> =>
      this.command("IdCard.Verify", { method }, o),
  };

  readonly icCard = {
    /** The citizen's social-security card number, from the PC/SC reader. */
    readSocialSecurity: (o?: CommandOptions): Promise<SocialSecurityResult> =>
      this.command("IcCard.ReadSocialSecurity", {}, o),
    /** Command APDUs (hex) sent in order to the card, in one claim of the reader. */
    apdu: (apdus: string[], o?: CommandOptions): Promise<ApduResult> => this.command("IcCard.Apdu", { apdus }, o),
  };

  readonly scanner = {
    scan: (p: { device?: string } = {}, o?: CommandOptions): Promise<ScanResult> => this.command("Scanner.Scan", p, o),
  };

  readonly printer = {
    printReceipt: (
      p: { lines: ReceiptLine[]; qr?: string; device?: string },
      o?: CommandOptions,
    ): Promise<PrintResult> => this.command("Printer.PrintReceipt", p, o),
    printPdf: (p: { pdfBase64: string; device?: string }, o?: CommandOptions): Promise<PrintResult> =>
      this.command("Printer.PrintPdf", p, o),
    /** One of the terminal's receipt templates (`application-receipt`, `material-list` …). */
    printTemplate: (template: string, fields: Record<string, unknown>, o?: CommandOptions): Promise<PrintResult> =>
      this.command("Printer.PrintTemplate", { template, fields }, o),
  };

  readonly seal = {
    /** One impression, under the centre's one-time authorisation for this document. */
    stamp: (
      p: { seal: number; x: number; y: number; documentBase64: string; purpose: string; device?: string },
      o?: CommandOptions,
    ): Promise<StampResult> => this.command("Seal.Stamp", p, o),
  };

  readonly documentCamera = {
    /**
     * The plate live: `onEvent` gets the MJPEG URL (`img.src = e.url`); resolves when the page
     * aborts it (signal), closes the stream, or `seconds` pass.
     */
    preview: (
      p: { seconds?: number; fps?: number; device?: string } = {},
      o?: CommandOptions<PreviewEvent>,
    ): Promise<PreviewResult> => this.command("DocumentCamera.Preview", p, o),
    capture: (p: { document?: boolean; device?: string } = {}, o?: CommandOptions): Promise<CaptureResult> =>
      this.command("DocumentCamera.Capture", p, o),
  };

  /** Window mode: the window unit's desk, driven as its toolbar drives it. */
  readonly window = {
    status: (o?: CommandOptions): Promise<WindowStatusResult> => this.command("Window.Status", {}, o),
    callNext: (o?: CommandOptions): Promise<WindowStatusResult> => this.command("Window.CallNext", {}, o),
    /** The citizen screen shows the card's facts and these lines; resolves with the answer. */
    confirm: (lines: ConfirmLineItem[], o?: CommandOptions): Promise<WindowConfirmResult> =>
      this.command("Window.Confirm", { lines }, o),
    /** The citizen signs on the citizen screen; resolves with the signature's one-time URL. */
    sign: (o?: CommandOptions): Promise<WindowSignResult> => this.command("Window.Sign", {}, o),
    rate: (o?: CommandOptions): Promise<WindowRateResult> => this.command("Window.Rate", {}, o),
  };

  /** Fetches a one-time result (a photo, a page); a second fetch finds nothing. */
  async fetchResult(url: string): Promise<Blob> {
    const res = await this.fetchFn(url);
    if (!res.ok) throw new RefusedError("result-gone", `${res.status} for ${url}`);
    return res.blob();
  }

  // ---- inside ----

  private header(name: string, requestId: number, timeoutMs?: number) {
    const timeout = timeoutMs ?? COMMANDS[name as CommandName]?.defaultTimeoutMs;
    return { name, requestId, type: "command" as const, ...(timeout ? { timeout } : {}) };
  }

  private async overSocket(name: string, payload: unknown, options: CommandOptions<never>): Promise<unknown> {
    if (options.signal?.aborted) throw new CommandError(name, 0, "canceled", "aborted before it was sent", {});
    await this.connect();
    const requestId = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.send({ header: this.header("Common.Cancel", this.nextId++), payload: { requestIds: [requestId] } });
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(requestId, {
        name,
        resolve,
        reject,
        onEvent: options.onEvent as Pending["onEvent"],
        cleanup: () => options.signal?.removeEventListener("abort", onAbort),
      });
      this.send({ header: this.header(name, requestId, options.timeoutMs), payload });
    });
  }

  private send(message: unknown) {
    this.socket?.send(JSON.stringify(message));
  }

  private onMessage(text: string) {
    let m: Message;
    try {
      m = JSON.parse(text) as Message;
    } catch {
      return;
    }
    const h = m.header;
    if (h.type === "unsolicited") {
      if (h.name === "Common.StatusChangedEvent") {
        for (const l of this.statusListeners) l(m.payload as unknown as DeviceState);
      }
      return;
    }
    const id = h.requestId;
    if (id === undefined || id === null) return;
    const p = this.pending.get(id);
    if (!p) return;
    if (h.type === "acknowledge" && h.status !== "ok") {
      this.finish(id);
      p.reject(new RefusedError(h.status ?? "invalidMessage", h.errorDescription ?? undefined));
    } else if (h.type === "event") {
      p.onEvent?.(m.payload as never, h.name);
    } else if (h.type === "completion") {
      this.finish(id);
      if (h.completionCode === "success") p.resolve(m.payload);
      else p.reject(new CommandError(p.name, id, h.completionCode ?? "internalError", h.errorDescription ?? undefined, m.payload));
    }
  }

  private finish(id: number) {
    this.pending.get(id)?.cleanup();
    this.pending.delete(id);
  }

  private failAll(why: string) {
    for (const [id, p] of this.pending) {
      p.cleanup();
      p.reject(new ConnectionError(why));
      this.pending.delete(id);
    }
  }

  private scheduleReconnect() {
    this.socket = undefined;
    if (this.closedByUser || !this.backoff.enabled) {
      this.emitState("closed");
      return;
    }
    const wait = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempts);
    this.attempts += 1;
    this.emitState("reconnecting");
    // Jitter, so a hall's terminals restarting together do not reconnect in step.
    this.timer = setTimeout(() => {
      this.connect().catch(() => undefined);
    }, wait * (0.75 + Math.random() * 0.5));
  }

  private emitState(s: ConnectionState) {
    for (const l of this.stateListeners) l(s);
  }

  /** Why the terminal refused this page, asked over HTTP (a WebSocket hides the 403's body). */
  private async whyRefused(): Promise<RefusedError | undefined> {
    try {
      const res = await this.fetchFn(`${this.url}/hallkit/v1/command`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
        body: JSON.stringify({ header: { name: "Common.Status", requestId: 1, type: "command" } }),
      });
      if (res.status === 403) {
        const body = (await res.json()) as { error?: string; detail?: string };
        return new RefusedError(body.error ?? "forbidden", body.detail);
      }
    } catch {
      // Not reachable at all, or the browser hid the answer: the caller says so.
    }
    return undefined;
  }

  private async overHttp(name: string, payload: unknown, options: CommandOptions<never>): Promise<unknown> {
    const requestId = this.nextId++;
    const res = await this.fetchFn(`${this.url}/hallkit/v1/command`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      body: JSON.stringify({ header: this.header(name, requestId, options.timeoutMs), payload }),
      signal: options.signal,
    }).catch((e: unknown) => {
      if (options.signal?.aborted) throw new CommandError(name, requestId, "canceled", "aborted", {});
      throw new ConnectionError(`cannot reach ${this.url}: ${String(e)}`);
    });
    const body = (await res.json()) as {
      error?: string;
      detail?: string;
      acknowledge?: Message;
      events?: Message[];
      completion?: Message;
    };
    if (res.status === 403) throw new RefusedError(body.error ?? "forbidden", body.detail);
    const ack = body.acknowledge?.header;
    if (!ack || ack.status !== "ok") throw new RefusedError(ack?.status ?? "invalidMessage", ack?.errorDescription ?? undefined);
    for (const e of body.events ?? []) options.onEvent?.(e.payload as never, e.header.name);
    const c = body.completion;
    if (!c) throw new ConnectionError("the terminal sent no completion");
    if (c.header.completionCode === "success") return c.payload;
    throw new CommandError(name, requestId, c.header.completionCode ?? "internalError", c.header.errorDescription ?? undefined, c.payload);
  }
}
