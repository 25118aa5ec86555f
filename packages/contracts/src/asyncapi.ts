import type { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { CloseCode, ErrorCode } from './errors.js';
import {
  BoardFrame,
  CancelledFrame,
  EndedFrame,
  ErrorFrame,
  LIVE_PATH,
  DEVICE_QUERY,
  DEVICE_ID_PATTERN,
  ATTEMPT_QUERY,
  MAX_CLIENT_FRAME_BYTES,
  MAX_MESSAGE_FRAGMENTS,
  MAX_SOCKET_PAYLOAD_BYTES,
  PingFrame,
  PongFrame,
  RankFrame,
  RatingFrame,
  RescheduledFrame,
  StartedFrame,
  WaitingFrame,
  WelcomeFrame,
} from './frames.js';

/** The AsyncAPI version the document is written in. */
export const ASYNCAPI_VERSION = '3.0.0';

interface FrameDoc {
  schema: z.ZodTypeAny;
  summary: string;
}

/** Client → gateway frames, keyed by their `type`. */
const CLIENT_FRAMES: Record<string, FrameDoc> = {
  rating: {
    schema: RatingFrame,
    summary:
      'An energy reading. `seq` increases per user and session; a repeated seq is counted once, so resends ' +
      'after a reconnect are safe. Only while the session is live.',
  },
  ping: { schema: PingFrame, summary: 'Answered with `pong`.' },
  board: {
    schema: BoardFrame,
    summary:
      'Extension (issue 16): the board this socket shows as its main one, `all`, `band` or `following`; from the ' +
      'next rank frame on, `rank.main` says which. `band` without an age band on the ticket is answered with ' +
      'BOARD_UNAVAILABLE (the choice is unchanged); anything else invalid with INVALID_MESSAGE. Per socket: a ' +
      'reconnecting client sends it again after `welcome`.',
  },
};

/** Gateway → client frames, keyed by their `type`. */
const SERVER_FRAMES: Record<string, FrameDoc> = {
  welcome: {
    schema: WelcomeFrame,
    summary:
      'First frame after a valid ticket. `lastSeq` is the highest seq durably stored for this user: resend ' +
      'everything above it.',
  },
  waiting: { schema: WaitingFrame, summary: 'Waiting room update (start time, participants), on change.' },
  started: { schema: StartedFrame, summary: 'The session went live: waiting-room clients are moved in.' },
  rank: {
    schema: RankFrame,
    summary:
      'The client’s rank, score and the top 10, at least once a second while live. `seq` (extension) is the ' +
      'highest of the user’s seqs this rank counts: ratings up to it are confirmed. Issue 16: `band` (the ' +
      'age-band board), `following` (the board of the people the trainee follows), `best` (the personal best ' +
      'of the session type and its cumulative score at this elapsed minute) and `main` (the board the socket ' +
      'chose with a `board` frame).',
  },
  rescheduled: { schema: RescheduledFrame, summary: 'The trainer moved the start time.' },
  cancelled: { schema: CancelledFrame, summary: 'The session was cancelled; the socket closes with 4410.' },
  ended: {
    schema: EndedFrame,
    summary: 'The session ended; results at `resultsPath`; the socket closes with 4410.',
  },
  error: {
    schema: ErrorFrame,
    summary:
      'A refused frame or a failure. `seq` names the rating it is about; `resendFrom` the lowest seq not ' +
      'stored: resend from it. The socket stays open unless a close follows.',
  },
  pong: { schema: PongFrame, summary: 'Answer to `ping`.' },
};

/** What a client does on each close code; the keys are exactly the `CloseCode` values. */
const CLOSE_CODE_ACTIONS: Record<CloseCode, { meaning: string; clientAction: string }> = {
  [CloseCode.NORMAL]: { meaning: 'normal closure', clientAction: 'none' },
  [CloseCode.PROTOCOL_ERROR]: {
    meaning: 'the client broke the WebSocket framing (RFC 6455: unmasked frame, reserved bit or opcode, …)',
    clientAction: 'fix the client',
  },
  [CloseCode.INVALID_PAYLOAD]: {
    meaning: 'a text frame that is not valid UTF-8',
    clientAction: 'fix the client',
  },
  [CloseCode.POLICY_VIOLATION]: {
    meaning: `a message in more than ${MAX_MESSAGE_FRAGMENTS} fragments`,
    clientAction: 'fix the client',
  },
  [CloseCode.MESSAGE_TOO_BIG]: {
    meaning: `a frame above ${MAX_SOCKET_PAYLOAD_BYTES} bytes`,
    clientAction: 'fix the client',
  },
  [CloseCode.RECONNECT]: {
    meaning: 'the gateway is restarting, or a dependency is slow',
    clientAction: 'reconnect (to any gateway) and resume from welcome.lastSeq',
  },
  [CloseCode.UNAUTHORIZED]: {
    meaning: 'bad, expired or foreign ticket',
    clientAction: 'call POST /v1/sessions/{id}/join again for a new ticket',
  },
  [CloseCode.REPLACED]: {
    meaning: 'replaced by a newer connection of the same trainee',
    clientAction: 'do not reconnect automatically',
  },
  [CloseCode.SESSION_CLOSED]: {
    meaning: 'the session is over (ended or cancelled was sent)',
    clientAction: 'stop; show the results',
  },
  [CloseCode.SLOW_CONSUMER]: {
    meaning: 'the client stopped reading; its send buffer passed the limit',
    clientAction: 'reconnect and resume from welcome.lastSeq',
  },
};

const closeCodeName = (code: number): string =>
  Object.entries(CloseCode).find(([, value]) => value === code)?.[0] ?? String(code);

/** The JSON schema of a frame: draft-07, inlined (AsyncAPI schemas are a superset of draft-07). */
function jsonSchemaOf(schema: z.ZodTypeAny): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = zodToJsonSchema(schema, {
    $refStrategy: 'none',
    target: 'jsonSchema7',
  });
  return rest;
}

