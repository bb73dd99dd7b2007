//! `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4): a device polls with its
//! `device_code` until its user answered at `/device` ([`crate::oauth::device`]).
//!
//! A poll is one conditional `UpdateItem` ([`crate::store::device_grants`]): it counts only
//! for the client the code was issued to, before it expires, once per interval and before the
//! code is redeemed, and returns the grant either way. The answers (§3.5):
//! - `authorization_pending`: nobody answered yet;
//! - `slow_down`: the poll came before the interval was over; the interval grows by 5 s "for
//!   this and all subsequent requests" (a second write);
//! - `access_denied`: the user said no;
//! - `expired_token`: the code's 10 minutes are over ("the client MAY commence a new device
//!   authorization request");
//! - `invalid_grant`: an unknown code, another client's, or one redeemed already.
//!
//! An approval is redeemed once, for what a code of the same sign-in gets: an access token, an ID
//! token when the scope has `openid` (`auth_time`, `amr` and `sid` of the approving browser
//! session), and a refresh token when the client may refresh (its family ends with that session
//! unless the scope has `offline_access`). As with a code, everything is issued before the grant
//! is marked redeemed, so that a KMS or DynamoDB failure leaves it for the next poll; a poll that
//! loses the race to redeem revokes what it issued.

use super::{TokenResponse, user_tokens};
use crate::App;
use crate::domain::client::Client;
use crate::domain::device_grant::{DeviceApproval, DeviceStatus};
use crate::error::{Error, OAuthError};
use crate::params::Params;
use crate::secret::hash;
use crate::store::Written;
use crate::store::device_grants::Polled;
use crate::tokens::id::Authentication;
use crate::tokens::refresh;

pub const GRANT_TYPE: &str = crate::grant_type::DEVICE_CODE;
pub const PARAMETERS: &[&str] = &["device_code"];

/// Why a poll gets no tokens (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotYet {
    Pending,
    SlowDown,
    Denied,
    Expired,
    Invalid,
}

impl NotYet {
    /// The error response (RFC 8628 §3.5; RFC 6749 §5.2: 400).
    pub fn error(self) -> OAuthError {
        match self {
            NotYet::Pending => OAuthError::new(400, "authorization_pending", "the user has not answered yet"),
            NotYet::SlowDown => OAuthError::new(400, "slow_down", "polling too fast: wait 5 seconds more from now on"),
            NotYet::Denied => OAuthError::access_denied("the user denied the request").with_status(400),
            NotYet::Expired => OAuthError::new(400, "expired_token", "the device code expired: start again"),
            NotYet::Invalid => OAuthError::invalid_grant("the device code is invalid, another client's, or used"),
        }
    }
}

/// What a poll of `client_id` tells the device: the approval to redeem, or why not.
pub fn answer(polled: &Polled, client_id: &str, now: i64) -> Result<DeviceApproval, NotYet> {
    match polled {
        Polled::Counted(grant) => match &grant.status {
            DeviceStatus::Pending => Err(NotYet::Pending),
            DeviceStatus::Denied => Err(NotYet::Denied),
            DeviceStatus::Approved(approval) => Ok(approval.clone()),
        },
        Polled::Refused(None) => Err(NotYet::Invalid),
        // RFC 6749 §5.2 "issued to another client": checked first, so that another client
        // learns nothing of the grant, not even that it expired.
        Polled::Refused(Some(grant)) if grant.client_id != client_id || grant.redeemed => Err(NotYet::Invalid),
        Polled::Refused(Some(grant)) if grant.expires_at <= now => Err(NotYet::Expired),
        // Live, this client's, not redeemed: refused for coming too early.
        Polled::Refused(Some(_)) => Err(NotYet::SlowDown),
    }
}

