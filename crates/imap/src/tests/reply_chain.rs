//! Logins through the process's auth link use its reply chain: one
//! exchange when the link connects, then an index per step, whose ticket
//! auth seals under that index's key.

use super::{PASSWORD, USER, connect, process, services};

#[tokio::test]
async fn each_login_step_takes_the_next_index_of_one_chain() {
    let services = services().await;
    let process = process(&services, Default::default());
    assert_eq!(
        process.auth.next_chain_index().await,
        None,
        "not connected yet"
    );
    for expected_next in [2, 3] {
        let mut client = connect(&process).await;
        let reply = client.login(USER, PASSWORD).await.expect("LOGIN");
        assert!(reply.is_ok(), "LOGIN: {reply:?}");
        // The ticket opened from the chain's seal reaches the mail.
        let reply = client.run("SELECT INBOX").await.expect("SELECT");
        assert!(reply.is_ok(), "SELECT: {reply:?}");
        assert_eq!(process.auth.next_chain_index().await, Some(expected_next));
    }
    // A wrong password's step takes an index too, and the next login
    // still opens its ticket.
    let mut client = connect(&process).await;
    let reply = client.login(USER, "wrong").await.expect("LOGIN");
    assert!(!reply.is_ok(), "a wrong password: {reply:?}");
    let mut client = connect(&process).await;
    let reply = client.login(USER, PASSWORD).await.expect("LOGIN");
    assert!(reply.is_ok(), "LOGIN: {reply:?}");
    assert_eq!(process.auth.next_chain_index().await, Some(5));
}
