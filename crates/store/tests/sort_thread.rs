//! SORT per key (with ties and REVERSE) and THREAD ORDEREDSUBJECT,
//! REFERENCES (broken chain, loop, dummies, subject grouping) and REFS.

#[allow(dead_code)]
mod common;

use std::sync::atomic::AtomicBool;

use common::temp_store;
use mailkeep_store::{
    InternalDate, SearchKey, SortCriterion, SortKey, Store, ThreadAlgorithm, ThreadNode,
};

fn add(store: &Store, raw: &str, secs: i64) -> u32 {
    let date = InternalDate {
        secs,
        offset_minutes: 0,
    };
    common::append_dated(store, "INBOX", raw.as_bytes(), &[], date).uid
}

const DAY: i64 = 86_400;
const BASE: i64 = 1_700_000_000;

fn sort(st: &Store, crit: &[(SortKey, bool)]) -> Vec<u32> {
    let crit: Vec<SortCriterion> = crit
        .iter()
        .map(|&(key, reverse)| SortCriterion { key, reverse })
        .collect();
    st.sort("INBOX", 0, &crit, &SearchKey::All, &AtomicBool::new(false))
        .unwrap()
}

fn sort_fixture() -> (tempfile::TempDir, Store) {
    let (d, st) = temp_store();
    add(
        &st,
        "From: Zed <aaa@x.org>\r\nTo: m@x.org\r\nCc: c2@x.org\r\nSubject: Re: beta\r\nDate: Fri, 03 Mar 2023 10:00:00 +0000\r\n\r\nbody one, somewhat longer\r\n",
        BASE + 2 * DAY,
    );
    add(
        &st,
        "From: Amy <zzz@x.org>\r\nTo: b@x.org\r\nCc: c1@x.org\r\nSubject: alpha\r\nDate: Wed, 01 Mar 2023 10:00:00 +0000\r\n\r\nb\r\n",
        BASE + 3 * DAY,
    );
    add(
        &st,
        "From: mmm@x.org\r\nTo: b@x.org\r\nSubject: Fwd: alpha\r\nDate: Thu, 02 Mar 2023 10:00:00 +0000\r\n\r\nbody three\r\n",
        BASE + DAY,
    );
    (d, st)
}

#[test]
fn sort_each_key() {
    let (_d, st) = sort_fixture();
    assert_eq!(sort(&st, &[(SortKey::From, false)]), vec![1, 3, 2]);
    assert_eq!(sort(&st, &[(SortKey::DisplayFrom, false)]), vec![2, 3, 1]);
    assert_eq!(sort(&st, &[(SortKey::Subject, false)]), vec![2, 3, 1]);
    assert_eq!(sort(&st, &[(SortKey::To, false)]), vec![2, 3, 1]);
    assert_eq!(sort(&st, &[(SortKey::DisplayTo, false)]), vec![2, 3, 1]);
    assert_eq!(sort(&st, &[(SortKey::Cc, false)]), vec![3, 2, 1]);
    assert_eq!(sort(&st, &[(SortKey::Date, false)]), vec![2, 3, 1]);
    assert_eq!(sort(&st, &[(SortKey::Arrival, false)]), vec![3, 1, 2]);
    assert_eq!(sort(&st, &[(SortKey::Size, false)]), vec![3, 2, 1]);
}

#[test]
fn sort_ties_and_reverse() {
    let (_d, st) = sort_fixture();
    // Ties (alpha, alpha) keep ascending UID, also under REVERSE.
    assert_eq!(sort(&st, &[(SortKey::Subject, true)]), vec![1, 2, 3]);
    assert_eq!(sort(&st, &[(SortKey::To, true)]), vec![1, 2, 3]);
    // Second key breaks the tie.
    assert_eq!(
        sort(&st, &[(SortKey::Subject, false), (SortKey::Date, true)]),
        vec![3, 2, 1]
    );
    assert_eq!(sort(&st, &[(SortKey::Size, true)]), vec![1, 2, 3]);
}

