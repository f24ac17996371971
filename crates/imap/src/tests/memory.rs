//! What an idle session keeps: the futures that live as long as a client
//! waits in IDLE (the session's loop, the IDLE command, the watcher of the
//! selected mailbox) stay small, because what runs between waits is boxed
//! and no buffer is held across a wait. A server keeps one of each per
//! idle client, so every byte here is multiplied by thousands. (Sizes of
//! the debug build, in which tests run, the same as the release build's;
//! before the boxing they were about 4.9 KiB for IDLE and 2 KiB for the
//! watcher; before the session was boxed and what woke its loop handled
//! in a box, and IDLE's arguments boxed with one timer for keepalive and
//! timeout, 1,704 bytes for the session, 992 for IDLE and 720 for the
//! watcher.)

use std::future::Future;
use std::sync::Weak;

use mailkeep_frontend::Storage;
use mailkeep_imap_proto::Idle;

use crate::cmd::{Command, Cx};
use crate::session::Session;
use crate::session::state::Authenticated;
use crate::session::watcher::FollowedMailbox;

/// The size of the future `make` would return (never called).
fn future_size<A, B, F: Future>(_make: impl FnOnce(A, B) -> F) -> usize {
    std::mem::size_of::<F>()
}

fn print(what: &str, size: usize) -> usize {
    eprintln!("{what}: {size} bytes");
    size
}

#[test]
fn an_idle_command_keeps_a_small_future() {
    let size = print(
        "IDLE",
        future_size(|cx: Cx, state: Authenticated| Idle.run(cx, state)),
    );
    assert!(size <= 704, "the IDLE future is {size} bytes");
}

#[test]
fn a_session_loop_keeps_a_small_future() {
    let size = print("session", future_size(|s: Box<Session>, (): ()| s.run()));
    assert!(size <= 896, "the session future is {size} bytes");
}

#[test]
fn a_mailbox_watcher_keeps_a_small_future() {
    let size = print(
        "watcher",
        future_size(|m: Weak<FollowedMailbox>, s: Storage| {
            crate::session::watcher::follow(m, s, String::new(), String::new())
        }),
    );
    assert!(size <= 512, "the watcher future is {size} bytes");
}
