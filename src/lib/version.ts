declare const MSM_VERSION: string | undefined;
declare const MSM_COMMIT: string | undefined;
declare const MSM_BUILD_DATE: string | undefined;

/** Defined at build time by build.ts; running from source reports the package version with a `-dev` suffix. */
export const VERSION: string = typeof MSM_VERSION === "string" ? MSM_VERSION : "0.1.0-dev";
/** The git commit the binary was built from (`-dirty` when the tree had changes). */
export const COMMIT: string = typeof MSM_COMMIT === "string" ? MSM_COMMIT : "source";
/** When the binary was built (ISO 8601, UTC). */
export const BUILD_DATE: string = typeof MSM_BUILD_DATE === "string" ? MSM_BUILD_DATE : "-";

/** What `msm --version` prints. */
export const VERSION_LINE = `${VERSION} (commit ${COMMIT}, built ${BUILD_DATE})`;
