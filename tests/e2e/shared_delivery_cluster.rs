//! Delivery into a mailbox shared across hosts (issue 11): carol is homed
//! on host B, dave on host A; carol lets dave post to her Plans. LMTP and
//! `mailkeep deliver` at A for `dave+shared.carol.Plans` put the message
//! into carol's Plans at B, through B's gateway and carol's storage
//! process there, with the deliver ticket A's auth issued for dave. When
//! B is down, that recipient alone gets `451 4.3.0` (try again later);
//! dave's own copy in the same transaction is delivered.

use crate::cluster::two_hosts;
use crate::harness::{TestDir, require_root, run_deliver};
use crate::shared_delivery::{Lmtp, SENDER, is_delivered_copy, message, messages};
use crate::sharing::admin_acl;

#[test]
fn delivery_into_a_mailbox_shared_from_another_host() {
    if !require_root("delivery_into_a_mailbox_shared_from_another_host") {
        return;
    }
    let (dir_a, dir_b, admin) = (TestDir::new(), TestDir::new(), TestDir::new());
    let cluster_dir = admin.path().join("cluster");
    let (server_a, mut server_b, _) = two_hosts(&dir_a, &dir_b, &cluster_dir);
    server_b.add_user("carol", "c-secret");
    server_a.add_user("carol", "c-secret");
    crate::cluster::set_home_host(&dir_a.users_file(), "carol", "b");
    server_a.add_user("dave", "d-secret");
    let mut carol = server_b.login("carol", "c-secret");
    carol.ok("CREATE Plans");
    carol.logout();
    admin_acl(&server_b, &["set", "carol", "Plans", "dave", "p"]);

    let sent = message("plans across hosts");
    let mut lmtp = Lmtp::connect(&dir_a);
    let (rcpt, data) = lmtp.deliver(&["dave+shared.carol.Plans", "dave"], &sent);
    assert!(rcpt.iter().all(|r| r.starts_with("250 2.1.5")), "{rcpt:?}");
    assert!(
        data.iter().all(|r| r.starts_with("250 2.0.0")),
        "{data:?}\nA: {}\nB: {}",
        server_a.logs(),
        server_b.logs()
    );
    lmtp.cmd("QUIT");
    let (code, stderr) = run_deliver(
        &server_a.config,
        &["-u", "dave", "-m", "shared.carol.Plans", "-f", SENDER],
        b"Subject: by deliver\n\nacross hosts\n",
    );
    assert_eq!(code, Some(0), "{stderr}\nA: {}", server_a.logs());

    let plans = messages(&server_b, "carol", "c-secret", "Plans");
    assert_eq!(
        plans.len(),
        2,
        "A: {}\nB: {}",
        server_a.logs(),
        server_b.logs()
    );
    is_delivered_copy(&plans[0], "dave", "dave+shared.carol.Plans", &sent);
    assert!(plans[1].ends_with(b"Subject: by deliver\r\n\r\nacross hosts\r\n"));
    assert!(
        crate::cluster::files_with(&dir_a.maildir("carol"), "plans across hosts").is_empty(),
        "nothing of carol's is written at A"
    );
    assert_eq!(messages(&server_a, "dave", "d-secret", "INBOX").len(), 1);

    // B goes down: the shared recipient is told to try again later, and
    // dave's own copy is delivered.
    server_b.stop();
    let mut lmtp = Lmtp::connect(&dir_a);
    let (rcpt, data) = lmtp.deliver(&["dave+shared.carol.Plans", "dave"], &sent);
    assert!(rcpt[0].starts_with("451 4.3.0"), "{rcpt:?}");
    assert!(rcpt[1].starts_with("250 2.1.5"), "{rcpt:?}");
    assert_eq!(data.len(), 1);
    assert!(data[0].starts_with("250 2.0.0"), "{data:?}");
    lmtp.cmd("QUIT");
    assert_eq!(messages(&server_a, "dave", "d-secret", "INBOX").len(), 2);
}
