import { z } from 'zod';
import { ErrorCode } from './errors.js';
import { AgeBandId, BAND_TOP_SIZE, FOLLOWING_TOP_SIZE, MainBoard } from './social.js';

/** Text frames longer than this are answered with INVALID_MESSAGE (the socket stays open). */
export const MAX_CLIENT_FRAME_BYTES = 1024;
/** Frames longer than this make `ws` close the socket with 1009 before they are read. */
export const MAX_SOCKET_PAYLOAD_BYTES = 64 * 1024;
/** A message sent in more fragments than this makes `ws` close the socket with 1008. */
export const MAX_MESSAGE_FRAGMENTS = 16 * 1024;
/**
 * WebSocket pings (RFC 6455 control frames, not `ping` frames) a client may have waiting for their pong. A
 * client past it (a ping flood) is cut by `ws` without a close frame: it sees 1006.
 */
export const MAX_PENDING_PONGS = 60;
/** Path of the WebSocket endpoint on every gateway; the ticket goes in `?ticket=`. */
export const LIVE_PATH = '/v1/live';

/**
 * Optional query parameters of a live socket's upgrade that order one device's own connection attempts, given
 * together or not at all: `device`, an id the client picks once per live session (1–64 of `A-Z a-z 0-9 _ -`),
 * and `attempt`, 1, 2, … for each socket it opens. A trainee's newer socket closes the older ones (4409), newer by
 * the gateways' accept time; between two attempts of the same device the higher attempt is the newer, so an
 * attempt the device gave up on that reaches a gateway late (its handshake retransmitted while the gateway's
 * listen queue was full) replaces nothing and is closed itself. Malformed: the upgrade is refused with 400.
 */
export const DEVICE_QUERY = 'device';
export const ATTEMPT_QUERY = 'attempt';
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const DeviceId = z.string().regex(DEVICE_ID_PATTERN);

const Uuid = z.string().uuid();
const IsoTime = z.string().datetime({ offset: true });
/** Highest seq a client may use: it fits a UInt32 column and a JSON integer. */
export const MAX_SEQ = 2 ** 31 - 1;
/** A device's attempt number (see ATTEMPT_QUERY). */
export const DeviceAttempt = z.number().int().min(1).max(MAX_SEQ);

// Client → server frames. Unknown fields are refused so that typos surface as errors.
export const RatingFrame = z
  .object({
    type: z.literal('rating'),
    seq: z.number().int().min(1).max(MAX_SEQ),
    energy: z.number().finite().min(0).max(100),
  })
  .strict();
export const PingFrame = z.object({ type: z.literal('ping') }).strict();
/**
 * Extension (issue 16): which board the client shows as its main one. Applies to this socket from the next
 * rank frame (which then carries `main`); a reconnecting client sends it again after `welcome`.
 */
export const BoardFrame = z.object({ type: z.literal('board'), main: MainBoard }).strict();
export const ClientFrame = z.discriminatedUnion('type', [RatingFrame, PingFrame, BoardFrame]);
export type RatingFrame = z.infer<typeof RatingFrame>;
export type PingFrame = z.infer<typeof PingFrame>;
export type BoardFrame = z.infer<typeof BoardFrame>;
export type ClientFrame = z.infer<typeof ClientFrame>;

// Server → client frames.
export const LiveState = z.enum(['waiting', 'live']);
export type LiveState = z.infer<typeof LiveState>;

export const TopEntry = z.object({
  rank: z.number().int().min(1),
  userId: Uuid,
  name: z.string(),
  score: z.number(),
});
export type TopEntry = z.infer<typeof TopEntry>;

