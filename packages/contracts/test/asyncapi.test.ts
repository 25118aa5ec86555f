import { Parser } from '@asyncapi/parser';
import { expect } from 'chai';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import {
  ASYNCAPI_FRAME_TYPES,
  ClientFrame,
  CloseCode,
  ErrorCode,
  ServerFrame,
  asyncApiDocument,
} from '../src/index.js';

const ERROR_SEVERITY = 0;
const sessionId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const at = '2026-11-25T10:00:00.000Z';

const discriminators = (union: { options: Array<{ shape: { type: { value: string } } }> }): string[] =>
  union.options.map((option) => option.shape.type.value).sort();

describe('asyncApiDocument', () => {
  it('is a valid AsyncAPI 3 document for the official parser, with no error diagnostics', async () => {
    const { document, diagnostics } = await new Parser().parse(asyncApiDocument());
    const errors = diagnostics.filter((d) => d.severity === ERROR_SEVERITY);
    expect(errors, JSON.stringify(errors, null, 2)).to.deep.equal([]);
    expect(document?.version()).to.equal('3.0.0');
    expect(
      document
        ?.channels()
        .all()
        .map((c) => c.address()),
    ).to.deep.equal(['/v1/live']);
  });

  it('describes every frame of the zod unions, in the right direction', async () => {
    expect([...ASYNCAPI_FRAME_TYPES.client].sort()).to.deep.equal(discriminators(ClientFrame));
    expect([...ASYNCAPI_FRAME_TYPES.server].sort()).to.deep.equal(discriminators(ServerFrame));
    const { document } = await new Parser().parse(asyncApiDocument());
    const names = (operationId: string): string[] =>
      document!
        .operations()
        .get(operationId)!
        .messages()
        .all()
        .map((m) => m.name()!)
        .sort();
    expect(names('receiveClientFrames')).to.deep.equal(discriminators(ClientFrame));
    expect(names('sendServerFrames')).to.deep.equal(discriminators(ServerFrame));
  });

  it('lists every close code and error code of the contracts', () => {
    const info = asyncApiDocument().info as {
      'x-close-codes': Array<{ code: number }>;
      'x-error-codes': string[];
    };
    expect(info['x-close-codes'].map((c) => c.code)).to.deep.equal(Object.values(CloseCode));
    expect(info['x-error-codes']).to.deep.equal(Object.values(ErrorCode));
  });

  it('has payload schemas that accept the frames zod accepts and refuse what zod refuses', () => {
    const ajv = new Ajv({ strict: false });
    addFormats.default(ajv);
    const schemas = asyncApiDocument().components as { schemas: Record<string, object> };
    const check = (name: string, frame: unknown): boolean => ajv.validate(schemas.schemas[name], frame);
    expect(check('ratingFrame', { type: 'rating', seq: 1, energy: 55.5 })).to.equal(true);
    expect(check('ratingFrame', { type: 'rating', seq: 0, energy: 55.5 })).to.equal(false);
    expect(check('ratingFrame', { type: 'rating', seq: 1, energy: 101 })).to.equal(false);
    expect(check('ratingFrame', { type: 'rating', seq: 1, energy: 5, extra: 1 })).to.equal(false);
    const welcome = { type: 'welcome', state: 'live', sessionId, startsAt: at, participants: 3, lastSeq: 7 };
    expect(ServerFrame.safeParse(welcome).success).to.equal(true);
    expect(check('welcomeFrame', welcome)).to.equal(true);
    expect(check('welcomeFrame', { ...welcome, state: 'over' })).to.equal(false);
    expect(
      check('errorFrame', { type: 'error', code: 'RATE_LIMITED', message: 'x', resendFrom: 3 }),
    ).to.equal(true);
    expect(check('errorFrame', { type: 'error', code: 'NOPE', message: 'x' })).to.equal(false);
  });

  it('names the gateway host it is given', () => {
    const servers = asyncApiDocument({ host: 'live.example.com', protocol: 'wss' }).servers as Record<
      string,
      { host: string; protocol: string }
    >;
    expect(servers.gateway).to.deep.equal({
      host: 'live.example.com',
      protocol: 'wss',
      description: 'A Pulse gateway (any replica).',
    });
  });
});
