use super::*;

/// A host's key and the list that trusts it under `name`.
fn host(name: &str) -> (HostKey, TrustedHosts) {
    let key = HostKey::generate();
    let mut trusted = TrustedHosts::new();
    trusted.insert(name, key.public()).unwrap();
    (key, trusted)
}

#[test]
fn round_trip_verifies_and_keeps_claims() {
    let (k, trusted) = host("host1");
    let claims = Claims::new("alice", Scope::Session, 1000, 60, "host1")
        .in_session(SessionId::random(), 5000)
        .with_password_stamp(vec![1, 2, 3]);
    let t = sign(&k, &claims);
    assert_eq!(trusted.verify(&t, 1001), Ok(claims));
}

#[test]
fn ticket_stays_small_for_rpc_metadata() {
    let (k, _) = host("mail1.example.org");
    let claims = Claims::new(
        "alice@example.org",
        Scope::Session,
        1_700_000_000,
        3600,
        "mail1.example.org",
    )
    .with_password_stamp(vec![0; 8]);
    let t = sign(&k, &claims);
    assert!(t.len() < 260, "{} bytes: {}", t.len(), *t);
}

#[test]
fn a_holder_of_public_keys_only_cannot_mint_a_ticket() {
    // Everything a verifier holds is the public list; the best it can do
    // is sign with a key of its own under the trusted host's name.
    let (_, trusted) = host("h1");
    let own_key = HostKey::generate();
    let forged = sign(&own_key, &Claims::new("root", Scope::Admin, 1000, 60, "h1"));
    assert_eq!(
        trusted.verify(&forged, 1001),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn unknown_issuer_is_refused() {
    let (_, trusted) = host("h1");
    let (other, _) = host("h2");
    let t = sign(
        &other,
        &Claims::new("alice", Scope::Session, 1000, 60, "h2"),
    );
    assert_eq!(
        trusted.verify(&t, 1001),
        Err(TicketError::UnknownIssuer("h2".into()))
    );
}

#[test]
fn another_trusted_hosts_key_under_this_hosts_name_is_refused() {
    let (k1, mut trusted) = host("h1");
    let k2 = HostKey::generate();
    trusted.insert("h2", k2.public()).unwrap();
    // h2 is trusted, but only for tickets that name h2.
    let t = sign(&k2, &Claims::new("alice", Scope::Session, 1000, 60, "h1"));
    assert_eq!(trusted.verify(&t, 1001), Err(TicketError::BadSignature));
    let good = sign(&k1, &Claims::new("alice", Scope::Session, 1000, 60, "h1"));
    assert!(trusted.verify(&good, 1001).is_ok());
}

#[test]
fn tampered_payload_is_refused() {
    let (k, trusted) = host("h");
    let t = sign(&k, &Claims::new("alice", Scope::Session, 1000, 60, "h"));
    let bob = sign(
        &HostKey::generate(),
        &Claims::new("bob", Scope::Admin, 1000, 60, "h"),
    );
    // Splice bob's payload with alice's signature.
    let payload = bob.split('.').nth(1).unwrap_or_default();
    let signature = t.rsplit('.').next().unwrap_or_default();
    let spliced = format!("mk2.{payload}.{signature}");
    assert_eq!(
        trusted.verify(&spliced, 1001),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn expired_is_refused_by_verifier_and_its_cache() {
    let (k, trusted) = host("h");
    let t = sign(&k, &Claims::new("alice", Scope::Session, 1000, 60, "h"));
    assert_eq!(trusted.verify(&t, 1060), Err(TicketError::Expired));
    let verifier = Verifier::new(trusted);
    assert!(verifier.verify(&t, 1001).is_ok());
    assert!(verifier.verify(&t, 1002).is_ok(), "from the cache");
    assert_eq!(verifier.verify(&t, 1060), Err(TicketError::Expired));
}

#[test]
fn cached_verifier_refuses_a_forgery_of_a_cached_tickets_claims() {
    let (k, trusted) = host("h");
    let verifier = Verifier::new(trusted);
    let good = sign(&k, &Claims::new("alice", Scope::Session, 1000, 60, "h"));
    assert!(verifier.verify(&good, 1001).is_ok());
    let (payload_part, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{payload_part}.{}", "A".repeat(86));
    assert_eq!(
        verifier.verify(&forged, 1001),
        Err(TicketError::BadSignature)
    );
}

#[test]
fn garbage_is_malformed() {
    let (_, trusted) = host("h");
    for t in [
        "",
        "mk2",
        "mk2..",
        "mk1.AAAA.AAAA",
        "mk2.!!!.AAAA",
        &"a".repeat(5000),
    ] {
        assert_eq!(trusted.verify(t, 0), Err(TicketError::Malformed), "{t:?}");
    }
}

#[test]
fn ticket_never_outlives_its_session() {
    let c =
        Claims::new("alice", Scope::Session, 1000, 3600, "h").in_session(SessionId::random(), 1500);
    assert_eq!(c.expires_unix, 1500);
    assert_eq!(c.revocation_horizon(), 1500);
    let long =
        Claims::new("alice", Scope::Session, 1000, 60, "h").in_session(SessionId::random(), 99_999);
    // A renewal racing the revocation expires at most one lifetime later.
    assert_eq!(long.revocation_horizon(), 1120);
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
fn key_files_round_trip_and_reject_junk() {
    let k = HostKey::generate();
    let parsed = HostKey::parse(&k.to_file_contents()).unwrap();
    assert_eq!(parsed.public(), k.public());
    assert!(HostKey::parse("zz").is_err());
    assert!(HostKey::parse(&"g".repeat(64)).is_err());
    let public = PublicKey::parse(&k.public().to_string()).unwrap();
    assert_eq!(public, k.public());
    assert!(PublicKey::parse("AAAA").is_err());
}

#[test]
fn trusted_host_file_round_trips_and_refuses_conflicts() {
    let (a, b) = (HostKey::generate(), HostKey::generate());
    let text = format!(
        "# cluster\na {}\n\nb {}  # second\n",
        a.public(),
        b.public()
    );
    let trusted = TrustedHosts::parse(&text).unwrap();
    assert_eq!(trusted.get("a"), Some(&a.public()));
    assert_eq!(trusted.len(), 2);
    assert_eq!(
        TrustedHosts::parse(&trusted.to_file_contents()).unwrap(),
        trusted
    );
    let conflict = format!("a {}\na {}\n", a.public(), b.public());
    assert_eq!(
        TrustedHosts::parse(&conflict),
        Err(KeyError::Conflict("a".into()))
    );
    assert!(matches!(
        TrustedHosts::parse("a\n"),
        Err(KeyError::BadLine { line: 1, .. })
    ));
}

#[test]
fn revocations_expire_at_their_horizon() {
    let mut r = Revocations::new();
    let s = SessionId::random();
    assert!(r.revoke(s, 100));
    assert!(!r.revoke(s, 50), "an earlier horizon is no news");
    assert!(r.is_revoked(&s));
    r.prune(99);
    assert!(r.is_revoked(&s));
    r.prune(100);
    assert!(!r.is_revoked(&s));
    assert!(r.is_empty());
}

#[test]
fn pruning_drops_each_entry_at_its_own_horizon_whatever_the_order_of_revoking() {
    let mut r = Revocations::new();
    let (a, b, c, d) = (
        SessionId::random(),
        SessionId::random(),
        SessionId::random(),
        SessionId::random(),
    );
    r.revoke(a, 100);
    r.revoke(b, 200);
    r.revoke(c, 150);
    r.prune(150);
    assert!(!r.is_revoked(&a) && !r.is_revoked(&c));
    assert!(r.is_revoked(&b));
    // Revoked after a prune, with a horizon before every other's.
    r.revoke(d, 120);
    r.prune(119);
    assert!(r.is_revoked(&d));
    r.prune(120);
    assert!(!r.is_revoked(&d) && r.is_revoked(&b));
    r.prune(200);
    assert!(r.is_empty());
}