export const WelcomeFrame = z.object({
  type: z.literal('welcome'),
  state: LiveState,
  sessionId: Uuid,
  startsAt: IsoTime,
  participants: z.number().int().min(0),
  lastSeq: z.number().int().min(0),
});
export const WaitingFrame = z.object({
  type: z.literal('waiting'),
  startsAt: IsoTime,
  participants: z.number().int().min(0),
});
export const StartedFrame = z.object({ type: z.literal('started'), startedAt: IsoTime });
export const RankFrame = z.object({
  type: z.literal('rank'),
  rank: z.number().int().min(1),
  participants: z.number().int().min(1),
  score: z.number(),
  top: z.array(TopEntry).max(10),
  at: IsoTime,
  /** Extension: the highest of the user's seqs that this rank already counts. */
  seq: z.number().int().min(0).optional(),
  /**
   * Extension (issue 16): the trainee's age-band board, when they opted in (`showOnBoards` and a birth
   * year): the band, their rank and how many are on it, and its first five.
   */
  band: z
    .object({
      id: AgeBandId,
      rank: z.number().int().min(1),
      participants: z.number().int().min(1),
      top: z.array(TopEntry).max(BAND_TOP_SIZE),
    })
    .optional(),
  /**
   * Extension (issue 16): the board of the trainee and the people they follow who are in the class: their
   * rank among them, how many they are (the trainee included) and its first five (ranks within this board).
   * Absent for a trainee who follows no one in the class.
   */
  following: z
    .object({
      rank: z.number().int().min(1),
      participants: z.number().int().min(1),
      top: z.array(TopEntry).max(FOLLOWING_TOP_SIZE),
    })
    .optional(),
  /**
   * Extension (issue 16): the trainee's personal best of this session's type, for "you vs your best":
   * the best session, its final score, the elapsed minute of this class (0 in its first minute) and the
   * best's cumulative score at the end of that minute of the best (absent when unknown). Absent before the
   * trainee's first finished class of this type.
   */
  best: z
    .object({
      sessionId: Uuid,
      score: z.number().min(0),
      minute: z.number().int().min(0),
      atMinute: z.number().min(0).optional(),
    })
    .optional(),
  /**
   * Extension (issue 16): the board the client chose as its main one with a `board` frame, when its part is
   * in this frame (`band`, `following`), else `all`. Absent for a client that never chose.
   */
  main: MainBoard.optional(),
});
export const RescheduledFrame = z.object({ type: z.literal('rescheduled'), startsAt: IsoTime });
export const CancelledFrame = z.object({ type: z.literal('cancelled') });
export const EndedFrame = z.object({
  type: z.literal('ended'),
  resultsPath: z.string(),
  /**
   * Extension (issue 14): sent by the gateway that held the socket when the session ended, once every
   * rating it had received from this client was stored or refused. Every seq up to it counts in the results
   * (within the score allowance); every higher seq was refused or arrived after the end. A socket that
   * connects after the end gets the user's last counted seq of the frozen results, once frozen and while the
   * engine remembers it; otherwise it is absent.
   */
  lastSeq: z.number().int().min(0).optional(),
});
export const ErrorFrame = z.object({
  type: z.literal('error'),
  code: z.nativeEnum(ErrorCode),
  message: z.string(),
  /** Extension: the seq of the rating this error refers to, when it refers to one. */
  seq: z.number().int().optional(),
  /**
   * Extension: the lowest of the client's seqs that is not stored (it was refused and not yet resent).
   * The gateway stores no higher seq of the client before this one: resend everything from it.
   */
  resendFrom: z.number().int().min(1).optional(),
});
export const PongFrame = z.object({ type: z.literal('pong') });
export const ServerFrame = z.discriminatedUnion('type', [
  WelcomeFrame,
  WaitingFrame,
  StartedFrame,
  RankFrame,
  RescheduledFrame,
  CancelledFrame,
  EndedFrame,
  ErrorFrame,
  PongFrame,
]);
export type WelcomeFrame = z.infer<typeof WelcomeFrame>;
export type WaitingFrame = z.infer<typeof WaitingFrame>;
export type StartedFrame = z.infer<typeof StartedFrame>;
export type RankFrame = z.infer<typeof RankFrame>;
export type RescheduledFrame = z.infer<typeof RescheduledFrame>;
export type CancelledFrame = z.infer<typeof CancelledFrame>;
export type EndedFrame = z.infer<typeof EndedFrame>;
export type ErrorFrame = z.infer<typeof ErrorFrame>;
export type PongFrame = z.infer<typeof PongFrame>;
export type ServerFrame = z.infer<typeof ServerFrame>;

export interface FrameError {
  code: typeof ErrorCode.INVALID_MESSAGE;
  message: string;
}
export type ParseResult<T> = { ok: true; frame: T } | { ok: false; error: FrameError };

const invalid = (message: string): { ok: false; error: FrameError } => ({
  ok: false,
  error: { code: ErrorCode.INVALID_MESSAGE, message },
});

/** A UTF-16 surrogate pair, or a surrogate alone (no lookbehind: the SDK runs in older browsers too). */
const SURROGATES = /[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g;
/**
 * zod's messages quote what they refuse (an enum value, unknown keys). A lone surrogate quoted back would make
 * the error frame undecodable for strict JSON parsers (Swift's, Java's), so it is replaced with U+FFFD.
 */
const wellFormed = (text: string): string =>
  text.replace(SURROGATES, (surrogates) => (surrogates.length === 2 ? surrogates : '\ufffd'));

function parseWith<T>(schema: z.ZodType<T>, data: string | Buffer, maxBytes: number): ParseResult<T> {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > maxBytes) return invalid(`frame of ${size} bytes exceeds the limit of ${maxBytes} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return invalid('frame is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return invalid(wellFormed(`${where}${issue.message}`));
  }
  return { ok: true, frame: parsed.data };
}

/** Parses a client → server frame; never throws. */
export const parseClientFrame = (data: string | Buffer): ParseResult<ClientFrame> =>
  parseWith(ClientFrame, data, MAX_CLIENT_FRAME_BYTES);

/** Parses a server → client frame (for clients, tests and the load generator); never throws. */
export const parseServerFrame = (data: string | Buffer): ParseResult<ServerFrame> =>
  parseWith(ServerFrame, data, MAX_SOCKET_PAYLOAD_BYTES * 16);

/** Where the REST API serves a session's results; sent in the `ended` frame. */
export const resultsPath = (sessionId: string): string => `/v1/sessions/${sessionId}/results`;

/**
 * The score allowance: how much one trainee can add to a session, whatever the number of sockets, reconnects
 * or gateways. The engine (which sees every rating of a session in order, stamped by the gateways) counts a
 * user's rating only while that user's counted ratings stay within `burst + ratePerSec × seconds since the
 * user's first rating`. A device at about one reading a second never reaches it, and a device that resends a
 * backlog after a drop only resends what it earned; a cheater adds at most 1.25× an honest device plus the
 * burst. Ratings above it are acknowledged to the device but neither counted nor stored (issue 11).
 */
export const SCORE_ALLOWANCE = Object.freeze({ ratePerSec: 1.25, burst: 120 });
