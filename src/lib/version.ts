declare const MSM_VERSION: string | undefined;

/** Defined at build time by build.ts; running from source reports the package version with a `-dev` suffix. */
export const VERSION: string = typeof MSM_VERSION === "string" ? MSM_VERSION : "0.1.0-dev";
