//! Master logins through the service: `user*master` by PLAIN, LOGIN and
//! SCRAM, PLAIN's and SCRAM's authzid, and every way one is refused (as a
//! wrong password).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailkeep_storage_rpc::auth::step_response::Outcome;
use mailkeep_storage_rpc::auth::{Failure, StepRequest, Success};
use mailkeep_testkit::scram::{Hash, ScramClient};
use mailkeep_ticket::{HostKey, TrustedHosts, now_unix};
use mailkeep_ticket_seal::{Purpose, ReplyKey};

use super::*;

/// The argon2 string the injected check takes as "auditor-pw": a master
/// whose password goes through the hashing pool.
const AUDITOR_HASH: &str = "{ARGON2ID}$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$YXVkaXRvcg";

struct Fixture {
    service: AuthService,
    /// Verifies the tickets the service signs.
    trusted: TrustedHosts,
    hashes: Arc<AtomicUsize>,
    /// The reply key of the last step, which opens a success's ticket.
    reply: Mutex<Option<ReplyKey>>,
    _dir: tempfile::TempDir,
}

/// A service whose users file has `admin`, `auditor` (both masters when
/// `masters` says so), `alice` and `bob`; passwords are `NAME-pw`; a
/// failed login delays the next by `delay`.
fn fixture(masters: &[&str], delay: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        format!(
            "admin:{{PLAIN}}admin-pw\nauditor:{AUDITOR_HASH}\n\
             alice:{{PLAIN}}alice-pw\nbob:{{PLAIN}}bob-pw\n"
        ),
    )
    .unwrap();
    let hashes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hashes);
    let verify: Verifier = Arc::new(move |stored: &str, password: &[u8]| {
        counted.fetch_add(1, Ordering::SeqCst);
        if stored == AUDITOR_HASH {
            Ok(password == b"auditor-pw")
        } else {
            crate::scheme::verify_password(stored, password)
        }
    });
    let settings = AuthSettings {
        passwd_file: passwd,
        failure_delay: delay,
        max_failure_delay: delay * 4,
        master_users: masters.iter().map(|m| (*m).to_owned()).collect(),
        ..AuthSettings::default()
    };
    let key = HostKey::generate();
    let mut trusted = TrustedHosts::new();
    trusted.insert(&settings.issuer, key.public()).unwrap();
    let service = AuthService::with_verifier(settings, key, Arc::new(Exchanges::default()), verify);
    Fixture {
        service,
        trusted,
        hashes,
        reply: Mutex::new(None),
        _dir: dir,
    }
}

fn request(mechanism: &str, data: &[u8], ip: &str) -> StepRequest {
    StepRequest {
        exchange_id: 1,
        mechanism: mechanism.into(),
        data: data.to_vec(),
        has_data: true,
        remote_ip: ip.into(),
        protocol: "imap".into(),
        ..StepRequest::default()
    }
}

impl Fixture {
    /// One step on connection `conn` with a reply key of its own, kept to
    /// open the ticket of a success.
    async fn step(&self, conn: ConnectionKey, mut req: StepRequest) -> Outcome {
        let key = ReplyKey::generate();
        req.reply_key = key.public_bytes();
        *self.reply.lock().unwrap() = Some(key);
        self.service
            .step_on(conn, PeerRole::Other, req)
            .await
            .unwrap()
    }

    /// A PLAIN login with `authzid`, `authcid` and `password`.
    async fn plain(&self, authzid: &str, authcid: &str, password: &str) -> Outcome {
        let data = format!("{authzid}\0{authcid}\0{password}");
        self.step(
            ConnectionKey(1),
            request("PLAIN", data.as_bytes(), "192.0.2.1"),
        )
        .await
    }

    /// A LOGIN exchange (user name as the initial response).
    async fn login(&self, user: &str, password: &str) -> Outcome {
        let first = self
            .step(
                ConnectionKey(2),
                request("LOGIN", user.as_bytes(), "192.0.2.2"),
            )
            .await;
        assert_eq!(first, Outcome::Challenge(b"Password:".to_vec()));
        let mut next = request("", password.as_bytes(), "192.0.2.2");
        next.mechanism.clear();
        self.step(ConnectionKey(2), next).await
    }

