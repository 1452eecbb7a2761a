import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { msm, MSM, Sandbox } from "../helpers/sandbox.ts";

/**
 * `msm service` on Linux as a user sees it. The sandbox cannot reach a systemd user manager (no user bus here, and
 * the real one must never be touched), so registering fails: the file is still written and the message says
 * exactly what to run by hand.
 */
describe("msm service (systemd)", () => {
  test("install writes the unit, reports a failed registration with the manual commands; status and uninstall", async () => {
    await using sandbox = new Sandbox();
    const runtime = join(sandbox.root, "run");
    mkdirSync(runtime, { mode: 0o700 });
    const env = { XDG_RUNTIME_DIR: runtime, DBUS_SESSION_BUS_ADDRESS: "", XDG_CONFIG_HOME: "" };
    const unit = join(sandbox.home, ".config", "systemd", "user", "msm.service");

    const install = await msm(sandbox, ["service", "install"], env);
    expect(install.stdout).toContain(`wrote ${unit}`);
    expect(readFileSync(unit, "utf8")).toContain(`ExecStart=${MSM} supervisor --detached`);
    expect(readFileSync(unit, "utf8")).toContain(`Environment=MSM_HOME=${sandbox.msmHome}`);
    expect(install.code).toBe(1);
    expect(install.stderr).toContain("could not register it with systemd");
    expect(install.stderr).toContain("systemctl --user daemon-reload");
    expect(install.stderr).toContain("systemctl --user enable msm.service");

    const status = JSON.parse((await msm(sandbox, ["service", "status", "--json"], env)).stdout);
    expect(status).toMatchObject({ manager: "systemd", file: unit, installed: true, current: true });

    const written = await msm(sandbox, ["service", "install", "--no-register"], env);
    expect(written.code).toBe(0);

    const uninstall = await msm(sandbox, ["service", "uninstall"], env);
    expect(uninstall.stdout).toContain(`removed ${unit}`);
    expect(existsSync(unit)).toBe(false);
  }, 30_000);
});
