use std::sync::Arc;

use mailkeep_frontend::{AnyConnector, AuthLink, Clock, ConnectError, Connector};
use mailkeep_storage_rpc::auth::auth_client::AuthClient;
use mailkeep_storage_rpc::leased::LeasedChannel;
use mailkeep_storage_rpc::socket_channel::SocketChannel;

use super::*;

/// A connector that reaches nothing: the cache never connects.
#[derive(Clone)]
struct Nowhere;

impl Connector for Nowhere {
    async fn auth(&self) -> Result<AuthClient<SocketChannel>, ConnectError> {
        Err(ConnectError::unavailable("no auth in this test"))
    }

    async fn storage(&self, _: &str, _: &str) -> Result<LeasedChannel, ConnectError> {
        Err(ConnectError::unavailable("no storage in this test"))
    }
}

fn storage(user: &str, expires_unix: i64) -> Storage {
    let auth = Arc::new(AuthLink::new(AnyConnector::new(Nowhere)));
    let clock = Clock::manual(Arc::new(std::sync::atomic::AtomicI64::new(1000)));
    Storage::for_delivery(
        auth,
        user,
        zeroize::Zeroizing::new("ticket".into()),
        expires_unix,
        clock,
    )
}

#[test]
fn a_lookup_is_reused_for_the_first_half_of_its_tickets_life() {
    let cache = RecipientCache::default();
    cache.put(
        "a@example.org",
        "alice",
        &storage("alice", 1600),
        1000,
        1600,
    );
    let (user, got) = cache.get("a@example.org", 1299).expect("fresh");
    assert_eq!(user, "alice");
    assert_eq!(got.user(), "alice");
    assert!(
        cache.get("a@example.org", 1300).is_none(),
        "half its life gone"
    );
    assert!(
        cache.get("b@example.org", 1000).is_none(),
        "never looked up"
    );
}

#[test]
fn forget_and_sweep_drop_entries() {
    let cache = RecipientCache::default();
    cache.put("a", "alice", &storage("alice", 1600), 1000, 1600);
    cache.put("b", "bob", &storage("bob", 2000), 1000, 2000);
    cache.forget("a");
    assert!(cache.get("a", 1000).is_none());
    cache.sweep(1500);
    assert!(cache.get("b", 1499).is_none(), "swept at its half life");
}

#[test]
fn a_ticket_without_life_left_is_not_kept() {
    let cache = RecipientCache::default();
    cache.put("a", "alice", &storage("alice", 1000), 1000, 1000);
    assert!(cache.get("a", 999).is_none());
}
