type Beat = () => void;

interface Pulse {
  timer: ReturnType<typeof setInterval>;
  beats: Set<Beat>;
}

/** One timer per interval, shared by every live session of this page or process. */
const pulses = new Map<number, Pulse>();

/**
 * Calls `beat` every `intervalMs`, on a timer shared by every caller with the same interval; returns the
 * function that stops it. A browser app holds one live session, so this is its one timer. A device simulator
 * holds thousands: a timer each woke its event loop at thousands of moments every interval (a loop turn costs
 * more than the beat), where one timer wakes it once and beats them all in that turn. A socket's first beat
 * therefore comes at most `intervalMs` after it joins, not exactly then.
 */
export function joinHeartbeat(intervalMs: number, beat: Beat): () => void {
  let pulse = pulses.get(intervalMs);
  if (pulse === undefined) {
    const beats = new Set<Beat>();
    // A copy: a beat that closes its socket leaves, and a reconnect joins again, while the set is walked.
    const timer = setInterval(() => {
      for (const each of [...beats]) each();
    }, intervalMs);
    pulse = { timer, beats };
    pulses.set(intervalMs, pulse);
  }
  const joined = pulse;
  joined.beats.add(beat);
  return () => {
    if (!joined.beats.delete(beat) || joined.beats.size > 0) return;
    clearInterval(joined.timer);
    if (pulses.get(intervalMs) === joined) pulses.delete(intervalMs);
  };
}
