// Windows has no file modes (every file reads 0666): `msm doctor` failed every healthy Windows setup with "mode 666,
// chmod 700". There the check is where MSM_HOME is — in the user's profile, private by its default ACL — and a
// folder elsewhere is a warning, never a failure. (The whole doctor exiting 0 is checked under Wine: npm run
// test:windows.)
import { describe, expect, test } from "bun:test";
import { windowsHome } from "../../../src/install/doctor.ts";

describe("msm doctor's MSM_HOME check on Windows", () => {
  test("a folder in the user's profile passes, whatever the case of its letters", () => {
    for (const home of ["C:\\Users\\José\\.mcp-session-manager", "c:\\users\\josé\\AppData\\msm", "C:\\Users\\José"]) {
      expect(windowsHome(home, "C:\\Users\\José")).toMatchObject({ status: "ok" });
    }
  });

  test("a folder outside it is a warning that says how to check its ACL", () => {
    for (const home of ["C:\\msm", "D:\\Users\\José\\msm", "C:\\Users\\Josélito\\msm", "\\\\server\\share\\msm"]) {
      const check = windowsHome(home, "C:\\Users\\José");
      expect(check.status).toBe("warn");
      expect(check.fix).toContain(`icacls "${home}"`);
    }
  });
});
