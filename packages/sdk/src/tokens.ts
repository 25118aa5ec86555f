/** The pair the API hands out on register, login and refresh. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

/** Performs `POST /v1/auth/refresh`; answers the new pair, or `undefined` when the refresh token was refused. */
export type RefreshCall = (refreshToken: string) => Promise<TokenPair | undefined>;

/**
 * Holds the caller's tokens and refreshes them on 401, single-flight and rotation-safe: refresh tokens rotate on
 * every use and presenting a rotated one revokes the whole family (RFC 9700 §4.14.2), so ten requests failing
 * together must cause exactly one refresh, and a request that failed with an access token older than the current
 * one just retries with the current one.
 */
export class TokenKeeper {
  private tokens: TokenPair | undefined;
  private refreshing: Promise<string | undefined> | undefined;

  constructor(
    private readonly refreshCall: RefreshCall,
    private readonly onChange: (tokens: TokenPair | undefined) => void = () => undefined,
  ) {}

  get accessToken(): string | undefined {
    return this.tokens?.accessToken;
  }

  get current(): TokenPair | undefined {
    return this.tokens;
  }

  set(tokens: TokenPair | undefined): void {
    this.tokens = tokens === undefined ? undefined : { ...tokens };
    this.onChange(this.tokens);
  }

  /**
   * The access token to retry with after `failedAccessToken` got a 401, or `undefined` when signed out (the
   * refresh token was refused too).
   */
  async renewAfter(failedAccessToken: string | undefined): Promise<string | undefined> {
    if (this.refreshing) return this.refreshing;
    if (this.tokens === undefined) return undefined;
    if (this.tokens.accessToken !== failedAccessToken) return this.tokens.accessToken;
    const refreshToken = this.tokens.refreshToken;
    this.refreshing = this.refreshCall(refreshToken)
      .then((pair) => {
        // A login or logout while refreshing wins over the refreshed pair.
        if (this.tokens?.refreshToken === refreshToken) this.set(pair);
        return this.tokens?.accessToken;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}
