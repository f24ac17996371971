//! The demo account made at first start.

use std::time::Duration;

use crate::harness::{Server, TestDir, wait_until};

/// The demo password from a `Demo account: user=demo password=PW` line.
fn demo_password(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
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
    // stdout reaches the log through a pipe-copying thread: give it a moment.
    let out = wait_until(Duration::from_secs(5), "the demo line on stdout", || {
        let out = first.stdout();
        out.contains('\n').then_some(out)
    });
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

    let second = Server::start(&dir);
    std::thread::sleep(Duration::from_millis(500));
    let out = second.stdout();
    assert!(
        !out.contains("Demo account"),
        "second start printed a demo line again: {out:?}"
    );
    let mut c = second.login("demo", &password);
    c.ok("SELECT INBOX");
    c.logout();

    let mut wrong = second.connect();
    let r = wrong.login("demo", "not-the-demo-password").expect("LOGIN");
    assert_eq!(r.status(), "NO", "demo login with a wrong password: {r:?}");
}
