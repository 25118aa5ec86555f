import { expect } from 'chai';
import { joinHeartbeat } from '../src/heartbeat.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Active timers; counted from a setImmediate, since a timer whose callback is running counts itself. */
const timeouts = async () => {
  await new Promise((resolve) => setImmediate(resolve));
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
};

describe('joinHeartbeat: one timer per interval for every live session (issue 15)', () => {
  it('beats sessions that joined at different moments in the same turn of the event loop', async () => {
    const turns: Array<[string, number]> = [];
    let turn = 0;
    const countTurns = setInterval(() => turn++, 1);
    const leaveA = joinHeartbeat(40, () => turns.push(['a', turn]));
    await sleep(15);
    const leaveB = joinHeartbeat(40, () => turns.push(['b', turn]));
    await sleep(130);
    leaveA();
    leaveB();
    clearInterval(countTurns);

    const a = turns.filter(([name]) => name === 'a').map(([, t]) => t);
    const b = turns.filter(([name]) => name === 'b').map(([, t]) => t);
    expect(b.length).to.be.at.least(2);
    // Every beat of b came in a turn in which a beat too: one timer, not one each 15 ms apart.
    for (const t of b) expect(a).to.include(t);
  });

  it('keeps one timer for many sessions and none once the last has left', async () => {
    const before = await timeouts();
    const beats = new Array<number>(1_000).fill(0);
    const leaves = beats.map((_, i) => joinHeartbeat(25, () => beats[i]++));
    expect((await timeouts()) - before).to.equal(1);
    await sleep(60);
    expect(beats.every((n) => n >= 1)).to.equal(true);
    for (const leave of leaves) leave();
    leaves[0](); // leaving twice is harmless
    expect(await timeouts()).to.equal(before);
  });

  it('lets a beat leave and join again while the beats are walked', async () => {
    const before = await timeouts();
    let rejoined = 0;
    let leave: () => void = () => undefined;
    const beat = () => {
      leave();
      rejoined++;
      if (rejoined < 3) leave = joinHeartbeat(20, beat);
    };
    leave = joinHeartbeat(20, beat);
    await sleep(120);
    expect(rejoined).to.equal(3);
    expect(await timeouts()).to.equal(before); // the last leave stopped the timer
  });
});
