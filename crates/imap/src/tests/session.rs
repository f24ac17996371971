//! States, capabilities, logins, the command table's refusals, and
//! commands running side by side.

use mailkeep_testkit::Status;

use mailkeep_frontend::PlaintextLogins;

use super::{PASSWORD, USER, connect, connect_with, login, ok, process, services};
use crate::settings::ImapSettings;

#[tokio::test]
async fn commands_are_refused_in_the_wrong_state_with_a_reason() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = connect(&process).await;
    let reply = c.run("SELECT INBOX").await.unwrap();
    assert_eq!(reply.status(), Status::Bad);
    assert!(reply.text().contains("Log in first"), "{reply:?}");
    let reply = c.run("FETCH 1 FLAGS").await.unwrap();
    assert!(reply.text().contains("Log in first"), "{reply:?}");
    ok(&mut c, &format!("LOGIN {USER} {PASSWORD}")).await;
    let reply = c.run("FETCH 1 FLAGS").await.unwrap();
    assert_eq!(reply.status(), Status::Bad);
    assert!(reply.text().contains("No mailbox selected"), "{reply:?}");
    let reply = c.run("LOGIN alice secret").await.unwrap();
    assert!(reply.text().contains("Already authenticated"), "{reply:?}");
    let reply = c.run("FROBNICATE").await.unwrap();
    assert_eq!(reply.status(), Status::Bad);
}

#[tokio::test]
async fn capabilities_before_and_after_login() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = connect(&process).await;
    let pre = c.run("CAPABILITY").await.unwrap().capabilities();
    for cap in ["IMAP4rev1", "AUTH=PLAIN", "SASL-IR", "ID", "ENABLE", "IDLE"] {
        assert!(pre.iter().any(|c| c == cap), "{cap} before login: {pre:?}");
    }
    assert!(
        !pre.iter().any(|c| c == "MOVE"),
        "MOVE only after login: {pre:?}"
    );
    let reply = c.login(USER, PASSWORD).await.unwrap();
    let code = reply.code().expect("CAPABILITY in the LOGIN reply");
    assert!(code.is("CAPABILITY"), "{reply:?}");
    let post = c.run("CAPABILITY").await.unwrap().capabilities();
    for cap in [
        "IMAP4rev1",
        "IMAP4rev2",
        "ID",
        "ENABLE",
        "IDLE",
        "NAMESPACE",
        "UNSELECT",
        "UIDPLUS",
        "CHILDREN",
        "MOVE",
        "MULTIAPPEND",
        "BINARY",
        "CONDSTORE",
        "QRESYNC",
        "ESEARCH",
        "ESORT",
        "SEARCHRES",
        "WITHIN",
        "SORT",
        "SORT=DISPLAY",
        "THREAD=REFERENCES",
        "THREAD=REFS",
        "THREAD=ORDEREDSUBJECT",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "SPECIAL-USE",
        "CREATE-SPECIAL-USE",
        "STATUS=SIZE",
        "SAVEDATE",
        "PREVIEW",
        "NOTIFY",
        "UTF8=ACCEPT",
        "UNAUTHENTICATE",
        "REPLACE",
        "UIDONLY",
        "CATENATE",
        "CONTEXT=SEARCH",
        "CONTEXT=SORT",
        "COMPRESS=DEFLATE",
        "METADATA",
        "OBJECTID",
        "I18NLEVEL=1",
        "LITERAL+",
        "LITERAL-",
    ] {
        assert!(post.iter().any(|c| c == cap), "{cap} after login: {post:?}");
    }
    assert!(
        post.iter().any(|c| c.starts_with("APPENDLIMIT=")),
        "APPENDLIMIT: {post:?}"
    );
}

#[tokio::test]
async fn plaintext_logins_can_be_refused_until_tls() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = connect_with(&process, PlaintextLogins::Never).await;
    let caps = c.run("CAPABILITY").await.unwrap().capabilities();
    assert!(caps.iter().any(|c| c == "LOGINDISABLED"), "{caps:?}");
    assert!(
        !caps.iter().any(|c| c == "AUTH=PLAIN" || c == "AUTH=LOGIN"),
        "{caps:?}"
    );
    assert!(
        caps.iter().any(|c| c == "AUTH=SCRAM-SHA-256"),
        "SCRAM never shows the password: {caps:?}"
    );
    assert!(
        !caps.iter().any(|c| c.ends_with("-PLUS")),
        "no binding without TLS: {caps:?}"
    );
    let reply = c.login(USER, PASSWORD).await.unwrap();
    assert_eq!(reply.status(), Status::No);
    assert!(reply.has_code("PRIVACYREQUIRED"), "{reply:?}");
    let reply = c
        .run("AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==")
        .await
        .unwrap();
    assert_eq!(reply.status(), Status::No, "{reply:?}");
}

