use super::*;

fn key() -> TicketKey {
    TicketKey::generate()
}

#[test]
fn round_trip_verifies_and_keeps_claims() {
    let k = key();
    let claims = Claims::new("alice", Scope::Session, 1000, 60, "host1");
    let t = sign(&k, &claims);
    assert_eq!(verify(&k, &t, 1001), Ok(claims));
}

#[test]
fn other_key_is_refused() {
    let t = sign(&key(), &Claims::new("alice", Scope::Session, 1000, 60, "h"));
    assert_eq!(verify(&key(), &t, 1001), Err(TicketError::BadSignature));
}

#[test]
fn tampered_payload_is_refused() {
    let k = key();
    let t = sign(&k, &Claims::new("alice", Scope::Session, 1000, 60, "h"));
    let forged_claims = sign(&key(), &Claims::new("bob", Scope::Admin, 1000, 60, "h"));
    // Splice bob's payload with alice's MAC.
    let payload = forged_claims.split('.').nth(1).unwrap_or_default();
    let mac = t.rsplit('.').next().unwrap_or_default();
    let spliced = format!("mk1.{payload}.{mac}");
    assert_eq!(verify(&k, &spliced, 1001), Err(TicketError::BadSignature));
}

#[test]
fn expired_is_refused() {
    let k = key();
    let t = sign(&k, &Claims::new("alice", Scope::Session, 1000, 60, "h"));
    assert_eq!(verify(&k, &t, 1060), Err(TicketError::Expired));
}

#[test]
fn garbage_is_malformed() {
    let k = key();
    for t in [
        "",
        "mk1",
        "mk1..",
        "mk2.AAAA.AAAA",
        "mk1.!!!.AAAA",
        &"a".repeat(5000),
    ] {
        assert_eq!(verify(&k, t, 0), Err(TicketError::Malformed), "{t:?}");
    }
}

#[test]
fn scope_and_owner_are_enforced() {
    let session = Claims::new("alice", Scope::Session, 0, 60, "h");
    assert!(session.authorize("alice", Scope::Session).is_ok());
    assert!(matches!(
        session.authorize("bob", Scope::Session),
        Err(TicketError::WrongOwner { .. })
    ));
    let deliver = Claims::new("alice", Scope::Deliver, 0, 60, "h");
    assert!(deliver.authorize("alice", Scope::Deliver).is_ok());
    assert!(matches!(
        deliver.authorize("alice", Scope::Session),
        Err(TicketError::WrongScope { .. })
    ));
    let admin = Claims::new("root", Scope::Admin, 0, 60, "h");
    assert!(admin.authorize("bob", Scope::Session).is_ok());
}

#[test]
fn key_file_round_trips_and_rejects_junk() {
    let k = key();
    let parsed = TicketKey::parse(&k.to_file_contents()).map(|p| p.as_bytes().to_vec());
    assert_eq!(parsed.ok(), Some(k.as_bytes().to_vec()));
    assert!(TicketKey::parse("zz").is_err());
    assert!(TicketKey::parse(&"g".repeat(64)).is_err());
}
