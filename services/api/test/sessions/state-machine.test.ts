import { expect } from 'chai';
import type { SessionStatus } from '@pulse/contracts';
import { InvalidState } from '../../src/errors.js';
import { assertAllowed, nextStatus } from '../../src/sessions/state-machine.js';
import type { SessionAction, SessionTransition } from '../../src/sessions/state-machine.js';

const STATES: SessionStatus[] = ['scheduled', 'live', 'ended', 'cancelled'];
const LEGAL: Record<string, SessionStatus> = {
  'scheduled start': 'live',
  'scheduled cancel': 'cancelled',
  'live end': 'ended',
};

describe('the session state machine', () => {
  for (const from of STATES) {
    for (const t of ['start', 'end', 'cancel'] as SessionTransition[]) {
      const to = LEGAL[`${from} ${t}`];
      it(`${t} from ${from} ${to ? `goes to ${to}` : 'is INVALID_STATE naming ' + from}`, () => {
        if (to) expect(nextStatus({ id: 's', status: from }, t)).to.equal(to);
        else {
          expect(() => nextStatus({ id: 's', status: from }, t))
            .to.throw(InvalidState)
            .with.property('state', from);
        }
      });
    }
  }

  const allowed: Record<SessionAction, SessionStatus[]> = {
    edit: ['scheduled'],
    register: ['scheduled', 'live'],
    unregister: ['scheduled', 'live'],
    join: ['scheduled', 'live'],
    feedback: ['ended'],
    results: ['live', 'ended'],
  };
  for (const [action, states] of Object.entries(allowed) as [SessionAction, SessionStatus[]][]) {
    it(`allows ${action} only while ${states.join(' or ')}`, () => {
      for (const status of STATES) {
        const check = () => assertAllowed({ id: 's', status }, action);
        if (states.includes(status)) expect(check).to.not.throw();
        else expect(check).to.throw(InvalidState);
      }
    });
  }
});