    /// A SCRAM-SHA-256 exchange naming `user` after the GS2 header `gs2`
    /// (`n,,`, or `n,a=AUTHZID,` to act as another), proving `password`.
    async fn scram(&self, gs2: &str, user: &str, password: &str) -> Outcome {
        let mut client = ScramClient::new(Hash::Sha256, user, password, gs2, b"");
        let first = self
            .step(
                ConnectionKey(3),
                request("SCRAM-SHA-256", &client.first_message(), "192.0.2.3"),
            )
            .await;
        let Outcome::Challenge(server_first) = first else {
            return first;
        };
        let mut next = request("", &client.final_message(&server_first), "192.0.2.3");
        next.mechanism.clear();
        let outcome = self.step(ConnectionKey(3), next).await;
        if let Outcome::Success(success) = &outcome {
            assert_eq!(success.final_data, client.expected_server_final());
        }
        outcome
    }

    /// The success of `outcome`, its ticket checked to be `user`'s.
    #[track_caller]
    fn success_as(&self, outcome: Outcome, user: &str) -> Success {
        let Outcome::Success(success) = outcome else {
            panic!("expected a success as {user}, got {outcome:?}");
        };
        assert_eq!(success.user, user);
        let key = self
            .reply
            .lock()
            .unwrap()
            .take()
            .expect("a step's reply key");
        let ticket = key
            .open(&success.sealed_ticket, Purpose::Login, user)
            .unwrap();
        let claims = self.trusted.verify(&ticket, now_unix()).unwrap();
        assert_eq!(claims.user, user, "the ticket is for the wrong user");
        success
    }
}

/// The reply to a wrong password: what every refused master login must
/// look like.
fn wrong_password() -> Outcome {
    Outcome::Failure(Failure {
        reason: FAILED.to_owned(),
        temporary: false,
        contact_admin: false,
        ..Failure::default()
    })
}

#[tokio::test]
async fn a_master_logs_in_as_the_user_by_plain_and_login() {
    let f = fixture(&["admin", "auditor"], Duration::ZERO);
    f.success_as(f.plain("", "alice*admin", "admin-pw").await, "alice");
    f.success_as(f.login("alice*admin", "admin-pw").await, "alice");
    // A master whose password is hashed in the pool.
    f.success_as(f.login("bob*auditor", "auditor-pw").await, "bob");
    // The master's own login is unchanged.
    f.success_as(f.plain("", "admin", "admin-pw").await, "admin");
}

#[tokio::test]
async fn plain_authzid_is_proxy_authorization_for_masters_only() {
    let f = fixture(&["admin"], Duration::ZERO);
    f.success_as(f.plain("alice", "admin", "admin-pw").await, "alice");
    // An authzid equal to the authcid is an ordinary login.
    f.success_as(f.plain("bob", "bob", "bob-pw").await, "bob");
    // bob is no master: his right password does not let him act as alice.
    assert_eq!(f.plain("alice", "bob", "bob-pw").await, wrong_password());
    assert_eq!(
        f.plain("alice", "admin", "alice-pw").await,
        wrong_password()
    );
}

#[tokio::test]
async fn every_refused_master_login_looks_like_a_wrong_password() {
    let f = fixture(&["admin"], Duration::ZERO);
    for (name, password) in [
        // Not a master, with his own right password.
        ("alice*bob", "bob-pw"),
        // The master's password wrong, or the target's given instead.
        ("alice*admin", "wrong"),
        ("alice*admin", "alice-pw"),
        // No such master, no such target.
        ("alice*nobody", "admin-pw"),
        ("nobody*admin", "admin-pw"),
    ] {
        assert_eq!(
            f.plain("", name, password).await,
            wrong_password(),
            "PLAIN {name}"
        );
        assert_eq!(
            f.login(name, password).await,
            wrong_password(),
            "LOGIN {name}"
        );
    }
}

#[tokio::test]
async fn a_master_logs_in_as_the_user_by_scram() {
    let f = fixture(&["admin"], Duration::ZERO);
    // `user*master` as the SCRAM user name, proved with the master's keys.
    f.success_as(f.scram("n,,", "alice*admin", "admin-pw").await, "alice");
    // SCRAM's own authorization identity (the GS2 header's `a=`).
    f.success_as(f.scram("n,a=alice,", "admin", "admin-pw").await, "alice");
    // An authzid equal to the user is an ordinary login.
    f.success_as(f.scram("n,a=bob,", "bob", "bob-pw").await, "bob");
    f.success_as(f.scram("n,,", "admin", "admin-pw").await, "admin");
}