/// A group's start is the first address of its field (RFC 9051 §7.5.2's
/// envelope), so its name is what TO and CC sort by.
#[test]
fn sort_by_a_group_uses_its_name() {
    let (_d, st) = temp_store();
    let undisclosed = add(
        &st,
        "From: a@x.org\r\nTo: undisclosed-recipients:;\r\nCc: Team: zed@x.org;\r\n\r\nb\r\n",
        BASE,
    );
    let bob = add(
        &st,
        "From: a@x.org\r\nTo: bob@x.org\r\nCc: carl@x.org\r\n\r\nb\r\n",
        BASE,
    );
    let nobody = add(&st, "From: a@x.org\r\n\r\nb\r\n", BASE);
    assert_eq!(
        sort(&st, &[(SortKey::To, false)]),
        vec![nobody, bob, undisclosed]
    );
    assert_eq!(
        sort(&st, &[(SortKey::Cc, false)]),
        vec![nobody, bob, undisclosed]
    );
}

fn msg(id: &str, refs: &str, subject: &str, day: u32) -> String {
    let mut s = format!("Message-ID: {id}\r\nSubject: {subject}\r\n");
    if !refs.is_empty() {
        s.push_str(&format!("References: {refs}\r\n"));
    }
    s.push_str(&format!(
        "Date: {:02} Jan 2024 12:00:00 +0000\r\n\r\nbody\r\n",
        day
    ));
    s
}

fn thread_fixture() -> (tempfile::TempDir, Store) {
    let (d, st) = temp_store();
    let msgs = [
        msg("<a@x>", "", "Hello", 1),
        msg("<b@x>", "<a@x>", "Re: Hello", 2),
        msg("<c@x>", "<a@x> <b@x>", "Re: Hello", 3),
        msg("<d@x>", "<lost@x>", "Lost", 4),
        msg("<e@x>", "<y@x>", "Other", 5),
        msg("<f@x>", "<y@x>", "Re: Other", 6),
        msg("<h7@x>", "", "Re: Hello", 7),
        // A loop: g refers to h and h to g.
        msg("<g@x>", "<h@x>", "Loop", 8),
        msg("<h@x>", "<g@x>", "Re: Loop", 9),
        // A broken chain: the middle message is missing.
        msg("<j@x>", "<a@x> <missing@x>", "Re: Hello", 10),
    ];
    for (i, m) in msgs.iter().enumerate() {
        add(&st, m, BASE + i as i64);
    }
    (d, st)
}

fn n(uid: u32, children: Vec<ThreadNode>) -> ThreadNode {
    ThreadNode { uid, children }
}

fn l(uid: u32) -> ThreadNode {
    n(uid, vec![])
}

fn thread(st: &Store, a: ThreadAlgorithm) -> Vec<ThreadNode> {
    st.thread("INBOX", 0, a, &SearchKey::All, &AtomicBool::new(false))
        .unwrap()
}

#[test]
fn thread_references() {
    let (_d, st) = thread_fixture();
    assert_eq!(
        thread(&st, ThreadAlgorithm::References),
        vec![
            n(1, vec![n(2, vec![l(3)]), l(7), l(10)]),
            l(4),
            n(0, vec![l(5), l(6)]),
            n(9, vec![l(8)]),
        ]
    );
}

#[test]
fn thread_refs_orders_by_latest() {
    let (_d, st) = thread_fixture();
    assert_eq!(
        thread(&st, ThreadAlgorithm::Refs),
        vec![
            l(4),
            n(0, vec![l(5), l(6)]),
            l(7),
            n(9, vec![l(8)]),
            n(1, vec![n(2, vec![l(3)]), l(10)]),
        ]
    );
}

#[test]
fn thread_ordered_subject() {
    let (_d, st) = thread_fixture();
    assert_eq!(
        thread(&st, ThreadAlgorithm::OrderedSubject),
        vec![
            n(1, vec![l(2), l(3), l(7), l(10)]),
            l(4),
            n(5, vec![l(6)]),
            n(8, vec![l(9)]),
        ]
    );
}

#[test]
fn thread_of_a_search_subset() {
    let (_d, st) = thread_fixture();
    let key = SearchKey::Uid(vec![mailkeep_store::UidRange::new(2, 3)]);
    let t = st
        .thread(
            "INBOX",
            0,
            ThreadAlgorithm::References,
            &key,
            &AtomicBool::new(false),
        )
        .unwrap();
    // Message 1 is outside the set: 2 hangs from a dummy-free root.
    assert_eq!(t, vec![n(2, vec![l(3)])]);
}