#[tokio::test]
async fn authenticate_plain_with_and_without_an_initial_response() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = connect(&process).await;
    let ir = mailkeep_testkit::base64(&mailkeep_testkit::plain(USER, PASSWORD));
    let reply = c.run(&format!("AUTHENTICATE PLAIN {ir}")).await.unwrap();
    assert!(reply.is_ok(), "{reply:?}");
    let mut c = connect(&process).await;
    let tag = c.send_command("AUTHENTICATE PLAIN").await.unwrap();
    let r = c.read_response().await.unwrap();
    assert!(r.continuation().is_some(), "{}", r.text());
    c.send(format!("{ir}\r\n").as_bytes()).await.unwrap();
    let reply = c.read_reply(&tag).await.unwrap();
    assert!(reply.is_ok(), "{reply:?}");
    // A cancelled exchange, then a wrong password.
    let mut c = connect(&process).await;
    let tag = c.send_command("AUTHENTICATE PLAIN").await.unwrap();
    c.read_response().await.unwrap();
    c.send(b"*\r\n").await.unwrap();
    let reply = c.read_reply(&tag).await.unwrap();
    assert_eq!(reply.status(), Status::Bad, "{reply:?}");
    let reply = c.login(USER, "wrong").await.unwrap();
    assert_eq!(reply.status(), Status::No);
    assert!(reply.has_code("AUTHENTICATIONFAILED"), "{reply:?}");
}

#[tokio::test]
async fn unauthenticate_returns_to_the_not_authenticated_state() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    ok(&mut c, "SELECT INBOX").await;
    ok(&mut c, "UNAUTHENTICATE").await;
    let reply = c.run("SELECT INBOX").await.unwrap();
    assert!(reply.text().contains("Log in first"), "{reply:?}");
    let reply = c.login(USER, PASSWORD).await.unwrap();
    assert!(reply.is_ok(), "{reply:?}");
}

#[tokio::test]
async fn id_enable_and_namespace() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "ID (\"name\" \"test\")").await;
    let id = reply.untagged("ID").next().expect("an ID response");
    assert!(format!("{:?}", id.values).contains("mailkeep"), "{reply:?}");
    let reply = ok(&mut c, "ENABLE CONDSTORE UTF8=ACCEPT X-UNKNOWN").await;
    let enabled = reply.untagged("ENABLED").next().expect("ENABLED");
    assert_eq!(enabled.words(), vec!["CONDSTORE", "UTF8=ACCEPT"]);
    // Enabling again reports nothing new.
    let reply = ok(&mut c, "ENABLE CONDSTORE").await;
    let enabled = reply.untagged("ENABLED").next().expect("ENABLED");
    assert!(enabled.words().is_empty(), "{reply:?}");
    let reply = ok(&mut c, "NAMESPACE").await;
    let ns = reply.untagged("NAMESPACE").next().expect("NAMESPACE");
    assert_eq!(
        reply.responses[0].text(),
        "* NAMESPACE ((\"\" \".\")) ((\"shared.\" \".\")) NIL",
        "{ns:?}"
    );
}

#[tokio::test]
async fn pipelined_commands_all_get_their_answers_in_a_usable_order() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    for i in 0..5 {
        let m = super::message(&format!("m{i}"), "hello");
        assert!(c.append("INBOX", &[], &m).await.unwrap().is_ok());
    }
    ok(&mut c, "SELECT INBOX").await;
    // A STORE between two FETCHes: the second FETCH sees its flags.
    let a = c.send_command("FETCH 1:5 (FLAGS)").await.unwrap();
    let b = c.send_command("STORE 2 +FLAGS (\\Flagged)").await.unwrap();
    let d = c.send_command("FETCH 2 (FLAGS)").await.unwrap();
    let e = c.send_command("UID SEARCH FLAGGED").await.unwrap();
    for tag in [&a, &b] {
        assert!(c.read_reply(tag).await.unwrap().is_ok());
    }
    // The FETCH and the SEARCH run side by side: either may end first.
    let reply = c.read_reply(&d).await.unwrap();
    let fetch = reply.fetch(2).expect("FETCH 2");
    assert!(fetch.has_flag("\\Flagged"), "{reply:?}");
    let search_ended_first = reply.responses.iter().find(|r| r.is_tagged(&e)).cloned();
    let search_status = match search_ended_first {
        Some(tagged) => tagged.status().map(|s| s.status),
        None => Some(c.read_reply(&e).await.unwrap().status()),
    };
    assert_eq!(search_status, Some(Status::Ok), "{reply:?}");
}

