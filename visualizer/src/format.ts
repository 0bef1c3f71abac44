/**
 * Log times as a person reads them: wall-clock `HH:MM:SS.mmm` for real timestamps, and
 * `+1234 ms` for a simulated clock that starts near zero.
 *
 * @example
 * formatTime(0); // '+0 ms'
 */
export function formatTime(t: number | null): string {
  if (t === null) return '';
  if (t < 1e11) return `+${Math.round(t)} ms`;
  const d = new Date(t);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
