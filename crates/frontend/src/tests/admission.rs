use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn table(unauth: usize, per_user: usize) -> Arc<ClientTable> {
    ClientTable::new(ClientPolicy {
        max_unauthenticated_per_address: unauth,
        max_connections_per_user_address: per_user,
        exempt: Networks::parse(&["192.0.2.0/24"]).unwrap(),
        trusted: Networks::parse(&["198.51.100.1"]).unwrap(),
    })
}

#[test]
fn connections_waiting_to_log_in_are_capped_per_address() {
    let t = table(2, 10);
    let a = t.admit(Some(ip("203.0.113.1"))).unwrap();
    let _b = t.admit(Some(ip("::ffff:203.0.113.1"))).unwrap();
    let refused = t.admit(Some(ip("203.0.113.1"))).unwrap_err();
    assert!(matches!(
        refused,
        LimitExceeded::Unauthenticated {
            count: 2,
            limit: 2,
            ..
        }
    ));
    // Another address is not affected; exempt ones and UNIX sockets are
    // never counted.
    let _c = t.admit(Some(ip("203.0.113.2"))).unwrap();
    let exempt: Vec<_> = (0..5)
        .map(|_| t.admit(Some(ip("192.0.2.9"))).unwrap())
        .collect();
    let unix: Vec<_> = (0..5).map(|_| t.admit(None).unwrap()).collect();
    drop((exempt, unix));
    // A connection that logs in or goes away frees its place.
    a.log_in("alice").unwrap();
    let d = t.admit(Some(ip("203.0.113.1"))).unwrap();
    drop(d);
    t.admit(Some(ip("203.0.113.1"))).unwrap();
}

#[test]
fn logged_in_connections_are_capped_per_user_and_address() {
    let t = table(0, 2);
    let logged: Vec<_> = (0..2)
        .map(|_| {
            let a = t.admit(Some(ip("203.0.113.1"))).unwrap();
            a.log_in("alice").unwrap();
            a
        })
        .collect();
    let third = t.admit(Some(ip("203.0.113.1"))).unwrap();
    let refused = third.log_in("alice").unwrap_err();
    assert!(matches!(
        refused,
        LimitExceeded::UserAddress {
            count: 2,
            limit: 2,
            ..
        }
    ));
    // Another user from there, or alice from elsewhere, may.
    third.log_in("bob").unwrap();
    let elsewhere = t.admit(Some(ip("203.0.113.2"))).unwrap();
    elsewhere.log_in("alice").unwrap();
    // UNAUTHENTICATE frees the place.
    logged[0].log_out();
    let fourth = t.admit(Some(ip("203.0.113.1"))).unwrap();
    fourth.log_in("alice").unwrap();
}

#[test]
fn only_a_trusted_peer_may_state_the_client_address_and_only_before_login() {
    let t = table(1, 1);
    // Trusted proxies are not counted as one address.
    let proxied: Vec<_> = (0..3)
        .map(|_| t.admit(Some(ip("198.51.100.1"))).unwrap())
        .collect();
    assert!(proxied[0].state_client_address(ip("203.0.113.9")));
    assert_eq!(proxied[0].client_address(), Some(ip("203.0.113.9")));
    proxied[0].log_in("alice").unwrap();
    assert!(proxied[1].state_client_address(ip("203.0.113.9")));
    assert!(
        proxied[1].log_in("alice").is_err(),
        "counted under the stated address"
    );
    assert!(
        !proxied[0].state_client_address(ip("203.0.113.10")),
        "logged in already"
    );

    let direct = t.admit(Some(ip("203.0.113.50"))).unwrap();
    assert!(!direct.state_client_address(ip("203.0.113.9")));
    assert_eq!(direct.client_address(), Some(ip("203.0.113.50")));
}
