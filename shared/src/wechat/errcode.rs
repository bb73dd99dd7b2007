//! WeChat's error codes (`errcode`) that change what wxauth does, named once. WeChat answers them
//! with HTTP 200 and `{"errcode", "errmsg"}`; every other code is "WeChat refused", a 502.

/// "system error": WeChat was busy and consumed nothing, so one retry is safe.
pub const SYSTEM_BUSY: i64 = -1;
/// "invalid credential, access_token is invalid or not latest": the server token was refused.
pub const INVALID_CREDENTIAL: i64 = 40001;
/// "invalid code": a login or phone code that is wrong or expired.
pub const INVALID_CODE: i64 = 40029;
/// "code been used": a login or phone code presented twice.
pub const CODE_BEEN_USED: i64 = 40163;
/// "high risk user": WeChat refuses to log this user in.
pub const HIGH_RISK_USER: i64 = 40226;
/// "code expired": a web-authorization code older than its five minutes.
pub const CODE_EXPIRED: i64 = 42003;
/// "access_token expired": the server token's time is up.
pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
/// "api minute-quota reach limit": the app's per-minute quota of this API is spent.
pub const MINUTE_QUOTA_REACHED: i64 = 45011;

/// Whether `errcode` means the server access token itself was refused (renew it and retry once).
pub fn rejects_server_token(errcode: i64) -> bool {
    matches!(errcode, INVALID_CREDENTIAL | ACCESS_TOKEN_EXPIRED)
}
