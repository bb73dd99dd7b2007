// Type declarations of wxauth-miniprogram (hand-written; checked by test/unit/types.test.mjs).

/** The part of `wx` the SDK uses. */
export interface WxLike {
  login(options: {
    timeout?: number;
    success?: (res: { code: string; errMsg?: string }) => void;
    fail?: (err: { errMsg: string }) => void;
  }): void;
  request(options: WxRequestOptions & {
    success?: (res: WxResponse) => void;
    fail?: (err: { errMsg: string }) => void;
  }): unknown;
  getStorageSync?(key: string): any;
  setStorageSync?(key: string, value: any): void;
  removeStorageSync?(key: string): void;
}

/** Where tokens are kept (default: `wx` itself, i.e. the mini program's storage). */
export interface StorageLike {
  getStorageSync(key: string): any;
  setStorageSync(key: string, value: any): void;
  removeStorageSync(key: string): void;
}

export interface ClientOptions {
  /** The wxauth server, e.g. `https://auth.example.com` (a request's relative URL hangs off it too). */
  baseUrl: string;
  /** The client id registered for this mini program. */
  clientId: string;
  /** Space-separated scopes to ask for at login (default: the client's registered scope). */
  scope?: string;
  /** Default: `wx` (wx.getStorageSync / setStorageSync / removeStorageSync). */
  storage?: StorageLike;
  /** Default: the global `wx`. For tests. */
  wx?: WxLike;
  /** Milliseconds since the epoch; default `Date.now`. For tests. */
  now?: () => number;
  /** Waits `ms` milliseconds; default setTimeout. For tests. */
  sleep?: (ms: number) => Promise<void>;
  /** Refresh this long before the access token expires, capped at half its lifetime (default 60000). */
  clockSkewMs?: number;
  /** Retries of a 429/503 answer that carries Retry-After (default 2). */
  maxRetries?: number;
  /** The longest Retry-After the SDK waits for (default 10000 ms); longer ones are not retried. */
  maxRetryDelayMs?: number;
  /** Timeout of the SDK's own wx.login and token requests (default 10000 ms). */
  timeoutMs?: number;
  /** How often a refresh that got no answer is sent again with the same refresh token (default 2). */
  lostRefreshRetries?: number;
  /** The delay before such a retry, times its number (default 300 ms). */
  lostRefreshDelayMs?: number;
}

/** What the SDK exposes of the stored tokens (never the refresh token). */
export interface Tokens {
  accessToken: string;
  tokenType: string;
  /** The OpenID Connect ID token, when the scope has `openid`. */
  idToken: string | null;
  scope: string;
  openid: string | null;
  unionid: string | null;
  /** When the access token expires, in milliseconds of the client's clock; null if unknown. */
  expiresAt: number | null;
}

export interface WxRequestOptions {
  /** Absolute, or relative to `baseUrl`. */
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';
  data?: string | object | ArrayBuffer;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: string;
  responseType?: 'text' | 'arraybuffer';
  [option: string]: unknown;
}

export interface WxResponse<T = any> {
  statusCode: number;
  data: T;
  header: Record<string, string>;
  cookies?: string[];
}

export interface DecryptInput {
  encryptedData: string;
  iv: string;
  /** With `signature`: user-profile data is then authenticated (`sha1(rawData + session_key)`). */
  rawData?: string;
  signature?: string;
  /** Refuse data that rawData and signature do not authenticate (400 invalid_request). */
  requireSignature?: boolean;
}

export interface DecryptResult<T = Record<string, unknown>> {
  data: T;
  /** Whether rawData's signature vouched for the data (WeChat's encryption has no MAC). */
  authenticated: boolean;
}

export interface PhoneNumber {
  phone_number: string;
  pure_phone_number: string;
  country_code: string;
}

/** Where a scanned sign-in stands: `scanned` (bound to this user, not answered yet), or the answer. */
export type ScanStatus = 'scanned' | 'approved' | 'denied';

/** `POST /wechat/scan`'s answer: what the confirmation page shows. */
export interface ScanTicket {
  status: ScanStatus;
  /** The name of the website asking to sign in (its client id when it has none). */
  client_name: string;
  /** The scopes it asks for, e.g. `['openid', 'profile']`. */
  scopes: string[];
  /** Seconds the code has left. */
  expires_in: number;
  /** The computer asking, so the user can tell whether the screen they scanned is their own (absent from servers before it). */
  requested_from?: ScanRequester;
}

