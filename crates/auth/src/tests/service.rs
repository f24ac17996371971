//! The service with an injected password check, so tests can count the
//! hashes and hold them while they look at the pool.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use mailkeep_storage_rpc::auth::StepRequest;
use mailkeep_storage_rpc::auth::step_response::Outcome;
use mailkeep_ticket::HostKey;
use mailkeep_ticket_seal::ReplyKey;

use super::*;
use crate::hashing::HashLimits;

struct Fixture {
    service: AuthService,
    hashes: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

/// A service over a passwd-file with `alice` ({PLAIN}) and `bob` (an
/// {ARGON2ID} string the injected check takes as "bob-pw"), whose checks
/// count themselves; bob's run `hold` first.
fn fixture(
    limits: HashLimits,
    delay: Duration,
    hold: impl Fn() + Send + Sync + 'static,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        "alice:{PLAIN}secret\nbob:{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA\n",
    )
    .unwrap();
    let hashes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hashes);
    let verify: Verifier = Arc::new(move |stored: &str, password: &[u8]| {
        counted.fetch_add(1, Ordering::SeqCst);
        if stored.starts_with("{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$") {
            hold();
            Ok(password == b"bob-pw")
        } else {
            crate::scheme::verify_password(stored, password)
        }
    });
    let settings = AuthSettings {
        passwd_file: passwd,
        failure_delay: delay,
        max_failure_delay: delay * 4,
        hashing: limits,
        ..AuthSettings::default()
    };
    let service = AuthService::with_verifier(
        settings,
        HostKey::generate(),
        Arc::new(Exchanges::default()),
        verify,
    );
    Fixture {
        service,
        hashes,
        _dir: dir,
    }
}

fn plain(user: &str, password: &str, ip: &str) -> StepRequest {
    StepRequest {
        exchange_id: 1,
        mechanism: "PLAIN".into(),
        data: format!("\0{user}\0{password}").into_bytes(),
        has_data: true,
        remote_ip: ip.into(),
        protocol: "imap".into(),
        reply_key: ReplyKey::generate().public_bytes(),
        ..StepRequest::default()
    }
}

fn failed(outcome: &Outcome) -> Option<bool> {
    match outcome {
        Outcome::Failure(f) => Some(f.temporary),
        _ => None,
    }
}

#[tokio::test]
async fn an_unknown_user_costs_one_hash_like_an_account() {
    let f = fixture(HashLimits::default(), Duration::ZERO, || {});
    // The decoy was made when the service started; count from here.
    let before = f.hashes.load(Ordering::SeqCst);
    let outcome = f
        .service
        .step_on(
            ConnectionKey(1),
            PeerRole::Other,
            plain("bob", "wrong", "192.0.2.1"),
        )
        .await
        .unwrap();
    assert_eq!(failed(&outcome), Some(false));
    assert_eq!(f.hashes.load(Ordering::SeqCst), before + 1);
    let outcome = f
        .service
        .step_on(
            ConnectionKey(1),
            PeerRole::Other,
            plain("nobody", "wrong", "192.0.2.2"),
        )
        .await
        .unwrap();
    assert_eq!(failed(&outcome), Some(false));
    assert_eq!(
        f.hashes.load(Ordering::SeqCst),
        before + 2,
        "an unknown user must be hashed (against the decoy) exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_logins_keep_hashing_at_the_bound_and_shed_the_rest() {
    let (release, held) = mpsc::channel::<()>();
    let held = Arc::new(Mutex::new(held));
    let (entered_tx, mut entered) = tokio::sync::mpsc::unbounded_channel::<()>();
    let f = fixture(
        HashLimits {
            workers: 2,
            queue: 3,
        },
        Duration::ZERO,
        move || {
            let _ = entered_tx.send(());
            let _ = held.lock().unwrap().recv();
        },
    );
    let service = f.service.clone();
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..12u32 {
        let service = service.clone();
        logins.spawn(async move {
            // Different networks: no penalty is involved, only the pool.
            let ip = format!("10.{i}.0.1");
            service
                .step_on(
                    ConnectionKey(u64::from(i)),
                    PeerRole::Other,
                    plain("bob", "guess", &ip),
                )
                .await
                .unwrap()
        });
    }
    // Two hash, three wait, the other seven are shed at once.
    let mut temporary = 0;
    while temporary < 7 {
        let outcome = logins.join_next().await.unwrap().unwrap();
        assert_eq!(failed(&outcome), Some(true), "{outcome:?}");
        temporary += 1;
    }
    entered.recv().await.unwrap();
    entered.recv().await.unwrap();
    let counters = f.service.shared.hashing.counters();
    assert_eq!(counters.running.load(Ordering::SeqCst), 2);
    for _ in 0..5 {
        release.send(()).unwrap();
    }
    while let Some(joined) = logins.join_next().await {
        assert_eq!(failed(&joined.unwrap()), Some(false), "a wrong password");
    }
    assert_eq!(counters.peak.load(Ordering::SeqCst), 2);
    assert_eq!(counters.shed.load(Ordering::SeqCst), 7);
    // {PLAIN} accounts never wait for the pool.
    let outcome = f
        .service
        .step_on(
            ConnectionKey(99),
            PeerRole::Other,
            plain("alice", "secret", "10.99.0.1"),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Success(_)), "{outcome:?}");
}

