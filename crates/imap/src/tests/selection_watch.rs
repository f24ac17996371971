//! When a session follows its selected mailbox's changes: from the first
//! command after SELECT that can use them, not at SELECT itself, so a
//! session that selects and leaves (or selects another mailbox) opens no
//! change stream at the storage process. Seen in the storage process's
//! load report, which counts the Watch streams open.

use mailkeep_testkit::Services;

use super::shared::WAIT;
use super::{USER, login, message, ok, process, services};
use crate::settings::ImapSettings;

/// Waits until `USER`'s storage process reports `n` Watch streams open.
async fn watchers_become(services: &Services, n: u32) {
    let seen = tokio::time::timeout(WAIT, services.wait_storage_load(USER, |l| l.watchers == n))
        .await
        .unwrap_or_else(|_| panic!("the storage process never reported {n} watchers"));
    assert!(seen.is_ok(), "{seen:?}");
}

#[tokio::test]
async fn a_selection_is_followed_from_its_first_command() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut first = login(&process).await;
    ok(&mut first, "CREATE Other").await;
    // Selected, then another mailbox selected: no stream for either.
    ok(&mut first, "SELECT INBOX").await;
    ok(&mut first, "EXAMINE Other").await;
    // A second session follows its selection after a command: the one
    // stream open is its own, so the first session opened none.
    let mut second = login(&process).await;
    ok(&mut second, "SELECT INBOX").await;
    ok(&mut second, "NOOP").await;
    watchers_become(&services, 1).await;
    ok(&mut second, "CLOSE").await;
    watchers_become(&services, 0).await;
    // The first command after SELECT opens it; leaving closes it.
    ok(&mut first, "SEARCH ALL").await;
    watchers_become(&services, 1).await;
    ok(&mut first, "UNSELECT").await;
    watchers_become(&services, 0).await;
}

#[tokio::test]
async fn idle_right_after_select_hears_of_new_mail() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut idler = login(&process).await;
    ok(&mut idler, "SELECT INBOX").await;
    let mut idle = idler.idle().await.expect("IDLE");
    watchers_become(&services, 1).await;
    let mut other = login(&process).await;
    let appended = other
        .append("INBOX", &[], &message("news", "x"))
        .await
        .expect("APPEND");
    assert!(appended.is_ok(), "{appended:?}");
    tokio::time::timeout(WAIT, idle.wait_for(|r| r.text() == "* 1 EXISTS"))
        .await
        .expect("EXISTS while idling")
        .expect("the idle stream");
    let reply = idle.done().await.expect("DONE");
    assert!(reply.is_ok(), "{reply:?}");
}
