/**
 * Opens `url` in the user's browser: $BROWSER when set (as other command-line tools honour it), else the platform's
 * opener. The URL goes as an argument, never through a shell (`cmd /c start` would read `&` in a query string).
 * False when nothing could be started; callers print the URL as well, so a person can always open it themselves.
 */
export function openBrowser(url: string): boolean {
  const browser = process.env.BROWSER;
  const command = browser
    ? [browser, url]
    : process.platform === "darwin"
      ? ["open", url]
      : process.platform === "win32"
        ? ["rundll32", "url.dll,FileProtocolHandler", url]
        : ["xdg-open", url];
  try {
    const child = Bun.spawn(command, { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    child.unref();
    return true;
  } catch {
    return false;
  }
}