#[tokio::test(start_paused = true)]
async fn a_penalised_client_cannot_make_auth_hash_until_its_delay_passed() {
    let f = fixture(HashLimits::default(), Duration::from_secs(2), || {});
    let ip = "192.0.2.1";
    let before = f.hashes.load(Ordering::SeqCst);
    f.service
        .step_on(ConnectionKey(1), PeerRole::Other, plain("bob", "wrong", ip))
        .await
        .unwrap();
    assert_eq!(f.hashes.load(Ordering::SeqCst), before + 1);
    let service = f.service.clone();
    let next = tokio::spawn(async move {
        service
            .step_on(
                ConnectionKey(1),
                PeerRole::Other,
                plain("bob", "wrong-again", ip),
            )
            .await
            .unwrap()
    });
    // Just before the delay is over, nothing was hashed for it.
    tokio::time::sleep(Duration::from_millis(1999)).await;
    assert_eq!(f.hashes.load(Ordering::SeqCst), before + 1);
    assert!(!next.is_finished());
    assert_eq!(failed(&next.await.unwrap()), Some(false));
    assert_eq!(f.hashes.load(Ordering::SeqCst), before + 2);
}

/// A login on a connection of the auth-socket role (an MTA's SMTP AUTH)
/// succeeds with no session ticket; the same login from imap gets one;
/// a wrong password there fails and counts as a failure like anywhere.
#[tokio::test]
async fn an_auth_socket_login_gets_no_ticket() {
    let f = fixture(HashLimits::default(), Duration::ZERO, || {});
    let socket = f
        .service
        .step_on(
            ConnectionKey(1),
            PeerRole::AuthSocket,
            plain("alice", "secret", "192.0.2.9"),
        )
        .await
        .unwrap();
    match socket {
        Outcome::Success(s) => {
            assert_eq!(s.user, "alice");
            assert!(s.sealed_ticket.is_empty(), "a ticket for the auth socket");
            assert_eq!(s.expires_unix, 0);
        }
        other => panic!("expected a success, got {other:?}"),
    }
    let imap = f
        .service
        .step_on(
            ConnectionKey(2),
            PeerRole::Other,
            plain("alice", "secret", "192.0.2.9"),
        )
        .await
        .unwrap();
    assert!(
        matches!(&imap, Outcome::Success(s) if !s.sealed_ticket.is_empty()),
        "{imap:?}"
    );
    let wrong = f
        .service
        .step_on(
            ConnectionKey(1),
            PeerRole::AuthSocket,
            plain("alice", "nope", "192.0.2.9"),
        )
        .await
        .unwrap();
    assert_eq!(failed(&wrong), Some(false));
}