/** The browser that shows the code; each part only when the server could tell. */
export interface ScanRequester {
  /** E.g. `'Chrome'`, `'Edge'`, `'QQ Browser'`. */
  browser?: string;
  /** E.g. `'Windows'`, `'macOS'`. */
  os?: string;
  /** Its network, as the server saw it: `'203.0.113.*'`, `'2001:db8:1:2::/64'`. */
  ip?: string;
  /**
   * Whether this phone asks from the same network (the same IPv4 address, the same IPv6 /64):
   * `false` is common on mobile data, and worth a warning when the user expects their own Wi-Fi.
   */
  same_network?: boolean;
}

/**
 * Scan to sign in on a computer. `scene` is `options.scene` of the page the code opened, raw or
 * URL-encoded (decoded when it has a `%`); 1 to 32 characters, or `invalid_argument`.
 */
export interface ScanApi {
  /** Binds the code to this user (the first who scans it) and says what the website asks for. */
  inspect(scene: string): Promise<ScanTicket>;
  /** Signs the computer in as this user. */
  approve(scene: string): Promise<ScanTicket>;
  /** Refuses the sign-in. */
  deny(scene: string): Promise<ScanTicket>;
}

export interface LogoutResult {
  /** Whether the server revoked the refresh token. Storage is cleared either way. */
  revoked: boolean;
  error?: WxAuthError;
}

/** The server's OAuth error codes the SDK passes on, and its own. */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'invalid_scope'
  | 'access_denied'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_session_key'
  | 'temporarily_unavailable'
  | 'server_error'
  | 'network_error'
  | 'wx_login_failed'
  | 'session_key_renewed'
  | 'invalid_response'
  | 'http_error'
  | 'invalid_argument'
  | (string & {});

export declare const errorCodes: {
  readonly NETWORK_ERROR: 'network_error';
  readonly WX_LOGIN_FAILED: 'wx_login_failed';
  readonly SESSION_KEY_RENEWED: 'session_key_renewed';
  readonly INVALID_RESPONSE: 'invalid_response';
  readonly HTTP_ERROR: 'http_error';
  readonly INVALID_ARGUMENT: 'invalid_argument';
};

export declare class WxAuthError extends Error {
  constructor(
    error: ErrorCode,
    description?: string,
    details?: { status?: number; retryAfter?: number | null; data?: unknown; header?: Record<string, string>; cause?: unknown },
  );
  readonly name: 'WxAuthError';
  /** The OAuth error code (RFC 6749 §5.2, RFC 6750 §3.1) or one of `errorCodes`. */
  readonly error: ErrorCode;
  /** The server's error_description, or the SDK's explanation. */
  readonly description: string;
  /** The HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** Seconds from the answer's Retry-After, if it had one. */
  readonly retryAfter: number | null;
  /** The answer's body, if any. */
  readonly data?: unknown;
  readonly header?: Record<string, string>;
  readonly cause?: unknown;
}

export interface WxAuthClient {
  /** wx.login() and the WeChat grant; concurrent calls share one login. */
  login(): Promise<Tokens>;
  /** A valid access token: the stored one, refreshed ahead of expiry, or a login's. */
  getAccessToken(): Promise<string>;
  /** wx.request with the Bearer token; rejects with WxAuthError on a non-2xx answer. */
  request<T = any>(options: WxRequestOptions): Promise<WxResponse<T>>;
  /** POST /wechat/decrypt after GET /wechat/session; `session_key_renewed` when the data must be fetched again. */
  decrypt<T = Record<string, unknown>>(input: DecryptInput): Promise<DecryptResult<T>>;
  /** POST /wechat/phone with the code of the getPhoneNumber button's event (`e.detail.code`). */
  phoneNumber(code: string): Promise<PhoneNumber>;
  /** POST /wechat/scan: answers a desktop's mini-program code (README: "Scan to sign in on a computer"). */
  readonly scan: ScanApi;
  /** Revokes the refresh token and clears storage (cleared even when the revocation fails). */
  logout(): Promise<LogoutResult>;
  /** The stored tokens (without the refresh token), or null when logged out. */
  getTokens(): Tokens | null;
}

export declare function createClient(options: ClientOptions): WxAuthClient;
