//! Registered clients as one container sees them: each read from the table is trusted for
//! `CLIENT_CACHE_TTL` (default 60 s), so a warm container authenticates a client, refreshes and
//! logs in without reading the client again.
//!
//! The consequence, documented in the README and in `wxauth-admin client delete --help`: a
//! deleted client, a new secret or a changed grant takes effect everywhere within that time.
//! Unknown ids are not cached (a client created a moment ago must work at once); the cache holds
//! at most [`MAX_CLIENTS`], so made-up ids cannot grow it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::client::Client;
use crate::error::Error;
use crate::store::Store;

/// More clients than any deployment registers; beyond it the oldest entry goes.
pub const MAX_CLIENTS: usize = 1024;

#[derive(Debug)]
pub struct ClientCache {
    ttl: Duration,
    cached: Mutex<HashMap<String, (Instant, Client)>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, cached: Mutex::default() }
    }

    /// The client `id`, from the cache while its entry is fresh, else from the table.
    pub async fn get(&self, store: &Store, id: &str) -> Result<Option<Client>, Error> {
        if let Some(client) = self.fresh(id) {
            return Ok(Some(client));
        }
        let client = store.client(id).await?;
        if let Some(client) = &client
            && !self.ttl.is_zero()
            && let Ok(mut cached) = self.cached.lock()
        {
            if cached.len() >= MAX_CLIENTS {
                let ttl = self.ttl;
                cached.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            if cached.len() >= MAX_CLIENTS
                && let Some(oldest) = cached.iter().min_by_key(|(_, (at, _))| *at).map(|(id, _)| id.clone())
            {
                cached.remove(&oldest);
            }
            cached.insert(id.to_string(), (Instant::now(), client.clone()));
        }
        Ok(client)
    }

    fn fresh(&self, id: &str) -> Option<Client> {
        let cached = self.cached.lock().ok()?;
        cached.get(id).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, client)| client.clone())
    }
}
