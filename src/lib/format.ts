/** "10 min", "30 s": idle limits may be fractions of a minute (a test's, or a hurried user's). */
export function formatMinutes(minutes: number): string {
  return minutes >= 1 ? `${minutes} min` : `${Math.round(minutes * 60)} s`;
}
