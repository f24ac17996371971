//! The demo account made at first start.

use std::time::Duration;

use mailkeep_testkit::Status;

use crate::harness::{Server, TestDir};

/// The demo password from a whole `Demo account: user=demo password=PW`
/// line (one still being written does not count).
pub fn demo_password(stdout: &str) -> Option<String> {
    stdout
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .find_map(|l| {
            l.trim()
                .strip_prefix("Demo account: user=demo password=")
                .map(|p| p.trim().to_owned())
        })
}

/// The first start on an empty data directory makes the demo account and
/// prints exactly one `Demo account: user=demo password=PW` line on
/// stdout, and those credentials log in (and SELECT INBOX works). A second
/// start on the same data directory prints no demo line, and the same
/// credentials still work (the account was kept, not remade).
#[test]
fn demo_account() {
    let dir = TestDir::new();

    let mut first = Server::start(&dir);
    first.wait_for_output("the demo line", Duration::from_secs(5), |_| {
        demo_password(&first.stdout())
    });
    let out = first.stdout();
    let demo_lines = out.lines().filter(|l| l.contains("Demo account")).count();
    assert_eq!(demo_lines, 1, "first start's stdout: {out:?}");
    let password = demo_password(&out).unwrap_or_else(|| panic!("no demo password in {out:?}"));
    assert!(
        password.len() >= 8,
        "demo password {password:?} is too short"
    );
    let mut c = first.login("demo", &password);
    c.ok("SELECT INBOX");
    c.logout();
    let status = first.stop();
    assert!(status.success(), "first server exited with {status}");
    drop(first);

    let mut second = Server::start(&dir);
    let mut c = second.login("demo", &password);
    c.ok("SELECT INBOX");
    c.logout();

    let mut wrong = second.connect();
    let r = wrong.login("demo", "not-the-demo-password").expect("LOGIN");
    assert_eq!(
        r.status(),
        Status::No,
        "demo login with a wrong password: {r:?}"
    );

    // All the second server will ever print, once it has stopped.
    let status = second.stop();
    assert!(status.success(), "second server exited with {status}");
    second.wait_output_complete();
    let out = second.stdout();
    assert!(
        !out.contains("Demo account"),
        "second start printed a demo line again: {out:?}"
    );
}
