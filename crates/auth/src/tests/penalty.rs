use super::*;

const S: Duration = Duration::from_secs(1);

fn penalty() -> Penalty {
    Penalty::new(2 * S, 15 * S)
}

#[test]
fn a_first_attempt_waits_nothing_and_each_failure_doubles_the_next_wait() {
    let p = penalty();
    let t = Instant::now();
    let mut waits = Vec::new();
    let mut now = t;
    for _ in 0..5 {
        let wait = p.admit("192.0.2.1", Some("alice"), now);
        waits.push(wait.as_secs());
        now += wait;
        p.record_failure("192.0.2.1", Some("alice"), now);
    }
    assert_eq!(waits, [0, 2, 4, 8, 15]);
}

#[test]
fn failures_count_against_the_network_of_the_address() {
    let p = penalty();
    let t = Instant::now();
    p.record_failure("192.0.2.1", Some("alice"), t);
    // Another address of the same /24, another account: still penalised.
    assert_eq!(p.admit("192.0.2.200", Some("bob"), t), 2 * S);
    // Another /24 is not.
    assert_eq!(p.admit("192.0.3.1", Some("carol"), t), Duration::ZERO);

    p.record_failure("2001:db8:1:2::1", None, t);
    assert_eq!(p.admit("2001:db8:1:2:ffff::9", None, t), 2 * S);
    assert_eq!(p.admit("2001:db8:1:3::1", None, t), Duration::ZERO);
    // IPv4-mapped addresses are their IPv4 network.
    assert_eq!(p.admit("::ffff:192.0.2.9", None, t), 4 * S);
}

#[test]
fn failures_count_against_the_account_from_any_address() {
    let p = penalty();
    let t = Instant::now();
    p.record_failure("192.0.2.1", Some("alice"), t);
    assert_eq!(p.admit("198.51.100.1", Some("alice"), t), 2 * S);
    assert_eq!(p.admit("198.51.100.1", Some("bob"), t), Duration::ZERO);
}

#[test]
fn a_success_on_one_account_does_not_reset_another_accounts_penalty() {
    let p = penalty();
    let t = Instant::now();
    p.record_failure("192.0.2.1", Some("victim"), t);
    p.record_failure("192.0.2.1", Some("victim"), t);
    // The attacker logs in to their own account from the same address.
    p.record_success("192.0.2.1", "mallory");
    assert_eq!(p.admit("192.0.2.1", Some("victim"), t), 4 * S);
    // Nor does a success on the victim account from elsewhere clear what
    // the attacker's guesses on it owe.
    p.record_success("198.51.100.1", "victim");
    assert!(p.admit("203.0.113.5", Some("victim"), t) > Duration::ZERO);
}

#[test]
fn a_success_forgets_the_users_own_typing_errors() {
    let p = penalty();
    let t = Instant::now();
    p.record_failure("192.0.2.1", Some("alice"), t);
    p.record_failure("192.0.2.1", Some("alice"), t);
    p.record_success("192.0.2.1", "alice");
    assert_eq!(p.admit("192.0.2.1", Some("alice"), t), Duration::ZERO);
    assert_eq!(p.admit("192.0.2.7", Some("bob"), t), Duration::ZERO);
}

#[test]
fn parallel_attempts_on_a_penalised_key_are_spaced_one_delay_apart() {
    let p = penalty();
    let t = Instant::now();
    p.record_failure("192.0.2.1", Some("alice"), t);
    let waits: Vec<u64> = (0..8)
        .map(|_| p.admit("192.0.2.1", Some("alice"), t).as_secs())
        .collect();
    // 2 s apart, never more than the maximum.
    assert_eq!(waits, [2, 4, 6, 8, 10, 12, 14, 15]);
}

#[test]
fn failures_are_forgotten_after_the_decay_time() {
    let p = penalty();
    let t = Instant::now();
    p.record_failure("192.0.2.1", Some("alice"), t);
    assert_eq!(
        p.admit("192.0.2.1", Some("alice"), t + DECAY),
        Duration::ZERO
    );
    p.record_failure("192.0.2.1", Some("alice"), t + DECAY);
    assert_eq!(p.admit("192.0.2.1", Some("alice"), t + DECAY), 2 * S);
}

#[test]
fn many_failures_do_not_overflow() {
    let p = Penalty::new(S, 15 * S);
    let t = Instant::now();
    for _ in 0..100 {
        p.record_failure("x", Some("y"), t);
        assert!(p.admit("x", Some("y"), t) <= 15 * S);
    }
}