#[tokio::test]
async fn every_refused_scram_master_login_looks_like_a_wrong_password() {
    let f = fixture(&["admin"], Duration::ZERO);
    for (gs2, name, password) in [
        // Not a master, with his own right password.
        ("n,,", "alice*bob", "bob-pw"),
        ("n,a=alice,", "bob", "bob-pw"),
        // The master's password wrong, or the target's given instead.
        ("n,,", "alice*admin", "wrong"),
        ("n,,", "alice*admin", "alice-pw"),
        ("n,a=alice,", "admin", "alice-pw"),
        // No such master, no such target.
        ("n,,", "alice*nobody", "admin-pw"),
        ("n,,", "nobody*admin", "admin-pw"),
        ("n,a=nobody,", "admin", "admin-pw"),
    ] {
        assert_eq!(
            f.scram(gs2, name, password).await,
            wrong_password(),
            "SCRAM {gs2}{name}"
        );
    }
    let off = fixture(&[], Duration::ZERO);
    assert_eq!(
        off.scram("n,a=alice,", "admin", "admin-pw").await,
        wrong_password()
    );
    assert_eq!(
        off.scram("n,,", "alice*admin", "admin-pw").await,
        wrong_password()
    );
}

/// A SCRAM master login's failure, too, counts against the master.
#[tokio::test]
async fn a_failed_scram_master_login_counts_against_the_master() {
    let f = fixture(&["admin"], Duration::from_secs(2));
    assert_eq!(
        f.scram("n,,", "alice*admin", "wrong").await,
        wrong_password()
    );
    let penalty = &f.service.shared.penalty;
    let now = tokio::time::Instant::now();
    assert!(!penalty.admit("203.0.113.9", Some("admin"), now).is_zero());
    assert!(penalty.admit("203.0.113.9", Some("alice"), now).is_zero());
}

#[tokio::test]
async fn an_unknown_master_costs_one_hash_like_a_known_one() {
    let f = fixture(&["admin"], Duration::ZERO);
    let before = f.hashes.load(Ordering::SeqCst);
    assert_eq!(f.plain("", "alice*admin", "wrong").await, wrong_password());
    assert_eq!(f.hashes.load(Ordering::SeqCst), before + 1);
    assert_eq!(f.plain("", "alice*nobody", "wrong").await, wrong_password());
    assert_eq!(
        f.hashes.load(Ordering::SeqCst),
        before + 2,
        "an unknown master must be hashed (against the decoy) exactly once"
    );
    // A listed master's name with a non-master: hashed all the same.
    assert_eq!(f.plain("", "alice*bob", "bob-pw").await, wrong_password());
    assert_eq!(f.hashes.load(Ordering::SeqCst), before + 3);
}

#[tokio::test]
async fn with_no_master_users_the_feature_is_off() {
    let f = fixture(&[], Duration::ZERO);
    assert_eq!(
        f.plain("", "alice*admin", "admin-pw").await,
        wrong_password()
    );
    assert_eq!(f.login("alice*admin", "admin-pw").await, wrong_password());
    assert_eq!(
        f.plain("alice", "admin", "admin-pw").await,
        wrong_password()
    );
    f.success_as(f.plain("", "admin", "admin-pw").await, "admin");
}

/// The failure counts against the master, whose password was guessed,
/// not against the user it named.
#[tokio::test]
async fn a_failed_master_login_counts_against_the_master() {
    let f = fixture(&["admin"], Duration::from_secs(2));
    assert_eq!(f.plain("", "alice*admin", "wrong").await, wrong_password());
    // Asked from another network.
    let penalty = &f.service.shared.penalty;
    let now = tokio::time::Instant::now();
    assert!(!penalty.admit("203.0.113.9", Some("admin"), now).is_zero());
    assert!(penalty.admit("203.0.113.9", Some("alice"), now).is_zero());
}

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_log_names_the_user_and_the_master() {
    let f = fixture(&["admin"], Duration::ZERO);
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    f.success_as(f.plain("", "alice*admin", "admin-pw").await, "alice");
    assert_eq!(f.login("alice*admin", "nope").await, wrong_password());
    assert_eq!(f.plain("alice", "bob", "bob-pw").await, wrong_password());
    f.success_as(f.plain("", "bob", "bob-pw").await, "bob");
    drop(guard);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines,
        [
            " INFO login rip=192.0.2.1 user=\"alice\" master=\"admin\" protocol=\"imap\" \
             mechanism=\"PLAIN\"",
            " INFO login failed rip=192.0.2.2 user=\"alice\" master=\"admin\" \
             reason=\"wrong master password\" protocol=\"imap\" mechanism=\"LOGIN\"",
            " INFO login failed rip=192.0.2.1 user=\"alice\" master=\"bob\" \
             reason=\"not a master user\" protocol=\"imap\" mechanism=\"PLAIN\"",
            " INFO login rip=192.0.2.1 user=\"bob\" protocol=\"imap\" mechanism=\"PLAIN\"",
        ],
        "{log}"
    );
}