#[tokio::test]
async fn a_session_asks_the_broker_once_for_its_owner() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let before = services.attaches(USER);
    let mut c = login(&process).await;
    // Sent together right after the login's OK: they run side by side,
    // while the channel the login asked for ahead may still be on its
    // way; all wait for that one answer. They may end in any order.
    let tags = [
        c.send_command("STATUS INBOX (MESSAGES)").await.unwrap(),
        c.send_command("LIST \"\" \"*\"").await.unwrap(),
        c.send_command("STATUS INBOX (UIDNEXT)").await.unwrap(),
    ];
    for (tag, reply) in tags.iter().zip(c.read_replies(&tags).await.unwrap()) {
        assert!(reply.is_ok(), "{tag}: {reply:?}");
    }
    assert_eq!(services.attaches(USER), before + 1);
}

#[tokio::test]
async fn scram_sha_256_logs_in_and_proves_the_server() {
    use mailkeep_testkit::scram::{Hash, ScramClient};
    let services = services().await;
    services
        .add_user_with_scheme("sam", "pencil", "SCRAM-SHA-256".parse().expect("a scheme"))
        .await
        .expect("adding a SCRAM user");
    let process = process(&services, ImapSettings::default());
    let mut c = connect(&process).await;
    let mut scram = ScramClient::new(Hash::Sha256, "sam", "pencil", "n,,", b"");
    let first = mailkeep_testkit::base64(&scram.first_message());
    let tag = c
        .send_command(&format!("AUTHENTICATE SCRAM-SHA-256 {first}"))
        .await
        .unwrap();
    let r = c.read_response().await.unwrap();
    let challenge = r.continuation().expect("server-first");
    let server_first = base64_decode(challenge);
    let final_message = scram.final_message(&server_first);
    c.send(format!("{}\r\n", mailkeep_testkit::base64(&final_message)).as_bytes())
        .await
        .unwrap();
    let r = c.read_response().await.unwrap();
    let server_final = base64_decode(r.continuation().expect("server-final"));
    assert_eq!(
        server_final,
        scram.expected_server_final(),
        "the server knows the password"
    );
    c.send(b"\r\n").await.unwrap();
    let reply = c.read_reply(&tag).await.unwrap();
    assert!(reply.is_ok(), "{reply:?}");
    ok(&mut c, "SELECT INBOX").await;
}

/// Decodes a base64 continuation.
fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("base64 from the server")
}

#[tokio::test]
async fn imap4rev2_mode_answers_the_rev2_way() {
    let services = services().await;
    let process = process(&services, ImapSettings::default());
    let mut c = login(&process).await;
    let reply = ok(&mut c, "ENABLE IMAP4rev2").await;
    let enabled = reply.untagged("ENABLED").next().expect("ENABLED");
    assert_eq!(enabled.words(), vec!["IMAP4rev2"]);
    assert!(
        c.append("INBOX", &[], &super::message("rev2", "x"))
            .await
            .unwrap()
            .is_ok()
    );
    let reply = ok(&mut c, "SELECT INBOX").await;
    let text: Vec<String> = reply.responses.iter().map(|r| r.text()).collect();
    assert!(
        !text.iter().any(|l| l.contains("RECENT")),
        "no RECENT in rev2: {text:?}"
    );
    let reply = ok(&mut c, "SEARCH ALL").await;
    assert!(
        reply.esearch().is_some(),
        "SEARCH answers ESEARCH in rev2: {reply:?}"
    );
    // Mailbox names are UTF-8 both ways.
    ok(&mut c, "CREATE \"Répertoire\"").await;
    let reply = ok(&mut c, "LIST \"\" R*").await;
    assert!(
        reply.list("LIST").iter().any(|l| l.name == "Répertoire"),
        "{reply:?}"
    );
}
