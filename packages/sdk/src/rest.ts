import createClient from 'openapi-fetch';
import type { Client } from 'openapi-fetch';
import { PulseApiError, PulseNetworkError } from './errors.js';
import type { components, operations, paths } from './generated/openapi.js';
import { LiveSession } from './live.js';
import type { LiveOptions } from './live.js';
import { TokenKeeper } from './tokens.js';
import type { TokenPair } from './tokens.js';

type Schemas = components['schemas'];
export type User = Schemas['User'];
export type AuthResult = Schemas['AuthResult'];
export type Session = Schemas['Session'];
export type SessionWithRegistration = Schemas['SessionWithRegistration'];
export type SessionPage = Schemas['SessionPage'];
export type Registration = Schemas['Registration'];
export type JoinResult = Schemas['JoinResult'];
export type SessionResults = Schemas['SessionResults'];
export type LeaderboardEntry = Schemas['LeaderboardEntry'];
export type Feedback = Schemas['Feedback'];
export type FeedbackSummary = Schemas['FeedbackSummary'];
export type HistoryPage = Schemas['HistoryPage'];
export type HistoryEntry = Schemas['HistoryEntry'];
export type ClassEnergy = Schemas['ClassEnergy'];
export type ClassMinute = Schemas['ClassMinute'];
export type EnergyBucket = Schemas['EnergyBucket'];
export type Profile = Schemas['Profile'];
export type FollowPage = Schemas['FollowPage'];
export type FollowEntry = Schemas['FollowEntry'];
type Body<Op extends keyof operations> =
  NonNullable<operations[Op]['requestBody']> extends { content: { 'application/json': infer B } } ? B : never;
type Query<Op extends keyof operations> = operations[Op] extends { parameters: { query?: infer Q } }
  ? Q
  : never;
export type SignUp = Body<'postV1AuthRegister'>;
export type NewSession = Body<'postV1Sessions'>;
export type SessionEdit = Body<'patchV1SessionsId'>;
export type NewFeedback = Body<'postV1SessionsIdFeedback'>;
export type ProfileChange = Body<'patchV1Me'>;
export type SessionQuery = Query<'getV1Sessions'>;
export type PageQuery = { limit?: number; cursor?: string };

/** Routes that authenticate by their body, where a 401 means wrong credentials, not an expired access token. */
const CREDENTIAL_PATHS = ['/v1/auth/register', '/v1/auth/login', '/v1/auth/refresh'];

export interface PulseClientOptions {
  /** The API's origin, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Defaults to the global `fetch` (Node 20 and browsers). */
  fetch?: (request: Request) => Promise<Response>;
  /** Tokens of an earlier sign-in (for example restored from storage). */
  tokens?: TokenPair;
  /** Called whenever the tokens change (sign-in, refresh, sign-out), to persist them. */
  onTokens?: (tokens: TokenPair | undefined) => void;
}

/**
 * The client of Pulse. REST: `api` is the raw typed client generated from the OpenAPI document (every route, request and
 * response type); the methods below cover the common flows and throw `PulseApiError` for every non-2xx answer.
 * A 401 refreshes the access token once for every request that failed with it, then retries.
 */
export class PulseClient {
  readonly api: Client<paths>;
  readonly tokens: TokenKeeper;
  private readonly send: (request: Request) => Promise<Response>;

  constructor(readonly options: PulseClientOptions) {
    this.send = options.fetch ?? ((request) => globalThis.fetch(request));
    this.tokens = new TokenKeeper((refreshToken) => this.refresh(refreshToken), options.onTokens);
    if (options.tokens) this.tokens.set(options.tokens);
    this.api = createClient<paths>({
      baseUrl: options.baseUrl,
      fetch: (request) => this.authorized(request),
    });
  }

  private async authorized(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (CREDENTIAL_PATHS.includes(path)) return this.attempt(request, undefined);
    const retry = request.clone();
    const used = this.tokens.accessToken;
    const first = await this.attempt(request, used);
    if (first.status !== 401 || used === undefined) return first;
    const renewed = await this.tokens.renewAfter(used);
    if (renewed === undefined) return first;
    await first.body?.cancel();
    return this.attempt(retry, renewed);
  }

  private async attempt(request: Request, accessToken: string | undefined): Promise<Response> {
    if (accessToken !== undefined) request.headers.set('authorization', `Bearer ${accessToken}`);
    try {
      return await this.send(request);
    } catch (cause) {
      throw new PulseNetworkError(`${request.method} ${request.url} failed: ${String(cause)}`, { cause });
    }
  }

  private async refresh(refreshToken: string): Promise<TokenPair | undefined> {
    const result = await this.api.POST('/v1/auth/refresh', { body: { refreshToken } });
    if (result.response.status === 401) return undefined;
    const pair = await unwrap(Promise.resolve(result));
    return { accessToken: pair.accessToken, refreshToken: pair.refreshToken };
  }

  private signedIn(result: AuthResult): AuthResult {
    this.tokens.set({ accessToken: result.accessToken, refreshToken: result.refreshToken });
    return result;
  }

