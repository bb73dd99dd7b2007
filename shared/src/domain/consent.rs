//! A user's remembered consent to a client: the scopes they allowed it, so the next request
//! for no more than those needs no consent page.

use crate::scope::Scope;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    pub scope: Scope,
    pub expires_at: i64,
}

impl Consent {
    /// Whether the user allowed all of `requested` already.
    pub fn covers(&self, requested: &Scope) -> bool {
        requested.is_subset_of(&self.scope)
    }
}