const messageName = (type: string): string => `${type}Frame`;

function messagesOf(frames: Record<string, FrameDoc>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(frames).map(([type, frame]) => [
      messageName(type),
      {
        name: type,
        title: `${type} frame`,
        summary: frame.summary,
        contentType: 'application/json',
        payload: { $ref: `#/components/schemas/${messageName(type)}` },
      },
    ]),
  );
}

function schemasOf(frames: Record<string, FrameDoc>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(frames).map(([type, f]) => [messageName(type), jsonSchemaOf(f.schema)]),
  );
}

const messageRefs = (frames: Record<string, FrameDoc>): Array<{ $ref: string }> =>
  Object.keys(frames).map((type) => ({ $ref: `#/channels/live/messages/${messageName(type)}` }));

/** The document as plain JSON data; its shape is the AsyncAPI 3 specification's. */
export interface AsyncApiDocument {
  asyncapi: string;
  [key: string]: unknown;
}

export interface AsyncApiOptions {
  /** The gateway's host and port as clients reach it (`gatewayUrl` of a join answer). */
  host?: string;
  /** `ws` or `wss`. */
  protocol?: 'ws' | 'wss';
  /** Version of the document (the API's version). */
  version?: string;
}

/**
 * The AsyncAPI 3 document of the live WebSocket protocol, built from the zod schemas of the frames, the close
 * codes and the error codes, so it cannot drift from what the gateway validates. It describes the gateway: it
 * receives client frames and sends server frames. A pure function: the API serves its result at
 * `GET /asyncapi.json`.
 */
export function asyncApiDocument(options: AsyncApiOptions = {}): AsyncApiDocument {
  const closeCodes = Object.values(CloseCode).map((code) => ({
    code,
    name: closeCodeName(code),
    ...CLOSE_CODE_ACTIONS[code],
  }));
  return {
    asyncapi: ASYNCAPI_VERSION,
    info: {
      title: 'Pulse live protocol',
      version: options.version ?? '1.0.0',
      description:
        'The WebSocket protocol between a trainee’s device or app and a Pulse gateway. Get a ticket with ' +
        '`POST /v1/sessions/{id}/join` (REST, see `/openapi.json`), connect to its `gatewayUrl` with ' +
        '`?ticket=`, and stream `rating` frames. Frames are JSON text; client frames above ' +
        `${MAX_CLIENT_FRAME_BYTES} bytes get INVALID_MESSAGE, frames above ${MAX_SOCKET_PAYLOAD_BYTES} bytes ` +
        'close the socket (1009). Close codes are listed in `x-close-codes`, error codes in `x-error-codes`.',
      'x-close-codes': closeCodes,
      'x-error-codes': Object.values(ErrorCode),
    },
    defaultContentType: 'application/json',
    servers: {
      gateway: {
        host: options.host ?? '127.0.0.1:8080',
        protocol: options.protocol ?? 'ws',
        description: 'A Pulse gateway (any replica).',
      },
    },
    channels: {
      live: {
        address: LIVE_PATH,
        title: 'Live session socket',
        description:
          'One socket per trainee per session. A bad, expired or foreign ticket gets an `error` frame and close ' +
          '4401; a newer socket of the same trainee closes the older one with 4409.',
        servers: [{ $ref: '#/servers/gateway' }],
        messages: { ...messagesOf(CLIENT_FRAMES), ...messagesOf(SERVER_FRAMES) },
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                ticket: { type: 'string', description: 'The join ticket (a JWT) from join.' },
                [DEVICE_QUERY]: {
                  type: 'string',
                  pattern: DEVICE_ID_PATTERN.source,
                  description:
                    'Optional, with `attempt`: an id the client picks once per live session. Between two ' +
                    'sockets of the same device the higher `attempt` is the newer (4409 to the other), so a ' +
                    'connection attempt the device gave up on that arrives late replaces nothing.',
                },
                [ATTEMPT_QUERY]: {
                  type: 'integer',
                  minimum: 1,
                  description: 'Optional, with `device`: 1, 2, … for each socket the device opens.',
                },
              },
              required: ['ticket'],
            },
          },
        },
        'x-close-codes': closeCodes,
      },
    },
    operations: {
      receiveClientFrames: {
        action: 'receive',
        title: 'Frames a client sends',
        channel: { $ref: '#/channels/live' },
        messages: messageRefs(CLIENT_FRAMES),
      },
      sendServerFrames: {
        action: 'send',
        title: 'Frames the gateway sends',
        channel: { $ref: '#/channels/live' },
        messages: messageRefs(SERVER_FRAMES),
      },
    },
    components: {
      schemas: { ...schemasOf(CLIENT_FRAMES), ...schemasOf(SERVER_FRAMES) },
    },
  };
}

/** The frame types the document describes, by direction (for tests that compare them with the zod unions). */
export const ASYNCAPI_FRAME_TYPES = Object.freeze({
  client: Object.freeze(Object.keys(CLIENT_FRAMES)),
  server: Object.freeze(Object.keys(SERVER_FRAMES)),
});