  async signUp(body: SignUp): Promise<AuthResult> {
    return this.signedIn(await unwrap(this.api.POST('/v1/auth/register', { body })));
  }
  async login(email: string, password: string): Promise<AuthResult> {
    return this.signedIn(await unwrap(this.api.POST('/v1/auth/login', { body: { email, password } })));
  }
  async logout(): Promise<void> {
    const refreshToken = this.tokens.current?.refreshToken;
    if (refreshToken !== undefined)
      await unwrap(this.api.POST('/v1/auth/logout', { body: { refreshToken } }));
    this.tokens.set(undefined);
  }
  /** The caller's profile, with how many they follow and how many follow them. */
  me(): Promise<Profile> {
    return unwrap(this.api.GET('/v1/me'));
  }
  /** Changes the caller's profile: only the fields given (null clears birth year, gender or weight). */
  updateProfile(body: ProfileChange): Promise<Profile> {
    return unwrap(this.api.PATCH('/v1/me', { body }));
  }

  /** Follows a trainee (issue 16; again is a no-op). */
  async follow(userId: string): Promise<void> {
    await unwrap(this.api.PUT('/v1/users/{id}/follow', { params: { path: { id: userId } } }));
  }
  /** Stops following a trainee (not following is a no-op). */
  async unfollow(userId: string): Promise<void> {
    await unwrap(this.api.DELETE('/v1/users/{id}/follow', { params: { path: { id: userId } } }));
  }
  /** The trainees the caller follows, newest first. */
  following(query: PageQuery = {}): Promise<FollowPage> {
    return unwrap(this.api.GET('/v1/me/following', { params: { query } }));
  }
  /** The trainees who follow the caller, newest first. */
  followers(query: PageQuery = {}): Promise<FollowPage> {
    return unwrap(this.api.GET('/v1/me/followers', { params: { query } }));
  }

  createSession(body: NewSession): Promise<Session> {
    return unwrap(this.api.POST('/v1/sessions', { body }));
  }
  listSessions(query: SessionQuery = {}): Promise<SessionPage> {
    return unwrap(this.api.GET('/v1/sessions', { params: { query } }));
  }
  getSession(id: string): Promise<SessionWithRegistration> {
    return unwrap(this.api.GET('/v1/sessions/{id}', { params: { path: { id } } }));
  }
  editSession(id: string, body: SessionEdit): Promise<Session> {
    return unwrap(this.api.PATCH('/v1/sessions/{id}', { params: { path: { id } }, body }));
  }
  cancelSession(id: string): Promise<Session> {
    return unwrap(this.api.POST('/v1/sessions/{id}/cancel', { params: { path: { id } } }));
  }
  startSession(id: string): Promise<Session> {
    return unwrap(this.api.POST('/v1/sessions/{id}/start', { params: { path: { id } } }));
  }
  endSession(id: string): Promise<Session> {
    return unwrap(this.api.POST('/v1/sessions/{id}/end', { params: { path: { id } } }));
  }

  register(id: string): Promise<Registration> {
    return unwrap(this.api.POST('/v1/sessions/{id}/registrations', { params: { path: { id } } }));
  }
  async unregister(id: string): Promise<void> {
    await unwrap(this.api.DELETE('/v1/sessions/{id}/registrations/me', { params: { path: { id } } }));
  }
  join(id: string): Promise<JoinResult> {
    return unwrap(this.api.POST('/v1/sessions/{id}/join', { params: { path: { id } } }));
  }

  /**
   * Results of a live or ended session. While an ended session's results are being frozen (issue 13) the
   * API answers 202 RESULTS_PENDING: a `PulseApiError` with that code and `retryAfter` (seconds) to wait.
   */
  async results(id: string, query: PageQuery = {}): Promise<SessionResults> {
    const { data, error, response } = await this.api.GET('/v1/sessions/{id}/results', {
      params: { path: { id }, query },
    });
    if (response.status === 202) throw PulseApiError.fromResponse(response, data);
    if (!response.ok) throw PulseApiError.fromResponse(response, error);
    return data as SessionResults;
  }
  giveFeedback(id: string, body: NewFeedback): Promise<Feedback> {
    return unwrap(this.api.POST('/v1/sessions/{id}/feedback', { params: { path: { id } }, body }));
  }
  feedback(id: string, query: PageQuery = {}): Promise<FeedbackSummary> {
    return unwrap(this.api.GET('/v1/sessions/{id}/feedback', { params: { path: { id }, query } }));
  }
  history(query: PageQuery = {}): Promise<HistoryPage> {
    return unwrap(this.api.GET('/v1/me/history', { params: { query } }));
  }
  /** The owning trainer's view of a live or ended class: per-minute class average energy and its distribution. */
  classEnergy(id: string): Promise<ClassEnergy> {
    return unwrap(this.api.GET('/v1/sessions/{id}/class-energy', { params: { path: { id } } }));
  }

  /** A trainee's live session (not started: call `start()`); tickets come from `join`, renewed on 4401. */
  live(sessionId: string, options: LiveOptions = {}): LiveSession {
    return new LiveSession(sessionId, (id) => this.join(id), options);
  }
}

/** The data of a successful answer of the raw client, or a `PulseApiError` for any other. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw PulseApiError.fromResponse(response, error);
  return data as T;
}
