// The /stats answer lives in contracts/stats.ts; this name stays for src/host/, which imports it from here.
export type { ChildStatus, HostStats } from "./contracts/stats.ts";
