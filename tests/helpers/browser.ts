import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "./sandbox.ts";

/** Debian's package; `.ci/run` installs it when missing. */
export const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((p) => Bun.file(p).size > 0);

interface Pending {
  resolve: (value: any) => void;
  reject: (error: Error) => void;
}

/**
 * Headless Chromium driven over the DevTools protocol (a WebSocket from Bun, no library): what a person sees in a
 * real browser — cookies, CSP, the page's own JavaScript — with nothing stubbed.
 */
export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners: ((message: any) => void)[] = [];

  private constructor(
    private readonly process: ReturnType<typeof Bun.spawn>,
    private readonly socket: WebSocket,
    private readonly profile: string,
  ) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data));
      if (message.id !== undefined) {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(`${message.error.message} ${message.error.data ?? ""}`));
        else waiter?.resolve(message.result);
      } else for (const listener of this.listeners) listener(message);
    });
  }

  static async launch(env: Record<string, string>): Promise<Browser> {
    if (!CHROMIUM) throw new Error("chromium is not installed: apt-get install -y chromium (.ci/run does it)");
    const profile = mkdtempSync(join(process.env.MSM_TEST_ROOT ?? "/tmp", "chromium-"));
    const child = Bun.spawn(
      [
        CHROMIUM,
        "--headless=new",
        "--no-sandbox", // CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "about:blank",
      ],
      { env, stdin: "ignore", stdout: "ignore", stderr: "pipe" },
    );
    // Chromium prints the browser's DevTools endpoint on stderr once it listens.
    let text = "";
    const reader = child.stderr.getReader();
    const decoder = new TextDecoder();
    const endpoint = await waitFor(
      async () => {
        const { value, done } = await reader.read();
        if (done) throw new Error(`chromium exited before listening:\n${text}`);
        text += decoder.decode(value);
        return /DevTools listening on (ws:\/\/\S+)/.exec(text)?.[1];
      },
      30_000,
      "chromium to listen",
    );
    void (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done);
    })();
    const socket = new WebSocket(endpoint);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("cannot connect to chromium's DevTools")), { once: true });
    });
    return new Browser(child, socket, profile);
  }

  get pid(): number {
    return this.process.pid;
  }

  send(method: string, params: object = {}, sessionId?: string): Promise<any> {
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  on(listener: (message: any) => void): void {
    this.listeners.push(listener);
  }

  async newPage(width = 1280, height = 900): Promise<Page> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await this.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(this, sessionId);
    await page.send("Page.enable");
    await page.send("Runtime.enable");
    await page.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    return page;
  }

  async close(): Promise<void> {
    await Promise.race([this.send("Browser.close").catch(() => {}), Bun.sleep(2_000)]);
    this.socket.close();
    this.process.kill("SIGKILL");
    await this.process.exited;
    rmSync(this.profile, { recursive: true, force: true });
  }
}

export class Page {
  /** Uncaught exceptions and console errors of the page (CSP violations show up here). */
  readonly errors: string[] = [];

  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {
    browser.on((message) => {
      if (message.sessionId !== sessionId) return;
      if (message.method === "Runtime.exceptionThrown")
        this.errors.push(message.params.exceptionDetails?.exception?.description ?? message.params.exceptionDetails?.text);
      if (message.method === "Runtime.consoleAPICalled" && message.params.type === "error")
        this.errors.push(message.params.args.map((a: any) => a.value ?? a.description).join(" "));
    });
  }

  send(method: string, params: object = {}): Promise<any> {
    return this.browser.send(method, params, this.sessionId);
  }

  async goto(url: string): Promise<void> {
    const result = await this.send("Page.navigate", { url });
    if (result.errorText) throw new Error(`navigating to ${url}: ${result.errorText}`);
    await this.waitFor("document.readyState === 'complete'", 15_000, `${url} to load`);
  }

  /** Evaluates an expression in the page (awaiting a promise) and returns its JSON value. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const { result, exceptionDetails } = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value as T;
  }

  /** Waits until an expression is truthy in the page, and returns its value. */
  waitFor<T = unknown>(expression: string, timeoutMs = 15_000, what = expression): Promise<NonNullable<T>> {
    return waitFor(() => this.eval<T>(expression).catch(() => undefined), timeoutMs, what);
  }

  async screenshot(file: string): Promise<void> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: false });
    writeFileSync(file, Buffer.from(data, "base64"));
  }
}