pub async fn grant(app: &App, client: &Client, params: &Params, now: i64) -> Result<TokenResponse, Error> {
    let device_hash = hash(params.require("device_code")?);
    let polled = app.store.poll_device_grant(&device_hash, &client.id, now).await?;
    let approval = match answer(&polled, &client.id, now) {
        Ok(approval) => approval,
        Err(NotYet::SlowDown) => {
            app.store.slow_down_device_grant(&device_hash, now).await?;
            return Err(NotYet::SlowDown.error().into());
        }
        Err(not_yet) => return Err(not_yet.error().into()),
    };
    let scope = approval.scope.intersection(&client.scope);
    let authentication = Authentication {
        auth_time: Some(approval.auth_time),
        nonce: None,
        sid: approval.sid.clone(),
        method: Some(approval.method),
    };
    let (access, id_token) = user_tokens(app, client, &approval.subject, &scope, &authentication, now).await?;
    let refresh = refresh::issue(app, client, &approval.subject, &scope, &authentication, now).await?;
    if app.store.redeem_device_grant(&device_hash, now).await? == Written::LostRace {
        // A concurrent poll redeemed it first: what this one issued was never handed out.
        if let Some(refresh) = &refresh {
            app.store.revoke_family(&refresh.record.family_id, now).await?;
        }
        app.store.revoke_access_token(access.claims.id(), now).await?;
        return Err(NotYet::Invalid.error().into());
    }
    Ok(TokenResponse { id_token, ..TokenResponse::new(app, access, refresh.map(|r| r.token), &scope) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::browser_session::SignInMethod;
    use crate::domain::device_grant::DeviceGrant;
    use crate::scope::Scope;

    const NOW: i64 = 1_000;

    fn grant(status: DeviceStatus) -> DeviceGrant {
        DeviceGrant {
            hash: "h".into(),
            client_id: "tv".into(),
            scope: Scope::parse("openid").unwrap(),
            status,
            interval: 5,
            next_poll_at: NOW + 5,
            redeemed: false,
            expires_at: NOW + 300,
        }
    }

    fn approval() -> DeviceApproval {
        DeviceApproval {
            subject: "u1".into(),
            auth_time: NOW - 10,
            method: SignInMethod::Password,
            sid: Some("sid1".into()),
            scope: Scope::parse("openid").unwrap(),
        }
    }

    #[test]
    fn a_counted_poll_answers_by_the_users_answer() {
        let counted = |status| answer(&Polled::Counted(grant(status)), "tv", NOW);
        assert_eq!(counted(DeviceStatus::Pending), Err(NotYet::Pending));
        assert_eq!(counted(DeviceStatus::Denied), Err(NotYet::Denied));
        assert_eq!(counted(DeviceStatus::Approved(approval())), Ok(approval()));
    }

    #[test]
    fn a_refused_poll_says_why_and_tells_another_client_nothing() {
        let refused = |g: DeviceGrant, client: &str| answer(&Polled::Refused(Some(g)), client, NOW);
        assert_eq!(answer(&Polled::Refused(None), "tv", NOW), Err(NotYet::Invalid), "unknown");
        assert_eq!(refused(grant(DeviceStatus::Pending), "tv"), Err(NotYet::SlowDown), "too early");
        let expired = DeviceGrant { expires_at: NOW, ..grant(DeviceStatus::Pending) };
        assert_eq!(refused(expired.clone(), "tv"), Err(NotYet::Expired));
        assert_eq!(refused(expired, "other"), Err(NotYet::Invalid), "another client's, expired or not");
        assert_eq!(refused(grant(DeviceStatus::Pending), "other"), Err(NotYet::Invalid));
        let redeemed = DeviceGrant { redeemed: true, ..grant(DeviceStatus::Approved(approval())) };
        assert_eq!(refused(redeemed, "tv"), Err(NotYet::Invalid), "used once");
    }

    #[test]
    fn each_answer_is_its_rfc_8628_error_with_status_400() {
        let errors: Vec<(u16, &str)> =
            [NotYet::Pending, NotYet::SlowDown, NotYet::Denied, NotYet::Expired, NotYet::Invalid]
                .into_iter()
                .map(|n| (n.error().status, n.error().error))
                .collect();
        assert_eq!(
            errors,
            [
                (400, "authorization_pending"),
                (400, "slow_down"),
                (400, "access_denied"),
                (400, "expired_token"),
                (400, "invalid_grant")
            ]
        );
    }
}
